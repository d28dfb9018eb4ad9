"""The time machine, driven without a browser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import kmslab
from kmslab.clock import ManualClock
from kmslab.ui import clipped_labels
from kmslab.ui.timetravel import (
    TimeTravelModel,
    TimeTravelView,
    check_materials_answer,
    expected_materials,
)


@pytest.fixture
def lab() -> kmslab.LocalKms:
    return kmslab.LocalKms(clock=ManualClock(datetime(2026, 1, 5, 9, tzinfo=UTC)), seed=5)


def test_a_year_rotates_the_key_and_old_data_still_decrypts(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"s", EncryptionContext={"a": "b"})
    kms.enable_key_rotation(KeyId=key_id)
    model = TimeTravelModel(
        kms, key_id, lab.clock, ciphertext=blob["CiphertextBlob"], encryption_context={"a": "b"}
    )
    start = model.snapshot()
    assert (start.date, start.state, start.current, start.materials, start.rotations) == (
        "2026-01-05",
        "Enabled",
        1,
        1,
        0,
    )
    assert start.rotation == "every 365 days, next 2027-01-05"
    assert start.decrypt == "OK with material 1"
    year = model.advance(365)
    assert (year.date, year.current, year.materials, year.rotations) == ("2027-01-05", 2, 2, 1)
    assert year.decrypt == "OK with material 1"  # old data: old material, still kept
    assert year.rotation.endswith("next 2028-01-05")
    assert "material 2 of 2" in year.line() and "decrypt: OK with material 1" in year.line()
    assert len(year.current_id) == 64 and year.current_id != start.current_id
    assert year.current_id[:8] in model.table() and year.current_id not in year.line()
    table = model.table()
    assert "2026-01-05" in table and "2027-01-05" in table and "old ciphertext" in table


def test_deletion_makes_the_data_unrecoverable(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"s")["CiphertextBlob"]
    model = TimeTravelModel(kms, key_id, lab.clock, ciphertext=blob)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    pending = model.snapshot()
    assert pending.state == "PendingDeletion" and pending.decrypt == "KMSInvalidStateException"
    assert pending.rotation == "off"
    gone = model.advance(7)
    assert gone.state == "Deleted" and gone.current is None and gone.materials == 0
    assert gone.decrypt == "AccessDeniedException"
    assert "no key material" in gone.line()
    with pytest.raises(ValueError):
        model.advance(0)


def test_materials_exercise() -> None:
    assert expected_materials(365, 365) == 2
    assert expected_materials(90, 365) == 5
    assert expected_materials(90, 89) == 1
    assert check_materials_answer(5, 90, 365).startswith("correct: 4 automatic rotations")
    hint = check_materials_answer(4, 90, 365)
    assert hint.startswith("not yet") and "first material" in hint
    with pytest.raises(ValueError):
        expected_materials(0, 1)


def test_the_exercise_answer_matches_the_lab(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    model = TimeTravelModel(kms, key_id, lab.clock)
    assert model.advance(365).materials == expected_materials(90, 365)
    assert model.last is not None and model.last.decrypt == ""


def test_the_view_advances_on_the_button_only(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)
    view = TimeTravelView(TimeTravelModel(kms, key_id, lab.clock))
    assert len(view.model.history) == 1 and "2026-01-05" in view.table.value
    view.days.value = 400
    assert lab.clock.now().year == 2026  # typing a number moves nothing
    view.button.click()
    assert lab.clock.now().date().isoformat() == "2027-02-09"
    assert view.model.last is not None and view.model.last.current == 2
    assert "OK" in view.panel.html.value and "2027-02-09" in view.table.value
    assert view.days.description and view.button.description and view.button.tooltip
    view.widget()


def test_a_press_moves_the_clock_exactly_the_days_asked_even_after_other_cells_moved_it(
    lab: kmslab.LocalKms,
) -> None:
    """The notebook's later cells move the same clock after the widget was drawn: the next
    press must still show a jump of exactly the days typed, and say who moved the rest."""
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id)
    view = TimeTravelView(TimeTravelModel(kms, key_id, lab.clock))
    lab.clock.advance(days=372)  # "later cells"
    view.days.value = 30
    view.button.click()
    dates = [s.date for s in view.model.history]
    assert dates == ["2026-01-05", "2027-01-12", "2027-02-11"]
    assert [s.moved for s in view.model.history] == [
        "start",
        "other code +372 days",
        "Advance +30 days",
    ]
    status = view.panel.html.value
    assert "2027-01-12 + 30 days = 2027-02-11" in status and "Error" not in status
    assert "other code +372 days" in view.table.value
    # No other code in between: one press, one row, exactly the days asked.
    view.days.value = 1
    view.button.click()
    assert [s.date for s in view.model.history][-2:] == ["2027-02-11", "2027-02-12"]
    assert "2027-02-11 + 1 day = 2027-02-12" in view.panel.html.value


def test_the_table_keeps_each_row_on_one_line(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"s")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id)
    view = TimeTravelView(TimeTravelModel(kms, key_id, lab.clock, ciphertext=blob))
    lab.clock.advance(days=400)
    view.button.click()
    assert "white-space:pre;" in view.table.value  # scrolls sideways, never wraps a row
    widest = max(len(line) for line in view.model.table().splitlines())
    assert widest <= 125, f"a {widest}-character row does not fit a notebook's width"
    assert clipped_labels(view.widget()) == []


def test_a_failing_callback_is_shown_not_swallowed(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]

    class NoClock:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, tzinfo=UTC)

        def advance(self, **_kw: float) -> None:
            raise RuntimeError("the clock is stuck")

    view = TimeTravelView(TimeTravelModel(kms, key_id, NoClock()))
    view.button.click()
    assert view.panel.last_error is not None and "the clock is stuck" in view.panel.last_error
