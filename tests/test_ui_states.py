"""The key-state explorer and its diagram, driven without a browser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from matplotlib.figure import Figure

import kmslab
from kmslab.clock import ManualClock
from kmslab.ui import clipped_labels
from kmslab.ui.states import KeyStateModel, KeyStateView, check_final_state
from kmslab.viz.states import (
    DELETED,
    STATES,
    TRANSITIONS,
    crypto_outcome,
    draw_key_states,
    key_states_png,
    key_states_text,
)


@pytest.fixture
def lab() -> kmslab.LocalKms:
    return kmslab.LocalKms(clock=ManualClock(datetime(2026, 1, 5, tzinfo=UTC)), seed=3)


def test_the_model_walks_the_lifecycle_with_aws_answers(lab: kmslab.LocalKms) -> None:
    model = KeyStateModel.new_key(lab.client(), clock=lab.clock)
    assert model.state() == "Enabled"
    assert model.disable().state == "Disabled"
    refused = model.encrypt()
    assert not refused.ok and refused.code == "DisabledException"
    assert refused.message.endswith("is disabled.") and refused.state == "Disabled"
    assert model.schedule_deletion(7).state == "PendingDeletion"
    pending = model.encrypt()
    assert pending.code == "KMSInvalidStateException"
    assert model.cancel_deletion().state == "Disabled"  # never straight back to Enabled
    assert model.enable().state == "Enabled"
    assert model.encrypt().ok
    too_short = model.schedule_deletion(6)
    assert too_short.code == "ValidationException" and too_short.state == "Enabled"
    assert model.schedule_deletion(30).ok
    gone = model.wait()
    assert gone.action == "wait 30 days" and gone.state == DELETED
    assert model.encrypt().code == "NotFoundException"
    assert [s.ok for s in model.history].count(False) == 4


def test_lines_are_plain_text(lab: kmslab.LocalKms) -> None:
    model = KeyStateModel.new_key(lab.client())
    assert model.disable().line() == "DisableKey: OK | state Disabled"
    line = model.encrypt().line()
    assert line.startswith("Encrypt: DisabledException: arn:aws:kms:")
    assert line.endswith("| state Disabled")


def test_a_parameter_the_sdk_refuses_is_reported_not_raised(lab: kmslab.LocalKms) -> None:
    model = KeyStateModel.new_key(lab.client())
    step = model.schedule_deletion(0)  # botocore's model: PendingWindowInDays >= 1
    assert not step.ok and step.code == "ParamValidationError" and step.state == "Enabled"


def test_wait_needs_a_clock(lab: kmslab.LocalKms) -> None:
    model = KeyStateModel.new_key(lab.client())
    with pytest.raises(RuntimeError, match="no lab clock"):
        model.wait()
    with pytest.raises(ValueError, match="unknown action"):
        model.do("explode")


def test_the_exercise_check_runs_the_real_sequence(lab: kmslab.LocalKms) -> None:
    kms = lab.client()
    actions = ["disable", "schedule", "cancel"]
    assert check_final_state(kms, actions, "Disabled").startswith("correct: after CreateKey")
    assert check_final_state(kms, actions, " disabled ").startswith("correct")
    hint = check_final_state(kms, actions, "Enabled")
    assert hint.startswith("not yet") and "Hint" in hint and "Disabled" not in hint.split("Hint")[0]


def test_the_view_buttons_call_kms_and_light_the_diagram(lab: kmslab.LocalKms) -> None:
    view = KeyStateView(KeyStateModel.new_key(lab.client(), clock=lab.clock))
    first_png = view.image.value
    assert first_png[:4] == b"\x89PNG" and "-&gt; Enabled" in view.text.value
    assert view.model.history == []  # building the view changes nothing
    view.buttons["disable"].click()
    assert view.model.last is not None and view.model.last.state == "Disabled"
    assert "OK" in view.panel.html.value and view.image.value != first_png
    assert "-&gt; Disabled" in view.text.value
    view.buttons["encrypt"].click()
    assert "DisabledException" in view.panel.html.value and "Error" in view.panel.html.value
    view.days.value = 6
    view.buttons["schedule"].click()
    assert "ValidationException" in view.panel.html.value
    view.days.value = 7
    view.buttons["schedule"].click()
    view.buttons["cancel"].click()
    assert view.model.last is not None and view.model.last.state == "Disabled"
    view.buttons["schedule"].click()
    view.buttons["wait"].click()
    assert view.model.last is not None and view.model.last.state == DELETED
    assert "Your last steps" in view.log.value
    assert all(b.description and b.tooltip for b in view.buttons.values())
    assert view.days.description
    # "Schedule deletion", "Let the waiting period pass": every label reads in full.
    assert clipped_labels(view.widget()) == []


def test_no_wait_button_without_a_clock(lab: kmslab.LocalKms) -> None:
    view = KeyStateView(KeyStateModel.new_key(lab.client()))
    assert "wait" not in view.buttons


def test_a_failing_callback_is_shown_not_swallowed(lab: kmslab.LocalKms) -> None:
    view = KeyStateView(KeyStateModel.new_key(lab.client()))

    def broken() -> None:
        raise RuntimeError("network down")

    view.model.disable = broken  # type: ignore[assignment,method-assign]
    view.buttons["disable"].click()
    assert view.panel.last_error is not None and "network down" in view.panel.last_error


def test_the_diagram_and_its_twin_agree_with_the_state_table() -> None:
    assert crypto_outcome("Enabled") == "allowed"
    assert crypto_outcome("Disabled") == "DisabledException"
    assert crypto_outcome("PendingDeletion") == "KMSInvalidStateException"
    assert crypto_outcome(DELETED).startswith("NotFoundException")
    text = key_states_text("PendingDeletion")
    assert "-> PendingDeletion" in text and "<- current" in text
    for t in TRANSITIONS:
        assert t.source in STATES and t.target in STATES
        assert t.label.replace("\n", " ") in text
    assert "PendingImport" in text  # the states not drawn are named
    assert "(not drawn)" in key_states_text("PendingImport")


def test_draw_returns_artists_and_marks_the_current_state_in_words() -> None:
    ax = Figure().add_subplot()
    artists = draw_key_states(ax, "Disabled")
    texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
    assert any("current" in t for t in texts)
    assert "Key states of a KMS key (current: Disabled)" in texts
    assert len(artists) > 2 * len(STATES)
    assert key_states_png(None)[:4] == b"\x89PNG"
