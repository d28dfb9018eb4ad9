"""The benchmark panel, driven without a browser: choices, Run, Cancel, results as text."""

from __future__ import annotations

import pytest

from kmslab.bench import Plan, Record
from kmslab.progress import Progress, WidgetProgress
from kmslab.ui import clipped_labels
from kmslab.ui.bench import (
    BenchPanelModel,
    BenchPanelView,
    check_round_trip_floor,
    conclusions,
    ratio_bucket,
)

KiB, MiB = 1024, 1024 * 1024


def _record(size: int, method: str, seconds: float, rtt: float = 0.0) -> Record:
    return Record(
        size=size,
        method=method,
        operation="encrypt",
        backend="local",
        simulated_rtt_ms=rtt,
        seconds=seconds,
        calls=1,
        bytes_sent=0,
        bytes_received=0,
        status="measured",
    )


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (250.0, "more than 100x faster"),
        (float("inf"), "more than 100x faster"),
        (12.0, "more than 10x faster"),
        (3.0, "2x to 10x faster"),
        (0.9, "about as fast (within 2x)"),
        (0.2, "slower"),
    ],
)
def test_ratio_buckets(ratio: float, words: str) -> None:
    assert ratio_bucket(ratio) == words


def test_conclusions_speak_in_buckets_per_backend_and_round_trip() -> None:
    records = [
        _record(4 * KiB, "direct", 0.002),
        _record(4 * KiB, "envelope", 0.002),
        _record(MiB, "direct", 0.5),
        _record(MiB, "envelope", 0.004),
        _record(MiB, "direct", 5.2, rtt=20),
        _record(MiB, "envelope", 0.03, rtt=20),
    ]
    assert conclusions(records) == [
        "kmslab in-process, no round trip added: envelope vs direct at 1 MiB: more than 100x "
        "faster; at 4 KiB: about as fast (within 2x).",
        "kmslab in-process, +20 ms SIMULATED round trip: envelope vs direct at 1 MiB: more than "
        "100x faster.",
    ]


def test_the_round_trip_exercise() -> None:
    assert check_round_trip_floor(81.92, 16 * MiB, 20).startswith("correct: 16 MiB is 4,096")
    assert check_round_trip_floor("81.9", 16 * MiB, 20).startswith("correct")
    assert check_round_trip_floor(0.02, 16 * MiB, 20).startswith("not yet. Hint")
    assert "number of seconds" in check_round_trip_floor(None, 16 * MiB, 20)


def test_choices_become_a_plan_and_empty_choices_are_refused() -> None:
    model = BenchPanelModel(seed=3)
    plan = model.plan([MiB, 4 * KiB], ["moto", "local"], [20.0, 0.0])
    assert plan.sizes == (4 * KiB, MiB) and plan.backends == ("local", "moto")
    assert plan.rtts_ms == (0.0, 20.0) and plan.quick and plan.seed == 3
    assert not model.plan([KiB], ["local"], [0.0], quick=False).quick
    with pytest.raises(ValueError, match="at least one size"):
        model.plan([], ["local"], [0.0])


def test_the_view_shows_an_estimate_and_refuses_nothing_chosen() -> None:
    view = BenchPanelView()
    for control in (view.sizes, view.backends, view.rtts, view.quick, view.throttling):
        assert control.description
    assert clipped_labels(view.widget()) == []
    assert "steps" in view.estimate.value and not view.run_button.disabled
    view.backends.value = ()
    assert view.run_button.disabled and "choose at least one backend" in view.estimate.value
    view.backends.value = ("local",)
    assert not view.run_button.disabled
    assert view.model.results is None  # changing choices runs nothing


def test_run_shows_a_figure_and_its_text_twin() -> None:
    view = BenchPanelView()
    view.sizes.value = (4 * KiB, 64 * KiB)
    view.backends.value = ("local",)
    view.rtts.value = (0.0,)
    assert view.image.layout.display == "none"  # no broken picture before the first run
    view.run_button.click()
    assert view.run_button.disabled and view.progress_box.children  # the bar and its Cancel
    bar = view.model.progress
    assert isinstance(bar, WidgetProgress)
    assert bar.button.layout.display is None  # Cancel is there while the run lasts
    results = view.wait(timeout=120)
    assert results is not None and not results.cancelled
    # The run is over: Cancel is gone (not merely disabled and still orange), the bar's label
    # reads in full, and the status says "done" once with one time.
    assert bar.button.disabled and bar.button.layout.display == "none"
    assert clipped_labels(bar.widget) == [] and bar.bar.description == "kmslab bench"
    label = bar.label.value
    assert label.endswith("done") and label.count(" in ") == 1 and label.count("done") == 1
    assert len(results.records) == 2 * 3 * 2  # sizes x methods x (encrypt, decrypt)
    assert bytes(view.image.value).startswith(b"\x89PNG") and view.image.layout.display is None
    text = view.tables.value
    assert "Conclusions:" in text and "speed-up" in text and "SIMULATED" in text
    assert "done: 12 measurements" in view.panel.html.value and not view.run_button.disabled


def test_cancel_keeps_what_was_measured() -> None:
    view = BenchPanelView()
    view.backends.value = ("local",)
    view.sizes.value = (4 * KiB, 64 * KiB, MiB)
    view.rtts.value = (0.0, 2.0)
    view.run_button.click()
    bar = view.model.progress
    assert bar is not None
    bar.cancel()  # what the Cancel button does
    results = view.wait(timeout=120)
    assert results is not None and results.cancelled
    assert "CANCELLED" in view.tables.value and "cancelled" in view.panel.html.value
    assert isinstance(bar, WidgetProgress) and bar.button.layout.display == "none"
    assert bar.label.value.count("cancelled") == 1 and bar.label.value.count(" s") == 1


def test_a_failing_run_is_shown_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import kmslab.ui.bench as panel

    def broken(plan: Plan, progress: Progress) -> None:
        raise RuntimeError("backend would not start")

    monkeypatch.setattr(panel, "run", broken)
    view = BenchPanelView()
    view.run_button.click()
    view.wait(timeout=30)
    assert view.panel.last_error == "RuntimeError: backend would not start"
    assert "Error" in view.panel.html.value and not view.run_button.disabled


def test_only_one_run_at_a_time() -> None:
    model = BenchPanelModel()
    plan = model.plan([4 * KiB], ["local"], [0.0])
    progress = Progress()
    model.start(plan, progress)
    try:
        with pytest.raises(RuntimeError, match="already running"):
            model.start(plan, Progress())
    finally:
        progress.cancel()
        model.wait(timeout=60)
