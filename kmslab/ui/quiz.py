"""Exam practice: a quiz widget over :class:`kmslab.quiz.Quiz`.

The model is the pure :class:`~kmslab.quiz.Quiz` (the bank, a seeded order, a score per topic);
this module adds the text a learner reads (:func:`feedback`, :func:`score_rows`,
:func:`bank_rows`) and :class:`QuizView`, the thin ipywidgets view. One control per kind of
question:

==========  ========================================================================
choice      a RadioButtons with the options
ordering    one Dropdown per position ("Step 1" ... "Step n"), each offering every step
matching    one Dropdown per left-hand item, offering every right-hand item
==========  ========================================================================

*Check* records the answer in the quiz and shows "Right" or "Not quite" in words (never colour
alone; a wrong answer is a result, not an error), the correct answer, the explanation and the
AWS page it comes from; "myth" items show
the stale claim beside the current fact. *Next question* moves on; the score per topic is a
table. An incomplete answer (nothing chosen, a step left empty or used twice) is not recorded:
the view asks for the missing part instead.

Tests drive it without a browser: ``view.choice.value = ...; view.check_button.click()``.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from kmslab.quiz import KINDS, Question, Quiz, Result, load_bank

from . import Panel

__all__ = [
    "ALL_TOPICS",
    "Feedback",
    "QuizView",
    "bank_rows",
    "check_answer",
    "feedback",
    "format_answer",
    "score_rows",
]

ALL_TOPICS = "All topics"
_WIDE = widgets.Layout(width="95%")
_LABEL = {"description_width": "initial"}


# == the text a learner reads (pure) ==============================================================


def format_answer(question: Question, response: Any) -> str:
    """A response (or the correct answer) as one line of text."""
    if question.kind == "choice":
        return str(response)
    if question.kind == "ordering":
        return " -> ".join(f"{i}. {step}" for i, step in enumerate(response, start=1))
    return "; ".join(f"{left} = {right}" for left, right in dict(response).items())


@dataclass(frozen=True)
class Feedback:
    """What the view shows after Check."""

    correct: bool
    verdict: str  # "Right" or "Not quite"
    answer: str  # the correct answer, as text
    explanation: str
    source: str
    checked_on: str
    myth: str | None

    def lines(self) -> list[str]:
        """The feedback as plain lines (what a test or a print shows)."""
        out = [f"{self.verdict}.", f"Answer: {self.answer}", self.explanation]
        if self.myth:
            out.append(f"Myth: {self.myth}")
            out.append(f"Current fact: {self.answer}")
        out.append(f"Source: {self.source} (checked {self.checked_on})")
        return out


def feedback(result: Result) -> Feedback:
    q = result.question
    return Feedback(
        correct=result.correct,
        verdict="Right" if result.correct else "Not quite",
        answer=format_answer(q, q.answer),
        explanation=q.explanation,
        source=q.source,
        checked_on=q.checked_on,
        myth=q.myth,
    )


def score_rows(quiz: Quiz) -> list[tuple[str, int, int]]:
    """(topic, right, asked) for every topic answered so far, by topic name."""
    return [(t, ok, asked) for t, (ok, asked) in sorted(quiz.score_by_topic().items())]


def bank_rows(questions: Iterable[Question] | None = None) -> list[tuple[str, int, str]]:
    """(topic, number of questions, kinds present) for the bank, by topic name."""
    pool = list(questions if questions is not None else load_bank())
    counts = Counter(q.topic for q in pool)
    rows = []
    for topic in sorted(counts):
        kinds = Counter(q.kind for q in pool if q.topic == topic)
        text = ", ".join(f"{kinds[k]} {k}" for k in KINDS if kinds[k])
        rows.append((topic, counts[topic], text))
    return rows


def check_answer(question_id: str, response: Any) -> str:
    """The exercise check: "correct" or "not yet" with a hint, for one bank question."""
    question = next((q for q in load_bank() if q.id == question_id), None)
    if question is None:
        return f"not yet: there is no question {question_id!r} in the bank"
    if question.check(response):
        return f"correct: {question.explanation}"
    if question.kind == "choice" and response not in question.options:
        return "not yet: copy one of the options exactly, e.g. " + repr(question.options[0])
    return f"not yet. Hint: re-read {question.source}"


# == the view =====================================================================================


class QuizView:
    """The quiz as a widget: a question, its controls, Check, Next and a score per topic."""

    def __init__(self, quiz: Quiz | None = None, *, seed: int | None = 0) -> None:
        self.quiz = quiz if quiz is not None else Quiz(seed=seed)
        self.seed = seed
        topics = sorted({q.topic for q in load_bank()})
        self.topic = widgets.Dropdown(
            options=[ALL_TOPICS, *topics],
            value=ALL_TOPICS,
            description="Topic",
            tooltip="Practise one topic, or all of them",
            style=_LABEL,
        )
        self.restart_button = widgets.Button(
            description="Start over",
            tooltip="Start a new quiz on the chosen topic (the score starts from zero)",
            icon="refresh",
        )
        self.header = widgets.HTML(description="")
        self.myth_html = widgets.HTML(description="")
        self.prompt = widgets.HTML(description="")
        self.answer_box = widgets.VBox([])
        self.check_button = widgets.Button(
            description="Check", tooltip="Check this answer and show the explanation", icon="check"
        )
        self.next_button = widgets.Button(
            description="Next question",
            tooltip="Go on to the next question",
            icon="arrow-right",
            disabled=True,
        )
        self.panel = Panel()
        self.feedback_html = widgets.HTML(description="")
        self.scores = widgets.HTML(description="")
        self.choice: widgets.RadioButtons | None = None
        self.steps: list[widgets.Dropdown] = []
        self.matches: list[widgets.Dropdown] = []
        self.last: Feedback | None = None
        self.check_button.on_click(self.panel.guard(self._check))
        self.next_button.on_click(self.panel.guard(self._next))
        self.restart_button.on_click(self.panel.guard(self._restart))
        self._show_question()
        self._show_scores()

    # -- reading the controls -------------------------------------------------------------------

    def response(self) -> tuple[Any, str]:
        """(response, "") when the controls hold a complete answer, else (None, what's missing)."""
        question = self.quiz.current
        if question is None:
            return None, "The quiz is over: choose Start over for another round."
        if question.kind == "choice":
            assert self.choice is not None
            if self.choice.value is None:
                return None, "Choose an answer first."
            return self.choice.value, ""
        if question.kind == "ordering":
            order = [d.value for d in self.steps]
            if None in order:
                return None, "Put a step in every position first."
            if len(set(order)) != len(order):
                return None, "Use each step once."
            return order, ""
        pairs = {d.description: d.value for d in self.matches}
        if None in pairs.values():
            return None, "Match every item first."
        return pairs, ""

    # -- callbacks ------------------------------------------------------------------------------

    def _check(self, _button: Any = None) -> None:
        response, missing = self.response()
        if missing:
            self.panel.show(False, missing, "Not yet")
            return
        result = self.quiz.answer(response)
        self.last = feedback(result)
        given = format_answer(result.question, response)
        self.panel.show(result.correct, f"you answered {given}", self.last.verdict)
        self.feedback_html.value = _feedback_html(self.last)
        self.check_button.disabled = True
        self.next_button.disabled = False
        self._set_controls_disabled(True)
        self._show_scores()

    def _next(self, _button: Any = None) -> None:
        self.last = None
        self.feedback_html.value = ""
        self.panel.html.value = ""
        self._show_question()

    def _restart(self, _button: Any = None) -> None:
        topics = None if self.topic.value == ALL_TOPICS else {self.topic.value}
        self.quiz = Quiz(topics=topics, seed=self.seed)
        self._next()
        self._show_scores()

    # -- drawing --------------------------------------------------------------------------------

    def _set_controls_disabled(self, disabled: bool) -> None:
        for control in [self.choice, *self.steps, *self.matches]:
            if control is not None:
                control.disabled = disabled

    def _show_question(self) -> None:
        question = self.quiz.current
        self.choice, self.steps, self.matches = None, [], []
        self.next_button.disabled = True
        if question is None:
            self.header.value = "<b>Quiz over.</b>"
            self.myth_html.value = ""
            self.prompt.value = "<pre>" + html.escape(self.quiz.summary()) + "</pre>"
            self.answer_box.children = ()
            self.check_button.disabled = True
            return
        self.check_button.disabled = False
        n, total = self.quiz.position + 1, len(self.quiz.questions)
        tasks = html.escape(", ".join(question.tasks))
        self.header.value = (
            f"<b>Question {n} of {total}</b> · topic <code>{html.escape(question.topic)}</code>"
            f" · {html.escape(question.kind)} · exam tasks: {tasks}"
        )
        self.myth_html.value = _MYTH_BANNER if question.myth else ""
        self.prompt.value = f"<p style='font-size:110%'>{html.escape(question.question)}</p>"
        controls: list[widgets.Widget]
        if question.kind == "choice":
            self.choice = widgets.RadioButtons(
                options=list(question.options),
                value=None,
                description="Answer",
                layout=_WIDE,
                style=_LABEL,
            )
            controls = [self.choice]
        elif question.kind == "ordering":
            self.steps = [
                widgets.Dropdown(
                    options=list(question.items),
                    value=None,
                    description=f"Step {i}",
                    layout=_WIDE,
                    style=_LABEL,
                )
                for i in range(1, len(question.items) + 1)
            ]
            controls = list(self.steps)
        else:
            self.matches = [
                widgets.Dropdown(
                    options=list(question.pairs["right"]),
                    value=None,
                    description=left,
                    layout=_WIDE,
                    style=_LABEL,
                )
                for left in question.pairs["left"]
            ]
            controls = list(self.matches)
        self.answer_box.children = tuple(controls)

    def _show_scores(self) -> None:
        rows = score_rows(self.quiz)
        if not rows:
            self.scores.value = "<i>Score per topic: nothing answered yet.</i>"
            return
        right = sum(ok for _t, ok, _a in rows)
        asked = sum(a for _t, _ok, a in rows)
        body = "".join(
            f"<tr><td>{html.escape(t)}</td><td>{ok}</td><td>{a}</td></tr>" for t, ok, a in rows
        )
        self.scores.value = (
            f"<b>Score: {right} of {asked} right</b>"
            "<table><thead><tr><th>topic</th><th>right</th><th>asked</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox([self.topic, self.restart_button]),
                self.header,
                self.myth_html,
                self.prompt,
                self.answer_box,
                widgets.HBox([self.check_button, self.next_button]),
                self.panel.html,
                self.feedback_html,
                self.scores,
            ]
        )


_MYTH_BANNER = (
    '<div role="note" style="border-left:4px solid #e69f00;padding:2px 8px;margin:4px 0">'
    "⚠ <b>Myth versus current fact</b>: prep material often gets this one wrong. "
    "The myth is revealed after you check.</div>"
)


def _feedback_html(fb: Feedback) -> str:
    parts = [
        f"<p><b>{html.escape(fb.verdict)}.</b> Answer: {html.escape(fb.answer)}</p>",
        f"<p>{html.escape(fb.explanation)}</p>",
    ]
    if fb.myth:
        parts.append(
            '<div role="note" style="border-left:4px solid #e69f00;padding:2px 8px">'
            f"⚠ <b>Myth:</b> {html.escape(fb.myth)}<br>"
            f"✔ <b>Current fact:</b> {html.escape(fb.answer)}</div>"
        )
    parts.append(
        f'<p>Source: <a href="{html.escape(fb.source)}" target="_blank" rel="noopener">'
        f"{html.escape(fb.source)}</a> (checked {html.escape(fb.checked_on)})</p>"
    )
    return "".join(parts)
