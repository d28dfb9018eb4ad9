"""GetKeyLastUsage (API reference): the last *successful* cryptographic use of a key, with the
operation, the time, and the request id that is also the CloudTrail eventID of that call.

Observed outside the operation itself: the request id equals the RequestId boto3 received with
the using call's response and the eventID of that call on ``lab.trail``; the time is the lab
clock's; failed, dry-run and non-cryptographic calls leave the record unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START, fails, new_key
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec

from kmslab import LocalKms, ManualClock


def last_usage(kms: Any, key_id: str) -> dict[str, Any]:
    usage: dict[str, Any] = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    return usage


def request_id(response: dict[str, Any]) -> str:
    rid: str = response["ResponseMetadata"]["RequestId"]
    return rid


def test_a_new_key_has_no_usage_and_is_tracked_since_creation(kms: Any, key_id: str) -> None:
    out = kms.get_key_last_usage(KeyId=key_id)
    assert out["KeyId"] == key_id
    assert out["KeyLastUsage"] == {}
    created = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CreationDate"]
    assert out["KeyCreationDate"] == out["TrackingStartDate"] == created == START


def test_usage_names_the_call_on_the_trail(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    lab.clock.advance(days=3)
    sealed = kms.encrypt(KeyId=key_id, Plaintext=b"data")
    usage = last_usage(kms, key_id)
    assert usage == {
        "Operation": "Encrypt",
        "Timestamp": START + timedelta(days=3),
        "CloudTrailEventId": request_id(sealed),
        "KmsRequestId": request_id(sealed),
    }
    (event,) = [e for e in lab.trail if e["eventID"] == usage["CloudTrailEventId"]]
    assert event["eventName"] == "Encrypt" and event["requestID"] == usage["KmsRequestId"]

    lab.clock.advance(days=1)
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"])
    usage = last_usage(kms, key_id)
    assert usage["Operation"] == "Decrypt"
    assert usage["Timestamp"] == START + timedelta(days=4)
    assert usage["KmsRequestId"] == request_id(opened)


def test_calls_that_fail_or_use_no_cryptography_do_not_count(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    signed = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    expected = last_usage(kms, key_id)
    assert expected["Operation"] == "Sign" and expected["KmsRequestId"] == request_id(signed)
    fails(
        kms.verify,
        KeyId=key_id,
        Message=b"other",
        Signature=signed["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    fails(kms.sign, KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    kms.get_public_key(KeyId=key_id)
    kms.describe_key(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    fails(kms.sign, KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert last_usage(kms, key_id) == expected


def test_re_encrypt_records_both_keys(kms: Any) -> None:
    source, destination = new_key(kms), new_key(kms)
    blob = kms.encrypt(KeyId=source, Plaintext=b"x")["CiphertextBlob"]
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    for key_id in (source, destination):
        usage = last_usage(kms, key_id)
        assert (usage["Operation"], usage["KmsRequestId"]) == ("ReEncrypt", request_id(moved))


def _sign_key(kms: Any) -> str:
    return new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")


def _mac_key(kms: Any) -> str:
    return new_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")


def _kem_key(kms: Any) -> str:
    return new_key(kms, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")


def _peer() -> bytes:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der: bytes = public.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    return der


DIGEST = hashlib.sha256(b"m").digest()

#: operation -> (make a key, use it once); the use is the last call each case makes.
USES: dict[str, tuple[Callable[[Any], str], Callable[[Any, str], Any]]] = {
    "Encrypt": (new_key, lambda k, i: k.encrypt(KeyId=i, Plaintext=b"x")),
    "Decrypt": (
        new_key,
        lambda k, i: k.decrypt(CiphertextBlob=k.encrypt(KeyId=i, Plaintext=b"x")["CiphertextBlob"]),
    ),
    "GenerateDataKey": (new_key, lambda k, i: k.generate_data_key(KeyId=i, KeySpec="AES_256")),
    "GenerateDataKeyWithoutPlaintext": (
        new_key,
        lambda k, i: k.generate_data_key_without_plaintext(KeyId=i, NumberOfBytes=16),
    ),
    "GenerateDataKeyPair": (
        new_key,
        lambda k, i: k.generate_data_key_pair(KeyId=i, KeyPairSpec="ECC_NIST_P256"),
    ),
    "GenerateDataKeyPairWithoutPlaintext": (
        new_key,
        lambda k, i: k.generate_data_key_pair_without_plaintext(
            KeyId=i, KeyPairSpec="ECC_NIST_P256"
        ),
    ),
    "Sign": (
        _sign_key,
        lambda k, i: k.sign(
            KeyId=i, Message=DIGEST, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"
        ),
    ),
    "Verify": (
        _sign_key,
        lambda k, i: k.verify(
            KeyId=i,
            Message=b"m",
            Signature=k.sign(KeyId=i, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"],
            SigningAlgorithm="ECDSA_SHA_256",
        ),
    ),
    "GenerateMac": (
        _mac_key,
        lambda k, i: k.generate_mac(KeyId=i, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
    ),
    "VerifyMac": (
        _mac_key,
        lambda k, i: k.verify_mac(
            KeyId=i,
            Message=b"m",
            Mac=k.generate_mac(KeyId=i, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"],
            MacAlgorithm="HMAC_SHA_256",
        ),
    ),
    "DeriveSharedSecret": (
        lambda k: new_key(k, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT"),
        lambda k, i: k.derive_shared_secret(
            KeyId=i, KeyAgreementAlgorithm="ECDH", PublicKey=_peer()
        ),
    ),
    "Encapsulate": (_kem_key, lambda k, i: k.encapsulate(KeyId=i, EncapsulationAlgorithm="ML_KEM")),
    "Decapsulate": (
        _kem_key,
        lambda k, i: k.decapsulate(
            KeyId=i,
            EncapsulationAlgorithm="ML_KEM",
            SharedSecretCiphertextBlob=k.encapsulate(KeyId=i, EncapsulationAlgorithm="ML_KEM")[
                "SharedSecretCiphertextBlob"
            ],
        ),
    ),
}


def test_every_tracked_operation_is_covered() -> None:
    from kmslab.protocol import service_model

    shape = service_model().shape_for("KeyLastUsageTrackingOperation")
    assert set(USES) | {"ReEncrypt"} == set(shape.enum)


@pytest.mark.parametrize("operation", sorted(USES))
def test_each_cryptographic_operation_records_itself(kms: Any, operation: str) -> None:
    make, use = USES[operation]
    key_id = make(kms)
    response = use(kms, key_id)
    usage = last_usage(kms, key_id)
    assert usage["Operation"] == operation
    assert usage["KmsRequestId"] == usage["CloudTrailEventId"] == request_id(response)


def test_aliases_are_not_accepted_and_any_state_is(kms: Any, key_id: str) -> None:
    kms.create_alias(AliasName=f"alias/usage-{key_id}", TargetKeyId=key_id)
    code, _ = fails(kms.get_key_last_usage, KeyId=f"alias/usage-{key_id}")
    assert code == "NotFoundException"
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert last_usage(kms, key_id)["Operation"] == "Encrypt"


def test_usage_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "lab.sqlite"
    with LocalKms(seed=5, clock=ManualClock(START), state=state) as lab:
        kms = lab.client()
        key_id = new_key(kms)
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_128")
        before = last_usage(kms, key_id)
    with LocalKms(seed=5, clock=ManualClock(START), state=state) as lab:
        assert last_usage(lab.client(), key_id) == before
        assert before["Operation"] == "GenerateDataKey"
