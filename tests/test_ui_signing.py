"""The signing and HMAC widget, driven without a browser."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

import kmslab
from kmslab.ui import clipped_labels
from kmslab.ui.signing import (
    SigningModel,
    SigningView,
    check_digest,
    hash_name,
    tampered,
    verdict,
)


@pytest.fixture(scope="module")
def kms() -> Iterator[Any]:
    with kmslab.LocalKms(seed=5) as lab:
        yield lab.client()


@pytest.fixture(scope="module")
def view(kms: Any) -> SigningView:
    ecc, rsa, hmac = (
        kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
        for spec, usage in (
            ("ECC_NIST_P256", "SIGN_VERIFY"),
            ("RSA_2048", "SIGN_VERIFY"),
            ("HMAC_256", "GENERATE_VERIFY_MAC"),
        )
    )
    return SigningView(SigningModel(kms, [ecc, (rsa, "RSASSA_PKCS1_V1_5_SHA_256"), hmac]))


def test_the_key_chooser_lists_spec_and_algorithm(view: SigningView) -> None:
    assert list(view.key.options) == [
        "ECC_NIST_P256 · ECDSA_SHA_256",
        "RSA_2048 · RSASSA_PKCS1_V1_5_SHA_256",
        "HMAC_256 · HMAC_SHA_256",
    ]
    for control in (view.key, view.message, view.message_type, view.tamper, view.button):
        assert control.description
    assert clipped_labels(view.widget()) == []


@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
@pytest.mark.parametrize(
    "label", ["ECC_NIST_P256 · ECDSA_SHA_256", "RSA_2048 · RSASSA_PKCS1_V1_5_SHA_256"]
)
def test_sign_then_verify_the_same_and_a_changed_message(
    view: SigningView, label: str, message_type: str
) -> None:
    view.key.value = label
    view.message_type.value = message_type
    view.tamper.value = False
    before = len(view.model.history)
    view.button.click()
    steps = view.model.last
    assert steps is not None and len(view.model.history) == before + 1
    assert [s.ok for s in steps] == [True, True]
    expected = "32 bytes" if message_type == "DIGEST" else "17 bytes"
    assert steps[0].name == f"Sign ({message_type}, {expected})"
    assert steps[1].text == "SignatureValid True"
    # Each call once in the step list, then a verdict that does not repeat the last step.
    shown = view.steps_html.value + view.panel.html.value
    assert shown.count("SignatureValid True") == 1 and shown.count("Sign (") == 1
    assert "Verified" in view.panel.html.value and "valid for the message" in view.panel.html.value

    view.tamper.value = True
    view.button.click()
    steps = view.model.last
    assert steps is not None and steps[1].name == "Verify (the changed message)"
    assert (steps[1].ok, steps[1].text) == (False, "KMSInvalidSignatureException")
    assert "Rejected" in view.panel.html.value and "Error" not in view.panel.html.value
    assert "does not match the changed message" in view.panel.html.value
    shown = view.steps_html.value + view.panel.html.value
    assert shown.count("Verify (the changed message)") == 1


def test_mac_then_verify(view: SigningView) -> None:
    view.key.value = "HMAC_256 · HMAC_SHA_256"
    view.message_type.value = "DIGEST"
    view.tamper.value = False
    view.button.click()
    steps = view.model.last
    assert steps is not None
    assert [s.name for s in steps] == [
        "Note",
        "GenerateMac (17 bytes)",
        "VerifyMac (the same message)",
    ]
    assert steps[1].text == "OK, a 32-byte MAC" and steps[2].text == "MacValid True"
    view.tamper.value = True
    view.button.click()
    steps = view.model.last
    assert steps is not None and steps[-1].text == "KMSInvalidMacException"
    assert "Rejected" in view.panel.html.value and "MAC does not match" in view.panel.html.value


def test_errors_are_reported_as_aws_errors(kms: Any, view: SigningView) -> None:
    steps = view.model.run("ECC_NIST_P256 · ECDSA_SHA_256", b"x" * 4097)
    assert len(steps) == 1 and not steps[0].ok
    assert steps[0].text.startswith("ValidationException: 1 validation error detected")
    assert verdict(steps) == (
        False,
        "Error",
        "Sign failed with ValidationException, so nothing was verified",
    )
    with pytest.raises(ValueError, match="not a signing or HMAC key"):
        SigningModel(kms, [kms.create_key()["KeyMetadata"]["KeyId"]])
    ecc = view.model.choices[0].key_id
    with pytest.raises(ValueError, match="does not support RSASSA_PSS_SHA_256"):
        SigningModel(kms, [(ecc, "RSASSA_PSS_SHA_256")])


def test_a_failing_callback_is_shown(view: SigningView) -> None:
    class Broken(SigningModel):
        def run(self, *_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("network down")

    broken = SigningView(Broken(view.model.kms, [view.model.choices[0].key_id]))
    broken.button.click()
    assert broken.panel.last_error is not None and "network down" in broken.panel.last_error


def test_check_digest_and_helpers() -> None:
    message = b"a large document"
    assert check_digest(message, hashlib.sha256(message).digest()).startswith("correct")
    assert "hex digest" in check_digest(message, hashlib.sha256(message).hexdigest())
    assert "yours has 64" in check_digest(message, hashlib.sha256(message).hexdigest().encode())
    assert "Digest is invalid length for algorithm ECDSA_SHA_256." in check_digest(message, b"x")
    assert "not the SHA256" in check_digest(message, hashlib.sha256(b"other").digest())
    assert "give bytes" in check_digest(message, 42)
    assert check_digest(message, hashlib.sha384(message).digest(), "ECDSA_SHA_384").startswith(
        "correct"
    )
    assert hash_name("RSASSA_PSS_SHA_512") == "sha512" and hash_name("HMAC_SHA_224") == "sha224"
    with pytest.raises(ValueError):
        hash_name("ED25519_SHA_512x")
    assert tampered(b"ab") == b"ac" and tampered(b"") == b"\x01"
