"""A probe on one boto3 client: simulated round trips, call counts, bytes, phase timestamps.

Everything here hangs on botocore's documented event hooks of the client it is attached to, so
it works the same whoever answers the client (kmslab, moto, an HTTP endpoint, real AWS):

==========================  =============================================================
event                       what the probe does there
==========================  =============================================================
``before-parameter-build``  a call starts (timestamp)
``before-call``             parameters validated and serialised (timestamp)
``request-created`` (last)  the request is signed: SigV4 ran in the signer's handler
                            just before (timestamp)
``before-send``             one HTTP attempt: count it, count its bytes, and sleep the
                            *simulated* round trip
``before-parse``            the response is in (timestamp), count its bytes, note a
                            ThrottlingException
``after-call``              parsed, retries decided (timestamp); the call is complete
==========================  =============================================================

**The round trip is simulated**: a ``time.sleep(rtt)`` before every attempt leaves the client
(an attempt is one HTTP request; a retried call makes several). Nothing else about a real
network (bandwidth, TLS, loss) is modelled.

**Bytes** are those of the HTTP/1.1 messages as they would be on a socket: request line, headers
(plus ``Host`` when botocore leaves it to urllib3) and body; status line, headers and body of
the response. TCP/IP and TLS overhead are not counted. For in-process backends no socket is
used at all, but the same messages are built and parsed, so the count is what a network would
carry.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CallTrace", "ClientProbe", "Counts", "http_request_bytes", "http_response_bytes"]

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Error"}


def http_request_bytes(method: str, url: str, headers: Any, body: Any) -> int:
    """Size of the HTTP/1.1 request message: request line, headers, blank line, body."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    size = len(f"{method} {target} HTTP/1.1\r\n")
    names = set()
    for name, value in headers.items():
        names.add(str(name).lower())
        size += len(name) + 2 + len(value) + 2
    if "host" not in names:
        size += len("Host: ") + len(parts.netloc) + 2
    return size + 2 + _body_length(body)


def http_response_bytes(status: int, headers: Any, body: Any) -> int:
    """Size of the HTTP/1.1 response message: status line, headers, blank line, body."""
    size = len(f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n")
    for name, value in headers.items():
        size += len(name) + 2 + len(str(value)) + 2
    return size + 2 + _body_length(body)


def _body_length(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if isinstance(body, bytes | bytearray | memoryview):
        return len(body)
    return 0  # a streaming body: KMS requests never have one


@dataclass(frozen=True)
class Counts:
    """What crossed the (real or pretend) wire: attempts, bytes, throttled answers, sleep."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    throttled: int = 0
    simulated_rtt_seconds: float = 0.0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.requests - other.requests,
            self.bytes_sent - other.bytes_sent,
            self.bytes_received - other.bytes_received,
            self.throttled - other.throttled,
            self.simulated_rtt_seconds - other.simulated_rtt_seconds,
        )


@dataclass
class CallTrace:
    """perf_counter timestamps of one API call, from the hooks (see the module docstring)."""

    operation: str
    start: float = 0.0
    serialised: float = 0.0
    signed: float = 0.0
    received: float = 0.0
    parsed: float = 0.0
    attempts: int = 0
    simulated_rtt: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


class ClientProbe:
    """Attach to ``client``; count, size and optionally trace its calls; add simulated RTT.

    >>> probe = ClientProbe(kms, rtt_ms=20)          # doctest: +SKIP
    >>> before = probe.counts(); kms.encrypt(...); probe.counts() - before

    Thread-safe: the counters take a lock, the traces are kept per thread. ``detach()`` removes
    every hook again.
    """

    def __init__(self, client: Any, rtt_ms: float = 0.0, *, trace: bool = False) -> None:
        self.client = client
        self.rtt_ms = float(rtt_ms)
        self.trace = trace
        self.traces: list[CallTrace] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._requests = 0
        self._sent = 0
        self._received = 0
        self._throttled = 0
        self._slept = 0.0
        events = client.meta.events
        self._hooks: list[tuple[str, Any]] = [
            ("before-parameter-build.kms", self._on_start),
            ("before-call.kms", self._on_serialised),
            ("before-send.kms", self._on_send),
            ("before-parse.kms", self._on_response),
            ("after-call.kms", self._on_parsed),
        ]
        for name, hook in self._hooks:
            events.register(name, hook)
        events.register_last("request-created.kms", self._on_signed)
        self._hooks.append(("request-created.kms", self._on_signed))

    @property
    def rtt_ms(self) -> float:
        """The simulated round trip added to every request, in milliseconds."""
        return self._rtt_ms

    @rtt_ms.setter
    def rtt_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError("a round trip cannot be negative")
        self._rtt_ms = float(value)

    def detach(self) -> None:
        events = self.client.meta.events
        for name, hook in self._hooks:
            events.unregister(name, hook)
        self._hooks.clear()

    def counts(self) -> Counts:
        with self._lock:
            return Counts(self._requests, self._sent, self._received, self._throttled, self._slept)

    # -- hooks -------------------------------------------------------------------------------

    def _current(self) -> CallTrace | None:
        return getattr(self._local, "call", None)

    def _on_start(self, model: Any = None, **_kwargs: Any) -> None:
        if self.trace:
            name = getattr(model, "name", "?")
            self._local.call = CallTrace(name, start=time.perf_counter())

    def _on_serialised(self, **_kwargs: Any) -> None:
        call = self._current()
        if call is not None:
            call.serialised = time.perf_counter()

    def _on_signed(self, **_kwargs: Any) -> None:
        call = self._current()
        if call is not None:
            call.signed = time.perf_counter()

    def _on_send(self, request: Any, **_kwargs: Any) -> None:
        size = http_request_bytes(request.method, request.url, request.headers, request.body)
        slept = 0.0
        if self._rtt_ms > 0:
            start = time.perf_counter()
            time.sleep(self._rtt_ms / 1000)
            slept = time.perf_counter() - start
        with self._lock:
            self._requests += 1
            self._sent += size
            self._slept += slept
        call = self._current()
        if call is not None:
            call.attempts += 1
            call.simulated_rtt += slept

    def _on_response(self, response_dict: Any = None, **_kwargs: Any) -> None:
        received = time.perf_counter()
        status = int(response_dict.get("status_code", 0)) if response_dict else 0
        body = response_dict.get("body", b"") if response_dict else b""
        headers = response_dict.get("headers", {}) if response_dict else {}
        size = http_response_bytes(status, headers, body)
        throttled = status == 400 and b"ThrottlingException" in (body or b"")[:200]
        with self._lock:
            self._received += size
            self._throttled += int(throttled)
        call = self._current()
        if call is not None:
            call.received = received

    def _on_parsed(self, **_kwargs: Any) -> None:
        call = self._current()
        if call is not None:
            call.parsed = time.perf_counter()
            self._local.call = None
            with self._lock:
                self.traces.append(call)
