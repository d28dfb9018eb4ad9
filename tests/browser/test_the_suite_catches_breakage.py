"""The browser suite's checks fail when a widget breaks: shown on notebooks broken on purpose.

Written into the test server's scratch root (never into notebooks/), each broken cell is one
way a lesson can go wrong in the browser while nbval, which only sees the kernel, stays green:
a widget whose front-end view does not exist, a widget closed before it could render, a view
object displayed instead of its widget (so the slider never appears), an exception in a
button's callback (shown in the widget's result line, or only in JupyterLab's log console), a
traceback inside an Output widget, and a cell that fails and stops Run All.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from . import learner
from .jupyterlab_driver import Lab, NotebookPage

pytestmark = pytest.mark.browser

BROKEN_WIDGETS = [
    # 0: set-up
    "import ipywidgets as widgets\n"
    "from traitlets import Unicode\n"
    "import kmslab\n"
    "from kmslab.ui.limit import LimitModel, LimitView\n"
    "kms = kmslab.LocalKms(seed=1).client()\n"
    'key_id = kms.create_key()["KeyMetadata"]["KeyId"]',
    # 1: a model whose view class the front end does not have
    "class NoSuchView(widgets.DOMWidget):\n"
    '    _view_name = Unicode("NoSuchView").tag(sync=True)\n'
    '    _view_module = Unicode("@jupyter-widgets/controls").tag(sync=True)\n'
    "    _view_module_version = Unicode(widgets.Button()._view_module_version).tag(sync=True)\n"
    "\n"
    "NoSuchView()",
    # 2: a widget closed right after it was displayed: its view never appears
    'gone = widgets.IntSlider(description="gone")\ndisplay(gone)\ngone.close()',
    # 3: the view object, not its widget: the 4 KB slider never renders
    "LimitView(LimitModel(kms, key_id))",
    # 4: a view whose callback raises (no client): the result line shows the exception
    "LimitView(LimitModel(None, key_id)).widget()",
    # 5: a bare callback that raises: the traceback goes to the log console only
    'boom = widgets.Button(description="Boom")\nboom.on_click(lambda _b: 1 / 0)\nboom',
    # 6: a traceback inside an Output widget
    "out = widgets.Output()\n"
    "display(out)\n"
    "with out:\n"
    '    raise ValueError("inside an Output widget")',
    # 7: the end
    'print("the last cell ran")',
]

STOPS = ['print("first")', 'raise RuntimeError("a lesson cell fails")', 'print("never")']


def write_notebook(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def broken(lab: Lab) -> Iterator[NotebookPage]:
    write_notebook(lab.server.root / "broken" / "broken_widgets.ipynb", BROKEN_WIDGETS)
    page = lab.open("broken/broken_widgets.ipynb")
    try:
        page.run_all(render_timeout=5_000)  # one widget never renders: no need to wait long
        yield page
    finally:
        page.close()


def matching(problems: list[str], cell: int, words: str) -> list[str]:
    return [p for p in problems if p.startswith(f"cell {cell} ") and words in p]


def test_a_view_the_front_end_cannot_make_is_reported(broken: NotebookPage) -> None:
    problems = broken.problems()
    assert matching(problems, 1, "a widget failed to render"), problems
    assert any("NoSuchView" in p for p in problems), problems  # the widget manager's reason


def test_a_widget_that_never_appears_is_reported(broken: NotebookPage) -> None:
    problems = broken.problems()
    gone = matching(problems, 2, "rendered in the page") + matching(problems, 2, "render")
    assert gone, problems


def test_the_slider_check_fails_where_no_slider_renders(
    broken: NotebookPage, artifacts: Path
) -> None:
    with pytest.raises(AssertionError, match="shows no widget"):
        learner.encrypt_at_the_limit(broken, artifacts, cell=r"^LimitView\(LimitModel\(kms")
    with pytest.raises(AssertionError, match="no cell matches"):
        learner.encrypt_at_the_limit(broken, artifacts, cell=r"NotInThisNotebook\(")


def test_an_exception_in_a_view_callback_is_reported(broken: NotebookPage) -> None:
    assert not matching(broken.problems(), 4, "exception")
    output = broken.widget_cell(r"LimitModel\(None")
    broken.settle(learner.button(output, "Encrypt").click)
    found = matching(broken.problems(), 4, "a widget's result shows an exception")
    assert found and "AttributeError" in found[0], broken.problems()


def test_a_traceback_only_in_the_log_console_is_reported(broken: NotebookPage) -> None:
    output = broken.widget_cell(r"Button\(description=\"Boom\"\)")
    broken.settle(learner.button(output, "Boom").click)
    found = [p for p in broken.problems() if p.startswith("log console")]
    assert found and "ZeroDivisionError" in found[0], broken.problems()


def test_a_traceback_in_an_output_widget_is_reported(broken: NotebookPage) -> None:
    assert matching(broken.problems(), 6, "an Output widget shows an error"), broken.problems()


def test_the_rest_of_the_broken_notebook_ran(broken: NotebookPage) -> None:
    problems = broken.problems()
    assert not [p for p in problems if "did not run" in p], problems
    assert broken.run_result == "done"


def test_a_failing_cell_stops_run_all_and_is_reported(lab: Lab) -> None:
    write_notebook(lab.server.root / "broken" / "stops.ipynb", STOPS)
    page = lab.open("broken/stops.ipynb")
    try:
        page.run_all()
        problems = page.problems()
    finally:
        page.close()
    assert problems[0] == "Run All Cells ended with: stopped", problems
    assert matching(problems, 1, "error output RuntimeError: a lesson cell fails"), problems
    assert matching(problems, 2, "did not run"), problems
