"""The envelope step-through widget, its exercise checks and the message byte map, driven
without a browser."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from matplotlib.figure import Figure

import kmslab
from kmslab import envelope
from kmslab.clock import ManualClock
from kmslab.ui.envelope import (
    DECRYPT_STEPS,
    STEPS,
    EnvelopeSteps,
    EnvelopeStepsView,
    check_decrypt_order,
    check_frame_count,
)
from kmslab.viz.message import message_map_table, message_parts, plot_message_map

MiB = 1024 * 1024


@pytest.fixture
def lab() -> kmslab.LocalKms:
    return kmslab.LocalKms(clock=ManualClock(datetime(2026, 1, 5, tzinfo=UTC)), seed=5)


@pytest.fixture
def kms(lab: kmslab.LocalKms) -> Any:
    return lab.client()


@pytest.fixture
def key_id(kms: Any) -> str:
    return str(kms.create_key()["KeyMetadata"]["KeyId"])


# -- the view-model ------------------------------------------------------------------------------


def test_the_five_steps_say_what_went_to_kms_and_what_stayed_local(
    lab: kmslab.LocalKms, kms: Any, key_id: str
) -> None:
    model = EnvelopeSteps(kms, key_id, MiB)
    steps = model.run_all()
    assert [s.name for s in steps] == [name for name, _ in STEPS]
    assert [s.kms_requests for s in steps] == [("GenerateDataKey",), (), (), (), ("Decrypt",)]
    assert [e["eventName"] for e in lab.trail] == ["CreateKey", "GenerateDataKey", "Decrypt"]
    generate, encrypt, store, wipe, decrypt = (s.text() for s in steps)
    assert "Plaintext:      32 bytes" in generate and "CiphertextBlob: 115 bytes" in generate
    assert "1,048,576 bytes of data -> 1,048,592 bytes of ciphertext" in encrypt
    assert "sent to KMS:  nothing: no KMS request in this step" in encrypt
    assert "the plaintext data key is in the record: False" in store
    assert "all 32 bytes are zero: True" in wipe and "Best effort" in wipe
    assert "the data came back intact: True" in decrypt
    assert "the data key was wiped again: True" in decrypt
    assert model.key_is_wiped and model.done
    for text in (generate, encrypt, store, wipe, decrypt):
        assert key_id not in text and "arn:" not in text  # printable as checked facts


def test_what_reaches_kms_does_not_grow_with_the_data(kms: Any, key_id: str) -> None:
    small = EnvelopeSteps(kms, key_id, 1024).run_all()
    large = EnvelopeSteps(kms, key_id, 2 * MiB).run_all()
    assert [s.request_body_bytes for s in small] == [s.request_body_bytes for s in large]
    assert 0 < large[0].request_body_bytes < 200 and large[1].request_body_bytes == 0


def test_texts_repeat_on_every_run(kms: Any, key_id: str) -> None:
    first = [s.text() for s in EnvelopeSteps(kms, key_id, 4096).run_all()]
    second = [s.text() for s in EnvelopeSteps(kms, key_id, 4096).run_all()]
    assert first == second


def test_the_encryption_context_goes_to_both_kms_calls(
    lab: kmslab.LocalKms, kms: Any, key_id: str
) -> None:
    EnvelopeSteps(kms, key_id, 100, encryption_context={"app": "billing"}).run_all()
    contexts = [e["requestParameters"].get("encryptionContext") for e in lab.trail[1:]]
    assert contexts == [{"app": "billing"}, {"app": "billing"}]


def test_after_the_last_step_next_refuses_and_reset_starts_again(
    lab: kmslab.LocalKms, kms: Any, key_id: str
) -> None:
    model = EnvelopeSteps(kms, key_id, 10)
    model.run_all()
    with pytest.raises(RuntimeError, match="Reset"):
        model.next()
    calls = len(lab.trail)
    model.reset()
    assert len(lab.trail) == calls and model.history == [] and model.next_name == "generate"
    assert model.next().name == "generate" and not model.key_is_wiped
    model.close()
    assert model.key_is_wiped


# -- the view ------------------------------------------------------------------------------------


def test_next_and_reset_buttons_drive_the_model(
    lab: kmslab.LocalKms, kms: Any, key_id: str
) -> None:
    view = EnvelopeStepsView(kms, key_id, size=1024)
    assert view.size.description and view.next_button.description == "Next step"
    assert view.reset_button.tooltip and "▶ next" in view.step_list()
    assert len(lab.trail) == 1  # making the view calls nothing
    for _ in STEPS:
        view.next_button.click()
    assert view.model.done and view.next_button.disabled
    assert view.step_list().count("✔ done") == 5 and "Step 5" in view.log.value
    assert "OK" in view.panel.html.value
    view.reset_button.click()
    assert view.model.history == [] and not view.next_button.disabled
    assert view.step_list().count("· to do") == 4


def test_changing_the_size_starts_again_without_a_kms_call(
    lab: kmslab.LocalKms, kms: Any, key_id: str
) -> None:
    view = EnvelopeStepsView(kms, key_id, size=1024)
    view.next_button.click()
    calls = len(lab.trail)
    view.size.value = 64 * 1024
    assert len(lab.trail) == calls and view.model.size == 64 * 1024 and view.model.history == []


def test_a_kms_refusal_is_shown_with_its_code(kms: Any, key_id: str) -> None:
    kms.disable_key(KeyId=key_id)
    view = EnvelopeStepsView(kms, key_id, size=1024)
    view.next_button.click()
    assert view.panel.last_error is not None and "DisabledException" in view.panel.last_error
    assert "Error" in view.panel.html.value and view.model.history == []


# -- exercise checks -----------------------------------------------------------------------------


def test_check_decrypt_order() -> None:
    assert check_decrypt_order(list(DECRYPT_STEPS)).startswith("correct:")
    wrong = check_decrypt_order(["read", "aes-decrypt", "kms-decrypt", "wipe"])
    assert wrong.startswith("not yet: step 2") and "only KMS" in wrong
    assert check_decrypt_order(["wipe", "read", "kms-decrypt", "aes-decrypt"]).startswith(
        "not yet: step 1"
    )
    assert "exactly once" in check_decrypt_order(["read", "kms-decrypt"])
    assert "exactly once" in check_decrypt_order("read, kms-decrypt, aes-decrypt, wipe")


@pytest.mark.parametrize(
    ("size", "frame", "frames"),
    [(10_000, 4096, 3), (8192, 4096, 2), (0, 4096, 1), (MiB, 4096, 256)],
)
def test_check_frame_count_against_a_real_message(
    kms: Any, key_id: str, size: int, frame: int, frames: int
) -> None:
    assert check_frame_count(kms, key_id, frames, size, frame).startswith("correct:")
    assert check_frame_count(kms, key_id, frames + 1, size, frame).startswith("not yet:")
    assert "whole number" in check_frame_count(kms, key_id, "3", size, frame)


# -- the byte map --------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", [0x0478, 0x0578])
@pytest.mark.parametrize("level", ["parts", "fields"])
def test_parts_cover_every_byte_once(kms: Any, key_id: str, suite: int, level: Any) -> None:
    message = envelope.encrypt(
        kms,
        bytes(70_000),
        key_id=key_id,
        suite=suite,
        frame_length=4096,
        encryption_context={"a": "b"},
    )
    mapped = envelope.inspect(message)  # frames 17.. summarised in one region
    parts = message_parts(mapped, level)
    assert parts[0].start == 0 and parts[-1].end == len(message)
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    names = [p.name for p in parts]
    if level == "parts":
        assert names[:6] == [
            "header fields",
            "encryption context",
            "header fields",
            "encrypted data key 1",
            "header fields",
            "header authentication",
        ]
        assert "frame 1" in names and "final frame" in names
        assert "frames 17-17 (not listed)" in names
        assert ("footer (signature)" in names) == (suite == 0x0578)


def test_the_table_twin_shows_no_changing_values(kms: Any, key_id: str) -> None:
    message = envelope.encrypt(kms, bytes(10_000), key_id=key_id, frame_length=4096)
    mapped = envelope.inspect(message)
    for level in ("parts", "fields"):
        rows = message_map_table(mapped, level=level)
        text = repr(rows)
        assert mapped.header.message_id.hex() not in text
        assert mapped.header.commitment.hex() not in text and key_id not in text
    parts = message_map_table(mapped)
    assert [r["part"] for r in parts][-3:] == ["frame 1", "frame 2", "final frame"]
    assert parts[-1]["length"] == f"{4 + 4 + 12 + 4 + 1808 + 16:,}"
    header_end = mapped.section("header auth")[1]
    zoomed = message_map_table(mapped, end=header_end)
    assert zoomed[-1]["part"] == "header authentication"


def test_the_plot_draws_every_part_and_labels_what_fits(kms: Any, key_id: str) -> None:
    message = envelope.encrypt(kms, bytes(10_000), key_id=key_id, frame_length=4096)
    mapped = envelope.inspect(message)
    ax = Figure(figsize=(10, 2)).subplots()
    artists = plot_message_map(ax, mapped)
    texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
    assert {"frame 1", "frame 2", "final frame"} <= set(texts)
    assert len(ax.patches) == len(message_parts(mapped))
    assert ax.get_xlim() == (0, len(message)) and ax.get_legend() is not None
    header_end = mapped.section("header auth")[1]
    zoom = Figure(figsize=(10, 2)).subplots()
    plot_message_map(zoom, mapped, end=header_end)
    assert zoom.get_xlim() == (0, header_end) and "zoomed" in zoom.get_title()
    with pytest.raises(ValueError, match="window"):
        plot_message_map(zoom, mapped, start=header_end, end=header_end)
