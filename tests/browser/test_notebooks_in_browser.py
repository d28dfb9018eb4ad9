"""Every notebook in notebooks/ opens in JupyterLab, runs top to bottom in the browser, and
shows no error: no error output, no traceback on the page or in an Output widget, every
widget rendered, nothing in JupyterLab's log console. Then every button of every widget is
pressed once and the page is checked again (a traceback in a callback only shows there).

Pictures go to test-artifacts/browser/: <notebook>.png (the window at the first widget, or at
the end, after Run All), <notebook>-full.png (the whole notebook, the window grown to its
height) and <notebook>-after-buttons.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .jupyterlab_driver import NOTEBOOKS, Lab
from .learner import press_every_button

pytestmark = pytest.mark.browser

ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
#: Notebooks whose widgets test_widgets_in_browser.py operates afterwards: kept open.
KEEP_OPEN = ("02_", "04_", "05_", "06_", "10_")


@pytest.mark.parametrize("notebook", ALL, ids=[path.stem for path in ALL])
def test_the_notebook_runs_in_jupyterlab(notebook: Path, lab: Lab, artifacts: Path) -> None:
    nb = lab.ran(notebook)
    following = ALL.index(notebook) + 1
    if following < len(ALL):
        lab.preload(ALL[following])  # JupyterLab starts on it while this one is checked
    try:
        widgets = nb.widget_indices()
        nb.screenshot(artifacts, "", nb.cell(widgets[0]) if widgets else None)
        nb.full_screenshot(artifacts)
        after_run = nb.problems()
        assert not after_run, f"{notebook.name} after Run All:\n  " + "\n  ".join(after_run)
        pressed = press_every_button(nb)
        if pressed:
            nb.screenshot(artifacts, "after-buttons", nb.cell(widgets[0]))
        after_clicks = nb.problems()
        assert not after_clicks, (
            f"{notebook.name} after pressing {pressed}:\n  " + "\n  ".join(after_clicks)
        )
    finally:
        if not notebook.name.startswith(KEEP_OPEN):
            lab.close(notebook)
