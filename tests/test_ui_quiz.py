"""The quiz widget, driven without a browser: one right and one wrong answer for each kind."""

from __future__ import annotations

from typing import Any

import pytest

from kmslab.quiz import Question, Quiz, load_bank
from kmslab.ui.quiz import (
    QuizView,
    bank_rows,
    check_answer,
    feedback,
    format_answer,
    score_rows,
)


def of_kind(kind: str, n: int = 2) -> list[Question]:
    found = [q for q in load_bank() if q.kind == kind]
    return (found * n)[:n]  # the bank holds one matching question: ask it twice


def view_of(questions: list[Question]) -> QuizView:
    """A view over these questions, asked in this order (a Quiz shuffles: undo it)."""
    quiz = Quiz(questions, seed=0)
    quiz.questions = list(questions)
    return QuizView(quiz)


def wrong_order(q: Question) -> list[str]:
    return list(reversed(q.answer))


def wrong_matches(q: Question) -> dict[str, str]:
    lefts, rights = list(q.answer), [q.answer[left] for left in q.answer]
    return dict(zip(lefts, rights[1:] + rights[:1], strict=True))


def set_response(view: QuizView, response: Any) -> None:
    question = view.quiz.current
    assert question is not None
    if question.kind == "choice":
        assert view.choice is not None and view.choice.description == "Answer"
        view.choice.value = response
    elif question.kind == "ordering":
        assert [d.description for d in view.steps] == [
            f"Step {i}" for i in range(1, len(question.items) + 1)
        ]
        for dropdown, step in zip(view.steps, response, strict=True):
            dropdown.value = step
    else:
        assert [d.description for d in view.matches] == list(question.pairs["left"])
        for dropdown in view.matches:
            dropdown.value = response[dropdown.description]


def wrong_response(q: Question) -> Any:
    if q.kind == "choice":
        return next(o for o in q.options if o != q.answer)
    if q.kind == "ordering":
        return wrong_order(q)
    return wrong_matches(q)


@pytest.mark.parametrize("kind", ["choice", "ordering", "matching"])
def test_one_right_and_one_wrong_answer_through_the_widget(kind: str) -> None:
    view = view_of(of_kind(kind))
    first = view.quiz.current
    assert first is not None
    assert view.check_button.disabled is False and view.next_button.disabled is True

    set_response(view, first.answer)
    view.check_button.click()
    assert view.quiz.results[-1].correct
    assert view.last is not None and view.last.verdict == "Right"
    assert "✔ <b>Right</b>: you answered" in view.panel.html.value
    assert first.explanation.split(";")[0] in view.feedback_html.value
    assert first.source in view.feedback_html.value
    assert view.check_button.disabled and not view.next_button.disabled
    assert "1 of 1 right" in view.scores.value

    view.next_button.click()
    second = view.quiz.current
    assert second is not None and view.feedback_html.value == ""
    set_response(view, wrong_response(second))
    view.check_button.click()
    assert not view.quiz.results[-1].correct
    assert view.last is not None and view.last.verdict == "Not quite"
    # A wrong answer is a result, not an error: a word, a mark, then the explanation below.
    assert "✘ <b>Not quite</b>: you answered" in view.panel.html.value
    assert "Error" not in view.panel.html.value and "Wrong" not in view.panel.html.value
    assert "Answer:" in view.feedback_html.value
    assert second.explanation.split(";")[0] in view.feedback_html.value
    assert "1 of 2 right" in view.scores.value
    assert view.quiz.summary().startswith("1 of 2 right")

    view.next_button.click()
    assert view.quiz.current is None
    assert "Quiz over" in view.header.value and view.check_button.disabled


def test_an_incomplete_answer_is_not_recorded() -> None:
    view = view_of(of_kind("ordering", 1))
    question = view.quiz.current
    assert question is not None
    view.check_button.click()
    assert view.quiz.results == [] and "every position" in view.panel.html.value
    assert "Not yet" in view.panel.html.value and "Error" not in view.panel.html.value
    for dropdown in view.steps:
        dropdown.value = question.items[0]
    view.check_button.click()
    assert view.quiz.results == [] and "each step once" in view.panel.html.value

    view = view_of(of_kind("choice", 1))
    view.check_button.click()
    assert view.quiz.results == [] and "Choose an answer" in view.panel.html.value

    view = view_of(of_kind("matching", 1))
    view.matches[0].value = view.matches[0].options[0]
    view.check_button.click()
    assert view.quiz.results == [] and "Match every item" in view.panel.html.value


def test_a_myth_item_is_flagged_before_and_explained_after_checking() -> None:
    myth = next(q for q in load_bank() if q.myth)
    plain = next(q for q in load_bank() if not q.myth and q.kind == "choice")
    view = view_of([myth, plain])
    assert "Myth versus current fact" in view.myth_html.value
    assert myth.myth is not None and myth.myth[:20] not in view.myth_html.value  # not given away
    set_response(view, wrong_response(myth))
    view.check_button.click()
    assert "Myth:" in view.feedback_html.value and "Current fact:" in view.feedback_html.value
    view.next_button.click()
    assert view.myth_html.value == ""


def test_start_over_on_one_topic() -> None:
    view = QuizView(seed=3)
    assert len(view.quiz.questions) == len(load_bank())
    assert "Question 1 of" in view.header.value
    view.topic.value = "rotation"
    view.restart_button.click()
    assert {q.topic for q in view.quiz.questions} == {"rotation"}
    assert "nothing answered yet" in view.scores.value
    assert view.panel.last_error is None


def test_every_control_has_a_description() -> None:
    for kind in ("choice", "ordering", "matching"):
        view = view_of(of_kind(kind, 1))
        for control in [view.choice, *view.steps, *view.matches, view.topic]:
            if control is not None:
                assert control.description
        for button in (view.check_button, view.next_button, view.restart_button):
            assert button.description and button.tooltip


def test_pure_helpers() -> None:
    quiz = Quiz(of_kind("choice", 2), seed=0)
    first = quiz.current
    assert first is not None
    quiz.answer(first.answer)
    second = quiz.current
    assert second is not None
    result = quiz.answer(wrong_response(second))
    fb = feedback(result)
    assert fb.lines()[0] == "Not quite." and fb.lines()[-1].startswith("Source: https://")
    assert sum(asked for _t, _ok, asked in score_rows(quiz)) == 2
    rows = bank_rows()
    assert sum(n for _t, n, _k in rows) == len(load_bank())
    assert any("ordering" in kinds for _t, _n, kinds in rows)
    ordering = of_kind("ordering", 1)[0]
    assert format_answer(ordering, ordering.answer).startswith("1. ")
    assert check_answer(first.id, first.answer).startswith("correct")
    assert check_answer(first.id, "nonsense").startswith("not yet")
    assert check_answer("q999", "x").startswith("not yet")
