"""The benchmark plan, the loop that runs it, and its results.

For every backend, every simulated round trip and every size (smallest first), each method
encrypts the data and decrypts it back; the round trip is checked. A direct run that reaches
the plan's time cap stops there and is extrapolated (:func:`~kmslab.bench.record.extrapolate`);
larger sizes of the same method, backend and round trip are then extrapolated from that run's
rate without running again. Records say which.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kmslab.progress import Progress

from .backend import BACKENDS, Backend, open_backend
from .breakdown import Breakdown, where_time_goes
from .method import Cancelled, Envelope, Run, direct_decrypt, direct_encrypt, envelope_codec
from .probe import ClientProbe, Counts
from .record import EXTRAPOLATED, MEASURED, Record, chunk_count, extrapolate, save_records
from .throttling import ThrottleResult, throttling_demo

__all__ = [
    "FULL_SIZES",
    "METHODS",
    "METHOD_LABELS",
    "QUICK_ENV",
    "QUICK_SIZES",
    "Job",
    "KiB",
    "MiB",
    "Plan",
    "Results",
    "quick_mode",
    "run",
    "start",
]

KiB = 1024
MiB = 1024 * 1024
FULL_SIZES = (4 * KiB, 64 * KiB, 1 * MiB, 16 * MiB, 64 * MiB)
QUICK_SIZES = (4 * KiB, 64 * KiB, 1 * MiB)
METHODS = ("direct", "direct-threads", "envelope")
METHOD_LABELS = {
    "direct": "direct: Encrypt per 4 KiB chunk",
    "direct-threads": "direct, thread pool",
    "envelope": "envelope: 1 data key + local AES-GCM",
}
QUICK_ENV = "KMSLAB_QUICK"


def quick_mode() -> bool:
    """True when ``KMSLAB_QUICK`` is set to anything but "", "0", "false" or "no"."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class Plan:
    """What to measure. :meth:`quick` runs in seconds; :meth:`full` is for a study session."""

    sizes: tuple[int, ...] = FULL_SIZES
    backends: tuple[str, ...] = BACKENDS
    rtts_ms: tuple[float, ...] = (0.0, 2.0, 20.0, 80.0)
    methods: tuple[str, ...] = METHODS
    direct_cap_seconds: float = 3.0
    min_direct_calls: int = 4
    workers: int = 8
    envelope_repeats: int = 5
    envelope_budget_seconds: float = 1.0
    breakdown_calls: int = 40
    throttling: bool = True
    quick: bool = False
    seed: int = 7
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) < 1:
            raise ValueError("sizes must be positive numbers of bytes")
        if any(r < 0 for r in self.rtts_ms) or not self.rtts_ms:
            raise ValueError("round trips must be >= 0 ms")
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise ValueError(f"unknown methods {sorted(unknown)}: choose from {METHODS}")
        if not self.backends:
            raise ValueError("give at least one backend")
        if self.direct_cap_seconds <= 0 or self.workers < 1 or self.min_direct_calls < 1:
            raise ValueError("the time cap, workers and minimum calls must be positive")

    @classmethod
    def quick_plan(cls, **changes: Any) -> Plan:
        """Seconds, not minutes: 4 KiB..1 MiB, kmslab and moto (in-process and server),
        0 and 20 ms, direct runs capped at 0.25 s."""
        base = cls(
            sizes=QUICK_SIZES,
            backends=("local", "moto", "moto-server"),
            rtts_ms=(0.0, 20.0),
            direct_cap_seconds=0.25,
            min_direct_calls=4,
            envelope_repeats=3,
            envelope_budget_seconds=0.2,
            breakdown_calls=12,
            quick=True,
        )
        return replace(base, **changes)

    @classmethod
    def full_plan(cls, **changes: Any) -> Plan:
        """4 KiB..64 MiB, all four backends, 0/2/20/80 ms, direct runs capped at 3 s."""
        return replace(cls(), **changes)

    @classmethod
    def default(cls, **changes: Any) -> Plan:
        """:meth:`quick_plan` when ``KMSLAB_QUICK=1`` is set, else :meth:`full_plan`."""
        return cls.quick_plan(**changes) if quick_mode() else cls.full_plan(**changes)

    def steps(self) -> int:
        per_combo = len(self.sizes) * len(self.methods)
        breakdowns = len(self.backends)
        return (
            len(self.backends) * len(self.rtts_ms) * per_combo
            + breakdowns
            + ((4 if self.quick else 5) if self.throttling else 0)
        )


@dataclass
class Results:
    """What :func:`run` measured: records, the per-call breakdown, the throttling scenarios."""

    plan: Plan
    records: list[Record] = field(default_factory=list)
    breakdown: list[Breakdown] = field(default_factory=list)
    throttling: list[ThrottleResult] = field(default_factory=list)
    envelope: str = ""
    cancelled: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def save(self, directory: str | Path) -> list[Path]:
        """``records.csv`` and ``records.json`` (which also holds the breakdown, the
        throttling scenarios, the plan and the notes)."""
        plan = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self.plan).items()}
        extra = {
            "plan": plan,
            "envelope": self.envelope,
            "cancelled": self.cancelled,
            "seconds": self.seconds,
            "notes": self.notes,
            "breakdown": [b.as_dict() for b in self.breakdown],
            "throttling": [t.as_dict() for t in self.throttling],
        }
        return save_records(self.records, directory, extra)


NOTES = (
    "Round trips are SIMULATED: a sleep added on the client before every KMS request.",
    "Extrapolated values were not measured: a direct run stopped at the time cap and the rest "
    "was computed from its per-call rate (marked ~ in tables, hollow and dashed in plots).",
    "Bytes are HTTP/1.1 request and response bytes (line, headers, body), as a network would "
    "carry them; in-process backends open no socket.",
)


def _data(size: int, seed: int, cache: dict[int, bytes]) -> bytes:
    if size not in cache:
        cache[size] = random.Random(seed + size).randbytes(size)
    return cache[size]


@dataclass
class _Rate:
    """A capped direct run: the basis for extrapolating larger sizes."""

    seconds: float
    calls: int
    counts: Counts
    size: int


class _Runner:
    def __init__(self, plan: Plan, progress: Progress, envelope: Envelope) -> None:
        self.plan = plan
        self.progress = progress
        self.cancel = progress.cancel_event
        self.envelope = envelope
        self.data: dict[int, bytes] = {}

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def step(self, note: str) -> None:
        self.check()
        self.progress.advance(note=note)

    # -- one backend at one round trip -----------------------------------------------------------

    def combo(self, backend: Backend, probe: ClientProbe) -> Iterator[Record]:
        rates: dict[tuple[str, str], _Rate] = {}
        for size in sorted(self.plan.sizes):
            data = _data(size, self.plan.seed, self.data)
            for method in self.plan.methods:
                self.progress.set_note(
                    f"{backend.label}, +{probe.rtt_ms:g} ms simulated, {_size(size)}, {method}"
                )
                self.check()
                if method == "envelope":
                    yield from self.envelope_records(backend, probe, data)
                else:
                    yield from self.direct_records(backend, probe, data, method, rates)
                self.step(f"{backend.name} +{probe.rtt_ms:g} ms {_size(size)} {method}")

    def direct_records(
        self,
        backend: Backend,
        probe: ClientProbe,
        data: bytes,
        method: str,
        rates: dict[tuple[str, str], _Rate],
    ) -> Iterator[Record]:
        plan, size = self.plan, len(data)
        workers = plan.workers if method == "direct-threads" else 1
        total = chunk_count(size)
        common: dict[str, Any] = {
            "size": size,
            "method": method,
            "backend": backend.name,
            "simulated_rtt_ms": probe.rtt_ms,
            "workers": workers,
            "implementation": f"boto3 Encrypt/Decrypt, {workers} thread{'s' * (workers > 1)}",
        }
        if (method, "encrypt") in rates:  # an earlier size hit the cap: extrapolate, don't run
            for operation in ("encrypt", "decrypt"):
                yield _extrapolated(rates[(method, operation)], total, operation, common)
            return
        cap, least = plan.direct_cap_seconds, plan.min_direct_calls
        runs: list[tuple[Run, Run, Counts, Counts]] = []
        while True:
            before = probe.counts()
            enc = direct_encrypt(
                backend.client,
                backend.key_arn,
                data,
                workers=workers,
                cap_seconds=cap,
                min_calls=least,
                cancel=self.cancel,
            )
            mid = probe.counts()
            dec = direct_decrypt(
                backend.client,
                enc.outputs,
                workers=workers,
                cap_seconds=cap,
                min_calls=least,
                cancel=self.cancel,
            )
            after = probe.counts()
            plain = b"".join(dec.outputs) if workers == 1 else None
            if plain is not None and plain != data[: len(plain)]:
                raise AssertionError(f"direct round trip failed on {backend.name}")
            runs.append((enc, dec, mid - before, after - mid))
            complete = enc.done >= total and dec.done >= total
            spent = sum(e.seconds + d.seconds for e, d, _, _ in runs)
            # Short, complete runs are repeated (median of up to 3): one call is noisy.
            if not complete or len(runs) >= 3 or spent * 2 > cap:
                break
        enc, dec, enc_counts, dec_counts = runs[0]
        for operation, result, counts, times in (
            ("encrypt", enc, enc_counts, [run[0].seconds for run in runs]),
            ("decrypt", dec, dec_counts, [run[1].seconds for run in runs]),
        ):
            if result.done >= total:
                seconds = statistics.median(times)
                yield Record(
                    **common,
                    operation=operation,
                    seconds=seconds,
                    calls=counts.requests,
                    bytes_sent=counts.bytes_sent,
                    bytes_received=counts.bytes_received,
                    status=MEASURED,
                    measured_calls=result.done,
                    measured_seconds=seconds,
                    basis_size=size,
                    throttled=counts.throttled,
                )
            else:
                rate = _Rate(result.seconds, result.done, counts, size)
                rates[(method, operation)] = rate
                yield _extrapolated(rate, total, operation, common)

    def envelope_records(
        self, backend: Backend, probe: ClientProbe, data: bytes
    ) -> Iterator[Record]:
        plan = self.plan
        enc_times: list[float] = []
        dec_times: list[float] = []
        first: tuple[Counts, Counts] | None = None
        spent = 0.0
        for _ in range(max(1, plan.envelope_repeats)):
            self.check()
            before = probe.counts()
            t0 = time.perf_counter()
            blob = self.envelope.encrypt(backend.client, data, backend.key_arn)
            t1 = time.perf_counter()
            mid = probe.counts()
            back = self.envelope.decrypt(backend.client, blob)
            t2 = time.perf_counter()
            after = probe.counts()
            if back != data:
                raise AssertionError(f"envelope round trip failed on {backend.name}")
            del blob, back
            enc_times.append(t1 - t0)
            dec_times.append(t2 - t1)
            if first is None:
                first = (mid - before, after - mid)
            spent += t2 - t0
            if spent > plan.envelope_budget_seconds:
                break
        assert first is not None
        for operation, times, counts in (
            ("encrypt", enc_times, first[0]),
            ("decrypt", dec_times, first[1]),
        ):
            yield Record(
                size=len(data),
                method="envelope",
                operation=operation,
                backend=backend.name,
                simulated_rtt_ms=probe.rtt_ms,
                seconds=statistics.median(times),
                calls=counts.requests,
                bytes_sent=counts.bytes_sent,
                bytes_received=counts.bytes_received,
                status=MEASURED,
                measured_calls=counts.requests,
                measured_seconds=statistics.median(times),
                basis_size=len(data),
                throttled=counts.throttled,
                implementation=self.envelope.label,
            )


def _extrapolated(rate: _Rate, total: int, operation: str, common: dict[str, Any]) -> Record:
    per = rate.counts.requests / rate.calls if rate.calls else 1.0
    return Record(
        **common,
        operation=operation,
        seconds=extrapolate(rate.seconds, rate.calls, total),
        calls=round(total * per),
        bytes_sent=round(rate.counts.bytes_sent / rate.calls * total),
        bytes_received=round(rate.counts.bytes_received / rate.calls * total),
        status=EXTRAPOLATED,
        measured_calls=rate.calls,
        measured_seconds=rate.seconds,
        basis_size=rate.size,
        throttled=0,
    )


def _size(size: int) -> str:
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= KiB and size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size} B"


def _warm(backend: Backend) -> None:
    kms, key = backend.client, backend.key_arn
    for _ in range(3):
        blob = kms.encrypt(KeyId=key, Plaintext=b"warm up")["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")


def run(
    plan: Plan | None = None,
    *,
    progress: Progress | None = None,
    envelope: Envelope | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> Results:
    """Measure ``plan`` (default :meth:`Plan.default`); never raises on cancel.

    Cancelling (``progress.cancel()``, the widget's button) stops at the next step and returns
    what was measured so far with ``results.cancelled`` set.
    """
    plan = plan or Plan.default()
    progress = progress or Progress()
    codec = envelope or envelope_codec()
    results = Results(plan, envelope=codec.label, notes=list(NOTES))
    runner = _Runner(plan, progress, codec)
    started = time.perf_counter()
    progress.start(plan.steps(), "kmslab bench")
    moto_server_ms: float | None = None
    try:
        for name in plan.backends:
            runner.check()
            progress.set_note(f"starting {name}")
            with open_backend(name, region_name=plan.region, seed=plan.seed) as backend:
                _warm(backend)
                probe = ClientProbe(backend.client)
                try:
                    for rtt in plan.rtts_ms:
                        probe.rtt_ms = rtt
                        for record in runner.combo(backend, probe):
                            results.records.append(record)
                            if on_record is not None:
                                on_record(record)
                    # Last, on a warmed-up client: where the time of one direct call goes.
                    breakdown_rtts = [0.0]
                    if name == plan.backends[0] and max(plan.rtts_ms) > 0:
                        breakdown_rtts.append(max(plan.rtts_ms))
                    for rtt in breakdown_rtts:
                        probe.rtt_ms = rtt
                        row = where_time_goes(
                            backend,
                            probe,
                            calls=plan.breakdown_calls,
                            moto_server_ms=moto_server_ms,
                        )
                        results.breakdown.append(row)
                        if name == "moto" and rtt == 0:
                            moto_server_ms = row.server_ms
                    runner.step(f"{name}: where the time goes")
                finally:
                    probe.detach()
        if plan.throttling:
            runner.check()
            results.throttling = throttling_demo(
                envelope=codec,
                seed=plan.seed,
                cancel=progress.cancel_event,
                on_step=lambda name: runner.step(f"throttling: {name}"),
                **(_QUICK_THROTTLING if plan.quick else {}),
            )
    except (Cancelled, KeyboardInterrupt):
        results.cancelled = True
        progress.cancel_event.set()
    finally:
        results.seconds = time.perf_counter() - started
        # The bar shows the elapsed time itself; the note says only how the run ended.
        progress.close("cancelled: partial results" if results.cancelled else "done")
    return results


_QUICK_THROTTLING: dict[str, Any] = {
    "requests_per_second": 10.0,
    "burst": 4.0,
    "size": 32 * KiB,
    "messages": 12,
    "cache_messages": 6,
    "adaptive": False,
}


@dataclass
class Job:
    """A benchmark running in a background thread (see :func:`start`)."""

    progress: Progress
    thread: threading.Thread
    _box: dict[str, Any]

    def cancel(self) -> None:
        self.progress.cancel()

    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self, timeout: float | None = None) -> Results:
        """Wait for the run (``timeout`` seconds at most) and return its results."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("the benchmark is still running")
        if "error" in self._box:
            raise self._box["error"]
        results: Results = self._box["results"]
        return results


def start(plan: Plan | None = None, *, progress: Progress | None = None, **kwargs: Any) -> Job:
    """Run :func:`run` in a background thread; returns at once with a :class:`Job`.

    In a notebook, the job displays a progress bar with a Cancel button (button clicks reach
    the kernel only while no cell is running, hence the thread); ``job.result()`` waits.
    """
    from kmslab.progress import WidgetProgress, progress_bar

    bar = progress or progress_bar()
    if isinstance(bar, WidgetProgress):  # in a notebook: show the bar and its Cancel button
        from IPython.display import display

        display(bar.widget)  # type: ignore[no-untyped-call]
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["results"] = run(plan, progress=bar, **kwargs)
        except BaseException as error:  # handed to the caller by Job.result()
            box["error"] = error

    thread = threading.Thread(target=work, name="kmslab-bench", daemon=True)
    thread.start()
    return Job(bar, thread, box)
