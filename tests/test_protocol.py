"""The wire layer: bad requests get AWS's 4xx answers, never a 500; a bug gets a quiet 500.

Most tests call ``lab.handle(target, body, principal, region)`` directly, because a boto3 client
cannot send malformed JSON or wrong types. Where a bad request *can* come from a real client, the
test goes through one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import RAW, error_of, new_key

from kmslab import LocalKms
from kmslab.service import KmsService

T = "TrentService."
NULL_KEY_ID = (
    "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
    "Member must not be null"
)


@pytest.fixture(scope="module")
def wire() -> Iterator[LocalKms]:
    with LocalKms(seed=5) as lab:
        yield lab


def send(
    lab: LocalKms, target: str | None, body: bytes | str | dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    response = lab.handle(target, body, lab.directory.find(None), "us-east-1")
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"] == response.request_id
    assert int(response.headers["Content-Length"]) == len(response.body)
    return response.status, json.loads(response.body)


def answer(status: int, payload: dict[str, Any]) -> tuple[int, str, str]:
    return status, payload.get("__type", ""), payload.get("message", "")


# == malformed requests ============================================================================


@pytest.mark.parametrize(
    "body", [b"{not json", b"\xff\xfe", b'{"KeyId": "x"', b"[]", b'"text"', b"5"]
)
def test_malformed_json_is_a_serialization_exception(wire: LocalKms, body: bytes) -> None:
    status, payload = send(wire, T + "DescribeKey", body)
    assert (status, payload["__type"]) == (400, "SerializationException")


@pytest.mark.parametrize("target", [T + "NoSuchOperation", "Other.DescribeKey", None, ""])
def test_unknown_target(wire: LocalKms, target: str | None) -> None:
    assert answer(*send(wire, target, b"{}")) == (400, "UnknownOperationException", "")


@pytest.mark.parametrize(
    ("target", "body", "message"),
    [
        (
            T + "DescribeKey",
            {"KeyId": 5},
            "STRING_VALUE can not be converted to a String at 'keyId'",
        ),
        (T + "DescribeKey", {"KeyId": ["x"]}, None),
        (T + "GenerateRandom", {"NumberOfBytes": "5"}, None),
        (T + "GenerateRandom", {"NumberOfBytes": 5.5}, None),
        (T + "GenerateRandom", {"NumberOfBytes": True}, None),
        (T + "Encrypt", {"KeyId": "k", "Plaintext": 5}, None),
        (T + "Encrypt", {"KeyId": "k", "Plaintext": "!!not base64!!"}, None),
        (T + "Encrypt", {"KeyId": "k", "Plaintext": "eA==", "EncryptionContext": []}, None),
        (T + "Encrypt", {"KeyId": "k", "Plaintext": "eA==", "EncryptionContext": {"a": 1}}, None),
        (T + "CreateKey", {"BypassPolicyLockoutSafetyCheck": "yes"}, None),
        (T + "CreateKey", {"Tags": {"a": "b"}}, None),
        (T + "CreateKey", {"Tags": [5]}, None),
        (T + "ListKeys", {"Limit": "10"}, None),
    ],
)
def test_wrong_types_are_serialization_exceptions(
    wire: LocalKms, target: str, body: dict[str, Any], message: str | None
) -> None:
    status, code, text = answer(*send(wire, target, body))
    assert (status, code) == (400, "SerializationException")
    if message is not None:
        assert text == message


@pytest.mark.parametrize("body", [b"", b"{}", b'{"KeyId": null}', b'{"Unknown": 1}'])
def test_missing_required_member(wire: LocalKms, body: bytes) -> None:
    assert answer(*send(wire, T + "DescribeKey", body)) == (400, "ValidationException", NULL_KEY_ID)


def test_every_violation_is_listed(wire: LocalKms) -> None:
    assert answer(*send(wire, T + "Encrypt", {})) == (
        400,
        "ValidationException",
        "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: "
        "Member must not be null; Value null at 'plaintext' failed to satisfy constraint: "
        "Member must not be null",
    )


def test_nested_paths_in_messages(wire: LocalKms) -> None:
    body = {"Tags": [{"TagKey": "a"}]}
    assert answer(*send(wire, T + "CreateKey", body)) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'tags.1.member.tagValue' failed to satisfy "
        "constraint: Member must not be null",
    )


def test_enum_violation(wire: LocalKms) -> None:
    body = {"KeyId": "k", "KeySpec": "AES_512"}
    assert answer(*send(wire, T + "GenerateDataKey", body)) == (
        400,
        "ValidationException",
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: "
        "Member must satisfy enum value set: [AES_256, AES_128]",
    )


def test_unknown_members_are_ignored(wire: LocalKms) -> None:
    status, payload = send(wire, T + "GenerateRandom", {"NumberOfBytes": 8, "Surprise": [1]})
    assert status == 200
    assert set(payload) == {"Plaintext"}


def test_a_good_request(wire: LocalKms) -> None:
    status, payload = send(wire, T + "CreateKey", {"Description": "over the wire"})
    assert status == 200
    assert payload["KeyMetadata"]["Description"] == "over the wire"
    assert isinstance(payload["KeyMetadata"]["CreationDate"], float)


# == never a 500 for a caller's mistake ============================================================


BAD_BODIES: list[Any] = [
    pytest.param("DescribeKey", b"[" * 100_000, id="deeply-nested-json"),
    pytest.param("ImportKeyMaterial",
                 b'{"KeyId":"k","ImportToken":"eA==","EncryptedKeyMaterial":"eA==","ValidTo":NaN}',
                 id="timestamp-NaN"),
    pytest.param("ImportKeyMaterial",
                 b'{"KeyId":"k","ImportToken":"eA==","EncryptedKeyMaterial":"eA==","ValidTo":1e300}',
                 id="timestamp-out-of-range"),
    pytest.param("Decrypt", b"{}", id="decrypt-without-ciphertext"),
    pytest.param("ReEncrypt", b'{"DestinationKeyId":"alias/x"}', id="reencrypt-without-ciphertext"),
    pytest.param("Encrypt", b'{"KeyId":"alias/aws/s3","Plaintext":"eA==",'
                 b'"EncryptionContext":{"\\ud800":"x"}}', id="lone-surrogate-in-context"),
    pytest.param("ListKeys", b'{"Marker": "!!!"}', id="bad-marker"),
    pytest.param("ListKeys", b'{"Marker": "YXQ6LTE="}', id="negative-marker"),
    pytest.param("ScheduleKeyDeletion", b'{"KeyId":"k","PendingWindowInDays":1e400}',
                 id="huge-float"),
    pytest.param("ScheduleKeyDeletion", b'{"KeyId":"k","PendingWindowInDays":' + b"9" * 40 + b"}",
                 id="huge-int"),
    pytest.param("DescribeKey", b'{"KeyId":"' + b"a" * 3000 + b'"}', id="long-key-id"),
    pytest.param("DescribeKey", b'{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/nope"}',
                 id="arn-with-bad-id"),
    pytest.param("CreateAlias", b'{"AliasName":"alias/aws/x","TargetKeyId":"k"}', id="aws-alias"),
    pytest.param("PutKeyPolicy", b'{"KeyId":"k","Policy":"[]"}', id="policy-not-object"),
    pytest.param("GetParametersForImport",
                 b'{"KeyId":"k","WrappingAlgorithm":"RSAES_OAEP_SHA_1","WrappingKeySpec":"RSA_2048"}',
                 id="unimplemented-operation"),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "body"), BAD_BODIES)
def test_a_bad_request_is_never_a_500(wire: LocalKms, operation: str, body: bytes) -> None:
    status, payload = send(wire, T + operation, body)
    assert 400 <= status < 500, payload
    assert payload["__type"] != "KMSInternalException"


@pytest.fixture(scope="module")
def wire_key(wire: LocalKms) -> str:
    status, payload = send(wire, T + "CreateKey", {})
    assert status == 200
    key_id: str = payload["KeyMetadata"]["KeyId"]
    return key_id


def test_deeply_nested_json_is_a_serialization_exception(wire: LocalKms) -> None:
    status, code, _text = answer(*send(wire, T + "DescribeKey", b"[" * 100_000))
    assert (status, code) == (400, "SerializationException")


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e300", b"-1e300"])
def test_an_impossible_timestamp_is_a_serialization_exception(wire: LocalKms, value: bytes) -> None:
    body = b'{"KeyId":"k","ImportToken":"eA==","EncryptedKeyMaterial":"eA==","ValidTo":%s}' % value
    status, code, _text = answer(*send(wire, T + "ImportKeyMaterial", body))
    assert (status, code) == (400, "SerializationException")


@pytest.mark.parametrize("operation", ["Decrypt", "ReEncrypt"])
def test_a_missing_ciphertext_is_a_validation_exception(wire: LocalKms, operation: str) -> None:
    # The current model no longer marks CiphertextBlob required (DryRunModifiers can make it
    # unnecessary); without it there is nothing to decrypt.
    body = {"DestinationKeyId": "alias/x"} if operation == "ReEncrypt" else {}
    assert answer(*send(wire, T + operation, body)) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
        "constraint: Member must not be null",
    )


def test_a_lone_surrogate_in_the_context_is_a_client_error(wire: LocalKms, wire_key: str) -> None:
    body = b'{"KeyId":"%s","Plaintext":"eA==","EncryptionContext":{"\\ud800":"x"}}' % (
        wire_key.encode()
    )
    status, code, _text = answer(*send(wire, T + "Encrypt", body))
    assert (status, code) == (400, "SerializationException")


def test_a_context_of_65536_pairs_is_a_validation_exception(wire: LocalKms, wire_key: str) -> None:
    context = {f"k{i}": "" for i in range(65536)}
    body = {"KeyId": wire_key, "Plaintext": "eA==", "EncryptionContext": context}
    status, code, _text = answer(*send(wire, T + "Encrypt", body))
    assert (status, code) == (400, "ValidationException")


# == the same requests, from a genuine boto3 client =================================


@pytest.fixture(scope="module")
def wire_kms(wire: LocalKms) -> Any:
    return wire.client(config=RAW)


def test_decrypt_without_ciphertext_from_boto3(wire_kms: Any) -> None:
    # botocore lets this through (the model no longer requires CiphertextBlob).
    with pytest.raises(ClientError) as info:
        wire_kms.decrypt(EncryptionContext={"a": "b"})
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_of(info.value) == (
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
        "constraint: Member must not be null",
    )


def test_a_lone_surrogate_in_the_context_from_boto3(wire_kms: Any) -> None:
    key_id = new_key(wire_kms)
    with pytest.raises(ClientError) as info:
        wire_kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"\ud800": "x"})
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# == an internal error =============================================================================


def test_an_internal_error_is_a_quiet_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Any, call: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("internal detail: material=deadbeef")

    monkeypatch.setattr(KmsService, "describe_key", boom)
    with LocalKms(seed=1) as lab:
        status, payload = send(lab, T + "DescribeKey", {"KeyId": "alias/any"})
        assert (status, payload) == (500, {"__type": "KMSInternalException", "message": ""})

        kms = lab.client(config=RAW)
        with pytest.raises(kms.exceptions.KMSInternalException) as info:
            kms.describe_key(KeyId="alias/any")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error_of(info.value) == ("KMSInternalException", "")

        # Other operations are unaffected, and the trail records the failures without detail.
        assert kms.generate_random(NumberOfBytes=4)["Plaintext"]
        failures = [e for e in lab.trail if e["eventName"] == "DescribeKey"]
        assert [e["errorCode"] for e in failures] == ["KMSInternalException"] * 2
        assert "deadbeef" not in json.dumps(lab.trail)
