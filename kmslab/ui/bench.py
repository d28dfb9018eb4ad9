"""The benchmark panel: choose sizes, backends and a SIMULATED round trip; run; read the results.

:class:`BenchPanelModel` turns choices into a :class:`kmslab.bench.Plan`, runs it in a background
thread (so that the progress bar's Cancel button can reach the kernel) and keeps the
:class:`~kmslab.bench.Results`. :func:`conclusions` says what the results mean in words, with
ratios rounded into buckets ("more than 100x faster"), never raw timings.

:class:`BenchPanelView` binds it to three multi-select lists, two checkboxes and a Run button; the
progress bar with its Cancel button appears while a run lasts; then one figure (time against
size, the speed-up, KMS requests and bytes, where the time of one call goes) and its text twin:
the tables of :mod:`kmslab.viz.tables` and the conclusions. Nothing runs until Run is pressed.

:func:`check_round_trip_floor` is the notebook exercise's check.
"""

from __future__ import annotations

import html
import io
import math
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from kmslab.bench import (
    BACKENDS,
    Plan,
    Record,
    Results,
    backend_label,
    chunk_count,
    run,
    speedups,
)
from kmslab.progress import Progress, WidgetProgress

from . import Panel, status_html

__all__ = [
    "BACKEND_CHOICES",
    "RTT_CHOICES",
    "SIZE_CHOICES",
    "BenchPanelModel",
    "BenchPanelView",
    "check_round_trip_floor",
    "conclusions",
    "ratio_bucket",
]

KiB = 1024
MiB = 1024 * 1024

SIZE_CHOICES: tuple[tuple[str, int], ...] = (
    ("4 KiB", 4 * KiB),
    ("64 KiB", 64 * KiB),
    ("1 MiB", MiB),
    ("16 MiB", 16 * MiB),
    ("64 MiB", 64 * MiB),
)
RTT_CHOICES: tuple[tuple[str, float], ...] = (
    ("none added", 0.0),
    ("+2 ms SIMULATED (same AZ)", 2.0),
    ("+20 ms SIMULATED (same Region, busy)", 20.0),
    ("+80 ms SIMULATED (another continent)", 80.0),
)
BACKEND_CHOICES: tuple[tuple[str, str], ...] = tuple((backend_label(b), b) for b in BACKENDS)


def _size(size: int) -> str:
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    if size >= KiB and size % KiB == 0:
        return f"{size // KiB} KiB"
    return f"{size:,} bytes"


def ratio_bucket(ratio: float) -> str:
    """A speed-up in words, rounded into a bucket that does not flicker from run to run."""
    if not math.isfinite(ratio) or ratio >= 100:
        return "more than 100x faster"
    if ratio >= 10:
        return "more than 10x faster"
    if ratio >= 2:
        return "2x to 10x faster"
    if ratio >= 0.5:
        return "about as fast (within 2x)"
    return "slower"


def conclusions(records: Iterable[Record], baseline: str = "direct") -> list[str]:
    """One sentence per backend and round trip, at the largest size measured for both methods."""
    rows = speedups(records, "encrypt", baseline)
    lines = []
    for backend, rtt in dict.fromkeys((s.backend, s.simulated_rtt_ms) for s in rows):
        chosen = [s for s in rows if s.backend == backend and s.simulated_rtt_ms == rtt]
        small, large = min(chosen, key=lambda s: s.size), max(chosen, key=lambda s: s.size)
        where = f"{backend_label(backend)}, " + (
            f"+{rtt:g} ms SIMULATED round trip" if rtt else "no round trip added"
        )
        mark = f" ({baseline} time extrapolated)" if large.extrapolated else ""
        line = (
            f"{where}: envelope vs {baseline} at {_size(large.size)}: "
            f"{ratio_bucket(large.ratio)}{mark}"
        )
        if small.size != large.size:
            line += f"; at {_size(small.size)}: {ratio_bucket(small.ratio)}"
        lines.append(line + ".")
    return lines


def check_round_trip_floor(answer: Any, size: int, rtt_ms: float) -> str:
    """The exercise: the least time direct encryption of ``size`` bytes can take, one call after
    another, when every call waits ``rtt_ms`` of round trip. Within 2 % is "correct"."""
    calls = chunk_count(size)
    floor = calls * rtt_ms / 1000
    try:
        given = float(answer)
    except (TypeError, ValueError):
        return f"not yet: give a number of seconds, not {answer!r}"
    if floor > 0 and abs(given - floor) <= 0.02 * floor:
        return (
            f"correct: {_size(size)} is {calls:,} chunks of 4 KiB, so {calls:,} Encrypt calls; "
            f"one after another, each waits a {rtt_ms:g} ms round trip: at least {floor:,.1f} s "
            f"before KMS does any work. Envelope: 1 GenerateDataKey, 1 round trip "
            f"({rtt_ms / 1000:g} s)."
        )
    return (
        "not yet. Hint: first count the Encrypt calls (one per 4,096 bytes: "
        "bench.chunk_count(size)), then multiply by the round trip in seconds "
        f"({rtt_ms:g} ms = {rtt_ms / 1000:g} s)."
    )


class BenchPanelModel:
    """Choices -> a plan; a run in a background thread; the results it produced."""

    def __init__(self, *, seed: int = 7) -> None:
        self.seed = seed
        self.results: Results | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.progress: Progress | None = None

    def plan(
        self,
        sizes: Sequence[int],
        backends: Sequence[str],
        rtts_ms: Sequence[float],
        *,
        quick: bool = True,
        throttling: bool = False,
    ) -> Plan:
        """The plan for these choices (quick: direct runs capped at 0.25 s, then extrapolated).

        Raises:
            ValueError: nothing chosen in one of the lists.
        """
        for what, chosen in (("size", sizes), ("backend", backends), ("round trip", rtts_ms)):
            if not chosen:
                raise ValueError(f"choose at least one {what}")
        changes: dict[str, Any] = {
            "sizes": tuple(sorted(set(sizes))),
            "backends": tuple(b for b in BACKENDS if b in backends),
            "rtts_ms": tuple(sorted(set(rtts_ms))),
            "throttling": throttling,
            "seed": self.seed,
        }
        return Plan.quick_plan(**changes) if quick else Plan.full_plan(**changes)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, plan: Plan, progress: Progress, on_done: Any = None) -> threading.Thread:
        """Run ``plan`` in a background thread; ``on_done(model)`` runs in it when it ends."""
        if self.running:
            raise RuntimeError("a benchmark is already running: wait for it, or cancel it")
        self.results, self.error, self.progress = None, None, progress

        def work() -> None:
            try:
                self.results = run(plan, progress=progress)
            except Exception as error:  # shown by the view; the panel keeps working
                self.error = error
            if on_done is not None:
                on_done(self)

        self.thread = threading.Thread(target=work, name="kmslab-bench-panel", daemon=True)
        self.thread.start()
        return self.thread

    def wait(self, timeout: float | None = None) -> Results | None:
        """Wait for the run; returns its results (None if it failed: see ``error``)."""
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                raise TimeoutError("the benchmark is still running")
        return self.results


def results_png(results: Results, dpi: int = 80) -> bytes:
    """One figure of the results: time against size and the speed-up (largest simulated round
    trip), KMS requests and bytes, where the time of one call goes. PNG bytes."""
    from matplotlib.figure import Figure

    from kmslab.viz import (
        plot_breakdown,
        plot_bytes,
        plot_calls,
        plot_speedup,
        plot_time_vs_size,
    )

    records = results.records
    rtt = max((r.simulated_rtt_ms for r in records), default=0.0)
    backend = records[0].backend if records else None
    figure = Figure(figsize=(12, 12), layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=(1, 1, 0.8))
    plot_time_vs_size(
        figure.add_subplot(grid[0, 0]),
        records,
        backend=backend,
        simulated_rtt_ms=rtt,
        legend="below",
    )
    plot_speedup(figure.add_subplot(grid[0, 1]), records, simulated_rtt_ms=rtt, legend="below")
    plot_calls(figure.add_subplot(grid[1, 0]), records, legend="below")
    plot_bytes(figure.add_subplot(grid[1, 1]), records, legend="below")
    plot_breakdown(figure.add_subplot(grid[2, :]), results.breakdown)
    figure.suptitle("Round trips are SIMULATED (a sleep before every KMS request)", fontsize=10)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()


def results_text(results: Results) -> str:
    """The text twin of :func:`results_png`: the conclusions and every table."""
    from kmslab.viz import (
        breakdown_table,
        calls_table,
        format_table,
        speedup_table,
        throttling_table,
        time_table,
    )

    parts = ["\n".join(["Conclusions:", *(f"- {c}" for c in conclusions(results.records))])]
    parts.append(format_table(speedup_table(results.records), "Envelope vs direct (encrypt)"))
    parts.append(format_table(time_table(results.records), "Time to encrypt"))
    parts.append(format_table(calls_table(results.records), "KMS requests and bytes (encrypt)"))
    parts.append(format_table(breakdown_table(results.breakdown), "Where the time goes (ms)"))
    if results.throttling:
        parts.append(format_table(throttling_table(results.throttling), "Request quota"))
    parts.append("\n".join(results.notes))
    if results.cancelled:
        parts.insert(0, "CANCELLED: partial results.")
    return "\n\n".join(parts)


def _pre(text: str) -> str:
    return f'<pre style="font-size:11px;line-height:1.3">{html.escape(text)}</pre>'


class BenchPanelView:
    """The panel's controls over a :class:`BenchPanelModel`; see the module docstring."""

    def __init__(self, model: BenchPanelModel | None = None) -> None:
        self.model = model or BenchPanelModel()
        layout = widgets.Layout(width="300px", height="110px")
        style = {"description_width": "initial"}
        self.sizes = widgets.SelectMultiple(
            options=list(SIZE_CHOICES),
            value=(4 * KiB, MiB),
            description="Sizes",
            tooltip="Plaintext sizes to encrypt (Ctrl/Shift-click to choose several)",
            layout=widgets.Layout(width="200px", height="110px"),
            style=style,
        )
        self.backends = widgets.SelectMultiple(
            options=list(BACKEND_CHOICES),
            value=("local", "moto"),
            description="Backends",
            tooltip="Who answers the KMS calls (each runs the same boto3 code)",
            layout=layout,
            style=style,
        )
        self.rtts = widgets.SelectMultiple(
            options=list(RTT_CHOICES),
            value=(0.0, 20.0),
            description="Round trip (SIMULATED)",
            tooltip="A sleep added before every KMS request: a pretend network, not a real one",
            # wide enough for "+80 ms SIMULATED (another continent)" beside its description
            layout=widgets.Layout(width="480px", height="110px"),
            style=style,
        )
        self.quick = widgets.Checkbox(
            value=True,
            description="Quick: stop direct runs after 0.25 s and extrapolate the rest",
            style=style,
            layout=widgets.Layout(width="auto"),
        )
        self.throttling = widgets.Checkbox(
            value=False,
            description="Also run the request-quota (throttling) scenarios",
            style=style,
            layout=widgets.Layout(width="auto"),
        )
        self.run_button = widgets.Button(
            description="Run benchmark",
            tooltip="Start measuring (Cancel appears beside the progress bar)",
            icon="play",
        )
        self.estimate = widgets.Label(value="")
        self.progress_box = widgets.Box()
        # Hidden until a run has drawn it: an empty Image shows as a broken picture.
        self.image = widgets.Image(
            format="png", layout=widgets.Layout(max_width="100%", display="none")
        )
        self.tables = widgets.HTML()
        self.panel = Panel()
        self.run_button.on_click(self._run_clicked)
        for control in (self.sizes, self.backends, self.rtts, self.quick, self.throttling):
            control.observe(self.panel.guard(self._update_estimate), names="value")
        self._update_estimate()

    def chosen_plan(self) -> Plan:
        return self.model.plan(
            self.sizes.value,
            self.backends.value,
            self.rtts.value,
            quick=self.quick.value,
            throttling=self.throttling.value,
        )

    def _update_estimate(self, _change: Any = None) -> None:
        try:
            plan = self.chosen_plan()
        except ValueError as error:
            self.estimate.value = f"Cannot run yet: {error}."
            self.run_button.disabled = True
            return
        self.run_button.disabled = self.model.running
        self.estimate.value = (
            f"{plan.steps()} steps; direct runs stop after {plan.direct_cap_seconds:g} s each "
            "and the rest is extrapolated (marked ~)."
        )

    def _run_clicked(self, _button: Any = None) -> None:
        # Not Panel.guard: it clears last_error after the callback returns, and the run's own
        # thread may already have reported an error by then.
        self.panel.last_error = None
        try:
            self._run()
        except Exception as error:  # shown to the learner; the panel keeps working
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        self.panel.last_error = f"{type(error).__name__}: {error}"
        self.panel.show(False, self.panel.last_error)
        self.run_button.disabled = False

    def _run(self) -> None:
        plan = self.chosen_plan()
        bar = WidgetProgress()
        self.progress_box.children = (bar.widget,)
        self.run_button.disabled = True
        self.panel.show(True, "running: press Cancel to stop after the current step")
        self.model.start(plan, bar, on_done=self._show)

    def _show(self, model: BenchPanelModel) -> None:
        """Runs in the benchmark's thread when it ends: widget values are safe to set here."""
        try:
            if model.error is not None:
                self._fail(model.error)
                return
            results = model.results
            if results is None:
                return
            self.image.value = results_png(results)
            self.image.layout.display = None
            self.tables.value = _pre(results_text(results))
            state = "cancelled: partial results" if results.cancelled else "done"
            self.panel.show(True, f"{state}: {len(results.records)} measurements")
        except Exception as error:  # a drawing failure is shown, never lost
            self._fail(error)
        finally:
            self.run_button.disabled = False

    def wait(self, timeout: float | None = None) -> Results | None:
        """Wait for a run started with the button (tests and scripts)."""
        results = self.model.wait(timeout)
        return results

    def widget(self) -> widgets.Widget:
        self.panel.html.value = self.panel.html.value or status_html(
            True, "choose, then press Run benchmark"
        )
        return widgets.VBox(
            [
                widgets.HBox(  # the lists wrap onto a second line in a narrow notebook
                    [self.sizes, self.backends, self.rtts],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.quick,
                self.throttling,
                widgets.HBox([self.run_button, self.estimate]),
                self.progress_box,
                self.panel.html,
                self.image,
                self.tables,
            ]
        )
