"""Where the time of one direct call goes: SDK, transport, server, simulated round trip.

For ``calls`` Encrypt calls of 4096 bytes, the probe's timestamps (see
:mod:`kmslab.bench.probe`) split each call into:

==========================  ====================================================================
component                   from ... to ...
==========================  ====================================================================
SDK: validate + serialise   ``before-parameter-build`` to ``before-call`` (botocore)
SDK: sign                   ``before-call`` to the end of ``request-created`` (request object,
                            SigV4)
simulated round trip        the probe's own sleep (zero unless a round trip is simulated)
server                      see below
transport                   the rest of ``request-created`` to ``before-parse``: sending and
                            receiving (HTTP on loopback, or botocore's in-process hand-off)
SDK: parse                  ``before-parse`` to ``after-call`` (parse, retry check)
SDK: other                  the rest of the wall time of the call (dispatch, result)
==========================  ====================================================================

How the server part is known, honestly:

* **kmslab** (in-process and HTTP): *measured*, by timing the lab's own request handling
  (``LocalKms.kms.handle``: decode, authorize, crypto, encode, trail) on every call.
* **moto in-process**: *measured*: moto answers inside botocore's ``before-send``, in this thread,
  so everything between signing and parsing (minus the simulated sleep) is moto's work; the
  transport is zero by construction.
* **moto server**: *estimated* as the server time of moto in-process from the same run (the same
  moto code answers), when that backend was measured; otherwise transport and server stay
  together, marked as not separable.

The calls are averaged over the middle 60 % (by wall time) so that one slow call on a noisy
machine does not skew the picture; the components of that average add up to its total.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .backend import Backend
from .probe import CallTrace, ClientProbe

__all__ = ["COMPONENTS", "Breakdown", "where_time_goes"]

COMPONENTS = (
    ("sdk_build_ms", "SDK: validate + serialise"),
    ("sdk_sign_ms", "SDK: sign (SigV4)"),
    ("simulated_rtt_ms", "simulated round trip"),
    ("transport_ms", "transport"),
    ("server_ms", "server"),
    ("sdk_parse_ms", "SDK: parse"),
    ("sdk_other_ms", "SDK: other"),
)
"""(field, label) of each component, in the order a call passes through them."""


@dataclass(frozen=True)
class Breakdown:
    """Mean milliseconds per component of one Encrypt (4096 bytes) call; see the module doc."""

    backend: str
    rtt_ms: float
    calls: int
    total_ms: float
    sdk_build_ms: float
    sdk_sign_ms: float
    simulated_rtt_ms: float
    transport_ms: float
    server_ms: float
    sdk_parse_ms: float
    sdk_other_ms: float
    server_how: str
    transport_how: str
    operation: str = "Encrypt (4096 bytes)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sdk_ms(self) -> float:
        return self.sdk_build_ms + self.sdk_sign_ms + self.sdk_parse_ms + self.sdk_other_ms


def _timed_lab(backend: Backend) -> tuple[list[float], Callable[[], None]]:
    """Time every request the backend's lab handles; returns (durations, undo)."""
    durations: list[float] = []
    lab = backend.lab
    if lab is None:
        return durations, lambda: None
    protocol = lab.kms
    original = protocol.handle

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)

    # An instance attribute shadows the method for this lab only; LocalKms.handle (both
    # transports) looks it up on every request. Removed again by undo().
    setattr(protocol, "handle", timed)  # noqa: B010

    def undo() -> None:
        if "handle" in vars(protocol):
            delattr(protocol, "handle")

    return durations, undo


def where_time_goes(
    backend: Backend,
    probe: ClientProbe,
    *,
    calls: int = 30,
    moto_server_ms: float | None = None,
) -> Breakdown:
    """Trace ``calls`` Encrypt calls of 4096 bytes on ``backend`` at the probe's RTT."""
    if calls < 1:
        raise ValueError("calls must be at least 1")
    kms, key = backend.client, backend.key_arn
    chunk = os.urandom(4096)
    for _ in range(3):  # warm: connection pool, lazy loads
        kms.encrypt(KeyId=key, Plaintext=chunk)
    server_times, undo = _timed_lab(backend)
    probe.traces.clear()
    probe.trace = True
    walls: list[float] = []
    try:
        for _ in range(calls):
            start = time.perf_counter()
            kms.encrypt(KeyId=key, Plaintext=chunk)
            walls.append(time.perf_counter() - start)
    finally:
        probe.trace = False
        undo()
    traces = list(probe.traces)
    probe.traces.clear()
    if len(traces) != calls:
        raise RuntimeError("the probe missed some calls")
    measured_server = len(server_times) == calls
    rows: list[tuple[float, dict[str, float]]] = []
    for i, (wall, trace) in enumerate(zip(walls, traces, strict=True)):
        rows.append((wall, _split(trace, wall, server_times[i] if measured_server else None)))
    rows.sort(key=lambda row: row[0])
    cut = len(rows) // 5
    middle = rows[cut : len(rows) - cut] or rows
    mean = {
        name: sum(parts[name] for _, parts in middle) / len(middle) * 1000 for name in middle[0][1]
    }
    total = sum(wall for wall, _ in middle) / len(middle) * 1000
    wire = mean.pop("wire")
    server_how: str
    transport_how: str
    if measured_server:
        server = mean.pop("server")
        server_how = "measured: the lab's request handling (LocalKms.kms.handle)"
        transport_how = (
            "measured: in-process hand-off at botocore's before-send (no socket)"
            if backend.in_process
            else "measured: HTTP on loopback (urllib3 client, uvicorn server)"
        )
    elif backend.name == "moto":
        server = wire
        server_how = "measured: moto answers inside botocore's before-send, in this thread"
        transport_how = "none: in-process, no socket"
    elif backend.name == "moto-server" and moto_server_ms is not None:
        server = min(moto_server_ms, wire)
        server_how = "estimated: moto in-process's server time from the same run"
        transport_how = "measured minus the estimated server time: HTTP on loopback (werkzeug)"
    else:
        server = 0.0
        server_how = "not separable: counted in transport"
        transport_how = "measured: transport and server together"
    mean.pop("server", None)
    return Breakdown(
        backend=backend.name,
        rtt_ms=probe.rtt_ms,
        calls=calls,
        total_ms=total,
        sdk_build_ms=mean["sdk_build"],
        sdk_sign_ms=mean["sdk_sign"],
        simulated_rtt_ms=mean["simulated_rtt"],
        transport_ms=max(0.0, wire - server),
        server_ms=server,
        sdk_parse_ms=mean["sdk_parse"],
        sdk_other_ms=mean["sdk_other"],
        server_how=server_how,
        transport_how=transport_how,
    )


def _split(trace: CallTrace, wall: float, server: float | None) -> dict[str, float]:
    build = trace.serialised - trace.start
    sign = trace.signed - trace.serialised
    wire = trace.received - trace.signed - trace.simulated_rtt
    parse = trace.parsed - trace.received
    parts = {
        "sdk_build": build,
        "sdk_sign": sign,
        "simulated_rtt": trace.simulated_rtt,
        "wire": wire,
        "sdk_parse": parse,
        "sdk_other": wall - (build + sign + trace.simulated_rtt + wire + parse),
    }
    if server is not None:
        parts["server"] = server
    return parts
