"""``kmslab serve``: the lab's KMS over HTTP, for the aws CLI and any AWS SDK.

A second transport over the same protocol layer as the in-process client: a request is read,
its SigV4 signature is verified with the caller's secret from the lab's directory (unknown
access key: UnrecognizedClientException; wrong signature or a date over 15 minutes off:
InvalidSignatureException), and its target and JSON body go to
:meth:`kmslab.lab.LocalKms.handle`, the same entry point the in-process transport uses.

The HTTP server is uvicorn (with httptools' C parser and uvloop where installed), serving a
plain ASGI application, :class:`KmsApp`; no web framework sits in between. Measured on the
same 2-CPU machine with the same keep-alive load, a do-nothing handler cost 0.48 ms of server
CPU per request under tornado's web framework, 0.33 ms under tornado's bare HTTP layer and
0.11 ms under uvicorn, while kmslab's own work for an Encrypt is about half a millisecond: the
HTTP layer decided the throughput. Requests are answered on the event loop's thread; the
service is serialised by its own lock anyway, so threads would add nothing but contention.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from . import sigv4
from .errors import (
    InvalidSignatureException,
    KmsError,
    KMSInternalException,
    RequestEntityTooLargeException,
    SerializationException,
    UnknownOperationException,
    UnrecognizedClientException,
)
from .iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from .lab import LocalKms
from .store import DEFER_SECONDS

log = logging.getLogger("kmslab.server")

DEFAULT_PORT = 4599
MAX_BODY_BYTES = 1024 * 1024
MAX_READ_BYTES = 8 * MAX_BODY_BYTES  # larger bodies are refused without being read
UNRECOGNIZED_TOKEN = "The security token included in the request is invalid."
_JSON_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0")
_AMZ_JSON = b"application/x-amz-json-1.1"
HEALTH_TEXT = b"kmslab: AWS KMS (JSON 1.1) answers POST / here.\n"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, body, and the headers that vary."""

    status: int
    body: bytes
    content_type: bytes = _AMZ_JSON
    request_id: str | None = None
    close: bool = False

    @classmethod
    def error(cls, exc: KmsError, *, close: bool = False) -> Reply:
        body = json.dumps({"__type": exc.code, "message": exc.message}).encode()
        return cls(exc.status, body, close=close)


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's header list as a dict with lower-case names; repeated headers joined by commas
    (as SigV4's canonical form wants them)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


def answer(
    lab: LocalKms, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> Reply:
    """Answer one whole request (``headers`` with lower-case names; ``body`` within
    ``MAX_BODY_BYTES``, which :class:`KmsApp` enforces while reading). Never raises for a client
    mistake: that is an AWS-shaped 4xx."""
    if method in ("GET", "HEAD"):
        # Health check and a friendly word for a browser.
        return Reply(200, HEALTH_TEXT, b"text/plain; charset=utf-8")
    try:
        if method != "POST":
            raise SerializationException(f"KMS answers POST requests, not {method}.")
        cred = sigv4.parse_authorization(headers.get("authorization"))
        if cred.service != "kms":
            # AWS's wording (JSON services), trailing space included.
            raise InvalidSignatureException(
                "Credential should be scoped to correct service: 'kms'. "
            )
        principal = lab.directory.by_access_key(cred.access_key_id)
        if principal is None:
            raise UnrecognizedClientException(UNRECOGNIZED_TOKEN)
        sigv4.verify(
            cred,
            principal.secret_access_key,
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
        )
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise UnknownOperationException("")
    except KmsError as exc:
        return Reply.error(exc)
    response = lab.handle(headers.get("x-amz-target"), body, principal, cred.region)
    return Reply(response.status, response.body, request_id=response.request_id)


def _too_large(*, close: bool) -> Reply:
    message = f"Request body is larger than {MAX_BODY_BYTES} bytes."
    return Reply.error(RequestEntityTooLargeException(message), close=close)


class KmsApp:
    """The ASGI application: POST / with X-Amz-Target: TrentService.<Operation>."""

    def __init__(self, lab: LocalKms) -> None:
        self.lab = lab

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = _headers(scope["headers"])
        reply = await self._reply(scope, receive, headers)
        start: list[tuple[bytes, bytes]] = [
            (b"content-type", reply.content_type),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        if reply.request_id:
            start.append((b"x-amzn-requestid", reply.request_id.encode()))
        if reply.close:
            start.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": reply.status, "headers": start})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else reply.body}
        )

    async def _reply(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> Reply:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_READ_BYTES:
            # Refused before a byte of it is read; the connection closes after the answer.
            return _too_large(close=True)
        # A body a little over the limit is read and dropped, so that the client, still
        # sending, gets its 413 instead of a connection reset.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return Reply(400, b"", close=True)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_READ_BYTES:
                return _too_large(close=True)
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
            more = message.get("more_body", False)
        if size > MAX_BODY_BYTES:
            return _too_large(close=False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            return answer(self.lab, scope["method"], path, query, headers, body)
        except Exception:  # a kmslab bug, never a client mistake: say so, keep serving
            log.exception("kmslab server error")
            return Reply.error(KMSInternalException("kmslab could not answer this request."))


def profile_snippet(lab: LocalKms, endpoint: str, region: str) -> str:
    """An aws CLI config snippet: one profile per lab principal."""
    lines = []
    for p in lab.directory.principals():
        name = "kmslab" if p.access_key_id == ADMIN_ACCESS_KEY_ID else f"kmslab-{p.name}"
        lines += [
            f"[profile {name}]",
            f"aws_access_key_id = {p.access_key_id}",
            f"aws_secret_access_key = {p.secret_access_key}",
            f"region = {region}",
            f"endpoint_url = {endpoint}",
            "",
        ]
    return "\n".join(lines)


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, minus its signal handling: a background server (a notebook's) must
    not touch signals, and ``kmslab serve`` stops cleanly on Ctrl-C or SIGTERM with status 0
    instead of re-raising the signal after the shutdown as uvicorn does.

    While it serves, the lab's store defers the commit of requests that wrote only trail
    events and last-usage stamps (see :meth:`kmslab.store.SqliteStore.transaction`) and a task
    commits them every :data:`kmslab.store.DEFER_SECONDS`; the rest commits before its answer.
    """

    def __init__(self, lab: LocalKms, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(_config(lab))
        self.lab = lab
        self._on_started = on_started
        self._flusher: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        self.lab.store.defer_light_commits = True
        self._flusher = asyncio.get_running_loop().create_task(self._flush_every(DEFER_SECONDS))
        if self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        if self._flusher is not None:
            self._flusher.cancel()
        with self.lab.service.lock:
            self.lab.store.defer_light_commits = False
            self.lab.store.flush()

    async def _flush_every(self, seconds: float) -> None:
        store, lock = self.lab.store, self.lab.service.lock
        while True:
            await asyncio.sleep(seconds)
            if store.pending:
                with lock:
                    store.flush()


def _config(lab: LocalKms) -> uvicorn.Config:
    return uvicorn.Config(
        KmsApp(lab),
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # An idle keep-alive connection is closed after a minute (SDKs reconnect on their own);
        # a shutdown gives requests in flight two seconds.
        timeout_keep_alive=60,
        timeout_graceful_shutdown=2,
    )


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class RunningServer:
    """A server started by :func:`start` in a background thread."""

    lab: LocalKms
    host: str
    port: int
    region: str
    _thread: threading.Thread = field(repr=False)
    _server: _Uvicorn = field(repr=False)
    stopped: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for `!aws ...` cells or subprocesses: the admin's lab credentials."""
        return {
            "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL_KMS": self.endpoint,
            "AWS_PAGER": "",
        }

    def apply_env(self) -> None:
        """Put :attr:`env` into ``os.environ`` (what `!aws` cells in a notebook inherit)."""
        os.environ.update(self.env)

    def client(
        self, principal: str | None = None, region_name: str | None = None, **client_kwargs: Any
    ) -> Any:
        """A boto3 KMS client that talks to this server over HTTP, signed as ``principal``."""
        import boto3

        who = self.lab.directory.signing_principal(principal)
        if who is None:
            raise ValueError(f"no principal {principal!r} in this lab")
        return boto3.session.Session().client(
            "kms",
            region_name=region_name or self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id=who.access_key_id,
            aws_secret_access_key=who.secret_access_key,
            **client_kwargs,
        )

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start(
    lab: LocalKms | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = "us-east-1",
) -> RunningServer:
    """Serve ``lab`` (a new in-memory lab by default) from a background thread.

    ``port=0`` picks a free port. Logs stay quiet. Stop with ``.stop()`` or a ``with`` block.
    """
    lab = lab or LocalKms()
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    ready = threading.Event()
    server = _Uvicorn(lab, on_started=ready.set)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name=f"kmslab-serve-{bound_port}", daemon=True)
    thread.start()
    ready.wait()
    if failure or not server.started:
        sock.close()
        raise RuntimeError(f"kmslab could not serve on {host}:{bound_port}") from (
            failure[0] if failure else None
        )
    return RunningServer(lab, host, bound_port, region, thread, server)


def serve_forever(
    lab: LocalKms, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, region: str = "us-east-1"
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (what `kmslab serve` runs)."""
    sock = _bind(host, port)
    endpoint = f"http://{host}:{sock.getsockname()[1]}"

    def banner() -> None:
        where = (
            f"state {lab.store.path}" if lab.store.path else "in memory (use --state to keep it)"
        )
        print(f"kmslab serve: AWS KMS at {endpoint}  ({where})", flush=True)
        print("aws CLI profiles (paste into ~/.aws/config, then: aws --profile kmslab kms ...):")
        print(profile_snippet(lab, endpoint, region), flush=True)
        print(f"or, for one shell: export AWS_ENDPOINT_URL_KMS={endpoint}", flush=True)
        print("Ctrl-C stops the server.", flush=True)

    try:
        _Uvicorn(lab, on_started=banner).run(sockets=[sock])
    finally:
        sock.close()
        lab.close()
    print("kmslab serve: stopped.", flush=True)


@contextlib.contextmanager
def running(lab: LocalKms | None = None, **kwargs: Any) -> Iterator[RunningServer]:
    server = start(lab, **kwargs)
    try:
        yield server
    finally:
        server.stop()
