"""Helpers for the `kmslab serve` tests: a server subprocess, clean aws CLI environments, and
requests signed by hand with botocore's own SigV4 signer and sent with http.client.

Plain functions and classes (no pytest fixtures), so each test module makes the fixtures it
needs from them. Every server started here only listens on 127.0.0.1, and every subprocess is
killed by ``ServeProcess.close`` (call it from a fixture teardown or a ``with`` block).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.auth
import botocore.config
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kmslab.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

HOST = "127.0.0.1"
REGION = "us-east-1"
JSON_11 = "application/x-amz-json-1.1"
START_TIMEOUT = 30.0


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env(home: Path, region: str = REGION, **extra: str) -> dict[str, str]:
    """The environment for an aws CLI or server subprocess.

    Nothing AWS-related is inherited from the caller; the config and credentials files are
    empty files under ``home``, so a learner's own ``~/.aws`` is never read.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "aws-config"
    credentials = home / "aws-credentials"
    config.touch()
    credentials.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO"))}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def answers(port: int, timeout: float = 0.5) -> bool:
    """Does something answer GET / with 200 on ``port``?"""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class ServeProcess:
    """``python -m kmslab.cli serve`` as a subprocess, its output kept in files under ``logs``."""

    def __init__(
        self,
        logs: Path,
        *,
        state: Path | None = None,
        port: int | None = None,
        region: str = REGION,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.logs = logs
        self.state = state
        self.port = port or free_port()
        self.region = region
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start_seconds: list[float] = []
        logs.mkdir(parents=True, exist_ok=True)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "kmslab.cli", "serve", "--port", str(self.port)]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        cmd += ["--region", self.region, *self.extra_args]
        return cmd

    @property
    def stdout_path(self) -> Path:
        return self.logs / f"serve-{self.starts}.out"

    @property
    def stderr_path(self) -> Path:
        return self.logs / f"serve-{self.starts}.err"

    def start(self, timeout: float = START_TIMEOUT) -> ServeProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        began = time.monotonic()
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=clean_env(self.logs / "home", self.region),
                cwd=self.logs,
            )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"kmslab serve exited with {self.proc.returncode}: {self.stderr()}"
                )
            if answers(self.port):
                self.start_seconds.append(time.monotonic() - began)
                return self
            time.sleep(0.02)
        self.close()
        raise TimeoutError(f"kmslab serve did not answer within {timeout} s: {self.stderr()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def interrupt(self, timeout: float = 15.0) -> int:
        """Ctrl-C: SIGINT, then the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9, and reap the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=15)

    def close(self) -> None:
        self.kill()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_SESSION_LOCK = threading.Lock()
_SESSIONS: dict[int, Any] = {}


@contextlib.contextmanager
def serving(root: Path) -> Iterator[ServeProcess]:
    """`kmslab serve --state` as a subprocess with its logs and state under ``root``, for a
    module's tests; stopped at the end whatever happens."""
    server = ServeProcess(root / "logs", state=root / "lab.db")
    try:
        yield server.start()
    finally:
        server.close()


def kms_client(
    endpoint: str,
    *,
    access_key: str = ADMIN_ACCESS_KEY_ID,
    secret: str = ADMIN_SECRET_ACCESS_KEY,
    region: str = REGION,
    timeout: float = 10.0,
    attempts: int = 1,
    pool: int = 10,
) -> Any:
    """A boto3 KMS client over HTTP, without retries (a refused call must show as refused).

    Clients come from one botocore session per thread, whose loader keeps the parsed KMS model,
    so a test can make dozens of clients cheaply; each client has its own connection pool.
    """
    with _SESSION_LOCK:
        session = _SESSIONS.setdefault(threading.get_ident(), botocore.session.Session())
    return boto3.session.Session(botocore_session=session).client(
        "kms",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(
            retries={"total_max_attempts": attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
            max_pool_connections=pool,
        ),
    )


def sign(
    endpoint: str,
    target: str | None,
    body: bytes,
    *,
    access_key: str = ADMIN_ACCESS_KEY_ID,
    secret: str = ADMIN_SECRET_ACCESS_KEY,
    region: str = REGION,
    service: str = "kms",
    content_type: str | None = JSON_11,
    when: datetime | None = None,
    path: str = "/",
) -> dict[str, str]:
    """Headers for a POST of ``body`` signed by botocore's SigV4Auth, optionally at ``when``."""
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        naive = when.astimezone(UTC).replace(tzinfo=None)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive):
            signer.add_auth(request)
    return dict(request.headers.items())


class Reply:
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        # HTTP header names are case-insensitive: kept lower-case here.
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        try:
            doc = self.json()
        except ValueError:
            return None
        return doc.get("__type") if isinstance(doc, dict) else None

    @property
    def message(self) -> str | None:
        doc = self.json()
        return doc.get("message") or doc.get("Message")

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


class RawClient:
    """One keep-alive HTTP/1.1 connection to the server; reconnects if the server closes it."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def send(self, method: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        try:
            return self._send(method, headers, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            return self._send(method, headers, body)

    def _send(self, method: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self.conn.request(method, "/", body=body, headers=dict(headers))
        response = self.conn.getresponse()
        data = response.read()
        return Reply(response.status, dict(response.getheaders()), data)

    def post(self, headers: Mapping[str, str], body: bytes) -> Reply:
        return self.send("POST", headers, body)

    def call(self, target: str | None, body: bytes, **sign_kwargs: Any) -> Reply:
        """Sign ``body`` for ``target`` (as the admin unless told otherwise) and POST it."""
        headers = sign(f"http://{HOST}:{self.port}", target, body, **sign_kwargs)
        return self.post(headers, body)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def list_all_key_ids(kms: Any) -> list[str]:
    ids: list[str] = []
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 100}):
        ids += [k["KeyId"] for k in page["Keys"]]
    return ids


def server_log_problems(text: str) -> list[str]:
    """Lines of a server's stderr that show an internal error."""
    marks = ("Traceback", "internal error", "server error", "Uncaught exception", "ERROR")
    return [line for line in text.splitlines() if any(m in line for m in marks)]
