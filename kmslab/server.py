"""``kmslab serve``: the lab's KMS over HTTP, for the aws CLI and any AWS SDK.

A second transport over the same protocol layer as the in-process client: a request is read,
its SigV4 signature is verified with the caller's secret from the lab's directory (unknown
access key: UnrecognizedClientException; wrong signature or a date over 15 minutes off:
InvalidSignatureException), and its target and JSON body go to
:meth:`kmslab.lab.LocalKms.handle`, the same entry point the in-process transport uses.

The HTTP server is tornado's: a real, well-kept HTTP/1.1 server with keep-alive that the
Jupyter stack already installs, so it adds no dependency and no hand-written HTTP. Requests are
answered on the IO loop thread; the service is fast (well under a millisecond) and serialised by
its own lock anyway, so threads would add nothing but contention.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from . import sigv4
from .errors import (
    InvalidSignatureException,
    KmsError,
    RequestEntityTooLargeException,
    UnknownOperationException,
    UnrecognizedClientException,
)
from .iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from .lab import LocalKms

log = logging.getLogger("kmslab.server")

DEFAULT_PORT = 4599
MAX_BODY_BYTES = 1024 * 1024
UNRECOGNIZED_TOKEN = "The security token included in the request is invalid."
_JSON_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0")


class KmsRequestHandler(tornado.web.RequestHandler):
    """POST / with X-Amz-Target: TrentService.<Operation>."""

    lab: LocalKms

    def initialize(self, lab: LocalKms) -> None:
        self.lab = lab

    def _send(self, status: int, body: bytes, request_id: str | None = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/x-amz-json-1.1")
        if request_id:
            self.set_header("x-amzn-RequestId", request_id)
        self.finish(body)

    def _error(self, exc: KmsError) -> None:
        self._send(exc.status, json.dumps({"__type": exc.code, "message": exc.message}).encode())

    def post(self) -> None:
        request = self.request
        headers = request.headers
        body = request.body or b""
        try:
            if len(body) > MAX_BODY_BYTES:
                raise RequestEntityTooLargeException(
                    f"Request body is larger than {MAX_BODY_BYTES} bytes."
                )
            cred = sigv4.parse_authorization(headers.get("Authorization"))
            if cred.service != "kms":
                # AWS's wording (JSON services), trailing space included.
                raise InvalidSignatureException(
                    "Credential should be scoped to correct service: 'kms'. "
                )
            principal = self.lab.directory.by_access_key(cred.access_key_id)
            if principal is None:
                raise UnrecognizedClientException(UNRECOGNIZED_TOKEN)
            sigv4.verify(
                cred,
                principal.secret_access_key,
                method=request.method or "POST",
                path=request.path,
                query=request.query,
                headers=headers,
                body=body,
            )
            content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type not in _JSON_TYPES:
                raise UnknownOperationException("")
        except KmsError as exc:
            self._error(exc)
            return
        response = self.lab.handle(headers.get("X-Amz-Target"), body, principal, cred.region)
        self._send(response.status, response.body, response.request_id)

    def get(self) -> None:
        # Health check and a friendly word for a browser.
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("kmslab: AWS KMS (JSON 1.1) answers POST / here.\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Anything tornado itself rejects still gets an AWS-shaped body.
        code = "SerializationException" if status_code < 500 else "KMSInternalException"
        self.set_header("Content-Type", "application/x-amz-json-1.1")
        self.finish(json.dumps({"__type": code, "message": self._reason}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, tornado.web.HTTPError):
            # A client mistake tornado caught (405 for PUT, ...): write_error answers it; it
            # is not a server fault, so no traceback on the learner's terminal.
            log.debug("%s %s: %s", self.request.method, self.request.uri, value)
            return
        log.error("kmslab server error", exc_info=(typ, value, tb))


def make_app(lab: LocalKms) -> tornado.web.Application:
    return tornado.web.Application([(r"/.*", KmsRequestHandler, {"lab": lab})], log_function=_quiet)


def _quiet(handler: tornado.web.RequestHandler) -> None:
    log.debug("%s %s %s", handler.get_status(), handler.request.method, handler.request.uri)


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


@dataclass
class RunningServer:
    """A server started by :func:`start` in a background thread."""

    lab: LocalKms
    host: str
    port: int
    region: str
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _server: tornado.httpserver.HTTPServer = field(repr=False)
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

        async def shutdown() -> None:
            self._server.stop()
            await self._server.close_all_connections()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _http_server(lab: LocalKms) -> tornado.httpserver.HTTPServer:
    # A client that never finishes its headers (say, a TLS hello sent to this plain-HTTP port
    # by an https:// endpoint URL) is dropped after a minute instead of tornado's hour.
    return tornado.httpserver.HTTPServer(
        make_app(lab),
        max_body_size=8 * MAX_BODY_BYTES,
        idle_connection_timeout=60,
        body_timeout=60,
    )


def _bind(host: str, port: int) -> list[socket.socket]:
    return tornado.netutil.bind_sockets(port, host, family=socket.AF_INET, reuse_port=False)


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
    sockets = _bind(host, port)
    bound_port = sockets[0].getsockname()[1]
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = _http_server(lab)
        server.add_sockets(sockets)
        holder["loop"], holder["server"] = loop, server
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name=f"kmslab-serve-{bound_port}", daemon=True)
    thread.start()
    ready.wait()
    return RunningServer(lab, host, bound_port, region, holder["loop"], thread, holder["server"])


def serve_forever(
    lab: LocalKms, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, region: str = "us-east-1"
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (what `kmslab serve` runs)."""
    import signal

    sockets = _bind(host, port)
    bound = sockets[0].getsockname()[1]

    async def main() -> None:
        server = _http_server(lab)
        server.add_sockets(sockets)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        endpoint = f"http://{host}:{bound}"
        where = (
            f"state {lab.store.path}" if lab.store.path else "in memory (use --state to keep it)"
        )
        print(f"kmslab serve: AWS KMS at {endpoint}  ({where})", flush=True)
        print("aws CLI profiles (paste into ~/.aws/config, then: aws --profile kmslab kms ...):")
        print(profile_snippet(lab, endpoint, region), flush=True)
        print(f"or, for one shell: export AWS_ENDPOINT_URL_KMS={endpoint}", flush=True)
        print("Ctrl-C stops the server.", flush=True)
        await stop.wait()
        server.stop()
        await server.close_all_connections()

    asyncio.run(main())
    lab.close()
    print("kmslab serve: stopped.", flush=True)


@contextlib.contextmanager
def running(lab: LocalKms | None = None, **kwargs: Any) -> Iterator[RunningServer]:
    server = start(lab, **kwargs)
    try:
        yield server
    finally:
        server.stop()
