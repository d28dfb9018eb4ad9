"""Benchmark plots: each ``plot_x(ax, data, ...)`` draws on one matplotlib Axes and returns the
artists it drew. Each has a table twin in :mod:`kmslab.viz.tables`.

Conventions (see :mod:`kmslab.viz.style`): sizes on a log2 axis in KiB/MiB, times on a log10
axis in ms/s; every series has its own colour *and* marker; measured points are filled on solid
lines, extrapolated points hollow on dashed lines, and the legend says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullLocator

from kmslab.bench.record import CHUNK_BYTES, Record, speedups

from .style import (
    BACKEND_STYLE,
    COMPONENT_STYLE,
    METHOD_STYLE,
    OKABE_ITO,
    format_bytes,
    format_seconds,
    format_size,
)

__all__ = [
    "plot_breakdown",
    "plot_bytes",
    "plot_calls",
    "plot_speedup",
    "plot_throttling",
    "plot_time_vs_size",
]

EXTRAPOLATED_LABEL = "hollow, dashed: (extrapolated) from the measured per-call rate, not measured"


def _select(
    records: Iterable[Record],
    operation: str,
    backend: str | None = None,
    rtt: float | None = None,
) -> list[Record]:
    return [
        r
        for r in records
        if r.operation == operation
        and (backend is None or r.backend == backend)
        and (rtt is None or r.simulated_rtt_ms == rtt)
    ]


def _default_backend_rtt(
    records: Sequence[Record], backend: str | None, rtt: float | None
) -> tuple[str | None, float | None]:
    if backend is None and records:
        backend = records[0].backend
    if rtt is None and records:
        rtt = min(r.simulated_rtt_ms for r in records if backend in (None, r.backend))
    return backend, rtt


def _series(
    ax: Axes,
    points: Sequence[tuple[float, float, bool]],
    color: str,
    marker: str,
    label: str,
) -> list[Artist]:
    """Solid line and filled markers through measured points, dashed line and hollow markers
    to and through extrapolated ones. ``points``: (x, y, extrapolated), sorted by x."""
    drawn: list[Artist] = []
    measured = [(x, y) for x, y, e in points if not e]
    if len(measured) > 1:
        drawn += ax.plot(*zip(*measured, strict=True), "-", color=color, lw=2, zorder=3)
    for (x0, y0, e0), (x1, y1, e1) in itertools.pairwise(points):
        if e0 or e1:
            drawn += ax.plot([x0, x1], [y0, y1], "--", color=color, lw=1.6, zorder=2)
    if measured:
        drawn += ax.plot(
            *zip(*measured, strict=True),
            linestyle="none",
            marker=marker,
            markersize=7,
            color=color,
            markeredgecolor=color,
            zorder=4,
        )
    hollow = [(x, y) for x, y, e in points if e]
    if hollow:
        drawn += ax.plot(
            *zip(*hollow, strict=True),
            linestyle="none",
            marker=marker,
            markersize=8,
            markerfacecolor="white",
            markeredgecolor=color,
            markeredgewidth=1.8,
            zorder=4,
        )
    return drawn


Legend = bool | str
"""``True``: inside the axes; ``"below"``: under the axes; ``False``: none (the legend entries
stay on the axes, empty, so ``ax.get_legend_handles_labels()`` can build a figure legend)."""


def _legend(
    ax: Axes, handles: list[Artist], legend: Legend, loc: str = "upper left"
) -> list[Artist]:
    for handle in handles:  # empty proxies: they draw nothing and do not move the limits
        if isinstance(handle, Line2D):
            ax.add_line(handle)
    if not legend or not handles:
        return []
    if legend == "below":
        return [
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.14),
                ncol=1,
                fontsize=8,
                frameon=False,
            )
        ]
    return [ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)]


def _proxy(color: str, marker: str, label: str) -> Line2D:
    return Line2D([], [], color=color, marker=marker, lw=2, markersize=7, label=label)


def _extrapolated_proxy() -> Line2D:
    return Line2D(
        [],
        [],
        color=OKABE_ITO["grey"],
        marker="o",
        linestyle="--",
        markerfacecolor="white",
        markeredgewidth=1.8,
        label=EXTRAPOLATED_LABEL,
    )


def _size_axis(ax: Axes, sizes: Iterable[float]) -> None:
    ticks = sorted(set(sizes))
    ax.set_xscale("log", base=2)
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_size(v)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(ticks[0] / 1.6, ticks[-1] * 1.6)
        span = math.log2(ticks[-1] / ticks[0])
        gaps = [math.log2(b / a) for a, b in itertools.pairwise(ticks)]
        if span and min(gaps) / span < 0.2:  # e.g. 16 MiB and 64 MiB after 4 KiB: tilt
            ax.tick_params(axis="x", labelrotation=35, labelsize=9)
    ax.set_xlabel("data size (log scale)")


def _tick_seconds(value: float, _pos: object = None) -> str:
    """Round tick labels: 1 ms, 10 ms, 100 ms, 1 s, 10 s, 1.7 min."""
    if value < 1e-3:
        return f"{value * 1e6:g} µs"
    if value < 1:
        return f"{value * 1e3:g} ms"
    if value < 600:
        return f"{value:,.0f} s" if value >= 1 else f"{value:g} s"
    return f"{value:,.0f} s ({value / 60:,.0f} min)"


def _tick_bytes(value: float, _pos: object = None) -> str:
    return format_size(value) if value >= 1 else ""


def _seconds_axis(ax: Axes, label: str) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost much drawing, add little
    ax.yaxis.set_major_formatter(FuncFormatter(_tick_seconds))
    ax.set_ylabel(label)


def _count_axis(ax: Axes, label: str, formatter: Any = None, base: float = 10) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=base))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(
        FuncFormatter(formatter or (lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    )
    ax.set_ylabel(label)


def _rtt_text(rtt: float | None) -> str:
    return f"+{rtt:g} ms simulated round trip" if rtt else "no simulated round trip"


def plot_time_vs_size(
    ax: Axes,
    records: Iterable[Record],
    *,
    backend: str | None = None,
    simulated_rtt_ms: float | None = None,
    operation: str = "encrypt",
    legend: Legend = True,
) -> list[Artist]:
    """Wall time against data size, one line per method, for one backend and round trip
    (default: the first backend found, the smallest round trip). Twin: ``time_table``."""
    records = _select(records, operation)
    backend, rtt = _default_backend_rtt(records, backend, simulated_rtt_ms)
    chosen = _select(records, operation, backend, rtt)
    drawn: list[Artist] = []
    handles: list[Artist] = []
    any_extrapolated = False
    for method, (color, marker, label) in METHOD_STYLE.items():
        points = sorted((r.size, r.seconds, r.extrapolated) for r in chosen if r.method == method)
        if not points:
            continue
        any_extrapolated |= any(e for _, _, e in points)
        drawn += _series(ax, points, color, marker, label)
        handles.append(_proxy(color, marker, label))
    _size_axis(ax, (r.size for r in chosen))
    _seconds_axis(ax, f"time to {operation} (log scale)")
    name = BACKEND_STYLE.get(backend or "", ("", "", backend))[2]
    ax.set_title(f"{name}\n{_rtt_text(rtt)}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    if any_extrapolated:
        handles.append(_extrapolated_proxy())
    return drawn + handles + _legend(ax, handles, legend)


def _per_method(
    ax: Axes, records: Sequence[Record], value: str, show: Any = None
) -> tuple[list[Artist], list[Artist]]:
    """One series per method; ``show(y)`` labels each series' rightmost point."""
    drawn: list[Artist] = []
    handles: list[Artist] = []
    extrapolated = False
    for method, (color, marker, label) in METHOD_STYLE.items():
        if method == "direct-threads" and any(r.method == "direct" for r in records):
            continue  # the same requests as direct, only sent from several threads
        points = sorted(
            (r.size, float(getattr(r, value)), r.extrapolated)
            for r in records
            if r.method == method
        )
        if not points:
            continue
        extrapolated |= any(e for _, _, e in points)
        drawn += _series(ax, points, color, marker, label)
        handles.append(_proxy(color, marker, label))
        if show is not None:
            x, y, e = points[-1]
            text = ("~" if e else "") + show(y)
            drawn.append(
                ax.annotate(
                    text,
                    (x, y),
                    xytext=(0, 8) if method == "envelope" else (-9, -3),
                    textcoords="offset points",
                    ha="right",
                    va="bottom" if method == "envelope" else "top",
                    fontsize=8,
                    color=color,
                )
            )
    if extrapolated:
        handles.append(_extrapolated_proxy())
    return drawn, handles


def plot_calls(
    ax: Axes,
    records: Iterable[Record],
    *,
    backend: str | None = None,
    simulated_rtt_ms: float | None = None,
    operation: str = "encrypt",
    legend: Legend = True,
) -> list[Artist]:
    """KMS requests against data size, one line per method (a thread pool sends the same
    requests as direct, so it is drawn only when direct is absent). Twin: ``calls_table``."""
    records = _select(records, operation)
    backend, rtt = _default_backend_rtt(records, backend, simulated_rtt_ms)
    chosen = _select(records, operation, backend, rtt)
    drawn, handles = _per_method(ax, chosen, "calls", lambda y: f"{y:,.0f} per message")
    _size_axis(ax, (r.size for r in chosen))
    _count_axis(ax, f"KMS requests to {operation} (log scale)")
    ax.set_title("KMS requests: one per 4 KiB chunk, or one per message", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    return drawn + handles + _legend(ax, handles, legend)


def plot_bytes(
    ax: Axes,
    records: Iterable[Record],
    *,
    backend: str | None = None,
    simulated_rtt_ms: float | None = None,
    operation: str = "encrypt",
    legend: Legend = True,
) -> list[Artist]:
    """Bytes sent to KMS against data size, one line per method, with the data size itself as
    a reference. Twin: ``calls_table``."""
    records = _select(records, operation)
    backend, rtt = _default_backend_rtt(records, backend, simulated_rtt_ms)
    chosen = _select(records, operation, backend, rtt)
    drawn, handles = _per_method(ax, chosen, "bytes_sent", format_bytes)
    sizes = sorted({r.size for r in chosen})
    if sizes:
        drawn += ax.plot(sizes, sizes, ":", color=OKABE_ITO["grey"], lw=1.5, zorder=1)
        handles.insert(0, Line2D([], [], color=OKABE_ITO["grey"], ls=":", label="the data itself"))
    _size_axis(ax, sizes)
    _count_axis(ax, "bytes sent to KMS (log scale)", _tick_bytes, base=16)
    ax.set_title("Bytes sent over the wire (HTTP requests to KMS)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    return drawn + handles + _legend(ax, handles, legend)


def plot_speedup(
    ax: Axes,
    records: Iterable[Record],
    *,
    simulated_rtt_ms: float | None = None,
    operation: str = "encrypt",
    baseline: str = "direct",
    legend: Legend = True,
) -> list[Artist]:
    """How many times faster the envelope is than ``baseline``, per backend, for one round trip
    (default: the smallest), with the number of 4 KiB chunks as a guide. Twin:
    ``speedup_table``."""
    rows = speedups(records, operation, baseline)
    if simulated_rtt_ms is None and rows:
        simulated_rtt_ms = min(s.simulated_rtt_ms for s in rows)
    rows = [s for s in rows if s.simulated_rtt_ms == simulated_rtt_ms]
    drawn: list[Artist] = []
    handles: list[Artist] = []
    extrapolated = False
    for backend, (color, marker, label) in BACKEND_STYLE.items():
        points = sorted((s.size, s.ratio, s.extrapolated) for s in rows if s.backend == backend)
        if not points:
            continue
        extrapolated |= any(e for _, _, e in points)
        drawn += _series(ax, points, color, marker, label)
        handles.append(_proxy(color, marker, label))
    sizes = sorted({s.size for s in rows})
    if sizes:
        chunks = [max(1.0, size / CHUNK_BYTES) for size in sizes]
        drawn += ax.plot(sizes, chunks, ":", color=OKABE_ITO["grey"], lw=1.5, zorder=1)
        handles.insert(
            0, Line2D([], [], color=OKABE_ITO["grey"], ls=":", label="number of 4 KiB chunks")
        )
        drawn.append(ax.axhline(1.0, color=OKABE_ITO["grey"], lw=0.8, zorder=0))
        drawn.append(
            ax.annotate(
                "1x: no faster",
                (0.99, 1.0),
                xycoords=("axes fraction", "data"),
                xytext=(0, -3),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=8,
                color="#555555",
            )
        )
        ratios = [s.ratio for s in rows if math.isfinite(s.ratio) and s.ratio > 0]
        if ratios:  # whole decades, so that the values can be read off a labelled gridline
            ax.set_ylim(nice_floor(min([*ratios, 1.0])), nice_ceiling(max(ratios) * 1.05))
    if extrapolated:
        handles.append(_extrapolated_proxy())
    _size_axis(ax, sizes)
    _count_axis(
        ax,
        f"speed-up: {baseline} time / envelope time (log scale)",
        lambda v, _pos: f"{v:,.0f}x" if v >= 1 else f"{v:.2g}x",
    )
    ax.set_title(f"Envelope vs {baseline}\n{_rtt_text(simulated_rtt_ms)}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    return drawn + handles + _legend(ax, handles, legend)


def plot_breakdown(
    ax: Axes, breakdowns: Iterable[Any], *, legend: Legend = "below"
) -> list[Artist]:
    """Where the time of one Encrypt call goes: one stacked bar per backend (and round trip).
    Hatched server parts are estimated, not measured. Twin: ``breakdown_table``."""
    rows = list(breakdowns)
    drawn: list[Artist] = []
    labels = []
    for i, b in enumerate(rows):
        left = 0.0
        for name, (color, hatch, _label) in COMPONENT_STYLE.items():
            width = float(getattr(b, name))
            if width <= 0:
                continue
            estimated = name == "server_ms" and b.server_how.startswith("estimated")
            drawn += ax.barh(
                i,
                width,
                left=left,
                color=color,
                hatch="xx" if estimated else hatch,
                edgecolor="white" if not (hatch or estimated) else "#555555",
                height=0.6,
            )
            left += width
        drawn.append(ax.text(left, i, f"  {b.total_ms:.1f} ms", va="center", fontsize=9))
        name = BACKEND_STYLE.get(b.backend, ("", "", b.backend))[2]
        labels.append(f"{name}\n+{b.rtt_ms:g} ms simulated" if b.rtt_ms else name)
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per Encrypt call of 4096 bytes (mean of the middle 60 %)")
    ax.set_title("Where the time of one direct call goes", fontsize=10)
    if rows:
        ax.set_xlim(0, max(b.total_ms for b in rows) * 1.25)
    ax.grid(True, axis="x", alpha=0.3)
    if legend:
        handles: list[Artist] = [
            Patch(facecolor=c, hatch=h, edgecolor="#555555" if h else c, label=lab)
            for c, h, lab in COMPONENT_STYLE.values()
        ]
        if any(b.server_how.startswith("estimated") for b in rows):
            handles.append(
                Patch(
                    facecolor=COMPONENT_STYLE["server_ms"][0],
                    hatch="xx",
                    edgecolor="#555555",
                    label="server, estimated (not measured)",
                )
            )
        drawn += _bar_legend(ax, handles, legend)
    return drawn


def _bar_legend(ax: Axes, handles: Sequence[Artist], legend: Legend) -> list[Artist]:
    if not legend:
        return []
    if legend == "below":
        return [
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.16),
                ncol=3,
                fontsize=8,
                frameon=False,
            )
        ]
    return [ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)]


def plot_throttling(ax: Axes, results: Iterable[Any], *, legend: Legend = "below") -> list[Artist]:
    """Requests sent per quota scenario: accepted and throttled, and whether the job finished.
    Twin: ``throttling_table``."""
    rows = list(results)
    drawn: list[Artist] = []
    accepted_color, throttled_color = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
    for i, t in enumerate(rows):
        ok = t.requests - t.throttled
        drawn += ax.barh(i, ok, color=accepted_color, height=0.6)
        drawn += ax.barh(
            i,
            t.throttled,
            left=ok,
            color=throttled_color,
            hatch="//",
            edgecolor="white",
            height=0.6,
        )
        if t.finished:
            verdict = f"done in {format_seconds(t.seconds)}"
        else:
            verdict = f"FAILED: ThrottlingException after {ok} of {t.api_calls_needed} calls"
        drawn.append(ax.text(t.requests, i, f"  {verdict}", va="center", fontsize=9))
    ax.set_yticks(
        range(len(rows)),
        [f"{t.scenario}\n({t.api_calls_needed} calls needed)" for t in rows],
        fontsize=9,
    )
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("KMS requests sent (accepted + throttled)")
    quota = f"{rows[0].requests_per_second:g} requests/s, burst {rows[0].burst:g}" if rows else ""
    ax.set_title(f"Simulated request quota ({quota}): throttling and its remedies", fontsize=10)
    if rows:
        ax.set_xlim(0, max(t.requests for t in rows) * 1.8 + 1)
    ax.grid(True, axis="x", alpha=0.3)
    if legend:
        handles = [
            Patch(facecolor=accepted_color, label="accepted"),
            Patch(
                facecolor=throttled_color,
                hatch="//",
                edgecolor="white",
                label="ThrottlingException (retried if retries are on)",
            ),
        ]
        drawn += _bar_legend(ax, handles, legend)
    return drawn


def nice_ceiling(value: float) -> float:
    """The next power of ten at or above ``value`` (for log axes)."""
    return float(10 ** math.ceil(math.log10(value))) if value > 0 else 1.0


def nice_floor(value: float) -> float:
    """The power of ten at or below ``value`` (for log axes)."""
    return float(10 ** math.floor(math.log10(value))) if value > 0 else 1.0
