"""The exam question bank and the quiz model."""

from __future__ import annotations

from collections import Counter

from kmslab.quiz import KINDS, Quiz, load_bank

#: Rows of the concept checklist (shared reference, teaching.md §2.2), as bank topics.
CHECKLIST_TOPICS = {
    "encrypt-limit-and-envelope",
    "data-keys-and-reencrypt",
    "encryption-context",
    "key-types-owned-managed-customer",
    "key-policy-vs-iam",
    "grants",
    "cross-account",
    "rotation",
    "key-states",
    "deletion",
    "imported-key-material",
    "multi-region",
    "custom-key-stores",
    "cloudtrail",
    "quotas-and-caching",
    "s3-sse-kms-bucket-keys",
    "service-integration",
    "asymmetric-hmac-random",
    "secrets-vs-parameters-vs-kms",
}


def test_the_bank_is_big_enough_and_covers_every_checklist_row() -> None:
    bank = load_bank()
    assert len(bank) >= 40
    per_topic = Counter(q.topic for q in bank)
    assert set(per_topic) == CHECKLIST_TOPICS
    assert min(per_topic.values()) >= 2
    assert len({q.id for q in bank}) == len(bank)
    assert {q.kind for q in bank} == set(KINDS)
    assert sum(q.myth is not None for q in bank) >= 4


def test_every_question_is_answerable_and_sourced() -> None:
    for q in load_bank():
        assert q.question.strip() and q.explanation.strip() and q.tasks
        assert q.source.startswith("https://docs.aws.amazon.com/"), q.id
        assert len(q.checked_on) == 10
        if q.kind == "choice":
            assert q.answer in q.options and len(set(q.options)) == len(q.options), q.id
        elif q.kind == "ordering":
            assert sorted(q.items) == sorted(q.answer) and list(q.items) != list(q.answer), q.id
        else:
            assert sorted(q.pairs["left"]) == sorted(q.answer), q.id
            assert sorted(q.pairs["right"]) == sorted(q.answer.values()), q.id
        assert q.check(q.answer)


def test_a_quiz_scores_right_and_wrong_answers_per_topic() -> None:
    quiz = Quiz(topics={"rotation", "deletion"}, seed=3)
    assert len(quiz.questions) == 6
    first = quiz.current
    assert first is not None
    assert quiz.answer(first.answer).correct
    second = quiz.current
    assert second is not None
    wrong = next(o for o in second.options if o != second.answer)
    assert not quiz.answer(wrong).correct
    scores = quiz.score_by_topic()
    assert sum(asked for _right, asked in scores.values()) == 2
    assert sum(right for right, _asked in scores.values()) == 1
    assert quiz.summary().startswith("1 of 2 right")


def test_the_order_is_seeded() -> None:
    assert [q.id for q in Quiz(seed=5).questions] == [q.id for q in Quiz(seed=5).questions]
    assert [q.id for q in Quiz(seed=5).questions] != [q.id for q in Quiz(seed=6).questions]
