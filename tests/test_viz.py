"""kmslab.viz: every plot draws on the Axes it is given and returns its artists; extrapolated
points look different; every plot has a table twin with the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure  # the object API renders with Agg; no pyplot, no GUI
from matplotlib.lines import Line2D

from kmslab import viz
from kmslab.bench.breakdown import Breakdown
from kmslab.bench.record import Record
from kmslab.bench.throttling import ThrottleResult

KiB, MiB = 1024, 1024 * 1024


def rec(size: int, method: str, seconds: float, status: str = "measured", **kw: object) -> Record:
    calls = 1 if method == "envelope" else -(-size // 4096)
    fields: dict[str, object] = {
        "operation": "encrypt",
        "backend": "moto",
        "simulated_rtt_ms": 0.0,
        "calls": calls,
        "bytes_sent": calls * 6000 if method != "envelope" else 800,
        "bytes_received": calls * 5800 if method != "envelope" else 500,
        "status": status,
    }
    fields.update(kw)
    return Record(size=size, method=method, seconds=seconds, **fields)  # type: ignore[arg-type]


RECORDS = [
    rec(4 * KiB, "direct", 0.002),
    rec(64 * KiB, "direct", 0.032),
    rec(MiB, "direct", 0.51, "extrapolated"),
    rec(4 * KiB, "direct-threads", 0.003),
    rec(64 * KiB, "direct-threads", 0.02),
    rec(MiB, "direct-threads", 0.3, "extrapolated"),
    rec(4 * KiB, "envelope", 0.002),
    rec(64 * KiB, "envelope", 0.0021),
    rec(MiB, "envelope", 0.0026),
    rec(MiB, "direct", 6.1, "extrapolated", backend="moto-server", simulated_rtt_ms=20.0),
    rec(MiB, "envelope", 0.024, backend="moto-server", simulated_rtt_ms=20.0),
]

BREAKDOWN = [
    Breakdown("moto", 0.0, 10, 2.0, 0.2, 0.3, 0.0, 0.0, 1.2, 0.25, 0.05, "measured: x", "none"),
    Breakdown(
        "moto-server", 0.0, 10, 5.0, 0.2, 0.3, 0.0, 3.0, 1.2, 0.25, 0.05, "estimated: y", "z"
    ),
]

THROTTLING = [
    ThrottleResult("direct, no retries", False, 0.1, 8, 5, 1, "stopped", 10.0, 4.0),
    ThrottleResult("direct, standard retries", True, 0.8, 8, 9, 1, "", 10.0, 4.0),
    ThrottleResult("envelope + cache", True, 0.05, 2, 2, 0, "", 10.0, 4.0),
]


@pytest.fixture
def ax() -> Axes:
    return Figure(figsize=(6, 4)).subplots()


def hollow_dashed(drawn: Sequence[object]) -> tuple[list[Line2D], list[Line2D]]:
    lines = [a for a in drawn if isinstance(a, Line2D) and np.size(a.get_xdata()) > 0]
    hollow = [a for a in lines if a.get_markerfacecolor() in ("white", "w", (1, 1, 1, 1))]
    dashed = [a for a in lines if a.get_linestyle() == "--"]
    return hollow, dashed


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_time_vs_size(ax: Axes) -> None:
    drawn = viz.plot_time_vs_size(ax, RECORDS, backend="moto", simulated_rtt_ms=0)
    assert drawn and all(a.axes is ax or a.figure is ax.figure for a in drawn)
    hollow, dashed = hollow_dashed(drawn)
    assert len(hollow) == 2 and dashed  # direct and threads at 1 MiB were extrapolated
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "time to encrypt" in ax.get_ylabel() and "data size" in ax.get_xlabel()
    assert "moto in-process" in ax.get_title() and "no simulated round trip" in ax.get_title()
    texts = legend_texts(ax)
    assert any("(extrapolated)" in t for t in texts)
    assert any(t.startswith("envelope") for t in texts)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["4 KiB", "64 KiB", "1 MiB"]
    assert {t.get_text() for t in ax.get_yticklabels()} & {"1 ms", "10 ms", "100 ms", "1 s"}


def test_measured_only_series_are_solid(ax: Axes) -> None:
    measured = [r for r in RECORDS if not r.extrapolated and r.backend == "moto"]
    drawn = viz.plot_time_vs_size(ax, measured)
    hollow, dashed = hollow_dashed(drawn)
    assert not hollow and not dashed
    assert not any("(extrapolated)" in t for t in legend_texts(ax))


def test_calls_and_bytes(ax: Axes) -> None:
    drawn = viz.plot_calls(ax, RECORDS)
    assert drawn and "KMS requests" in ax.get_ylabel()
    texts = legend_texts(ax)
    assert not any("thread" in t for t in texts)  # same requests as direct: not drawn twice
    bytes_ax = Figure().subplots()
    drawn = viz.plot_bytes(bytes_ax, RECORDS, legend="below")
    assert drawn and "bytes sent" in bytes_ax.get_ylabel()
    assert "the data itself" in legend_texts(bytes_ax)


def test_speedup(ax: Axes) -> None:
    drawn = viz.plot_speedup(ax, RECORDS, simulated_rtt_ms=0)
    hollow, _dashed = hollow_dashed(drawn)
    assert hollow  # direct at 1 MiB was extrapolated, so is the speed-up
    assert "speed-up" in ax.get_ylabel()
    assert "number of 4 KiB chunks" in legend_texts(ax)
    other = Figure().subplots()
    viz.plot_speedup(other, RECORDS, simulated_rtt_ms=20)
    assert "+20 ms simulated round trip" in other.get_title()


def test_breakdown_and_throttling(ax: Axes) -> None:
    drawn = viz.plot_breakdown(ax, BREAKDOWN)
    assert drawn and "milliseconds" in ax.get_xlabel()
    assert "server, estimated (not measured)" in legend_texts(ax)
    other = Figure().subplots()
    drawn = viz.plot_throttling(other, THROTTLING)
    assert drawn and "KMS requests sent" in other.get_xlabel()
    assert any("FAILED" in t.get_text() for t in other.texts)


def test_table_twins_hold_the_same_numbers() -> None:
    rows = viz.time_table(RECORDS)
    moto_1mib = next(r for r in rows if r["size"] == "1 MiB" and r["backend"] == "moto in-process")
    assert moto_1mib["direct"] == "~510 ms" and moto_1mib["envelope"] == "2.6 ms"
    speed = viz.speedup_table(RECORDS)
    row = next(r for r in speed if r["size"] == "1 MiB" and r["round trip"] == "none")
    assert row["speed-up"] == "~196x" and row["status"] == "extrapolated"
    calls = viz.calls_table(RECORDS)
    assert (
        next(r for r in calls if r["size"] == "1 MiB" and r["method"] == "direct")["KMS requests"]
        == "~256"
    )
    assert viz.breakdown_table(BREAKDOWN)[1]["server: how known"] == "estimated"
    assert viz.throttling_table(THROTTLING)[0]["finished"] == "NO"
    text = viz.format_table(speed, "Speed-up")
    assert text.splitlines()[0] == "Speed-up" and "~196x" in text
    assert viz.format_table([], "empty").endswith("(no rows)")


def test_render_all_writes_pngs(tmp_path: Path) -> None:
    small = [r for r in RECORDS if r.backend == "moto"]
    written = viz.render_all(small, tmp_path, breakdown=BREAKDOWN, throttling=THROTTLING)
    assert [p.name for p in written] == [
        "time_vs_size.png",
        "speedup.png",
        "calls_and_bytes.png",
        "where_time_goes.png",
        "throttling.png",
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
