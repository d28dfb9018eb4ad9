"""``kmslab bench``: measure, print the tables, write the records and the PNG plots.

::

    kmslab bench --quick                                  # seconds (also: KMSLAB_QUICK=1)
    kmslab bench                                          # the full study run (minutes)
    kmslab bench --sizes 4KiB 1MiB 16MiB --backends moto moto-server --rtt 0 20 --out results

Ctrl-C stops the run at the next step; what was measured is still printed and saved.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "headline", "run_command"]

_SIZE = re.compile(r"\s*(\d+)\s*(b|k|kb|kib|m|mb|mib)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024}
_UNITS.update({"m": 2**20, "mb": 2**20, "mib": 2**20})


def size_argument(text: str) -> int:
    """``4096``, ``64KiB``, ``1MiB`` -> bytes (binary units; KB and MB mean KiB and MiB)."""
    match = _SIZE.fullmatch(text)
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 4096, 64KiB or 1MiB")
    return int(match[1]) * _UNITS[(match[2] or "").lower()]


def _rtt_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a round trip cannot be negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = (
        "Direct KMS encryption (one Encrypt per 4 KiB chunk) against envelope encryption "
        "(one data key, local AES-GCM), measured against each backend with SIMULATED round "
        "trips. Prints tables; writes records.csv, records.json and PNG plots to --out."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a run of seconds: 4KiB..1MiB, local/moto/moto-server, 0 and 20 ms "
        "(also selected by KMSLAB_QUICK=1)",
    )
    parser.add_argument(
        "--sizes", nargs="+", type=size_argument, metavar="SIZE", help="e.g. 4KiB 64KiB 1MiB"
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        metavar="NAME",
        help="local, local-http, moto, moto-server, or http(s):// URLs",
    )
    parser.add_argument(
        "--rtt",
        nargs="+",
        type=_rtt_argument,
        metavar="MS",
        help="simulated round trips in ms added to every KMS request (e.g. 0 2 20 80)",
    )
    parser.add_argument(
        "--methods", nargs="+", metavar="M", help="direct, direct-threads, envelope (default: all)"
    )
    parser.add_argument(
        "--cap", type=float, metavar="SECONDS", help="stop a direct run here and extrapolate"
    )
    parser.add_argument("--workers", type=int, metavar="N", help="threads for direct-threads")
    parser.add_argument(
        "--out",
        default="kmslab-bench",
        metavar="DIR",
        help="where to write records and plots (default: ./kmslab-bench)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--no-throttling", action="store_true", help="skip the request quota scenarios"
    )
    return parser


def headline(records: list[Any], size: int = 2**20) -> list[str]:
    """One line per backend and round trip: the envelope/direct speed-up at ``size``."""
    from kmslab.viz.style import format_size

    from .backend import backend_label
    from .record import speedups

    lines = []
    for s in speedups(records):
        if s.size != size:
            continue
        rtt = f"+{s.simulated_rtt_ms:g} ms simulated RTT" if s.simulated_rtt_ms else "no RTT"
        mark = "~" if s.extrapolated else ""
        note = "  (direct time extrapolated)" if s.extrapolated else ""
        lines.append(
            f"  envelope/direct speed-up at {format_size(size)}, "
            f"{backend_label(s.backend)}, {rtt}: {mark}{s.ratio:,.0f}x{note}"
        )
    return lines


def run_command(args: argparse.Namespace) -> int:
    from kmslab.progress import TextProgress
    from kmslab.viz import tables

    from .runner import Plan, quick_mode, run

    changes: dict[str, Any] = {}
    if args.sizes:
        changes["sizes"] = tuple(args.sizes)
    if args.backends:
        changes["backends"] = tuple(args.backends)
    if args.rtt:
        changes["rtts_ms"] = tuple(args.rtt)
    if args.methods:
        changes["methods"] = tuple(args.methods)
    if args.cap:
        changes["direct_cap_seconds"] = args.cap
    if args.workers:
        changes["workers"] = args.workers
    if args.no_throttling:
        changes["throttling"] = False
    try:
        plan = (Plan.quick_plan if args.quick or quick_mode() else Plan.full_plan)(**changes)
    except ValueError as exc:
        print(f"kmslab bench: {exc}", file=sys.stderr)
        return 2

    mode = "quick" if plan.quick else "full"
    rtts = ", ".join(f"{r:g}" for r in plan.rtts_ms)
    print(
        f"kmslab bench ({mode}): sizes {', '.join(map(_size, plan.sizes))}; "
        f"backends {', '.join(plan.backends)}; simulated RTT {rtts} ms; "
        f"direct runs capped at {plan.direct_cap_seconds:g} s",
        flush=True,
    )
    results = run(plan, progress=TextProgress(sys.stderr))
    records = results.records

    print()
    print("Round trips are SIMULATED (a sleep before every KMS request). '~' = extrapolated.")
    print(f"Envelope: {results.envelope}")
    print()
    print(tables.format_table(tables.speedup_table(records), "Speed-up of envelope over direct"))
    print()
    print(tables.format_table(tables.time_table(records), "Time to encrypt"))
    print()
    print(tables.format_table(tables.time_table(records, "decrypt"), "Time to decrypt"))
    print()
    print(tables.format_table(tables.calls_table(records), "KMS requests and bytes (encrypt)"))
    if results.breakdown:
        print()
        print(
            tables.format_table(
                tables.breakdown_table(results.breakdown),
                "Where the time of one direct Encrypt call goes (ms)",
            )
        )
        explained = dict.fromkeys(
            f"  {b.backend}: server {b.server_how}; transport {b.transport_how}"
            for b in results.breakdown
        )
        print("\n".join(explained))
    if results.throttling:
        print()
        print(
            tables.format_table(
                tables.throttling_table(results.throttling),
                "Simulated request quota: throttling, retries, data-key caching",
            )
        )
    lines = headline(records)
    if lines:
        print()
        print("Headline:")
        print("\n".join(lines))

    out = Path(args.out)
    written = results.save(out)
    if not args.no_plots and records:
        try:
            from kmslab.viz import render_all

            written += render_all(
                records, out, breakdown=results.breakdown, throttling=results.throttling
            )
        except ImportError:
            print("(matplotlib is not installed: no plots; pip install 'kmslab[lab]')")
    print()
    print(f"Wrote {', '.join(str(p) for p in written)}")
    state = "CANCELLED, partial results" if results.cancelled else "done"
    print(f"{state} in {results.seconds:.1f} s")
    return 130 if results.cancelled else 0


def _size(size: int) -> str:
    from kmslab.viz.style import format_size

    return format_size(size)
