"""connect(): every backend hands out a working boto3 KMS client, and stop() cleans up.

No test here reaches the network: an autouse fixture makes botocore refuse to send any request
to a host other than 127.0.0.1, so a request that no mock answers fails loudly instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.httpsession
import pytest

from kmslab import backend
from kmslab.backend import (
    LAB_ACCESS_KEY_ID,
    LAB_SECRET_ACCESS_KEY,
    REAL_AWS_ENV,
    RealAwsNotEnabled,
    connect,
    running,
    stop,
)


class NetworkBlocked(Exception):
    """A request tried to leave this machine."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_send = botocore.httpsession.URLLib3Session.send

    def send(self: Any, request: Any) -> Any:
        if urlsplit(request.url).hostname != "127.0.0.1":
            raise NetworkBlocked(request.url)
        return real_send(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
    stop()


def round_trip(kms: Any) -> None:
    key_id = kms.create_key(Description="kmslab test")["KeyMetadata"]["KeyId"]
    plaintext = b"attack at dawn" * 100
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    assert plaintext not in blob
    answer = kms.decrypt(CiphertextBlob=blob)
    assert answer["Plaintext"] == plaintext
    assert answer["KeyId"].endswith(key_id)


def answered_in_process() -> bool:
    """Would a fresh boto3 client to us-east-1 KMS be answered without the network?"""
    fresh = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("kms", region_name="us-east-1")
    try:
        fresh.list_keys()
    except NetworkBlocked:
        return False
    return True


def port_accepts(endpoint_url: str) -> bool:
    parts = urlsplit(endpoint_url)
    assert parts.hostname is not None and parts.port is not None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def test_the_network_guard_works() -> None:
    assert not answered_in_process()


def test_unknown_backend_is_a_value_error_that_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown backend 'mock'") as raised:
        connect("mock")
    for name in ("'local'", "'moto'", "'moto-server'", "'aws'", "http://"):
        assert name in str(raised.value)
    with pytest.raises(ValueError):
        connect("ftp://127.0.0.1:21")
    with pytest.raises(ValueError):
        connect("http://")


@pytest.mark.parametrize("flag", [None, "", "0", "true", "yes"])
def test_aws_needs_the_explicit_opt_in(monkeypatch: pytest.MonkeyPatch, flag: str | None) -> None:
    if flag is None:
        monkeypatch.delenv(REAL_AWS_ENV, raising=False)
    else:
        monkeypatch.setenv(REAL_AWS_ENV, flag)
    with pytest.raises(RealAwsNotEnabled, match=f"{REAL_AWS_ENV}=1") as raised:
        connect("aws")
    assert isinstance(raised.value, RuntimeError)
    assert "connect('local')" in str(raised.value)


def test_aws_with_the_opt_in_makes_a_client_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REAL_AWS_ENV, "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    kms = connect("aws", region_name="eu-west-1")
    assert kms.meta.region_name == "eu-west-1"
    assert kms.meta.endpoint_url == "https://kms.eu-west-1.amazonaws.com"
    assert running() == []


def test_an_endpoint_url_gets_the_lab_admin_credentials() -> None:
    kms = connect("http://127.0.0.1:4599", region_name="eu-central-1")
    assert kms.meta.endpoint_url == "http://127.0.0.1:4599"
    assert kms.meta.region_name == "eu-central-1"
    credentials = kms._request_signer._credentials
    assert credentials.access_key == LAB_ACCESS_KEY_ID
    assert credentials.secret_key == LAB_SECRET_ACCESS_KEY
    assert running() == []


def test_moto_round_trip_then_stop_ends_the_mock() -> None:
    from moto.core.models import MockAWS, botocore_stubber

    assert MockAWS._nested_count == 0
    env_before = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    kms = connect("moto")
    assert running() == ["moto"]
    round_trip(kms)
    assert botocore_stubber.enabled
    assert answered_in_process()

    assert stop(kms) == 1
    assert running() == []
    assert MockAWS._nested_count == 0
    assert not botocore_stubber.enabled
    assert not answered_in_process()
    env_after = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    assert env_after == env_before
    assert stop(kms) == 0  # twice is harmless


@pytest.mark.parametrize("first_stopped", [0, 1])
def test_two_moto_clients_keep_the_mock_until_the_last_stops(
    monkeypatch: pytest.MonkeyPatch, first_stopped: int
) -> None:
    from moto.core.models import MockAWS

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKING00000")
    clients = [connect("moto"), connect("moto")]
    key_id = clients[0].create_key()["KeyMetadata"]["KeyId"]
    assert os.environ["AWS_ACCESS_KEY_ID"] != "AKIAREALLOOKING00000"  # moto's fake, for now
    stop(clients[first_stopped])
    assert MockAWS._nested_count == 1
    other = clients[1 - first_stopped]
    assert other.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    stop(other)
    assert MockAWS._nested_count == 0
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALLOOKING00000"


def test_moto_server_round_trip_then_stop_closes_the_port() -> None:
    kms = connect("moto-server")
    endpoint = kms.meta.endpoint_url
    assert urlsplit(endpoint).hostname == "127.0.0.1"
    assert running() == ["moto-server"]
    assert port_accepts(endpoint)
    round_trip(kms)

    assert stop(kms) == 1
    assert running() == []
    assert not port_accepts(endpoint)
    assert stop(kms) == 0


def test_moto_and_moto_server_together_share_moto_state() -> None:
    server = connect("moto-server")
    key_id = server.create_key()["KeyMetadata"]["KeyId"]
    mock = connect("moto")
    # Starting the mock must not wipe the running server's keys, nor stopping it.
    assert mock.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    stop(mock)
    assert server.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id
    assert running() == ["moto-server"]


def test_stop_without_a_client_stops_everything() -> None:
    connect("moto")
    connect("moto-server")
    assert sorted(running()) == ["moto", "moto-server"]
    assert stop() == 2
    assert running() == []
    assert stop() == 0


def test_stop_of_a_client_that_started_nothing_is_harmless() -> None:
    kms = connect("http://127.0.0.1:4599")
    assert stop(kms) == 0
    assert stop(object()) == 0


def test_whatever_is_left_running_is_stopped_at_exit() -> None:
    # atexit runs handlers newest first, so one registered before kmslab.backend is imported
    # runs after kmslab's own hook and can look at what that hook left behind.
    code = (
        "import atexit, socket\n"
        "endpoint = []\n"
        "def after_kmslab():\n"
        "    from kmslab.backend import running\n"
        "    host, port = endpoint[0].rsplit('/', 1)[1].split(':')\n"
        "    try:\n"
        "        socket.create_connection((host, int(port)), timeout=2).close()\n"
        "        accepts = True\n"
        "    except OSError:\n"
        "        accepts = False\n"
        "    print(running(), accepts)\n"
        "atexit.register(after_kmslab)\n"
        "from kmslab.backend import connect\n"
        "endpoint.append(connect('moto-server').meta.endpoint_url)\n"
        "connect('moto')\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == "[] False"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSLAB_"))}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("name", ["moto", "moto-server"])
def test_the_first_moto_calls_print_nothing(name: str) -> None:
    code = (
        "from kmslab.backend import connect, stop\n"
        f"kms = connect({name!r})\n"
        "key_id = kms.create_key()['KeyMetadata']['KeyId']\n"
        "blob = kms.encrypt(KeyId=key_id, Plaintext=b'x' * 4096)['CiphertextBlob']\n"
        "assert kms.decrypt(CiphertextBlob=blob)['Plaintext'] == b'x' * 4096\n"
        "stop()\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_importing_backend_and_check_imports_no_moto() -> None:
    code = (
        "import sys, kmslab, kmslab.backend, kmslab.check\n"
        "heavy = ('moto', 'matplotlib', 'ipywidgets', 'werkzeug')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_local_round_trip() -> None:
    lab_module = pytest.importorskip("kmslab.lab")
    kms = connect("local", region_name="eu-west-1")
    assert kms.meta.region_name == "eu-west-1"
    assert running() == ["local"]
    round_trip(kms)
    assert stop(kms) == 1
    assert running() == []

    lab = lab_module.LocalKms()
    try:
        kms = connect("local", lab=lab)
        round_trip(kms)
        assert running() == []  # the caller's lab stays the caller's to close
        assert stop(kms) == 0
        round_trip(kms)
    finally:
        lab.close()


def test_an_active_moto_mock_leaves_kmslab_clients_alone() -> None:
    # moto's botocore hook joins every client created after moto is imported and, while a mock
    # is active, works on each request even when kmslab's hook (registered first) answers it.
    pytest.importorskip("kmslab.lab")
    moto = connect("moto")
    local = connect("local")
    round_trip(local)
    assert moto.list_keys()["Keys"] == []


def test_module_surface() -> None:
    assert backend.BACKENDS == ("local", "moto", "moto-server", "aws")
    assert sorted(backend.__all__) == backend.__all__
