"""Whole figures for ``kmslab bench --out DIR``: the plots of :mod:`kmslab.viz.plots` laid out
and saved as PNG files. Uses matplotlib's object API (``Figure``), never pyplot, so it works
headless and leaves no global state behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from kmslab.bench.record import Record

from .plots import (
    plot_breakdown,
    plot_bytes,
    plot_calls,
    plot_speedup,
    plot_throttling,
    plot_time_vs_size,
)

__all__ = ["render_all"]

SIMULATED = "Round trips are SIMULATED (a sleep before every KMS request), not a real network."


def _figure_legend(figure: Figure, axes: Any, ncol: int = 2) -> None:
    """One legend under the whole figure, from the entries every panel left on its axes."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        figure.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncol=ncol,
            fontsize=9,
            frameon=False,
        )


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100)  # the constrained layout already fits everything in
    return path


def time_figure(records: list[Record], operation: str = "encrypt") -> Figure:
    backends = list(dict.fromkeys(r.backend for r in records))
    rtts = sorted({r.simulated_rtt_ms for r in records})
    figure = Figure(
        figsize=(4.6 * len(rtts) + 0.6, 3.9 * len(backends) + 0.8), layout="constrained"
    )
    axes = figure.subplots(len(backends), len(rtts), squeeze=False, sharex=True, sharey=True)
    for row, backend in enumerate(backends):
        for col, rtt in enumerate(rtts):
            ax = axes[row][col]
            plot_time_vs_size(
                ax,
                records,
                backend=backend,
                simulated_rtt_ms=rtt,
                operation=operation,
                legend=False,
            )
            ax.tick_params(labelbottom=True, labelleft=True)
    _figure_legend(figure, axes.flat)
    figure.suptitle(
        f"Time to {operation} data with KMS: direct (4 KiB per call) vs envelope\n{SIMULATED}",
        fontsize=11,
    )
    return figure


def speedup_figure(records: list[Record], operation: str = "encrypt") -> Figure:
    rtts = sorted({r.simulated_rtt_ms for r in records})
    figure = Figure(figsize=(4.8 * len(rtts) + 0.6, 4.6), layout="constrained")
    axes = figure.subplots(1, len(rtts), squeeze=False)
    for col, rtt in enumerate(rtts):
        plot_speedup(axes[0][col], records, simulated_rtt_ms=rtt, operation=operation, legend=False)
    # The same decades on every panel, so that they compare at a glance.
    low = min(ax.get_ylim()[0] for ax in axes.flat)
    high = max(ax.get_ylim()[1] for ax in axes.flat)
    for ax in axes.flat:
        ax.set_ylim(low, high)
    _figure_legend(figure, axes.flat, ncol=3)
    figure.suptitle(f"How many times faster envelope encryption is\n{SIMULATED}", fontsize=11)
    return figure


def calls_figure(records: list[Record], operation: str = "encrypt") -> Figure:
    figure = Figure(figsize=(11, 5.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    plot_calls(left, records, operation=operation, legend="below")
    plot_bytes(right, records, operation=operation, legend="below")
    return figure


def breakdown_figure(breakdowns: list[Any]) -> Figure:
    figure = Figure(figsize=(10, 1.8 + 0.75 * max(1, len(breakdowns))), layout="constrained")
    plot_breakdown(figure.subplots(), breakdowns)
    return figure


def throttling_figure(results: list[Any]) -> Figure:
    figure = Figure(figsize=(10, 1.8 + 0.6 * max(1, len(results))), layout="constrained")
    plot_throttling(figure.subplots(), results)
    return figure


def render_all(
    records: list[Record],
    out_dir: str | Path,
    *,
    breakdown: list[Any] | None = None,
    throttling: list[Any] | None = None,
    operation: str = "encrypt",
) -> list[Path]:
    """Write every figure there is data for; returns the PNG paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if records:
        written.append(_save(time_figure(records, operation), folder / "time_vs_size.png"))
        written.append(_save(speedup_figure(records, operation), folder / "speedup.png"))
        written.append(_save(calls_figure(records, operation), folder / "calls_and_bytes.png"))
    if breakdown:
        written.append(_save(breakdown_figure(breakdown), folder / "where_time_goes.png"))
    if throttling:
        written.append(_save(throttling_figure(throttling), folder / "throttling.png"))
    return written
