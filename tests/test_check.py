"""kmslab.check: versions, the KMS model, the backend, and whether real AWS could be reached."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import botocore.session
import pytest

import kmslab.check as check_module
from kmslab.backend import REAL_AWS_ENV
from kmslab.check import AWS_CREDENTIAL_VARIABLES, KMS_OPERATIONS, CheckReport, check, main

SECRET_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No AWS variables, no opt-in, and an empty home without ~/.aws."""
    for name in [*AWS_CREDENTIAL_VARIABLES, REAL_AWS_ENV]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    monkeypatch.delenv("AWS_CONFIG_FILE", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def run(backend: str = "local") -> tuple[CheckReport, str]:
    out = io.StringIO()
    report = check(backend, file=out)
    return report, out.getvalue()


def statuses(report: CheckReport) -> list[str]:
    return [line.split()[0] for line in report["lines"]]


def test_every_printed_line_starts_with_a_status() -> None:
    report, text = run()
    printed = text.splitlines()
    assert printed[0] == "kmslab check"
    assert printed[1:] == report["lines"]
    assert set(statuses(report)) <= {"OK", "WARN", "FAIL"}


def test_a_clean_local_setup_is_all_ok() -> None:
    report, _ = run()
    assert statuses(report) == ["OK"] * len(report["lines"])
    assert report["ok"]
    assert report["backend"] == "local"
    assert report["backend_valid"]
    assert not report["real_aws_enabled"]
    assert not report["real_aws_would_be_used"]
    assert report["aws_env_credentials"] == []
    assert report["aws_config_files"] == []


def test_versions_come_from_the_installed_packages() -> None:
    report, text = run()
    assert report["python"] == ".".join(str(n) for n in sys.version_info[:3])
    for name in ("boto3", "botocore", "cryptography", "kmslab"):
        assert report["versions"][name] == metadata.version(name)
        assert f"OK    {name} {metadata.version(name)}" in text


def test_lower_bounds_come_from_kmslabs_own_requirements() -> None:
    from kmslab.check import _requirement_floors

    floors = _requirement_floors()
    assert {"boto3", "botocore", "cryptography"} <= set(floors)
    assert "moto" not in floors  # an extra, not a requirement
    assert all(floor for floor in floors.values())


def test_a_too_old_package_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = check_module._version
    monkeypatch.setattr(
        check_module, "_version", lambda name: "1.0.0" if name == "boto3" else real_version(name)
    )
    report, text = run()
    floor = ".".join(str(n) for n in check_module._requirement_floors()["boto3"])
    assert f"FAIL  boto3 1.0.0: kmslab needs {floor} or newer" in text
    assert not report["ok"]


def test_a_missing_package_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = check_module._version
    monkeypatch.setattr(
        check_module,
        "_version",
        lambda name: None if name == "cryptography" else real_version(name),
    )
    report, text = run()
    assert report["versions"]["cryptography"] is None
    assert "FAIL  cryptography is not installed" in text


def test_the_expected_operations_are_botocores_56() -> None:
    model = botocore.session.get_session().get_service_model("kms")
    assert len(KMS_OPERATIONS) == 56
    assert set(model.operation_names) == KMS_OPERATIONS
    report, text = run()
    assert report["kms_operations"] == 56
    assert report["kms_operations_missing"] == []
    assert "all 56 operations" in text


def test_a_botocore_missing_operations_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        check_module, "_kms_operations", lambda: KMS_OPERATIONS - {"Decapsulate", "Encapsulate"}
    )
    report, text = run()
    assert report["kms_operations_missing"] == ["Decapsulate", "Encapsulate"]
    assert "FAIL  botocore's KMS model lacks 2 of 56 operations" in text
    assert not report["ok"]


@pytest.mark.parametrize("backend", ["local", "moto", "moto-server", "http://127.0.0.1:4599"])
def test_offline_backends_are_ok(backend: str) -> None:
    report, text = run(backend)
    assert report["ok"], text
    assert report["backend"] == backend
    assert f"OK    backend {backend}" in text
    assert not report["real_aws_would_be_used"]


def test_check_imports_no_moto() -> None:
    code = "import sys, kmslab.check as c; c.check('moto'); print('moto' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "False"


def test_aws_without_the_opt_in_fails() -> None:
    report, text = run("aws")
    assert f"FAIL  backend aws: refused until you set {REAL_AWS_ENV}=1" in text
    assert not report["ok"]
    assert not report["real_aws_would_be_used"]


def test_aws_with_the_opt_in_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REAL_AWS_ENV, "1")
    report, text = run("aws")
    assert report["ok"]
    assert report["real_aws_enabled"]
    assert report["real_aws_would_be_used"]
    assert "WARN  backend aws: real AWS KMS" in text
    assert f"WARN  real AWS: on ({REAL_AWS_ENV}=1)" in text


def test_the_opt_in_is_only_the_value_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REAL_AWS_ENV, "true")
    report, text = run()
    assert not report["real_aws_enabled"]
    assert "WARN  real AWS: off" in text


def test_an_unknown_backend_fails_without_raising() -> None:
    report, text = run("mock")
    assert not report["backend_valid"]
    assert not report["ok"]
    assert "FAIL  backend 'mock' is unknown" in text


def test_credentials_are_reported_by_name_never_by_value(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRET_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    aws = clean_environment / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = {SECRET_KEY_ID}\n"
        f"aws_secret_access_key = {SECRET_ACCESS_KEY}\n"
    )
    report, text = run()
    assert report["aws_env_credentials"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert report["aws_config_files"] == ["~/.aws/credentials"]
    assert "OK    AWS credentials found" in text
    assert "unused while real AWS is off" in text
    assert report["ok"]
    for secret in (SECRET_KEY_ID, SECRET_ACCESS_KEY, "wJalr", str(clean_environment)):
        assert secret not in text
        assert secret not in repr(report)

    monkeypatch.setenv(REAL_AWS_ENV, "1")
    report, text = run()
    assert "WARN  AWS credentials found" in text
    assert "connect('aws') will use them" in text
    assert SECRET_KEY_ID not in text


def test_shared_file_overrides_are_reported_by_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "elsewhere"
    config.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing"))
    report, text = run()
    assert report["aws_config_files"] == ["$AWS_CONFIG_FILE"]
    assert str(tmp_path) not in text


def test_an_active_moto_mock_is_reported() -> None:
    from kmslab.backend import connect, stop

    kms = connect("moto")
    try:
        report, text = run("moto")
        assert report["moto_mock_active"]
        assert "OK    moto mock: active" in text
    finally:
        stop(kms)
    report, text = run("moto")
    assert not report["moto_mock_active"]
    assert "OK    moto mock: not active" in text


def test_default_output_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    report = check()
    assert capsys.readouterr().out.splitlines()[1:] == report["lines"]


def test_main_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert main(["aws"]) == 1
    assert "FAIL  backend aws" in capsys.readouterr().out


def test_python_dash_m() -> None:
    env = {k: v for k, v in os.environ.items() if k != REAL_AWS_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "kmslab.check", "moto"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("kmslab check\n")
    assert "OK    backend moto" in done.stdout


def test_kmslab_check_is_callable_however_it_was_imported() -> None:
    # Importing the submodule kmslab.check rebinds the package attribute `check` to the module.
    code = (
        "import io, kmslab, kmslab.check\n"
        "first = kmslab.check(file=io.StringIO())\n"
        "second = kmslab.check('moto', file=io.StringIO())\n"
        "print(first['backend'], second['backend'], isinstance(first, dict))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["local", "moto", "True"]
