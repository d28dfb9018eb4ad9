"""kmslab.progress: the text bar, the notebook widget and its Cancel button."""

from __future__ import annotations

import io

from kmslab import bench
from kmslab.progress import Progress, TextProgress, WidgetProgress, progress_bar, render_bar


def test_render_bar() -> None:
    assert render_bar(0, 4, width=8) == "[........]    0/4      0%"
    assert render_bar(2, 4, width=8) == "[####....]    2/4     50%"
    assert render_bar(9, 4, width=8).startswith("[########]")
    assert render_bar(3, 0, width=4) == "[....]  3"


def test_text_progress_on_a_pipe_writes_one_line_per_step() -> None:
    out = io.StringIO()
    with TextProgress(out, width=10) as bar:
        bar.start(3, "measuring")
        bar.advance(note="moto, 4 KiB")
        bar.advance(note="moto, 64 KiB")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("measuring: [..........]    0/3")
    assert "1/3" in lines[1] and lines[1].endswith("moto, 4 KiB")
    assert "2/3" in lines[-1]
    assert "\r" not in out.getvalue()


def test_text_progress_on_a_terminal_redraws_in_place() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = TextProgress(out)
    bar.start(2)
    bar.advance()
    bar.close("done")
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 3 and text.endswith("done\n")


def test_cancel_sets_the_flag_and_shows() -> None:
    out = io.StringIO()
    bar = TextProgress(out)
    bar.start(5)
    assert not bar.cancelled
    bar.cancel()
    assert bar.cancelled and bar.cancel_event.is_set()
    assert "cancelled" in out.getvalue().splitlines()[-1]


def test_widget_progress_cancel_button_stops_the_run() -> None:
    bar = WidgetProgress()
    bar.start(4, "bench")
    bar.advance(note="moto")
    assert bar.bar.value == 1 and bar.bar.max == 4 and "1/4" in bar.label.value
    assert bar.button.description == "Cancel" and bar.button.tooltip
    bar.button.click()
    assert bar.cancelled and bar.button.disabled and "cancelled" in bar.label.value
    results = bench.run(bench.Plan.quick_plan(throttling=False), progress=bar)
    assert results.cancelled and results.records == []


def test_widget_progress_closes_green() -> None:
    bar = WidgetProgress()
    bar.start(1)
    bar.advance()
    bar.close("done")
    assert bar.bar.bar_style == "success" and bar.button.disabled


def test_outside_a_notebook_the_bar_is_text() -> None:
    assert isinstance(progress_bar(io.StringIO()), TextProgress)
    base = Progress()
    base.start(2)
    base.advance(5)
    assert base.done == 2
