"""The AWS KMS rules of shared/reference/kms-rules.md section 2, through a real boto3 client.

Each test names the rule it checks (R1 ... R14). Messages are compared exactly: they are what a
learner will paste into a search engine, so they must be AWS's words.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from conftest import ACCOUNT, START, error_of, fails, key_arn, new_key

from kmslab import LocalKms
from kmslab import blob as blob_format

NOT_IN_REGION = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in this "
    "region, or you are not allowed to access."
)
INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."
ONE_OR_OTHER = "Please specify either number of bytes or key spec."


def validation(message: str) -> tuple[str, str]:
    return ("ValidationException", message)


def state_of(kms: Any, key_id: str) -> str:
    state: str = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    return state


def material_of(kms: Any, key_id: str) -> str:
    material: str = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    return material


# == the client itself =============================================================================


def test_a_real_client_has_no_validation_exception_class(kms: Any) -> None:
    # botocore's KMS model lists no ValidationException shape, so it arrives as a plain
    # ClientError: learners must test e.response["Error"]["Code"], not an exception class.
    assert not hasattr(kms.exceptions, "ValidationException")
    assert hasattr(kms.exceptions, "DisabledException")


def test_validation_exception_arrives_as_a_plain_client_error(raw_kms: Any, key_id: str) -> None:
    with pytest.raises(ClientError) as info:
        raw_kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
    assert type(info.value) is ClientError
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# == R1 payload limits =============================================================================


def test_r1_encrypt_accepts_1_to_4096_bytes(kms: Any, key_id: str) -> None:
    for size in (1, 4096):
        plaintext = bytes(range(256)) * (size // 256) + b"p" * (size % 256)
        blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
        assert len(blob) <= 6144  # model CiphertextType max
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_r1_encrypt_rejects_4097_bytes(kms: Any, key_id: str) -> None:
    assert fails(kms.encrypt, KeyId=key_id, Plaintext=b"x" * 4097) == validation(
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_r1_encrypt_rejects_an_empty_plaintext(raw_kms: Any, key_id: str) -> None:
    assert fails(raw_kms.encrypt, KeyId=key_id, Plaintext=b"") == validation(
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


# == R2 data keys and random bytes =================================================================


@pytest.mark.parametrize(("spec", "size"), [("AES_256", 32), ("AES_128", 16)])
def test_r2_key_spec_sets_the_data_key_length(kms: Any, key_id: str, spec: str, size: int) -> None:
    out = kms.generate_data_key(KeyId=key_id, KeySpec=spec)
    assert len(out["Plaintext"]) == size
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]


@pytest.mark.parametrize("size", [1, 64, 1024])
def test_r2_number_of_bytes_1_to_1024(kms: Any, key_id: str, size: int) -> None:
    out = kms.generate_data_key(KeyId=key_id, NumberOfBytes=size)
    assert len(out["Plaintext"]) == size
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]


def test_r2_number_of_bytes_1025_rejected(kms: Any, key_id: str) -> None:
    assert fails(kms.generate_data_key, KeyId=key_id, NumberOfBytes=1025) == validation(
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )


def test_r2_key_spec_or_number_of_bytes_exactly_one(kms: Any, key_id: str) -> None:
    assert fails(kms.generate_data_key, KeyId=key_id) == validation(ONE_OR_OTHER)
    both = {"KeyId": key_id, "KeySpec": "AES_256", "NumberOfBytes": 32}
    assert fails(kms.generate_data_key, **both) == validation(ONE_OR_OTHER)
    assert fails(kms.generate_data_key_without_plaintext, KeyId=key_id) == validation(ONE_OR_OTHER)


def test_r2_data_keys_are_random_and_not_the_kms_key(kms: Any, key_id: str) -> None:
    keys = {kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"] for _ in range(5)}
    assert len(keys) == 5


def test_r2_generate_data_key_response(kms: Any, key_id: str) -> None:
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert out["KeyId"] == key_arn(key_id)
    assert out["KeyMaterialId"] == material_of(kms, key_id)


def test_r2_without_plaintext_is_decryptable(kms: Any, key_id: str) -> None:
    ctx = {"purpose": "envelope"}
    out = kms.generate_data_key_without_plaintext(
        KeyId=key_id, KeySpec="AES_128", EncryptionContext=ctx
    )
    assert "Plaintext" not in out
    assert out["KeyId"] == key_arn(key_id)
    data_key = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ctx)
    assert len(data_key["Plaintext"]) == 16


@pytest.mark.parametrize("size", [1, 1024])
def test_r2_generate_random_1_to_1024(kms: Any, size: int) -> None:
    assert len(kms.generate_random(NumberOfBytes=size)["Plaintext"]) == size


def test_r2_generate_random_bounds(raw_kms: Any) -> None:
    assert fails(raw_kms.generate_random, NumberOfBytes=1025) == validation(
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )
    assert fails(raw_kms.generate_random, NumberOfBytes=0) == validation(
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )


# == R3 key states =================================================================================


CRYPTO_CALLS = {
    "Encrypt": lambda kms, k, blob: kms.encrypt(KeyId=k, Plaintext=b"x"),
    "Decrypt": lambda kms, k, blob: kms.decrypt(CiphertextBlob=blob),
    "GenerateDataKey": lambda kms, k, blob: kms.generate_data_key(KeyId=k, KeySpec="AES_256"),
    "GenerateDataKeyWithoutPlaintext": lambda kms, k, blob: kms.generate_data_key_without_plaintext(
        KeyId=k, KeySpec="AES_256"
    ),
    "ReEncrypt": lambda kms, k, blob: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=k),
}


@pytest.mark.parametrize("operation", sorted(CRYPTO_CALLS))
def test_r3_disabled_key_refuses_cryptography(kms: Any, key_id: str, operation: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(kms.exceptions.DisabledException) as info:
        CRYPTO_CALLS[operation](kms, key_id, blob)
    assert error_of(info.value) == ("DisabledException", f"{key_arn(key_id)} is disabled.")
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


@pytest.mark.parametrize("operation", sorted(CRYPTO_CALLS))
def test_r3_pending_deletion_key_refuses_cryptography(
    kms: Any, key_id: str, operation: str
) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(kms.exceptions.KMSInvalidStateException) as info:
        CRYPTO_CALLS[operation](kms, key_id, blob)
    assert error_of(info.value) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending deletion.",
    )


def test_r3_cancel_key_deletion_leaves_the_key_disabled(kms: Any, key_id: str) -> None:
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    out = kms.cancel_key_deletion(KeyId=key_id)
    assert out["KeyId"] == key_arn(key_id)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in metadata
    kms.enable_key(KeyId=key_id)
    assert state_of(kms, key_id) == "Enabled"


def test_r3_cancel_on_a_key_not_pending_deletion(kms: Any, key_id: str) -> None:
    assert fails(kms.cancel_key_deletion, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is not pending deletion.",
    )


# == R4 deletion ===================================================================================


def test_r4_pending_window_default_is_30_days(private: tuple[LocalKms, Any]) -> None:
    _lab, kms = private
    key_id = new_key(kms)
    out = kms.schedule_key_deletion(KeyId=key_id)
    assert out["KeyId"] == key_arn(key_id)
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 30
    assert out["DeletionDate"] == START + timedelta(days=30)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["DeletionDate"] == START + timedelta(days=30)
    assert metadata["PendingDeletionWindowInDays"] == 30
    assert metadata["Enabled"] is False


@pytest.mark.parametrize("days", [7, 30])
def test_r4_pending_window_7_to_30(raw_kms: Any, key_id: str, days: int) -> None:
    out = raw_kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    assert out["PendingWindowInDays"] == days


@pytest.mark.parametrize(
    ("days", "bound"),
    [(6, "greater than or equal to 7"), (31, "less than or equal to 30")],
)
def test_r4_pending_window_outside_7_to_30(
    raw_kms: Any, key_id: str, days: int, bound: str
) -> None:
    assert fails(raw_kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=days) == (
        validation(
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )
    )
    assert state_of(raw_kms, key_id) == "Enabled"


def test_r4_scheduling_twice_is_refused(kms: Any, key_id: str) -> None:
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert fails(kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=7) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending deletion.",
    )


def test_r4_the_key_is_deleted_at_its_deletion_date(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"gone soon")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    lab.clock.advance(days=7, seconds=-1)
    assert state_of(kms, key_id) == "PendingDeletion"
    names = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/doomed" in names

    lab.clock.advance(seconds=1)
    assert lab.clock.now() == START + timedelta(days=7)
    assert fails(kms.describe_key, KeyId=key_id) == (
        "NotFoundException",
        f"Key '{key_arn(key_id)}' does not exist",
    )
    assert "alias/doomed" not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert fails(kms.describe_key, KeyId="alias/doomed")[0] == "NotFoundException"
    assert key_id not in [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert fails(kms.decrypt, CiphertextBlob=blob) == ("AccessDeniedException", NOT_IN_REGION)


def test_r4_a_cancelled_key_is_not_deleted(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)
    lab.clock.advance(days=40)
    assert state_of(kms, key_id) == "Disabled"


# == R5 aliases ====================================================================================


def test_r5_alias_needs_the_prefix(kms: Any, key_id: str) -> None:
    assert fails(kms.create_alias, AliasName="my-key", TargetKeyId=key_id) == validation(
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    )


def test_r5_duplicate_alias(kms: Any, key_id: str) -> None:
    name = f"alias/dup-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    other = new_key(kms)
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName=name, TargetKeyId=other)
    # The alias still names the first key.
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id


def test_r5_alias_resolution_for_encrypt_and_describe(kms: Any, key_id: str) -> None:
    name = f"alias/app-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id
        out = kms.encrypt(KeyId=ref, Plaintext=b"via alias")
        assert out["KeyId"] == key_arn(key_id)
        assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["KeyId"] == key_arn(key_id)


def test_r5_update_alias_moves_it(kms: Any, key_id: str) -> None:
    name = f"alias/moving-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    other = new_key(kms)
    kms.update_alias(AliasName=name, TargetKeyId=other)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=other)["Aliases"]] == [name]
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []


def test_r5_alias_not_found(kms: Any) -> None:
    assert fails(kms.describe_key, KeyId="alias/nope") == (
        "NotFoundException",
        "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found.",
    )
    assert fails(kms.encrypt, KeyId="alias/nope", Plaintext=b"x") == (
        "NotFoundException",
        "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found.",
    )


def test_r5_alias_entries_carry_dates(kms: Any, key_id: str) -> None:
    name = f"alias/dated-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    (entry,) = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert entry["AliasName"] == name
    assert entry["AliasArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:{name}"
    assert entry["TargetKeyId"] == key_id
    assert entry["CreationDate"] == START
    assert entry["LastUpdatedDate"] == START


def test_r5_alias_names_are_regional(lab: LocalKms, kms: Any, key_id: str) -> None:
    eu = lab.client(region_name="eu-west-1")
    eu_key = new_key(eu)
    name = f"alias/twice-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    eu.create_alias(AliasName=name, TargetKeyId=eu_key)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id
    assert eu.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == eu_key


def test_r5_delete_alias_leaves_the_key(kms: Any, key_id: str) -> None:
    name = f"alias/brief-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    kms.delete_alias(AliasName=name)
    assert fails(kms.describe_key, KeyId=name)[0] == "NotFoundException"
    assert state_of(kms, key_id) == "Enabled"


# == R6 identifiers and Regions ====================================================================


def test_r6_keys_are_regional(lab: LocalKms, kms: Any, key_id: str) -> None:
    eu = lab.client(region_name="eu-west-1")
    assert fails(eu.describe_key, KeyId=key_id) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:eu-west-1:111122223333:key/{key_id}' does not exist",
    )
    assert fails(eu.describe_key, KeyId=key_arn(key_id)) == (
        "NotFoundException",
        "Invalid arn us-east-1",
    )
    assert key_id not in [k["KeyId"] for k in eu.list_keys()["Keys"]]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"stays home")["CiphertextBlob"]
    assert fails(eu.decrypt, CiphertextBlob=blob) == ("AccessDeniedException", NOT_IN_REGION)


def test_r6_invalid_and_unknown_key_ids(kms: Any) -> None:
    assert fails(kms.describe_key, KeyId="fake-key-id") == (
        "NotFoundException",
        "Invalid keyId 'fake-key-id'",
    )
    unknown = str(uuid.UUID(int=1, version=4))
    assert fails(kms.describe_key, KeyId=unknown) == (
        "NotFoundException",
        f"Key '{key_arn(unknown)}' does not exist",
    )


def test_r6_key_ids_are_uuids_and_arns_name_account_and_region(kms: Any, key_id: str) -> None:
    assert str(uuid.UUID(key_id)) == key_id
    metadata = kms.describe_key(KeyId=key_arn(key_id))["KeyMetadata"]
    assert metadata["Arn"] == key_arn(key_id)
    assert metadata["AWSAccountId"] == ACCOUNT


def test_r6_responses_name_the_key_by_arn(kms: Any, key_id: str) -> None:
    arn = key_arn(key_id)
    other = new_key(kms)
    enc = kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert enc["KeyId"] == arn
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["KeyId"] == arn
    assert kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["KeyId"] == arn
    assert kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")["KeyId"] == arn
    re = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], DestinationKeyId=other)
    assert (re["SourceKeyId"], re["KeyId"]) == (arn, key_arn(other))
    assert kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)["KeyId"] == arn
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn


# == R7 the symmetric ciphertext blob ==============================================================


def test_r7_decrypt_needs_no_key_id(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"self-describing")["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob)
    assert (out["Plaintext"], out["KeyId"]) == (b"self-describing", key_arn(key_id))
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == b"self-describing"
    # A KeyId that names the right key by ARN or alias is accepted too.
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key_arn(key_id))["KeyId"] == key_arn(key_id)
    name = f"alias/confirm-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob, KeyId=name)["Plaintext"] == b"self-describing"


def test_r7_the_blob_header_names_key_and_material(kms: Any, key_id: str) -> None:
    # kmslab's own layout, written down in kmslab/blob.py: the header names account, key and
    # key material in the clear, which is why Decrypt needs no KeyId.
    ciphertext = kms.encrypt(KeyId=key_id, Plaintext=b"four")["CiphertextBlob"]
    parsed = blob_format.unpack(ciphertext)
    assert ciphertext[0] == blob_format.VERSION
    assert (parsed.key_id, parsed.key_material_id) == (key_id, material_of(kms, key_id))
    assert len(ciphertext) == blob_format.OVERHEAD + 4
    longest = kms.encrypt(KeyId=key_id, Plaintext=b"z" * 4096)["CiphertextBlob"]
    assert len(longest) == blob_format.OVERHEAD + 4096 <= 6144  # model CiphertextType max


def test_r7_wrong_key_id_on_decrypt(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"mine")["CiphertextBlob"]
    other = new_key(kms)
    with pytest.raises(kms.exceptions.IncorrectKeyException) as info:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert error_of(info.value) == ("IncorrectKeyException", INCORRECT_KEY)


def test_r7_corrupt_ciphertext_has_an_empty_message(kms: Any, key_id: str) -> None:
    blob = bytearray(kms.encrypt(KeyId=key_id, Plaintext=b"intact")["CiphertextBlob"])
    blob[-1] ^= 1
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as info:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert error_of(info.value) == ("InvalidCiphertextException", "")


def test_r7_ciphertext_is_bound_to_its_key(kms: Any, key_id: str) -> None:
    # Splice: the header of a blob under another key in front of this key's body.
    other = new_key(kms)
    mine = kms.encrypt(KeyId=key_id, Plaintext=b"same words")["CiphertextBlob"]
    theirs = kms.encrypt(KeyId=other, Plaintext=b"same words")["CiphertextBlob"]
    spliced = theirs[: blob_format.HEADER_BYTES] + mine[blob_format.HEADER_BYTES :]
    assert fails(kms.decrypt, CiphertextBlob=spliced) == ("InvalidCiphertextException", "")


# == R8 encryption context =========================================================================


def test_r8_context_order_does_not_matter(kms: Any, key_id: str) -> None:
    ctx = {"tenant": "acme", "purpose": "backup", "Zeta": ""}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"ctx", EncryptionContext=ctx)["CiphertextBlob"]
    reordered = dict(reversed(list(ctx.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"ctx"


@pytest.mark.parametrize(
    "wrong",
    [
        None,
        {},
        {"Tenant": "acme", "purpose": "backup"},
        {"tenant": "ACME", "purpose": "backup"},
        {"tenant": "acme"},
        {"tenant": "acme", "purpose": "backup", "extra": "x"},
        {"tenant": "acme ", "purpose": "backup"},
    ],
)
def test_r8_context_must_match_exactly(kms: Any, key_id: str, wrong: dict[str, str] | None) -> None:
    ctx = {"tenant": "acme", "purpose": "backup"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"ctx", EncryptionContext=ctx)["CiphertextBlob"]
    kwargs: dict[str, Any] = {"CiphertextBlob": blob}
    if wrong is not None:
        kwargs["EncryptionContext"] = wrong
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as info:
        kms.decrypt(**kwargs)
    assert error_of(info.value) == ("InvalidCiphertextException", "")


def test_r8_a_blob_without_context_refuses_one(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bare")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={})["Plaintext"] == b"bare"
    assert fails(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"}) == (
        "InvalidCiphertextException",
        "",
    )


# == R9 rotation ===================================================================================


def test_r9_rotation_is_off_by_default(kms: Any, key_id: str) -> None:
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []


def test_r9_on_demand_rotation_is_real(kms: Any, key_id: str) -> None:
    first = material_of(kms, key_id)
    old = kms.encrypt(KeyId=key_id, Plaintext=b"old material")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    second = material_of(kms, key_id)
    assert second != first
    new = kms.encrypt(KeyId=key_id, Plaintext=b"new material")["CiphertextBlob"]
    assert blob_format.unpack(new).key_material_id != blob_format.unpack(old).key_material_id

    old_out = kms.decrypt(CiphertextBlob=old)
    assert (old_out["Plaintext"], old_out["KeyMaterialId"]) == (b"old material", first)
    new_out = kms.decrypt(CiphertextBlob=new)
    assert (new_out["Plaintext"], new_out["KeyMaterialId"]) == (b"new material", second)
    re = kms.re_encrypt(CiphertextBlob=old, DestinationKeyId=key_id)
    assert (re["SourceKeyMaterialId"], re["DestinationKeyMaterialId"]) == (first, second)

    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["KeyMaterialId"] == second
    assert rotation["RotationType"] == "ON_DEMAND"
    assert rotation["RotationDate"] == START
    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [r["KeyMaterialId"] for r in everything["Rotations"]] == [first, second]
    assert [r["KeyMaterialState"] for r in everything["Rotations"]] == ["NON_CURRENT", "CURRENT"]


def test_r9_on_demand_limit_is_25(kms: Any, key_id: str) -> None:
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    with pytest.raises(kms.exceptions.LimitExceededException) as info:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(info.value) == (
        "LimitExceededException",
        "The on-demand rotations limit has been reached for the given keyId. No more on-demand "
        f"rotations can be performed for this key: {key_arn(key_id)}",
    )
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 25


def test_r9_on_demand_rotation_keeps_the_schedule(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    before = kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"]
    lab.clock.advance(days=10)
    kms.rotate_key_on_demand(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == before


def test_r9_automatic_rotation_on_the_lab_clock(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    assert status["NextRotationDate"] == START + timedelta(days=90)
    first = material_of(kms, key_id)
    old = kms.encrypt(KeyId=key_id, Plaintext=b"q1")["CiphertextBlob"]

    lab.clock.advance(days=89)
    assert material_of(kms, key_id) == first
    lab.clock.advance(days=1)
    second = material_of(kms, key_id)
    assert second != first
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"q1"
    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (rotation["RotationType"], rotation["KeyMaterialId"]) == ("AUTOMATIC", second)
    assert rotation["RotationDate"] == START + timedelta(days=90)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == START + timedelta(
        days=180
    )


def test_r9_automatic_rotation_default_period_365(private: tuple[LocalKms, Any]) -> None:
    _lab, kms = private
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["RotationPeriodInDays"] == 365
    assert status["NextRotationDate"] == START + timedelta(days=365)


@pytest.mark.parametrize(
    ("days", "bound"),
    [(89, "greater than or equal to 90"), (2561, "less than or equal to 2560")],
)
def test_r9_rotation_period_bounds(raw_kms: Any, key_id: str, days: int, bound: str) -> None:
    assert fails(raw_kms.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=days) == (
        validation(
            f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )
    )
    assert raw_kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_r9_rotation_period_89_is_caught_by_botocore_too(kms: Any, key_id: str) -> None:
    # The model's lower bound is checked client-side; 2561 (an upper bound) is not.
    with pytest.raises(ParamValidationError):
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=89)
    with pytest.raises(ClientError):
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=2561)


def test_r9_no_rotation_while_disabled(private: tuple[LocalKms, Any]) -> None:
    lab, kms = private
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    first = material_of(kms, key_id)
    kms.disable_key(KeyId=key_id)
    lab.clock.advance(days=100)
    assert material_of(kms, key_id) == first
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_r9_rotation_status_false_while_pending_deletion_restored_on_cancel(
    kms: Any, key_id: str
) -> None:
    kms.enable_key_rotation(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_r9_disable_key_rotation(kms: Any, key_id: str) -> None:
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    kms.disable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status


# == R10 key policy ================================================================================


def _statements(kms: Any, key_id: str) -> list[dict[str, Any]]:
    out = kms.get_key_policy(KeyId=key_id, PolicyName="default")
    assert out["PolicyName"] == "default"
    statements: list[dict[str, Any]] = json.loads(out["Policy"])["Statement"]
    return statements


def test_r10_default_policy(kms: Any, key_id: str) -> None:
    (statement,) = _statements(kms, key_id)
    assert statement["Sid"] == "Enable IAM User Permissions"
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statement["Action"] == "kms:*"
    assert statement["Resource"] == "*"
    assert (
        kms.get_key_policy(KeyId=key_id)["Policy"]
        == kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    )


def _policy_for(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": principal},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def _locked_out(key_id: str, operation: str) -> tuple[str, str]:
    return (
        "AccessDeniedException",
        f"User: arn:aws:iam::111122223333:root is not authorized to perform: kms:{operation} "
        f"on resource: {key_arn(key_id)} because no resource-based policy allows the "
        f"kms:{operation} action",
    )


def test_r10_lockout_safety_check(kms: Any, key_id: str) -> None:
    stranger = _policy_for("arn:aws:iam::444455556666:root")
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=stranger)
    assert _statements(kms, key_id)[0]["Sid"] == "Enable IAM User Permissions"
    kms.put_key_policy(
        KeyId=key_id, PolicyName="default", Policy=stranger, BypassPolicyLockoutSafetyCheck=True
    )
    # What the check was for: the account can no longer read or change its own key's policy.
    assert fails(kms.get_key_policy, KeyId=key_id, PolicyName="default") == _locked_out(
        key_id, "GetKeyPolicy"
    )
    mine = _policy_for("arn:aws:iam::111122223333:root")
    assert fails(kms.put_key_policy, KeyId=key_id, PolicyName="default", Policy=mine) == (
        _locked_out(key_id, "PutKeyPolicy")
    )


def test_r10_lockout_safety_check_on_create_key(kms: Any) -> None:
    stranger = _policy_for("arn:aws:iam::444455556666:root")
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException):
        kms.create_key(Policy=stranger)
    key_id = new_key(kms, Policy=stranger, BypassPolicyLockoutSafetyCheck=True)
    assert fails(kms.get_key_policy, KeyId=key_id, PolicyName="default") == _locked_out(
        key_id, "GetKeyPolicy"
    )


def test_r10_put_a_policy_that_keeps_the_caller(kms: Any, key_id: str) -> None:
    mine = _policy_for("arn:aws:iam::111122223333:root")
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=mine)
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == mine


def test_r10_only_the_default_policy_name(raw_kms: Any, key_id: str) -> None:
    mine = _policy_for("arn:aws:iam::111122223333:root")
    code, message = fails(raw_kms.put_key_policy, KeyId=key_id, PolicyName="other", Policy=mine)
    assert code == "ValidationException"
    assert "policyName" in message
    assert raw_kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]


# == R12 AWS managed keys ==========================================================================


def test_r12_aws_managed_key_created_on_first_use(private: tuple[LocalKms, Any]) -> None:
    _lab, kms = private
    before = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert "alias/aws/s3" in before
    assert "TargetKeyId" not in before["alias/aws/s3"]
    assert kms.list_keys()["Keys"] == []

    metadata = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert metadata["KeyManager"] == "AWS"
    assert metadata["KeyState"] == "Enabled"
    key_id = metadata["KeyId"]
    after = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert after["alias/aws/s3"]["TargetKeyId"] == key_id
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == key_id

    status = kms.get_key_rotation_status(KeyId=key_id)
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 365)


def test_r12_customer_keys_report_customer(kms: Any, key_id: str) -> None:
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyManager"] == "CUSTOMER"


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("disable_key", {}),
        ("schedule_key_deletion", {"PendingWindowInDays": 7}),
        ("put_key_policy", {"PolicyName": "default", "Policy": _policy_for("*")}),
        ("disable_key_rotation", {}),
        ("update_key_description", {"Description": "mine now"}),
        ("tag_resource", {"Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    ],
)
def test_r12_aws_managed_keys_cannot_be_changed(
    kms: Any, operation: str, kwargs: dict[str, Any]
) -> None:
    key_id = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    code, _message = fails(getattr(kms, operation), KeyId=key_id, **kwargs)
    assert code != "KMSInternalException"
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["Description"] != "mine now"
    assert metadata["KeyState"] == "Enabled"
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_r12_aliases_cannot_target_aws_managed_keys(kms: Any) -> None:
    key_id = kms.describe_key(KeyId="alias/aws/sqs")["KeyMetadata"]["KeyId"]
    code, _message = fails(kms.create_alias, AliasName="alias/mine-sqs", TargetKeyId=key_id)
    assert code != "KMSInternalException"
    assert fails(kms.describe_key, KeyId="alias/mine-sqs")[0] == "NotFoundException"


# == R14 tags ======================================================================================


def test_r14_tags_round_trip(kms: Any, key_id: str) -> None:
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}])
    kms.tag_resource(
        KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "2"}, {"TagKey": "b", "TagValue": ""}]
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags == {"a": "2", "b": ""}
    kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": ""}]


@pytest.mark.parametrize("prefix", ["aws:", "AWS:", "Aws:"])
def test_r14_reserved_prefix(kms: Any, key_id: str, prefix: str) -> None:
    tags = [{"TagKey": f"{prefix}owner", "TagValue": "x"}]
    with pytest.raises(kms.exceptions.TagException) as info:
        kms.tag_resource(KeyId=key_id, Tags=tags)
    assert error_of(info.value) == ("TagException", "Tags beginning with aws: are reserved")
    assert fails(kms.create_key, Tags=tags) == (
        "TagException",
        "Tags beginning with aws: are reserved",
    )


def test_r14_at_most_50_tags(kms: Any, key_id: str) -> None:
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"t{i}", "TagValue": ""} for i in range(50)])
    assert fails(kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "t50", "TagValue": ""}]) == (
        "TagException",
        "Too many tags",
    )
    assert len(kms.list_resource_tags(KeyId=key_id, Limit=100)["Tags"]) == 50


def test_r14_duplicate_tag_keys(kms: Any, key_id: str) -> None:
    tags = [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}]
    assert fails(kms.tag_resource, KeyId=key_id, Tags=tags) == (
        "TagException",
        "Duplicate tag keys",
    )
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


# == ReEncrypt =====================================================================================


def test_reencrypt_to_a_new_key_and_context(kms: Any, key_id: str) -> None:
    other = new_key(kms)
    old_ctx, new_ctx = {"stage": "old"}, {"stage": "new", "owner": "ops"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"rewrap me", EncryptionContext=old_ctx)[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=old_ctx,
        DestinationKeyId=other,
        DestinationEncryptionContext=new_ctx,
    )
    assert out["SourceKeyId"] == key_arn(key_id)
    assert out["KeyId"] == key_arn(other)
    assert out["SourceEncryptionAlgorithm"] == out["DestinationEncryptionAlgorithm"]
    fresh = out["CiphertextBlob"]
    assert fails(kms.decrypt, CiphertextBlob=fresh, EncryptionContext=old_ctx) == (
        "InvalidCiphertextException",
        "",
    )
    done = kms.decrypt(CiphertextBlob=fresh, EncryptionContext=new_ctx)
    assert (done["Plaintext"], done["KeyId"]) == (b"rewrap me", key_arn(other))
    # The source context is checked like Decrypt's.
    assert fails(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=other) == (
        "InvalidCiphertextException",
        "",
    )


def test_reencrypt_with_a_wrong_source_key_id(kms: Any, key_id: str) -> None:
    other = new_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert fails(
        kms.re_encrypt, CiphertextBlob=blob, SourceKeyId=other, DestinationKeyId=other
    ) == (
        "IncorrectKeyException",
        INCORRECT_KEY,
    )


# == small lab facts ===============================================================================


def test_new_key_metadata(kms: Any) -> None:
    metadata = kms.create_key(Description="hello")["KeyMetadata"]
    assert metadata["Description"] == "hello"
    assert metadata["KeyState"] == "Enabled"
    assert metadata["Enabled"] is True
    assert metadata["KeySpec"] == metadata["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["Origin"] == "AWS_KMS"
    assert metadata["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert len(metadata["CurrentKeyMaterialId"]) == 64
    assert metadata["CreationDate"] == START


def test_update_key_description(kms: Any, key_id: str) -> None:
    kms.update_key_description(KeyId=key_id, Description="renamed")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"


def test_management_operations_take_no_alias(kms: Any, key_id: str) -> None:
    name = f"alias/manage-{key_id[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    code, _message = fails(kms.disable_key, KeyId=name)
    assert code == "NotFoundException"
    assert state_of(kms, key_id) == "Enabled"


def test_seeded_labs_are_reproducible(make_lab: Any) -> None:
    one, two = make_lab(seed=99), make_lab(seed=99)
    kms_one, kms_two = one.client(), two.client()
    ids = [new_key(kms_one), new_key(kms_two)]
    assert ids[0] == ids[1]
    assert (
        kms_one.encrypt(KeyId=ids[0], Plaintext=b"same")["CiphertextBlob"]
        == kms_two.encrypt(KeyId=ids[1], Plaintext=b"same")["CiphertextBlob"]
    )


def test_list_operations_paginate_with_botocore_paginators(
    private: tuple[LocalKms, Any],
) -> None:
    _lab, kms = private
    ids = [new_key(kms) for _ in range(7)]
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["Keys"]) for page in pages] == [3, 3, 1]
    assert [page["Truncated"] for page in pages] == [True, True, False]
    assert sorted(k["KeyId"] for page in pages for k in page["Keys"]) == sorted(ids)
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=ids[0])
    rotations = kms.get_paginator("list_key_rotations").paginate(
        KeyId=ids[0], PaginationConfig={"PageSize": 1}
    )
    assert sum(len(page["Rotations"]) for page in rotations) == 3
    with pytest.raises(kms.exceptions.InvalidMarkerException):
        kms.list_keys(Marker="not-a-marker")
