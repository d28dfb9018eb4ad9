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

__all__ = ["Panel", "status_html"]


def status_html(ok: bool, text: str) -> str:
    """A result line: a word and a symbol, not only a colour."""
    mark, word, colour = ("✔", "OK", "#1b7837") if ok else ("✘", "Error", "#b2182b")
    return (
        f'<div role="status" style="font-family:monospace;color:{colour}">'
        f"{mark} <b>{word}</b>: {html.escape(text)}</div>"
    )


class Panel:
    """A result area that shows what a callback produced, or the error it raised."""

    def __init__(self) -> None:
        self.html = widgets.HTML(value="", description="")
        self.last_error: str | None = None

    def show(self, ok: bool, text: str) -> None:
        self.html.value = status_html(ok, text)

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
