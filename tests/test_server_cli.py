"""The seed's aws CLI commands, typed as a learner types them, against `kmslab serve`.

`kmslab serve` runs as a subprocess with ``--state``; the real aws CLI (the awscli package, run
as ``python -m awscli`` so it is the one installed beside this interpreter) talks to it with
``--endpoint-url`` added and nothing else changed. The CLI's environment holds only the lab's
admin credentials and empty config files, so a learner's own ``~/.aws`` is never read.

The awscli package bundles its own copy of botocore and swaps it in when imported, so it is
only ever run in a subprocess here, never imported.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from server_fixtures import (
    REGION,
    ServeProcess,
    answers,
    clean_env,
    free_port,
    kms_client,
    server_log_problems,
    serving,
)

from kmslab.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

SECRET = b"The launch code is 0000.\n\x00\xff binary tail \xe2\x9c\x93\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with serving(tmp_path_factory.mktemp("serve-cli")) as server:
        yield server


@pytest.fixture
def shell(tmp_path: Path) -> Path:
    """The learner's working directory, with secret.txt in it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    return tmp_path


def aws(
    *args: str, cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``aws ARGS...`` with the CLI installed beside this interpreter."""
    done = subprocess.run(
        [sys.executable, "-m", "awscli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, f"aws {' '.join(args)} failed:\n{done.stderr}"
    return done


def kms_cli(served: ServeProcess, cwd: Path, command: str) -> str:
    """``aws kms COMMAND --endpoint-url URL`` in ``cwd``, written as a learner types it; the
    command's stdout, stripped."""
    env = clean_env(cwd / ".home")
    args = shlex.split(command)
    return aws("kms", *args, "--endpoint-url", served.endpoint, cwd=cwd, env=env).stdout.strip()


def test_serve_starts_fast_and_prints_endpoint_and_credentials(served: ServeProcess) -> None:
    out = served.stdout()
    assert f"AWS KMS at {served.endpoint}" in out
    assert "[profile kmslab]" in out
    assert f"aws_access_key_id = {ADMIN_ACCESS_KEY_ID}" in out
    assert f"aws_secret_access_key = {ADMIN_SECRET_ACCESS_KEY}" in out
    assert f"endpoint_url = {served.endpoint}" in out
    assert "Ctrl-C" in out
    # The issue asks for "well under a second"; the bound here is loose because the time
    # includes interpreter start-up on a possibly busy test machine.
    assert served.start_seconds[0] < 10, served.start_seconds


def test_seed_commands_through_the_aws_cli(served: ServeProcess, shell: Path) -> None:
    def cli(command: str) -> str:
        return kms_cli(served, shell, command)

    # Two keys to start from (made through the CLI as well, both at once to save time).
    with ThreadPoolExecutor(2) as pool:
        made = pool.map(
            cli,
            [
                "create-key --description 'seed K' --output text --query KeyMetadata.KeyId",
                "create-key --description 'seed K2' --output text --query KeyMetadata.KeyId",
            ],
        )
        key, key2 = list(made)
    assert re.fullmatch(r"[0-9a-f-]{36}", key) and re.fullmatch(r"[0-9a-f-]{36}", key2)
    kms = kms_client(served.endpoint)  # only to check what the CLI did

    # aws kms encrypt --key-id K --plaintext fileb://secret.txt --output text
    #     --query CiphertextBlob | base64 --decode > encryptedsecret.txt
    b64 = cli(
        f"encrypt --key-id {key} --plaintext fileb://secret.txt"
        " --output text --query CiphertextBlob"
    )
    (shell / "encryptedsecret.txt").write_bytes(base64.b64decode(b64, validate=True))
    assert SECRET not in (shell / "encryptedsecret.txt").read_bytes()

    # aws kms decrypt --ciphertext-blob fileb://encryptedsecret.txt --output text --query Plaintext
    plain = cli(
        "decrypt --ciphertext-blob fileb://encryptedsecret.txt --output text --query Plaintext"
    )
    assert base64.b64decode(plain) == SECRET

    # aws kms re-encrypt --ciphertext-blob fileb://encryptedsecret.txt --destination-key-id K2
    rewrapped = json.loads(
        cli(
            "re-encrypt --ciphertext-blob fileb://encryptedsecret.txt"
            f" --destination-key-id {key2} --output json"
        )
    )
    assert rewrapped["SourceKeyId"].endswith(f":key/{key}")
    assert rewrapped["KeyId"].endswith(f":key/{key2}")
    back = kms.decrypt(CiphertextBlob=base64.b64decode(rewrapped["CiphertextBlob"]))
    assert back["Plaintext"] == SECRET
    assert back["KeyId"].endswith(f":key/{key2}")

    # aws kms enable-key-rotation, then get-key-rotation-status -> true
    assert cli(f"enable-key-rotation --key-id {key}") == ""
    status = cli(f"get-key-rotation-status --key-id {key} --output text --query KeyRotationEnabled")
    assert status == "True"

    # aws kms generate-data-key --key-id K --key-spec AES_256 -> a 32-byte plaintext data key
    data_key = json.loads(cli(f"generate-data-key --key-id {key} --key-spec AES_256 --output json"))
    plaintext_key = base64.b64decode(data_key["Plaintext"])
    assert len(plaintext_key) == 32
    unwrapped = kms.decrypt(CiphertextBlob=base64.b64decode(data_key["CiphertextBlob"]))
    assert unwrapped["Plaintext"] == plaintext_key
    assert unwrapped["KeyId"].endswith(f":key/{key}")


def test_aws_cli_errors_are_aws_errors(served: ServeProcess, shell: Path) -> None:
    env = clean_env(shell / ".home")
    big = shell / "big.bin"
    big.write_bytes(b"x" * 4097)
    args = shlex.split(
        "kms encrypt --key-id alias/does-not-exist --plaintext fileb://secret.txt"
        f" --endpoint-url {served.endpoint}"
    )
    done = aws(*args, cwd=shell, env=env, check=False)
    assert done.returncode != 0
    assert "NotFoundException" in done.stderr
    key = kms_client(served.endpoint).create_key()["KeyMetadata"]["KeyId"]
    args = shlex.split(
        f"kms encrypt --key-id {key} --plaintext fileb://big.bin --endpoint-url {served.endpoint}"
    )
    done = aws(*args, cwd=shell, env=env, check=False)
    assert done.returncode != 0
    assert "ValidationException" in done.stderr
    assert "Member must have length less than or equal to 4096" in done.stderr


def test_printed_profile_and_export_line_work_verbatim(served: ServeProcess, shell: Path) -> None:
    """What `kmslab serve` prints is pasted as-is: the profile, or the export line."""
    out = served.stdout()
    snippet = out.split("[profile kmslab]", 1)[1].split("\n\n", 1)[0]
    env = clean_env(shell / ".home")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        del env[name]
    Path(env["AWS_CONFIG_FILE"]).write_text("[profile kmslab]" + snippet + "\n")
    done = aws("--profile", "kmslab", "kms", "list-keys", "--output", "json", cwd=shell, env=env)
    assert "Keys" in json.loads(done.stdout)

    export = re.search(r"export (AWS_ENDPOINT_URL_KMS)=(\S+)", out)
    assert export is not None
    env = clean_env(shell / ".home2", **{export.group(1): export.group(2)})
    done = aws("kms", "list-keys", "--output", "json", cwd=shell, env=env)
    assert "Keys" in json.loads(done.stdout)


def test_seed_through_boto3_with_endpoint_url(served: ServeProcess) -> None:
    kms = kms_client(served.endpoint)
    key = kms.create_key(Description="seed K")["KeyMetadata"]["KeyId"]
    key2 = kms.create_key(Description="seed K2")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=SECRET)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == SECRET
    rewrapped = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key2)
    assert rewrapped["KeyId"].endswith(key2)
    assert kms.decrypt(CiphertextBlob=rewrapped["CiphertextBlob"])["Plaintext"] == SECRET
    kms.enable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    unwrapped = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
    assert unwrapped["Plaintext"] == data_key["Plaintext"]
    with pytest.raises(ClientError) as err:
        kms.encrypt(KeyId=key, Plaintext=b"x" * 4097)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_no_internal_errors_were_logged(served: ServeProcess) -> None:
    assert served.running()
    assert server_log_problems(served.stderr()) == []


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_stops_cleanly_on_ctrl_c(tmp_path: Path, sig: str) -> None:
    with ServeProcess(tmp_path / "logs", state=tmp_path / "lab.db") as server:
        server.start()
        kms = kms_client(server.endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        assert server.proc is not None
        server.proc.send_signal(getattr(signal, sig))
        assert server.proc.wait(timeout=15) == 0
        assert "kmslab serve: stopped." in server.stdout()
        assert "Traceback" not in server.stderr()
        assert not answers(server.port)
        # ... and what it answered is there next time.
        server.start()
        ids = [k["KeyId"] for k in kms_client(server.endpoint).list_keys()["Keys"]]
        assert key in ids
        assert server.interrupt() == 0


def test_port_zero_picks_a_free_port_and_prints_it(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kmslab.cli", "serve", "--port", "0"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(tmp_path / "home"),
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"AWS KMS at (http://127\.0\.0\.1:(\d+))", out.read_text())
            time.sleep(0.05)
        assert found is not None, out.read_text()
        assert int(found.group(2)) != 0
        assert "in memory" in out.read_text()
        kms = kms_client(found.group(1))
        assert kms.list_keys()["Keys"] == []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=15)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "kmslab.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(tmp_path / "home"),
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_region_flag_is_in_the_printed_profile(tmp_path: Path) -> None:
    with ServeProcess(tmp_path / "logs", region="eu-west-1") as server:
        server.start()
        assert "region = eu-west-1" in server.stdout()
        kms = kms_client(server.endpoint, region="eu-west-1")
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:eu-west-1:")
        assert REGION != "eu-west-1"
