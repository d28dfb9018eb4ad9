"""Exam practice: the question bank and a quiz that scores answers per topic.

The bank (``kmslab/data/questions.json``) holds multiple-choice, ordering and matching
questions, each with its answer, an explanation, the exam tasks it serves, the AWS page it
comes from and the date it was checked; "myth" items name a stale fact seen in prep material
and the current one. :class:`Quiz` is pure (no widgets): the quiz widget and the tests drive it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

KINDS = ("choice", "ordering", "matching")


@dataclass(frozen=True)
class Question:
    id: str
    topic: str
    kind: str
    question: str
    answer: Any  # str (choice), list[str] (ordering), dict[str, str] (matching)
    explanation: str
    tasks: tuple[str, ...]
    source: str
    checked_on: str
    options: tuple[str, ...] = ()
    items: tuple[str, ...] = ()  # ordering: the steps, shuffled
    pairs: Mapping[str, list[str]] = field(default_factory=dict)  # matching: left and right
    myth: str | None = None

    def check(self, response: Any) -> bool:
        """Is ``response`` right? choice: the option text; ordering: the steps in order;
        matching: a dict left -> right."""
        if self.kind == "choice":
            return bool(response == self.answer)
        if self.kind == "ordering":
            return list(response) == list(self.answer)
        return dict(response) == dict(self.answer)


@cache
def load_bank() -> tuple[Question, ...]:
    raw = json.loads(resources.files("kmslab").joinpath("data/questions.json").read_text("utf-8"))
    out = []
    for q in raw:
        out.append(
            Question(
                id=q["id"],
                topic=q["topic"],
                kind=q["kind"],
                question=q["question"],
                answer=q["answer"],
                explanation=q["explanation"],
                tasks=tuple(q["tasks"]),
                source=q["source"],
                checked_on=q["checked_on"],
                options=tuple(q.get("options", ())),
                items=tuple(q.get("items", ())),
                pairs=q.get("pairs", {}),
                myth=q.get("myth"),
            )
        )
    return tuple(out)


@dataclass
class Result:
    question: Question
    correct: bool

    def line(self) -> str:
        verdict = "right" if self.correct else "wrong"
        return f"{self.question.id} ({self.question.topic}): {verdict}. {self.question.explanation}"


class Quiz:
    """A run through some questions, in a seeded order, with a score per topic."""

    def __init__(
        self,
        questions: Iterable[Question] | None = None,
        *,
        topics: Iterable[str] | None = None,
        seed: int | None = 0,
    ) -> None:
        pool = list(questions if questions is not None else load_bank())
        if topics is not None:
            wanted = set(topics)
            pool = [q for q in pool if q.topic in wanted]
        random.Random(seed).shuffle(pool)
        self.questions = pool
        self.position = 0
        self.results: list[Result] = []

    @property
    def current(self) -> Question | None:
        return self.questions[self.position] if self.position < len(self.questions) else None

    def answer(self, response: Any) -> Result:
        question = self.current
        if question is None:
            raise IndexError("the quiz is over")
        result = Result(question, question.check(response))
        self.results.append(result)
        self.position += 1
        return result

    def score_by_topic(self) -> dict[str, tuple[int, int]]:
        """topic -> (right, asked)."""
        scores: dict[str, tuple[int, int]] = {}
        for r in self.results:
            right, asked = scores.get(r.question.topic, (0, 0))
            scores[r.question.topic] = (right + int(r.correct), asked + 1)
        return scores

    def summary(self) -> str:
        right = sum(r.correct for r in self.results)
        lines = [f"{right} of {len(self.results)} right"]
        for topic, (ok, asked) in sorted(self.score_by_topic().items()):
            lines.append(f"  {topic}: {ok}/{asked}")
        return "\n".join(lines)
