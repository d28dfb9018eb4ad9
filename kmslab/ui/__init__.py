"""Widgets for the notebooks: small ipywidgets views over pure view-models.

The pattern, one module per topic::

    class LimitModel:            # pure: takes a boto3 client, returns data and messages
        def try_size(self, n) -> Attempt: ...

    class LimitView:             # ipywidgets: controls with descriptions, a button, an Output
        def __init__(self, model): ...
        def widget(self) -> ipywidgets.Widget: ...

Rules (DESIGN.md): calls that reach KMS run on a button, never per slider tick; every control
has a description; results are text, never colour alone; an error in a callback is shown in
the view (:class:`Panel` does it), never swallowed. Tests drive views without a browser:
``view.slider.value = 4097; view.button.click(); view.model.last``.

``import kmslab`` never imports this package (nor ipywidgets).
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

__all__ = ["Panel", "clipped_labels", "pre_html", "status_html"]


def status_html(ok: bool, text: str, word: str | None = None) -> str:
    """A result line: a word and a symbol, not only a colour.

    ``word`` names the outcome ("Right", "Not quite", "Rejected"); by default "OK" or "Error".
    A long line wraps inside its box (it never runs under a neighbouring column)."""
    mark, default, colour = ("✔", "OK", "#1b7837") if ok else ("✘", "Error", "#b2182b")
    return (
        f'<div role="status" style="font-family:monospace;color:{colour};line-height:1.4;'
        f'white-space:pre-wrap;overflow-wrap:anywhere">'
        f"{mark} <b>{html.escape(word or default)}</b>: {html.escape(text)}</div>"
    )


def pre_html(text: str, *, wrap: bool = False, size: str = "12px", title: str = "") -> str:
    """``text`` in a monospace block. ``wrap=False`` (tables) keeps every row on one line and
    scrolls sideways when the cell is narrower; ``wrap=True`` (code, JSON, logs) breaks long
    lines inside the box instead of letting them run out of it."""
    space = "pre-wrap;overflow-wrap:anywhere" if wrap else "pre;overflow-x:auto"
    head = f"<b>{html.escape(title)}</b>" if title else ""
    return (
        f'{head}<pre style="font-size:{size};line-height:1.3;margin:2px 0 8px 0;'
        f'white-space:{space};max-width:100%">{html.escape(text)}</pre>'
    )


# What the default widget widths leave for a description (JupyterLab's ipywidgets CSS), and a
# generous width per character of its 13px sans-serif font: a label longer than this is cut
# off with an ellipsis ("Schedule delet...") unless the view gives it room.
_CHAR_PX = 8.0
_LABEL_PX = 80.0  # --jp-widgets-inline-label-width
_BUTTON_PX = 148.0  # --jp-widgets-inline-width-short
_INLINE_PX = 300.0  # --jp-widgets-inline-width (a Checkbox)
_ICON_PX = 18.0
_PADDING_PX = 16.0
_FITS = ("auto", "initial", "max-content", "fit-content")


def _px(value: Any, default: float) -> float | None:
    """A CSS width in pixels; None when it sizes to its content or is relative."""
    if value in (None, ""):
        return default
    text = str(value).strip()
    if text in _FITS:
        return None
    if text.endswith("px"):
        try:
            return float(text[:-2])
        except ValueError:
            return None
    return None  # %, em, calc(...): relative to the page, not judged here


def _children(root: widgets.Widget) -> list[widgets.Widget]:
    out: list[widgets.Widget] = []
    stack = [root]
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(reversed(list(getattr(w, "children", ()) or ())))
    return out


def clipped_labels(root: widgets.Widget) -> list[str]:
    """Every description in the widget tree ``root`` that would be cut off at its width.

    Buttons are 148 px wide unless their layout says otherwise; descriptions in front of a
    control get 80 px unless ``style={"description_width": "initial"}``; a Checkbox is 300 px
    wide. Each entry says which widget and why; an empty list means every label reads fully."""
    found = []
    for w in _children(root):
        text = str(getattr(w, "description", "") or "")
        if not text or isinstance(w, widgets.HTML | widgets.HTMLMath | widgets.Label):
            continue
        name = type(w).__name__
        layout_width = getattr(getattr(w, "layout", None), "width", None)
        if isinstance(w, widgets.Button | widgets.ToggleButton):
            room = _px(layout_width, _BUTTON_PX)
            need = len(text) * _CHAR_PX + _PADDING_PX + (_ICON_PX if w.icon else 0)
        elif isinstance(w, widgets.Checkbox):
            room = _px(layout_width, _INLINE_PX)
            need = len(text) * _CHAR_PX + 20 + (_LABEL_PX if w.indent else 0)
        else:
            style = getattr(w, "style", None)
            room = _px(getattr(style, "description_width", None), _LABEL_PX)
            need = len(text) * _CHAR_PX
        if room is not None and need > room:
            found.append(f"{name} {text!r}: needs ~{need:.0f} px, has {room:.0f} px")
    return found


class Panel:
    """A result area that shows what a callback produced, or the error it raised."""

    def __init__(self) -> None:
        self.html = widgets.HTML(value="", description="")
        self.last_error: str | None = None

    def show(self, ok: bool, text: str, word: str | None = None) -> None:
        self.html.value = status_html(ok, text, word)

    def guard(self, callback: Callable[..., Any]) -> Callable[..., None]:
        """Wrap a widget callback so that an exception is displayed, never lost."""

        def run(*args: Any, **kwargs: Any) -> None:
            try:
                callback(*args, **kwargs)
                self.last_error = None
            except Exception as exc:  # shown to the learner; the view keeps working
                self.last_error = "".join(traceback.format_exception_only(type(exc), exc))
                self.show(False, f"{type(exc).__name__}: {exc}")

        return run
