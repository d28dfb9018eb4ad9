"""Plots and their table twins for kmslab's benchmarks.

Plots (``kmslab.viz.plots``, need matplotlib) take a matplotlib ``Axes`` and return the artists
they drew; every plot has a table twin (``kmslab.viz.tables``, no matplotlib) holding the same
numbers as text::

    from matplotlib.figure import Figure
    from kmslab import viz
    ax = Figure().subplots()
    viz.plot_time_vs_size(ax, results.records, backend="moto")
    print(viz.format_table(viz.time_table(results.records)))

matplotlib is imported when a plot function is first used, never at ``import kmslab`` (nor at
``import kmslab.viz``, so the tables work without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .tables import (
    breakdown_table,
    calls_table,
    format_table,
    speedup_table,
    throttling_table,
    time_table,
)

if TYPE_CHECKING:
    from .figures import render_all
    from .plots import (
        plot_breakdown,
        plot_bytes,
        plot_calls,
        plot_speedup,
        plot_throttling,
        plot_time_vs_size,
    )

__all__ = [
    "breakdown_table",
    "calls_table",
    "format_table",
    "plot_breakdown",
    "plot_bytes",
    "plot_calls",
    "plot_speedup",
    "plot_throttling",
    "plot_time_vs_size",
    "render_all",
    "speedup_table",
    "throttling_table",
    "time_table",
]

_PLOTS = {
    "plot_breakdown",
    "plot_bytes",
    "plot_calls",
    "plot_speedup",
    "plot_throttling",
    "plot_time_vs_size",
}


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from . import plots

        return getattr(plots, name)
    if name == "render_all":
        from .figures import render_all

        return render_all
    raise AttributeError(f"module 'kmslab.viz' has no attribute {name!r}")
