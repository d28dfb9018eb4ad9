"""Progress for long runs: a text bar in a terminal, a widget with a Cancel button in a notebook.

Every progress object carries a cancel flag (a :class:`threading.Event`): long-running code
checks ``progress.cancelled`` between steps and stops cleanly when it is set, keeping what it
has. ``progress.cancel()`` sets it; so does the widget's Cancel button, and Ctrl-C in a terminal
run of ``kmslab bench`` (which then saves what was measured).

    with progress_bar() as bar:          # the right kind for where the code runs
        bar.start(total=10, description="measuring")
        for step in steps:
            if bar.cancelled: break
            ...
            bar.advance(note="moto, 1 MiB")

A button click reaches the kernel only while no cell is running, so in a notebook the work must
run in a background thread for Cancel to work: :func:`kmslab.bench.start` does that.

ipywidgets is imported only when a :class:`WidgetProgress` is made (never at ``import kmslab``).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

__all__ = [
    "Progress",
    "TextProgress",
    "WidgetProgress",
    "in_notebook",
    "progress_bar",
    "render_bar",
]


class Progress:
    """Counts steps and carries the cancel flag; draws nothing (subclasses draw)."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.total = 0
        self.done = 0
        self.description = ""
        self.note = ""
        self.started = time.monotonic()
        self.closed = False

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the running work to stop at its next step."""
        self.cancel_event.set()
        self._draw()

    def start(self, total: int, description: str = "") -> None:
        self.total, self.done, self.description = max(0, total), 0, description
        self.started = time.monotonic()
        self.closed = False
        self._draw()

    def advance(self, steps: int = 1, note: str | None = None) -> None:
        self.done = min(self.total, self.done + steps) if self.total else self.done + steps
        if note is not None:
            self.note = note
        self._draw()

    def set_note(self, note: str) -> None:
        """Say what is running now, without counting a step."""
        self.note = note
        self._draw()

    def close(self, note: str | None = None) -> None:
        if note is not None:
            self.note = note
        self.closed = True
        self._draw()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _draw(self) -> None:
        """Subclasses show the state; the base class shows nothing."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self.closed:
            self.close()


def render_bar(done: int, total: int, width: int = 28) -> str:
    """``[#######.....]  12/40  30%``: a plain-ASCII bar (works in every terminal and log)."""
    if total <= 0:
        return f"[{'.' * width}]  {done}"
    fraction = min(1.0, max(0.0, done / total))
    filled = round(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>4}/{total:<4} {fraction:4.0%}"


class TextProgress(Progress):
    """A one-line bar redrawn in place on a terminal; on a pipe or file, one line per step."""

    def __init__(self, stream: IO[str] | None = None, width: int = 28) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self._last_line = ""

    def line(self) -> str:
        state = " cancelled" if self.cancelled else ""
        head = f"{self.description}: " if self.description else ""
        return (
            f"{head}{render_bar(self.done, self.total, self.width)} "
            f"{self.elapsed:5.1f}s{state}  {self.note}"
        ).rstrip()

    def _draw(self) -> None:
        text = self.line()
        if text == self._last_line and not self.closed:
            return
        self._last_line = text
        if self.interactive:
            end = "\n" if self.closed else ""
            self.stream.write("\r\x1b[2K" + text + end)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class WidgetProgress(Progress):
    """An ipywidgets bar, a label and a Cancel button (for Jupyter).

    Display it with ``display(progress.widget)`` (or let :func:`kmslab.bench.start` do it).
    """

    def __init__(self) -> None:
        super().__init__()
        import ipywidgets as widgets

        self.bar = widgets.IntProgress(
            value=0,
            min=0,
            max=1,
            description="",
            bar_style="info",
            layout={"width": "40%"},
            style={"description_width": "initial"},  # "kmslab bench" reads in full
        )
        self.label = widgets.Label(value="")
        self.button = widgets.Button(
            description="Cancel",
            tooltip="stop after the current step; what was measured is kept",
            icon="stop",
            button_style="warning",
        )
        self.button.on_click(lambda _button: self.cancel())
        self.widget = widgets.HBox([self.bar, self.button, self.label])

    def _draw(self) -> None:
        self.bar.max = max(1, self.total)
        self.bar.value = min(self.done, self.bar.max)
        self.bar.description = self.description[:20]
        state = "cancelled; " if self.cancelled and not self.closed else ""
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        self.label.value = f"{state}{count} in {self.elapsed:.1f} s  {self.note}".rstrip()
        if self.cancelled:
            self.bar.bar_style = "warning"
            self.button.disabled = True
        elif self.closed:
            self.bar.bar_style = "success"
            self.button.disabled = True
        # Once the run is over, Cancel goes: a disabled orange button still looks pressable.
        self.button.layout.display = "none" if self.closed else None

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a notebook front end
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (checked without importing IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell: Any = getattr(ipython, "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_bar(stream: IO[str] | None = None) -> Progress:
    """A :class:`WidgetProgress` in a notebook (when ipywidgets imports), else a text bar."""
    if in_notebook():
        try:
            return WidgetProgress()
        except ImportError:
            pass
    return TextProgress(stream)
