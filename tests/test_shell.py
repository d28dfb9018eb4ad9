"""kmslab.shell: the aws CLI from a notebook, against kmslab and against moto's server."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import kmslab.backend
import kmslab.course
import kmslab.shell


@pytest.fixture
def learner_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A learner's own AWS setup, which the shell must hide and then put back."""
    config = tmp_path / "learner-aws-config"
    config.write_text("[profile my-real-profile]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "my-real-profile")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_aws_cli_reaches_the_lab_and_nothing_of_the_learner(learner_env: Path) -> None:
    course = kmslab.course.start(seed=3, backend="local")
    key_id = course.kms.create_key(Description="shell")["KeyMetadata"]["KeyId"]
    path_before = os.environ["PATH"]
    shell = kmslab.shell.start(course)
    try:
        assert shell.backend == "local" and shell.endpoint.startswith("http://127.0.0.1:")
        assert Path.cwd() == shell.folder.resolve() or Path.cwd() == shell.folder
        assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
        assert os.environ["AWS_ENDPOINT_URL_KMS"] == shell.endpoint
        assert os.environ["AWS_PAGER"] == ""
        for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            assert Path(os.environ[name]).read_bytes() == b""
        assert os.environ["PATH"].endswith(path_before)
        assert shell.aws_installed
        done = shell.run(
            f"aws kms describe-key --key-id {key_id} --output text --query KeyMetadata.KeyState"
        )
        assert (done.returncode, done.stdout.strip()) == (0, "Enabled"), done.stderr
    finally:
        shell.stop()
    shell.stop()  # twice is harmless
    assert Path.cwd() == learner_env
    assert os.environ["AWS_PROFILE"] == "my-real-profile"
    assert os.environ["AWS_CONFIG_FILE"] == str(learner_env / "learner-aws-config")
    assert "AWS_ENDPOINT_URL_KMS" not in os.environ
    assert os.environ["PATH"] == path_before
    assert not shell.folder.exists()
    course.close()


def test_without_a_lab_the_shell_serves_moto(learner_env: Path) -> None:
    with kmslab.shell.start(SimpleNamespace(lab=None, region="eu-west-1")) as shell:
        assert shell.backend == "moto-server"
        done = shell.run("aws kms create-key --output text --query KeyMetadata.KeyState")
        assert (done.returncode, done.stdout.strip()) == (0, "Enabled"), done.stderr
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "moto-server" not in kmslab.backend.running()
    assert os.environ["AWS_PROFILE"] == "my-real-profile"


def test_starting_again_stops_the_previous_shell(learner_env: Path) -> None:
    course = kmslab.course.start(seed=3, backend="local")
    first = kmslab.shell.start(course)
    second = kmslab.shell.start(course)  # the start cell, run twice
    assert first.stopped and not first.folder.exists()
    assert Path.cwd() in (second.folder, second.folder.resolve())
    assert os.environ["AWS_ENDPOINT_URL_KMS"] == second.endpoint != first.endpoint
    second.stop()
    assert Path.cwd() == learner_env
    assert os.environ["AWS_PROFILE"] == "my-real-profile"
    assert "AWS_ENDPOINT_URL_KMS" not in os.environ
    course.close()
