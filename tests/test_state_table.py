"""The AWS key-state x operation table, cell by cell.

``AWS_TABLE`` is transcribed by hand from shared/reference/kms-rules.md section 3 (itself the
AWS Developer Guide page "Key states of AWS KMS keys"), NOT imported from kmslab, so that the
code's table (``kmslab.keys.STATE_RULES``) is checked against the AWS page rather than against
itself. Cell values:

    "OK"                              the key state does not stop the operation
    (code, "{arn} ...")               the error AWS returns, with its message template
    (code, None)                      the footnote names the error but not its text

Conditional cells ("?") are resolved for the key state alone; the condition is a separate rule
(origin, custom key store) that kmslab checks after the state:
    ?[7]  Enable/DisableKeyRotation, GetKeyRotationStatus: OK for an AWS_KMS key
    ?[9]  GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial: OK for EXTERNAL
    ?[10] UpdateAlias: the *destination* key pending deletion fails (the source may be PD)
    X[2]/[3] in the PD column: kms-rules.md says kmslab uses [3], KMSInvalidStateException
N/A cells are left out.

The boto3 part drives every operation of the foundation's issue against a symmetric AWS_KMS key
in each state such a key can reach (Enabled, Disabled, PendingDeletion).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import error_of, key_arn, new_key

from kmslab.keys import STATE_RULES, Key, check_state
from kmslab.model import KeyState

Cell = str | tuple[str, str | None]

OK = "OK"
D1 = ("DisabledException", "{arn} is disabled.")
D3 = ("KMSInvalidStateException", "{arn} is pending deletion.")
D4 = ("KMSInvalidStateException", "{arn} is not pending deletion.")
D5 = ("KMSInvalidStateException", "{arn} is pending import.")
D6 = (
    "UnsupportedOperationException",
    "{arn} origin is EXTERNAL which is not valid for this operation.",
)
D7 = ("UnsupportedOperationException", None)  # imported material or custom key store
D8 = ("KMSInvalidStateException", None)  # imported key material, pending deletion
D9 = ("UnsupportedOperationException", None)  # key cannot / does not have imported material
D11 = ("KMSInvalidStateException", "{arn} is unavailable.")
D14 = ("KMSInvalidStateException", "{arn} is creating.")
D15 = ("KMSInvalidStateException", "{arn} is updating.")

E, DIS, PD, PI, UN, CR, UP = (
    "Enabled",
    "Disabled",
    "PendingDeletion",
    "PendingImport",
    "Unavailable",
    "Creating",
    "Updating",
)


def _row(*cells: Cell | None) -> dict[str, Cell]:
    """One table row in the page's column order (PD also stands for PRD); None = N/A."""
    return {s: c for s, c in zip((E, DIS, PD, PI, UN, CR, UP), cells, strict=True) if c is not None}


_CRYPTO = _row(OK, D1, D3, D5, D11, D14, OK)
_ANY = _row(OK, OK, OK, OK, OK, OK, OK)
_MANAGE = _row(OK, OK, D3, OK, OK, OK, OK)
_SIGN_MAC = _row(OK, D1, D3, None, None, D14, OK)
_ROTATION = _row(OK, D1, D3, D6, D7, D14, OK)

#: kms-rules.md section 3, one entry per operation named in a row.
AWS_TABLE: dict[str, dict[str, Cell]] = {
    "CancelKeyDeletion": _row(D4, D4, OK, D4, D4, D4, D4),
    "CreateAlias": _MANAGE,
    "CreateGrant": _row(OK, D1, D3, D5, OK, D14, OK),
    "Decrypt": _CRYPTO,
    "Encrypt": _CRYPTO,
    "GenerateDataKey": _CRYPTO,
    "GenerateDataKeyWithoutPlaintext": _CRYPTO,
    "GenerateDataKeyPair": _CRYPTO,
    "GenerateDataKeyPairWithoutPlaintext": _CRYPTO,
    "ReEncrypt": _CRYPTO,
    "DeleteAlias": _ANY,
    "DescribeKey": _ANY,
    "GetKeyPolicy": _ANY,
    "PutKeyPolicy": _ANY,
    "ListAliases": _ANY,
    "ListGrants": _ANY,
    "ListKeyPolicies": _ANY,
    "ListResourceTags": _ANY,
    "RetireGrant": _ANY,
    "RevokeGrant": _ANY,
    "DeleteImportedKeyMaterial": _row(OK, OK, OK, OK, None, D14, D15),
    "DisableKey": _row(OK, OK, D3, D5, OK, D14, D15),
    "EnableKey": _row(OK, OK, D3, D5, OK, D14, D15),
    "EnableKeyRotation": _ROTATION,
    "DisableKeyRotation": _ROTATION,
    "GenerateMac": _SIGN_MAC,
    "VerifyMac": _SIGN_MAC,
    "Sign": _SIGN_MAC,
    "Verify": _SIGN_MAC,
    "GetPublicKey": _SIGN_MAC,
    "GetKeyRotationStatus": _row(OK, OK, OK, D6, D7, OK, OK),
    "GetParametersForImport": _row(OK, OK, D8, OK, D9, D14, D15),
    "ImportKeyMaterial": _row(OK, OK, D8, OK, D9, D14, OK),
    "ScheduleKeyDeletion": _row(OK, OK, D3, OK, OK, OK, D15),
    "TagResource": _MANAGE,
    "UntagResource": _MANAGE,
    "UpdateKeyDescription": _MANAGE,
    "UpdateAlias": _MANAGE,  # destination key; [10]
}

#: Operations added after the 2023 table (kms-rules.md section 3, notes). RotateKeyOnDemand's
#: model error list carries the same DisabledException / KMSInvalidStateException pair as the
#: crypto rows. ListKeyRotations' model error list has no DisabledException; no source says
#: what it does while PendingDeletion, so that cell is not asserted.
LATER_OPERATIONS: dict[str, dict[str, Cell]] = {
    "RotateKeyOnDemand": {E: OK, DIS: D1, PD: D3},
    "ListKeyRotations": {E: OK, DIS: OK},
}


# == the code's table against the page =============================================================


def _code_cell(operation: str, state: KeyState, origin: str) -> Cell:
    outcome = STATE_RULES[operation][state]
    if outcome is None:
        return OK
    cls, template = outcome
    return cls.__name__, template.format(arn="{arn}", origin=origin)


PRD = "PendingReplicaDeletion"


def _cells() -> list[tuple[str, str]]:
    # The page's PD column is "PendingDeletion / PendingReplicaDeletion": both states get it.
    cells = []
    for op, row in AWS_TABLE.items():
        cells += [(op, state) for state in row]
        if PD in row:
            cells.append((op, PRD))
    return cells


@pytest.mark.parametrize(("operation", "state"), _cells())
def test_state_rules_match_the_aws_page(operation: str, state: str) -> None:
    assert operation in STATE_RULES, f"{operation} is missing from kmslab.keys.STATE_RULES"
    expected = AWS_TABLE[operation][PD if state == PRD else state]
    # A PendingImport key is an EXTERNAL key; the [6] text names that origin.
    got = _code_cell(operation, KeyState(state), origin="EXTERNAL")
    if isinstance(expected, tuple) and expected[1] is None:
        assert got != OK and got[0] == expected[0], (operation, state, got)
    else:
        assert got == expected, (operation, state)


def test_every_key_state_is_a_column() -> None:
    covered = {state for _op, state in _cells()}
    assert covered == {s.value for s in KeyState}


def test_pending_replica_deletion_message_says_replica() -> None:
    arn = key_arn("1234abcd-12ab-34cd-56ef-1234567890ab")
    key = Key(
        key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
        account="111122223333",
        region="us-east-1",
        arn=arn,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        state=KeyState.PENDING_REPLICA_DELETION,
    )
    with pytest.raises(Exception) as info:
        check_state("Encrypt", key)
    assert type(info.value).__name__ == "KMSInvalidStateException"
    assert str(info.value) == f"{arn} is pending replica deletion."


def test_later_operations_match_their_transcription() -> None:
    for operation, row in LATER_OPERATIONS.items():
        for state, expected in row.items():
            assert _code_cell(operation, KeyState(state), "AWS_KMS") == expected, (operation, state)


# == through boto3: every operation of the issue in every reachable state ==========================


@dataclass
class Subject:
    """A key in the state under test, plus what the operations need around it."""

    kms: Any
    key_id: str
    arn: str
    other: str  # an Enabled key
    blob: bytes  # encrypted under the subject while it was Enabled
    other_blob: bytes  # encrypted under the other key
    alias: str  # -> subject
    other_alias: str  # -> other
    serial: int


_counter = iter(range(1_000_000))

_DEFAULT_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)


def _subject(kms: Any, state: str) -> Subject:
    n = next(_counter)
    key_id, other = new_key(kms), new_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"state table")["CiphertextBlob"]
    other_blob = kms.encrypt(KeyId=other, Plaintext=b"state table")["CiphertextBlob"]
    alias, other_alias = f"alias/state-{n}", f"alias/state-other-{n}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    kms.create_alias(AliasName=other_alias, TargetKeyId=other)
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "lab"}])
    if state == DIS:
        kms.disable_key(KeyId=key_id)
    elif state == PD:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state
    return Subject(kms, key_id, key_arn(key_id), other, blob, other_blob, alias, other_alias, n)


Operation = Callable[[Subject], Any]

#: name -> (row of the table to expect, how to call it on the subject key)
OPERATIONS: dict[str, tuple[str, Operation]] = {
    "DescribeKey": ("DescribeKey", lambda s: s.kms.describe_key(KeyId=s.key_id)),
    "UpdateKeyDescription": (
        "UpdateKeyDescription",
        lambda s: s.kms.update_key_description(KeyId=s.key_id, Description="new"),
    ),
    "CreateAlias": (
        "CreateAlias",
        lambda s: s.kms.create_alias(AliasName=f"alias/new-{s.serial}", TargetKeyId=s.key_id),
    ),
    "UpdateAlias(destination)": (
        "UpdateAlias",
        lambda s: s.kms.update_alias(AliasName=s.other_alias, TargetKeyId=s.key_id),
    ),
    "DeleteAlias": ("DeleteAlias", lambda s: s.kms.delete_alias(AliasName=s.alias)),
    "ListAliases(KeyId)": ("ListAliases", lambda s: s.kms.list_aliases(KeyId=s.key_id)),
    "TagResource": (
        "TagResource",
        lambda s: s.kms.tag_resource(KeyId=s.key_id, Tags=[{"TagKey": "k", "TagValue": "v"}]),
    ),
    "UntagResource": (
        "UntagResource",
        lambda s: s.kms.untag_resource(KeyId=s.key_id, TagKeys=["team"]),
    ),
    "ListResourceTags": ("ListResourceTags", lambda s: s.kms.list_resource_tags(KeyId=s.key_id)),
    "Encrypt": ("Encrypt", lambda s: s.kms.encrypt(KeyId=s.key_id, Plaintext=b"x")),
    "Decrypt": ("Decrypt", lambda s: s.kms.decrypt(CiphertextBlob=s.blob)),
    "ReEncrypt(source)": (
        "ReEncrypt",
        lambda s: s.kms.re_encrypt(CiphertextBlob=s.blob, DestinationKeyId=s.other),
    ),
    "ReEncrypt(destination)": (
        "ReEncrypt",
        lambda s: s.kms.re_encrypt(CiphertextBlob=s.other_blob, DestinationKeyId=s.key_id),
    ),
    "GenerateDataKey": (
        "GenerateDataKey",
        lambda s: s.kms.generate_data_key(KeyId=s.key_id, KeySpec="AES_256"),
    ),
    "GenerateDataKeyWithoutPlaintext": (
        "GenerateDataKeyWithoutPlaintext",
        lambda s: s.kms.generate_data_key_without_plaintext(KeyId=s.key_id, NumberOfBytes=16),
    ),
    "EnableKey": ("EnableKey", lambda s: s.kms.enable_key(KeyId=s.key_id)),
    "DisableKey": ("DisableKey", lambda s: s.kms.disable_key(KeyId=s.key_id)),
    "ScheduleKeyDeletion": (
        "ScheduleKeyDeletion",
        lambda s: s.kms.schedule_key_deletion(KeyId=s.key_id, PendingWindowInDays=7),
    ),
    "CancelKeyDeletion": ("CancelKeyDeletion", lambda s: s.kms.cancel_key_deletion(KeyId=s.key_id)),
    "EnableKeyRotation": ("EnableKeyRotation", lambda s: s.kms.enable_key_rotation(KeyId=s.key_id)),
    "DisableKeyRotation": (
        "DisableKeyRotation",
        lambda s: s.kms.disable_key_rotation(KeyId=s.key_id),
    ),
    "GetKeyRotationStatus": (
        "GetKeyRotationStatus",
        lambda s: s.kms.get_key_rotation_status(KeyId=s.key_id),
    ),
    "RotateKeyOnDemand": (
        "RotateKeyOnDemand",
        lambda s: s.kms.rotate_key_on_demand(KeyId=s.key_id),
    ),
    "ListKeyRotations": ("ListKeyRotations", lambda s: s.kms.list_key_rotations(KeyId=s.key_id)),
    "GetKeyPolicy": (
        "GetKeyPolicy",
        lambda s: s.kms.get_key_policy(KeyId=s.key_id, PolicyName="default"),
    ),
    "PutKeyPolicy": (
        "PutKeyPolicy",
        lambda s: s.kms.put_key_policy(
            KeyId=s.key_id, PolicyName="default", Policy=_DEFAULT_POLICY
        ),
    ),
    "ListKeyPolicies": ("ListKeyPolicies", lambda s: s.kms.list_key_policies(KeyId=s.key_id)),
}


def _expected(row: str, state: str) -> Cell | None:
    table = AWS_TABLE.get(row) or LATER_OPERATIONS[row]
    return table.get(state)


def _wire_cases() -> list[Any]:
    cases = []
    for name, (row, _call) in OPERATIONS.items():
        for state in (E, DIS, PD):
            if _expected(row, state) is not None:
                cases.append(pytest.param(name, state, id=f"{name}-{state}"))
    return cases


def test_every_operation_of_the_issue_is_driven() -> None:
    issue = {
        "DescribeKey", "UpdateKeyDescription", "CreateAlias", "UpdateAlias", "DeleteAlias",
        "ListAliases", "TagResource", "UntagResource", "ListResourceTags", "Encrypt", "Decrypt",
        "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "EnableKey",
        "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKeyRotation",
        "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
        "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    }  # fmt: skip
    assert {row for row, _call in OPERATIONS.values()} == issue


@pytest.mark.parametrize(("name", "state"), _wire_cases())
def test_operation_in_state(kms: Any, name: str, state: str) -> None:
    row, call = OPERATIONS[name]
    expected = _expected(row, state)
    subject = _subject(kms, state)
    if expected == OK:
        response = call(subject)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        return
    assert isinstance(expected, tuple)
    code, template = expected
    with pytest.raises(ClientError) as info:
        call(subject)
    assert isinstance(info.value, getattr(kms.exceptions, code)), error_of(info.value)
    assert error_of(info.value) == (code, (template or "").format(arn=subject.arn))
    # A refused operation leaves the key where it was.
    assert kms.describe_key(KeyId=subject.key_id)["KeyMetadata"]["KeyState"] == state
