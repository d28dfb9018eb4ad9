"""The table twin of every plot: rows of plain strings, and a text table to print them.

Each ``*_table`` function returns a list of dicts (column -> display string) holding the same
numbers as the plot of the same name, so that the result never depends on seeing the picture.
Extrapolated values carry a leading ``~`` and the rows say "extrapolated". No matplotlib here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from kmslab.bench.record import Record, speedups

from .style import BACKEND_STYLE, format_bytes, format_seconds, format_size

__all__ = [
    "breakdown_table",
    "calls_table",
    "format_table",
    "speedup_table",
    "throttling_table",
    "time_table",
]

Row = dict[str, str]


def _backend(name: str) -> str:
    return BACKEND_STYLE.get(name, ("", "", name))[2]


def _rtt(ms: float) -> str:
    return f"+{ms:g} ms (simulated)" if ms else "none"


def _mark(text: str, extrapolated: bool) -> str:
    return f"~{text}" if extrapolated else text


def time_table(records: Iterable[Record], operation: str = "encrypt") -> list[Row]:
    """Twin of ``plot_time_vs_size``: seconds per method, one row per (backend, RTT, size)."""
    cells: dict[tuple[str, float, int], dict[str, Record]] = {}
    methods: list[str] = []
    for r in records:
        if r.operation != operation:
            continue
        cells.setdefault((r.backend, r.simulated_rtt_ms, r.size), {})[r.method] = r
        if r.method not in methods:
            methods.append(r.method)
    rows = []
    for (backend, rtt, size), by_method in sorted(cells.items()):
        row = {"backend": _backend(backend), "round trip": _rtt(rtt), "size": format_size(size)}
        for method in methods:
            found = by_method.get(method)
            row[method] = _mark(format_seconds(found.seconds), found.extrapolated) if found else "-"
        rows.append(row)
    return rows


def calls_table(records: Iterable[Record], operation: str = "encrypt") -> list[Row]:
    """Twin of ``plot_calls`` and ``plot_bytes``: KMS requests and bytes per method and size
    (for the first backend and round trip found; they do not change the counts)."""
    chosen = [r for r in records if r.operation == operation]
    if not chosen:
        return []
    backend, rtt = chosen[0].backend, chosen[0].simulated_rtt_ms
    rows = []
    for r in sorted(chosen, key=lambda r: (r.size, r.method)):
        if r.backend != backend or r.simulated_rtt_ms != rtt:
            continue
        rows.append(
            {
                "size": format_size(r.size),
                "method": r.method,
                "KMS requests": _mark(f"{r.calls:,}", r.extrapolated),
                "bytes sent": _mark(format_bytes(r.bytes_sent), r.extrapolated),
                "bytes received": _mark(format_bytes(r.bytes_received), r.extrapolated),
                "sent / data": _mark(f"{r.bytes_sent / r.size:.2f}x", r.extrapolated),
                "status": r.status,
            }
        )
    return rows


def speedup_table(
    records: Iterable[Record], operation: str = "encrypt", baseline: str = "direct"
) -> list[Row]:
    """Twin of ``plot_speedup``: how many times faster the envelope is than ``baseline``."""
    rows = []
    for s in speedups(records, operation, baseline):
        rows.append(
            {
                "backend": _backend(s.backend),
                "round trip": _rtt(s.simulated_rtt_ms),
                "size": format_size(s.size),
                f"{baseline}": _mark(format_seconds(s.baseline_seconds), s.extrapolated),
                "envelope": format_seconds(s.envelope_seconds),
                "speed-up": _mark(
                    f"{s.ratio:,.0f}x" if s.ratio >= 10 else f"{s.ratio:.1f}x", s.extrapolated
                ),
                "status": "extrapolated" if s.extrapolated else "measured",
            }
        )
    return rows


def breakdown_table(breakdowns: Iterable[Any]) -> list[Row]:
    """Twin of ``plot_breakdown``: milliseconds per part of one Encrypt call."""
    from kmslab.bench.breakdown import COMPONENTS

    rows = []
    for b in breakdowns:
        row = {"backend": _backend(b.backend), "round trip": _rtt(b.rtt_ms)}
        for name, label in COMPONENTS:
            row[label] = f"{getattr(b, name):.2f}"
        row["total ms"] = f"{b.total_ms:.2f}"
        row["server: how known"] = b.server_how.split(":")[0]
        rows.append(row)
    return rows


def throttling_table(results: Iterable[Any]) -> list[Row]:
    """Twin of ``plot_throttling``: each quota scenario, its requests and whether it finished."""
    return [
        {
            "scenario": t.scenario,
            "finished": "yes" if t.finished else "NO",
            "time": format_seconds(t.seconds),
            "calls needed": str(t.api_calls_needed),
            "requests sent": str(t.requests),
            "throttled": str(t.throttled),
            "quota": f"{t.requests_per_second:g}/s, burst {t.burst:g}",
        }
        for t in results
    ]


def format_table(rows: Sequence[Row], title: str | None = None) -> str:
    """Rows as an aligned plain-text table (columns from the first row)."""
    if not rows:
        return (title + "\n" if title else "") + "(no rows)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}

    def line(cells: dict[str, str]) -> str:
        out = []
        for c in columns:
            text = str(cells.get(c, ""))
            numeric = text.lstrip("~+-").replace(",", "")[:1].isdigit()
            out.append(text.rjust(widths[c]) if numeric else text.ljust(widths[c]))
        return "  ".join(out).rstrip()

    parts = [title] if title else []
    parts.append(line({c: c for c in columns}))
    parts.append("  ".join("-" * widths[c] for c in columns))
    parts.extend(line(r) for r in rows)
    return "\n".join(parts)
