"""Network versus local: honest numbers on why envelope encryption exists.

Sending data to KMS means every byte crosses the network, at most 4096 bytes per ``Encrypt``
call; envelope encryption sends one request for a data key and encrypts locally. This package
measures both, against any backend :func:`kmslab.connect` reaches, with *simulated* round trips::

    from kmslab import bench
    results = bench.run(bench.Plan.quick_plan())          # or Plan.full_plan(); KMSLAB_QUICK=1
    for s in bench.speedups(results.records):
        print(s.size, s.backend, s.simulated_rtt_ms, f"{s.ratio:.0f}x")
    results.save("bench-out")                             # records.csv, records.json

    job = bench.start(bench.Plan.quick_plan())            # in a notebook: bar + Cancel button
    results = job.result()

Modules: :mod:`~kmslab.bench.record` (records, chunking, extrapolation, CSV/JSON),
:mod:`~kmslab.bench.probe` (simulated RTT, call and byte counts, phase timestamps),
:mod:`~kmslab.bench.method` (direct and envelope), :mod:`~kmslab.bench.backend` (the backends),
:mod:`~kmslab.bench.breakdown` (where the time of one call goes),
:mod:`~kmslab.bench.throttling` (request quotas, retries, data-key caching),
:mod:`~kmslab.bench.runner` (the plan and the loop). Plots and tables: :mod:`kmslab.viz`.
"""

from __future__ import annotations

from .backend import BACKEND_LABELS, BACKENDS, Backend, backend_label, open_backend
from .breakdown import COMPONENTS, Breakdown, where_time_goes
from .method import Cancelled, Envelope, direct_decrypt, direct_encrypt, envelope_codec
from .probe import ClientProbe, Counts
from .record import (
    CHUNK_BYTES,
    EXTRAPOLATED,
    MEASURED,
    Record,
    Speedup,
    chunk_count,
    chunks,
    extrapolate,
    load_records,
    save_records,
    speedups,
)
from .runner import (
    FULL_SIZES,
    METHOD_LABELS,
    METHODS,
    QUICK_ENV,
    QUICK_SIZES,
    Job,
    KiB,
    MiB,
    Plan,
    Results,
    quick_mode,
    run,
    start,
)
from .throttling import CachingDataKeys, ThrottleResult, throttling_demo

__all__ = [
    "BACKENDS",
    "BACKEND_LABELS",
    "CHUNK_BYTES",
    "COMPONENTS",
    "EXTRAPOLATED",
    "FULL_SIZES",
    "MEASURED",
    "METHODS",
    "METHOD_LABELS",
    "QUICK_ENV",
    "QUICK_SIZES",
    "Backend",
    "Breakdown",
    "CachingDataKeys",
    "Cancelled",
    "ClientProbe",
    "Counts",
    "Envelope",
    "Job",
    "KiB",
    "MiB",
    "Plan",
    "Record",
    "Results",
    "Speedup",
    "ThrottleResult",
    "backend_label",
    "chunk_count",
    "chunks",
    "direct_decrypt",
    "direct_encrypt",
    "envelope_codec",
    "extrapolate",
    "load_records",
    "open_backend",
    "quick_mode",
    "run",
    "save_records",
    "speedups",
    "start",
    "throttling_demo",
    "where_time_goes",
]
