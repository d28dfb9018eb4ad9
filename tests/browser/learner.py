"""What a learner does with each widget, with the mouse and the keyboard, and what they must see.

Each function takes a :class:`~jupyterlab_driver.NotebookPage` whose notebook has been run,
operates one widget and fails (AssertionError, or Playwright's expect) when the widget does
not answer as it should. The breakage test applies them to a broken page to show that they do
fail there.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jupyterlab_driver import NotebookPage

if TYPE_CHECKING:
    from playwright.sync_api import Locator

RESULT_TIMEOUT = 60_000  # ms: a result line after a click (the kernel answers it)
FIND_TIMEOUT = 15_000  # ms: a control that must already be in the page

BUTTON = ".jp-OutputArea-output button.jupyter-button"


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def present(control: Locator, what: str) -> Locator:
    """``control``, after checking that it is in the page and visible."""
    try:
        control.first.wait_for(state="visible", timeout=FIND_TIMEOUT)
    except Exception as exc:
        raise AssertionError(f"{what} is not in the page") from exc
    return control.first


def button(output: Locator, label: str) -> Locator:
    """The widget button labelled exactly ``label`` (its icon, a CSS glyph, left out)."""
    exact = re.compile(rf"^\s*{re.escape(label)}\s*$")
    return output.locator("button.jupyter-button").filter(has_text=exact)


def status_of(output: Locator) -> Locator:
    """The result line of a kmslab view (kmslab.ui.Panel: role=status)."""
    return output.locator('[role="status"]').first


# == every button once ==========================================================================


def press_every_button(nb: NotebookPage) -> list[str]:
    """Click each enabled button of every widget once, waiting for the kernel after each;
    returns what was pressed ("cell 7: Encrypt")."""
    pressed = []
    for index in nb.widget_indices():
        buttons = nb.cell(index).locator(BUTTON)
        for i in range(buttons.count()):
            control = buttons.nth(i)
            if not (control.is_visible() and control.is_enabled()):
                continue
            label = control.inner_text().strip() or control.get_attribute("title") or "?"
            nb.settle(control.click)
            pressed.append(f"cell {index}: {label}")
    return pressed


# == 04: the 4 KB limit ===========================================================================


def encrypt_at_the_limit(nb: NotebookPage, artifacts: Path, cell: str = r"LimitView\(") -> None:
    """Drag the size slider, type 4096 into its readout and click Encrypt (OK); press the right
    arrow on the handle for 4097 and Enter on the focused button (ValidationException)."""
    expect = _expect()
    page = nb.page
    output = nb.widget_cell(cell)
    slider = present(output.locator(".widget-slider"), "the plaintext-size slider")
    readout = present(slider.locator(".widget-readout"), "the slider's readout")
    handle = present(slider.locator(".noUi-handle"), "the slider's handle")
    encrypt = present(button(output, "Encrypt"), "the Encrypt button")
    status = status_of(output)

    # Mouse: drag the handle to the left.
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    assert box is not None, "the slider's handle has no size on screen"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def drag() -> None:
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 120, y, steps=8)
        page.mouse.up()

    nb.settle(drag)
    dragged = int(readout.inner_text().strip())
    assert dragged < 4096, f"dragging the handle left left the slider at {dragged}"
    nb.settle(encrypt.click)
    expect(status).to_contain_text(re.compile(rf"\b{dragged} bytes: OK"), timeout=RESULT_TIMEOUT)

    # Keyboard: type the size into the readout.
    readout.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("4096")
    nb.settle(lambda: page.keyboard.press("Enter"))
    expect(readout).to_have_text("4096", timeout=RESULT_TIMEOUT)
    nb.settle(encrypt.click)
    expect(status).to_contain_text("4096 bytes: OK", timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "limit-4096", output)

    # Keyboard only: one step right on the handle, Enter on the button.
    handle.focus()
    nb.settle(lambda: page.keyboard.press("ArrowRight"))
    expect(readout).to_have_text("4097", timeout=RESULT_TIMEOUT)
    encrypt.focus()
    nb.settle(lambda: page.keyboard.press("Enter"))
    expect(status).to_contain_text("4097 bytes: ValidationException", timeout=RESULT_TIMEOUT)
    expect(status).to_contain_text("4096", timeout=RESULT_TIMEOUT)  # AWS's constraint text
    nb.screenshot(artifacts, "limit-4097", output)


# == 02: the key-creation wizard ==================================================================


def create_a_key_with_the_wizard(nb: NotebookPage, artifacts: Path) -> str:
    """Back to step 1, then every step with Next (mouse and keyboard), a key type tried and
    changed back, a description and a tag typed, the policy reviewed, Create clicked.
    Returns the result line."""
    expect = _expect()
    page = nb.page
    output = nb.widget_cell(r"KeyWizardView\(")
    header = present(output.locator("h4"), "the wizard's step title")
    back = present(button(output, "Back"), "the Back button")
    forward = present(button(output, "Next"), "the Next button")
    while back.is_enabled():
        nb.settle(back.click)
    expect(header).to_contain_text("Step 1 of", timeout=RESULT_TIMEOUT)
    total = int(re.search(r"Step 1 of (\d+)", header.inner_text()).group(1))  # type: ignore[union-attr]

    def next_step(step: int, keyboard: bool = False) -> None:
        if keyboard:
            forward.focus()
            nb.settle(lambda: page.keyboard.press("Enter"))
        else:
            nb.settle(forward.click)
        expect(header).to_contain_text(f"Step {step} of {total}", timeout=RESULT_TIMEOUT)

    # 1 -> 2: key type. Try HMAC (its specs appear), then back to Symmetric.
    next_step(2)
    spec = present(
        output.locator(".widget-dropdown").filter(has_text="Key spec").locator("select"),
        "the Key spec dropdown",
    )
    hmac = present(output.get_by_role("radio", name="HMAC", exact=True), "the HMAC choice")
    nb.settle(hmac.click)
    expect(spec).to_contain_text("HMAC_256", timeout=RESULT_TIMEOUT)
    nb.settle(output.get_by_role("radio", name="Symmetric", exact=True).click)
    expect(spec).to_have_value("SYMMETRIC_DEFAULT", timeout=RESULT_TIMEOUT)
    # 2 -> 3 (Region) -> 4 (origin) -> 5 (labels), the last two with the keyboard.
    next_step(3)
    next_step(4, keyboard=True)
    next_step(5, keyboard=True)
    description = present(
        output.locator(".widget-text").filter(has_text="Description").locator("input"),
        "the Description box",
    )
    description.fill("made in the browser test")
    nb.settle(lambda: description.press("Enter"))
    tags = present(
        output.locator(".widget-text").filter(has_text="Tags").locator("input"), "the Tags box"
    )
    tags.fill("made-by=browser-test")
    nb.settle(lambda: tags.press("Enter"))
    expect(output).to_contain_text("made-by", timeout=RESULT_TIMEOUT)  # the code beside it
    for step in range(6, total):
        next_step(step)
    expect(output).to_contain_text("Allow use of the key", timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "wizard-review", output)
    next_step(total)
    create = present(button(output, "Create the key"), "the Create button")
    assert create.is_enabled(), "the Create button is disabled: " + output.inner_text()[-400:]
    nb.settle(create.click)
    status = status_of(output)
    expect(status).to_contain_text("created", timeout=RESULT_TIMEOUT)
    expect(status).to_contain_text("OK", timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "wizard-created", output)
    return status.inner_text()


# == 06: the time machine =========================================================================

_DATE_ROW = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\b", re.MULTILINE)
_MATERIAL = re.compile(r"material (\d+) of (\d+)")


def travel_in_time(nb: NotebookPage, artifacts: Path) -> list[str]:
    """Type 30 days (Enter), click Advance; type 365 (Tab), press Enter on the button. Each
    jump adds a row dated exactly the days typed after the row before it, and the result line
    says "date + N days = new date". The notebook's later cells move the same lab clock, so the
    first jump may first add a row marked "other code"; the second adds one row only. The
    year-long jump rotates the key."""
    expect = _expect()
    page = nb.page
    output = nb.widget_cell(r"TimeTravelView\(")
    days = present(output.locator(".widget-text input, input[type=number]"), "the days box")
    advance = present(button(output, "Advance the clock"), "the Advance button")
    table = present(output.locator("pre"), "the snapshot table")
    status = status_of(output)

    def dates() -> list[date]:
        return [date.fromisoformat(d) for d in _DATE_ROW.findall(table.inner_text())]

    def jump(n: int, keyboard: bool) -> tuple[date, str]:
        shown, before = table.inner_text(), dates()
        assert before, f"no dated rows in the time machine's table:\n{table.inner_text()}"
        days.fill(str(n))
        if keyboard:
            nb.settle(lambda: days.press("Tab"))
            advance.focus()
            nb.settle(lambda: page.keyboard.press("Enter"))
        else:
            nb.settle(lambda: days.press("Enter"))
            nb.settle(advance.click)
        expect(table).not_to_have_text(shown, timeout=RESULT_TIMEOUT)
        after = dates()
        new = len(after) - len(before)
        assert new in (1, 2), f"one jump, {new} new rows"
        if new == 2:  # the clock moved elsewhere since the last row: the table says so
            moved = table.inner_text().splitlines()[-2]
            assert "other code" in moved, f"an extra row that does not say why: {moved!r}"
        assert after[-1] == after[-2] + timedelta(days=n), f"{n} days: {after[-2]} -> {after[-1]}"
        said = f"{after[-2].isoformat()} + {n} days = {after[-1].isoformat()}"
        expect(status).to_contain_text(said, timeout=RESULT_TIMEOUT)
        return after[-1], status.inner_text()

    first_day, first = jump(30, keyboard=False)
    rows = len(dates())
    second_day, second = jump(365, keyboard=True)
    assert len(dates()) == rows + 1, "nothing else moved the clock, yet the jump added two rows"
    assert second_day == first_day + timedelta(days=365), f"{first_day} + 365 -> {second_day}"
    was, now = _MATERIAL.search(first), _MATERIAL.search(second)
    assert was and now, f"no 'material N of M' in {first!r} / {second!r}"
    assert int(now.group(2)) > int(was.group(2)), f"a year passed and no rotation: {second!r}"
    nb.screenshot(artifacts, "timetravel", output)
    return [first, second]


# == 10: the quiz =================================================================================


def _norm(text: str) -> str:
    return " ".join(text.split())


def _question_on_screen(output: Locator) -> Any:
    """The bank question whose text the quiz shows."""
    from kmslab.quiz import load_bank

    prompt = _norm(present(output.locator("p"), "the quiz question").inner_text())
    for question in load_bank():
        if _norm(question.question) == prompt:
            return question
    raise AssertionError(f"the question on screen is not in the bank: {prompt!r}")


def _answer(nb: NotebookPage, output: Locator, question: Any, right: bool) -> None:
    if question.kind == "choice":
        options = list(question.options)
        choice = question.answer if right else next(o for o in options if o != question.answer)
        radio = output.get_by_role("radio", name=choice, exact=True)
        nb.settle(present(radio, f"the option {choice!r}").click)
        return
    if question.kind == "ordering":
        order = list(question.answer)
        if not right:
            order = order[1:] + order[:1]
        for step, item in enumerate(order, start=1):
            box = output.locator(".widget-dropdown").filter(has_text=f"Step {step}")
            nb.settle(lambda box=box, item=item: box.locator("select").select_option(label=item))
        return
    pairs = dict(question.answer)
    if not right:
        lefts, rights = list(pairs), list(pairs.values())
        pairs = dict(zip(lefts, rights[1:] + rights[:1], strict=True))
    for left, match in pairs.items():
        box = output.locator(".widget-dropdown").filter(has_text=left)
        nb.settle(lambda box=box, match=match: box.locator("select").select_option(label=match))


def take_the_quiz(nb: NotebookPage, artifacts: Path) -> tuple[str, str]:
    """Start over, answer the first question right and the second wrong; the verdicts and the
    score say so."""
    expect = _expect()
    output = nb.widget_cell(r"QuizView\(")
    nb.settle(present(button(output, "Start over"), "Start over").click)
    check = present(button(output, "Check"), "the Check button")
    following = button(output, "Next question")
    status = status_of(output)
    expect(output).to_contain_text("nothing answered yet", timeout=RESULT_TIMEOUT)

    first = _question_on_screen(output)
    _answer(nb, output, first, right=True)
    nb.settle(check.click)
    expect(status).to_contain_text("Right", timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "quiz-right", output)
    verdict_right = status.inner_text()

    nb.settle(present(following, "the Next question button").click)
    expect(output).not_to_contain_text(first.question[:60], timeout=RESULT_TIMEOUT)
    second = _question_on_screen(output)
    _answer(nb, output, second, right=False)
    check.focus()
    nb.settle(lambda: nb.page.keyboard.press("Enter"))
    expect(status).to_contain_text("Not quite", timeout=RESULT_TIMEOUT)
    expect(output).to_contain_text("Score: 1 of 2 right", timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "quiz-wrong", output)
    return verdict_right, status.inner_text()


# == 05: the envelope stepper =====================================================================


def step_through_the_envelope(nb: NotebookPage, artifacts: Path) -> list[str]:
    """Reset, choose 64 KiB, press Next step five times (mouse, then keyboard): each step is
    marked done in turn, steps 1 and 5 went to KMS and the data came back; Next is then
    disabled; Reset starts again."""
    expect = _expect()
    page = nb.page
    output = nb.widget_cell(r"EnvelopeStepsView\(")
    forward = present(button(output, "Next step"), "the Next step button")
    reset = present(button(output, "Reset"), "the Reset button")
    size = present(
        output.locator(".widget-dropdown").filter(has_text="Data size").locator("select"),
        "the Data size dropdown",
    )
    status = status_of(output)
    nb.settle(reset.click)
    expect(status).to_contain_text("press Next step to begin", timeout=RESULT_TIMEOUT)
    nb.settle(lambda: size.select_option(label="64 KiB"))
    expect(status).to_contain_text("65,536 bytes of data", timeout=RESULT_TIMEOUT)
    seen = []
    for number in range(1, 6):
        if number <= 2:
            nb.settle(forward.click)
        else:
            forward.focus()
            nb.settle(lambda: page.keyboard.press("Enter"))
        expect(status).to_contain_text(f"step {number} done", timeout=RESULT_TIMEOUT)
        expect(output).to_contain_text(f"Step {number}:", timeout=RESULT_TIMEOUT)
        done = output.inner_text().count("✔ done")
        assert done == number, f"after step {number} the list marks {done} steps done"
        seen.append(status.inner_text())
    text = output.inner_text()
    for fact in ("1 request (GenerateDataKey)", "1 request (Decrypt)", "came back intact: True"):
        assert fact in text, f"the stepper's log lacks {fact!r}"
    expect(forward).to_be_disabled(timeout=RESULT_TIMEOUT)
    nb.screenshot(artifacts, "envelope-steps", output)
    nb.settle(reset.click)
    expect(status).to_contain_text("press Next step to begin", timeout=RESULT_TIMEOUT)
    expect(forward).to_be_enabled(timeout=RESULT_TIMEOUT)
    return seen
