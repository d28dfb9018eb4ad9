"""The lessons' key widgets, operated in JupyterLab as a learner would, mouse and keyboard.

Each test skips, saying so, while its notebook has not been written yet; once the notebook
exists the widget must be there and answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from . import learner
from .jupyterlab_driver import Lab, NotebookPage

pytestmark = pytest.mark.browser

T = TypeVar("T")


def ran(lab: Lab, prefix: str, widget: str) -> NotebookPage:
    notebook = lab.find(prefix)
    if notebook is None:
        pytest.skip(f"notebooks/{prefix}*.ipynb is not written yet: no {widget} to operate")
    nb = lab.ran(notebook)
    problems = nb.problems()
    assert not problems, f"{notebook.name} does not run cleanly:\n  " + "\n  ".join(problems)
    return nb


def operate(nb: NotebookPage, artifacts: Path, what: Callable[[NotebookPage, Path], T]) -> T:
    """Run one learner's move; on failure keep a picture of the window as it was."""
    try:
        return what(nb, artifacts)
    except BaseException:
        nb.screenshot(artifacts, f"FAILED-{what.__name__}")
        raise


def no_problems(nb: NotebookPage) -> None:
    problems = nb.problems()
    assert not problems, f"{nb.path} after operating its widget:\n  " + "\n  ".join(problems)


def test_the_4kb_slider_says_ok_then_validation_exception(lab: Lab, artifacts: Path) -> None:
    nb = ran(lab, "04_", "4 KB slider")
    operate(nb, artifacts, learner.encrypt_at_the_limit)
    no_problems(nb)


def test_the_key_wizard_creates_a_key_end_to_end(lab: Lab, artifacts: Path) -> None:
    nb = ran(lab, "02_", "key-creation wizard")
    line = operate(nb, artifacts, learner.create_a_key_with_the_wizard)
    assert "alias/myWidgetKey" in line or "created" in line
    no_problems(nb)


def test_the_envelope_stepper_steps(lab: Lab, artifacts: Path) -> None:
    nb = ran(lab, "05_", "envelope stepper")
    operate(nb, artifacts, learner.step_through_the_envelope)
    no_problems(nb)


def test_the_time_machine_moves_the_lab_clock(lab: Lab, artifacts: Path) -> None:
    nb = ran(lab, "06_", "time-travel control")
    operate(nb, artifacts, learner.travel_in_time)
    no_problems(nb)


def test_the_quiz_marks_one_right_and_one_wrong(lab: Lab, artifacts: Path) -> None:
    nb = ran(lab, "10_", "quiz")
    right, wrong = operate(nb, artifacts, learner.take_the_quiz)
    assert "Right" in right and "Not quite" in wrong and "Error" not in wrong
    no_problems(nb)
