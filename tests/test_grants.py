"""Grants (kms-rules R14; CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and
RevokeGrant API references), through a real boto3 client; and the pure rule
:func:`kmslab.grants.grant_allows` that authorization consults.

Each grant operation's effect is observed through another one: a grant created appears in
ListGrants and ListRetirableGrants, a grant retired or revoked is gone from both, a persisted
lab still has its grants after it is reopened.

Where the messages come from (AWS publishes no list of its error texts; the codes are botocore's):
- verified against real AWS responses: "Grants must not contain only the CreateGrant
  operation." (ValidationException from CreateGrant, quoted in
  https://github.com/ansible/ansible/pull/31960) and "ARN does not refer to a valid principal:
  <arn>" (InvalidArnException; AWS's text as Lambda relays it, "KMS Exception:
  InvalidArnException KMS Message: ARN does not refer to a valid principal: arn:aws:sts::...",
  quoted in several public repositories' error handling).
- AWS's generic model-validation form, recorded for other fields in LocalStack's AWS snapshots:
  "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: ...".
- unverified (no AWS-recorded text found): "Invalid grant token.", "Invalid GrantId '<id>'",
  "Grant ID <id> not found" (moto's wording), "Grant not found for the grant token.", "Grant
  token OR (grant ID, key ID) must be specified" (LocalStack's wording), the
  GranteePrincipal / GranteeServicePrincipal / RetiringPrincipal texts, the constraint texts,
  "Grant operation X is not valid for a KMS key with key spec ...", and RetireGrant's
  AccessDeniedException text. Tests that assert these pin kmslab's wording, not AWS's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, RAW, START, fails, key_arn, new_key

from kmslab import LocalKms, ManualClock
from kmslab.grants import Grant, child_grant_within, grant_allows, may_retire, operations_for
from kmslab.iam import root_principal

USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Reader"
OTHER_ACCOUNT = "444455556666"
OTHER_ROOT = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
THIRD_ACCOUNT = "777788889999"
GRANT_ID = re.compile(r"^[0-9a-f]{64}$")
ONLY_CREATE_GRANT = "Grants must not contain only the CreateGrant operation."


def grant(kms: Any, key_id: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("GranteePrincipal", USER)
    kwargs.setdefault("Operations", ["Encrypt", "Decrypt"])
    out: dict[str, Any] = kms.create_grant(KeyId=key_id, **kwargs)
    return out


def grants_of(kms: Any, key_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kms.list_grants(KeyId=key_id, **kwargs)["Grants"]
    return found


def ids_of(kms: Any, key_id: str) -> list[str]:
    return [g["GrantId"] for g in grants_of(kms, key_id)]


def asymmetric(kms: Any, spec: str, usage: str) -> str:
    return new_key(kms, KeySpec=spec, KeyUsage=usage)


# == CreateGrant and ListGrants ====================================================================


def test_a_grant_appears_in_list_grants_with_every_field(kms: Any, key_id: str) -> None:
    created = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=USER,
        RetiringPrincipal=ROLE,
        Operations=["Encrypt", "Decrypt", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"Department": "Finance"}},
        Name="finance-app",
    )
    assert GRANT_ID.match(created["GrantId"])
    token = created["GrantToken"]
    assert len(token) >= 200 and created["GrantId"] not in token  # opaque and long
    (entry,) = grants_of(kms, key_id)
    assert entry == {
        "KeyId": key_arn(key_id),
        "GrantId": created["GrantId"],
        "Name": "finance-app",
        "CreationDate": START,
        "GranteePrincipal": USER,
        "RetiringPrincipal": ROLE,
        "IssuingAccount": f"arn:aws:iam::{ACCOUNT}:root",
        "Operations": ["Encrypt", "Decrypt", "RetireGrant"],
        "Constraints": {"EncryptionContextSubset": {"Department": "Finance"}},
    }


def test_a_grant_without_name_or_constraints_lists_neither(kms: Any, key_id: str) -> None:
    grant(kms, key_id)
    (entry,) = grants_of(kms, key_id)
    assert "Name" not in entry and "Constraints" not in entry and "RetiringPrincipal" not in entry


def test_same_name_and_parameters_return_the_same_grant_with_a_new_token(
    kms: Any, key_id: str
) -> None:
    first = grant(kms, key_id, Name="retry-safe")
    again = grant(kms, key_id, Name="retry-safe")
    assert again["GrantId"] == first["GrantId"]
    assert again["GrantToken"] != first["GrantToken"]
    assert ids_of(kms, key_id) == [first["GrantId"]]
    # Both tokens name the one grant: retiring with either removes it.
    kms.retire_grant(GrantToken=again["GrantToken"])
    assert ids_of(kms, key_id) == []


def test_same_name_with_other_parameters_is_a_new_grant(kms: Any, key_id: str) -> None:
    first = grant(kms, key_id, Name="app")
    other = grant(kms, key_id, Name="app", Operations=["Encrypt"])
    assert other["GrantId"] != first["GrantId"]
    assert sorted(ids_of(kms, key_id)) == sorted([first["GrantId"], other["GrantId"]])


def test_without_a_name_every_request_is_a_new_grant(kms: Any, key_id: str) -> None:
    a, b = grant(kms, key_id), grant(kms, key_id)
    assert a["GrantId"] != b["GrantId"]
    assert len(grants_of(kms, key_id)) == 2


def test_a_same_named_grant_on_another_key_is_another_grant(kms: Any) -> None:
    one, two = new_key(kms), new_key(kms)
    assert grant(kms, one, Name="n")["GrantId"] != grant(kms, two, Name="n")["GrantId"]
    assert len(grants_of(kms, one)) == len(grants_of(kms, two)) == 1


# -- operations valid for the key type -------------------------------------------------------------

GRANTABLE = {
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"): [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    ],
    ("RSA_2048", "ENCRYPT_DECRYPT"): [
        "Decrypt",
        "Encrypt",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GetPublicKey",
    ],
    ("ECC_NIST_P256", "SIGN_VERIFY"): ["Sign", "Verify", "GetPublicKey"],
    ("HMAC_256", "GENERATE_VERIFY_MAC"): ["GenerateMac", "VerifyMac"],
    ("ECC_NIST_P256", "KEY_AGREEMENT"): ["DeriveSharedSecret", "GetPublicKey"],
    ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"): ["Encapsulate", "Decapsulate", "GetPublicKey"],
}
EVERY_OPERATION = sorted({op for ops in GRANTABLE.values() for op in ops})


def make_key(kms: Any, spec: str, usage: str) -> str:
    if spec == "SYMMETRIC_DEFAULT":
        return new_key(kms)
    return asymmetric(kms, spec, usage)


@pytest.mark.parametrize(("spec", "usage"), list(GRANTABLE))
def test_operations_must_suit_the_key_type(kms: Any, spec: str, usage: str) -> None:
    key_id = make_key(kms, spec, usage)
    allowed = [*GRANTABLE[(spec, usage)], "CreateGrant", "DescribeKey", "RetireGrant"]
    grant(kms, key_id, Operations=allowed)
    assert grants_of(kms, key_id)[0]["Operations"] == allowed
    for op in EVERY_OPERATION:
        if op in allowed:
            continue
        code, message = fails(
            kms.create_grant, KeyId=key_id, GranteePrincipal=USER, Operations=[op]
        )
        assert (code, message) == (
            "ValidationException",
            f"Grant operation {op} is not valid for a KMS key with key spec {spec} and key "
            f"usage {usage}.",
        )
    assert len(grants_of(kms, key_id)) == 1
    assert set(allowed) == operations_for(spec, usage)


def test_encrypt_on_an_hmac_key_is_a_validation_error(kms: Any) -> None:
    hmac_key = asymmetric(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    code, message = fails(
        kms.create_grant, KeyId=hmac_key, GranteePrincipal=USER, Operations=["Encrypt"]
    )
    assert code == "ValidationException"
    assert message.startswith("Grant operation Encrypt is not valid")


def test_a_grant_of_only_create_grant_is_refused(kms: Any, key_id: str) -> None:
    assert fails(
        kms.create_grant, KeyId=key_id, GranteePrincipal=USER, Operations=["CreateGrant"]
    ) == ("ValidationException", ONLY_CREATE_GRANT)
    grant(kms, key_id, Operations=["CreateGrant", "Decrypt"])


# -- constraints ----------------------------------------------------------------------------------


def test_equals_and_subset_together_are_refused(kms: Any, key_id: str) -> None:
    code, message = fails(
        kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"a": "1"}, "EncryptionContextSubset": {"a": "1"}},
    )
    assert code == "ValidationException"
    assert "cannot both be specified" in message


def test_a_constraint_holds_at_most_8_pairs(kms: Any, key_id: str) -> None:
    eight = {f"k{i}": "v" for i in range(8)}
    grant(kms, key_id, Constraints={"EncryptionContextEquals": eight})
    nine = {f"k{i}": "v" for i in range(9)}
    assert fails(
        kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": nine},
    ) == (
        "ValidationException",
        "A grant constraint can include up to 8 encryption context pairs.",
    )


def test_a_constraint_value_holds_at_most_384_characters(kms: Any, key_id: str) -> None:
    grant(kms, key_id, Constraints={"EncryptionContextEquals": {"k": "v" * 384}})
    assert fails(
        kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"k": "v" * 385}},
    ) == (
        "ValidationException",
        "The encryption context value in a grant constraint cannot exceed 384 characters.",
    )


def test_constraints_only_on_operations_that_take_a_context(kms: Any) -> None:
    signing = asymmetric(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    code, message = fails(
        kms.create_grant,
        KeyId=signing,
        GranteePrincipal=USER,
        Operations=["Sign"],
        Constraints={"EncryptionContextEquals": {"a": "b"}},
    )
    assert code == "ValidationException"
    assert message.endswith("; Sign does not.")
    # DescribeKey and RetireGrant may carry a constraint: it just does not apply to them.
    grant(
        kms,
        signing,
        Operations=["DescribeKey", "RetireGrant"],
        Constraints={"EncryptionContextEquals": {"a": "b"}},
    )
    assert len(grants_of(kms, signing)) == 1


# -- principals and the other parameters ----------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{ACCOUNT}:root",
        USER,
        ROLE,
        f"arn:aws:iam::{ACCOUNT}:role/service-role/path/Worker",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/session-1",
        f"arn:aws:iam::{ACCOUNT}:federated-user/bob",
        OTHER_ACCOUNT,
        "rds.us-east-1.amazonaws.com",
    ],
)
def test_grantee_principals_that_are_accepted(kms: Any, key_id: str, principal: str) -> None:
    grant(kms, key_id, GranteePrincipal=principal, RetiringPrincipal=principal)
    (entry,) = grants_of(kms, key_id)
    assert entry["GranteePrincipal"] == entry["RetiringPrincipal"] == principal


@pytest.mark.parametrize(
    "principal",
    [f"arn:aws:iam::{ACCOUNT}:group/Admins", "alice", f"arn:aws:s3:::bucket-{ACCOUNT}"],
)
def test_a_principal_that_is_no_principal_is_an_invalid_arn(
    kms: Any, key_id: str, principal: str
) -> None:
    for member in ("GranteePrincipal", "RetiringPrincipal"):
        args = {"GranteePrincipal": USER, member: principal}
        assert fails(kms.create_grant, KeyId=key_id, Operations=["Decrypt"], **args) == (
            "InvalidArnException",
            f"ARN does not refer to a valid principal: {principal}",
        )
    assert grants_of(kms, key_id) == []


def test_grantee_principal_or_service_principal_exactly_one(kms: Any, key_id: str) -> None:
    either = "You must specify either GranteePrincipal or GranteeServicePrincipal, but not both."
    assert fails(kms.create_grant, KeyId=key_id, Operations=["Decrypt"]) == (
        "ValidationException",
        either,
    )
    assert fails(
        kms.create_grant,
        KeyId=key_id,
        Operations=["Decrypt"],
        GranteePrincipal=USER,
        GranteeServicePrincipal="logs.us-east-1.amazonaws.com",
    ) == ("ValidationException", either)


def test_a_service_principal_grant_needs_source_arn_and_a_retiring_principal(
    kms: Any, key_id: str
) -> None:
    base = {"KeyId": key_id, "Operations": ["Decrypt"]}
    service = "logs.us-east-1.amazonaws.com"
    source = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:app"
    code, message = fails(kms.create_grant, GranteeServicePrincipal=service, **base)
    assert (code, "SourceArn" in message) == ("ValidationException", True)
    code, message = fails(
        kms.create_grant,
        GranteeServicePrincipal=service,
        Constraints={"SourceArn": source},
        **base,
    )
    assert (code, "RetiringPrincipal" in message) == ("ValidationException", True)
    kms.create_grant(
        GranteeServicePrincipal=service,
        RetiringServicePrincipal=service,
        Constraints={"SourceArn": source},
        **base,
    )
    (entry,) = grants_of(kms, key_id, GranteeServicePrincipal=service)
    assert entry["GranteeServicePrincipal"] == entry["RetiringServicePrincipal"] == service
    assert entry["Constraints"] == {"SourceArn": source}
    assert "GranteePrincipal" not in entry


def test_only_key_id_or_key_arn_names_the_key(kms: Any, key_id: str) -> None:
    kms.create_alias(AliasName=f"alias/grants-{key_id}", TargetKeyId=key_id)
    code, _ = fails(
        kms.create_grant,
        KeyId=f"alias/grants-{key_id}",
        GranteePrincipal=USER,
        Operations=["Decrypt"],
    )
    assert code == "NotFoundException"
    grant(kms, key_arn(key_id))
    assert len(grants_of(kms, key_arn(key_id))) == 1


def test_unknown_key(kms: Any) -> None:
    missing = "0b9b5ad0-2c1a-4c4f-8a53-2c0c9d9e1f00"
    assert fails(
        kms.create_grant, KeyId=missing, GranteePrincipal=USER, Operations=["Decrypt"]
    ) == ("NotFoundException", f"Key '{key_arn(missing)}' does not exist")


# -- key state ------------------------------------------------------------------------------------


def test_the_key_must_be_enabled(kms: Any, key_id: str) -> None:
    kms.disable_key(KeyId=key_id)
    assert fails(kms.create_grant, KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"]) == (
        "DisabledException",
        f"{key_arn(key_id)} is disabled.",
    )
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert fails(kms.create_grant, KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"]) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending deletion.",
    )


def test_listing_retiring_and_revoking_work_in_any_key_state(kms: Any, key_id: str) -> None:
    a, b = grant(kms, key_id), grant(kms, key_id)
    kms.disable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert len(grants_of(kms, key_id)) == 2
    kms.retire_grant(GrantToken=a["GrantToken"])
    kms.revoke_grant(KeyId=key_id, GrantId=b["GrantId"])
    assert grants_of(kms, key_id) == []


# -- grant tokens and DryRun ----------------------------------------------------------------------


def test_at_most_10_grant_tokens(raw_kms: Any, key_id: str) -> None:
    token = grant(raw_kms, key_id)["GrantToken"]
    grant(raw_kms, key_id, GrantTokens=[token] * 10)
    code, message = fails(
        raw_kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        GrantTokens=[token] * 11,
    )
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith(
        "' at 'grantTokens' failed to satisfy constraint: Member must have length less than or "
        "equal to 10"
    )


def test_a_malformed_grant_token_is_refused(kms: Any, key_id: str) -> None:
    assert fails(
        kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        GrantTokens=["not-a-grant-token"],
    ) == ("InvalidGrantTokenException", "Invalid grant token.")


def test_dry_run_creates_nothing(kms: Any, key_id: str) -> None:
    assert fails(
        kms.create_grant,
        KeyId=key_id,
        GranteePrincipal=USER,
        Operations=["Decrypt"],
        DryRun=True,
    ) == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
    assert grants_of(kms, key_id) == []


# -- ListGrants filters and paging ----------------------------------------------------------------


def test_list_grants_filters_by_grant_id_and_grantee(kms: Any, key_id: str) -> None:
    mine = grant(kms, key_id)["GrantId"]
    theirs = grant(kms, key_id, GranteePrincipal=ROLE)["GrantId"]
    assert [g["GrantId"] for g in grants_of(kms, key_id, GrantId=theirs)] == [theirs]
    assert [g["GrantId"] for g in grants_of(kms, key_id, GranteePrincipal=USER)] == [mine]
    assert grants_of(kms, key_id, GrantId="0" * 64) == []
    assert fails(kms.list_grants, KeyId=key_id, GrantId="not-a-grant-id") == (
        "InvalidGrantIdException",
        "Invalid GrantId 'not-a-grant-id'",
    )


def test_list_grants_pages_with_limit_and_marker(kms: Any, key_id: str) -> None:
    made = [grant(kms, key_id)["GrantId"] for _ in range(5)]
    seen: list[str] = []
    marker: str | None = None
    pages = 0
    while True:
        args = {"KeyId": key_id, "Limit": 2, **({"Marker": marker} if marker else {})}
        page = kms.list_grants(**args)
        pages += 1
        assert len(page["Grants"]) <= 2
        seen += [g["GrantId"] for g in page["Grants"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert pages == 3 and sorted(seen) == sorted(made)
    code, _ = fails(kms.list_grants, KeyId=key_id, Marker="garbage")
    assert code == "InvalidMarkerException"


def test_list_grants_of_an_unknown_key(kms: Any) -> None:
    code, _ = fails(kms.list_grants, KeyId="0b9b5ad0-2c1a-4c4f-8a53-2c0c9d9e1f01")
    assert code == "NotFoundException"


# == ListRetirableGrants ===========================================================================


def test_list_retirable_grants_finds_the_grants_a_principal_may_retire(kms: Any) -> None:
    retiree = f"arn:aws:iam::{ACCOUNT}:role/Retiree-{new_key(kms)[:8]}"
    one, two = new_key(kms), new_key(kms)
    a = grant(kms, one, RetiringPrincipal=retiree)["GrantId"]
    b = grant(kms, two, RetiringPrincipal=retiree)["GrantId"]
    grant(kms, one, RetiringPrincipal=ROLE)
    grant(kms, two)
    found = kms.list_retirable_grants(RetiringPrincipal=retiree)
    assert found["Truncated"] is False
    assert sorted(g["GrantId"] for g in found["Grants"]) == sorted([a, b])
    assert {g["KeyId"] for g in found["Grants"]} == {key_arn(one), key_arn(two)}
    first = kms.list_retirable_grants(RetiringPrincipal=retiree, Limit=1)
    assert first["Truncated"] is True and len(first["Grants"]) == 1
    rest = kms.list_retirable_grants(RetiringPrincipal=retiree, Marker=first["NextMarker"])
    assert [g["GrantId"] for g in first["Grants"] + rest["Grants"]] == [
        g["GrantId"] for g in found["Grants"]
    ]
    kms.retire_grant(KeyId=one, GrantId=a)
    left = kms.list_retirable_grants(RetiringPrincipal=retiree)["Grants"]
    assert [g["GrantId"] for g in left] == [b]


def test_list_retirable_grants_needs_a_retiring_principal(kms: Any) -> None:
    code, _ = fails(kms.list_retirable_grants)
    assert code == "ValidationException"


# == RetireGrant ===================================================================================


def test_retire_by_token(kms: Any, key_id: str) -> None:
    keep = grant(kms, key_id)["GrantId"]
    gone = grant(kms, key_id)
    assert kms.retire_grant(GrantToken=gone["GrantToken"])["ResponseMetadata"]
    assert ids_of(kms, key_id) == [keep]
    assert fails(kms.retire_grant, GrantToken=gone["GrantToken"])[0] == "NotFoundException"


def test_retire_by_key_and_grant_id(kms: Any, key_id: str) -> None:
    gone = grant(kms, key_id)["GrantId"]
    kms.retire_grant(KeyId=key_arn(key_id), GrantId=gone)
    assert ids_of(kms, key_id) == []
    assert fails(kms.retire_grant, KeyId=key_id, GrantId=gone) == (
        "NotFoundException",
        f"Grant ID {gone} not found",
    )


def test_retire_errors(kms: Any, key_id: str) -> None:
    g = grant(kms, key_id)
    assert fails(kms.retire_grant, GrantToken="AQp" + "A" * 80) == (
        "InvalidGrantTokenException",
        "Invalid grant token.",
    )
    assert fails(kms.retire_grant, KeyId=key_id, GrantId="xyz") == (
        "InvalidGrantIdException",
        "Invalid GrantId 'xyz'",
    )
    assert fails(kms.retire_grant, GrantId=g["GrantId"])[0] == "ValidationException"
    assert fails(kms.retire_grant)[0] == "ValidationException"
    other = new_key(kms)
    assert fails(kms.retire_grant, KeyId=other, GrantId=g["GrantId"]) == (
        "NotFoundException",
        f"Grant ID {g['GrantId']} not found",
    )
    assert fails(kms.retire_grant, GrantToken=g["GrantToken"], DryRun=True)[0] == (
        "DryRunOperationException"
    )
    assert ids_of(kms, key_id) == [g["GrantId"]]


def test_who_may_retire(make_lab: Callable[..., LocalKms]) -> None:
    """The retiring principal, the grantee when the grant allows RetireGrant, and the key's
    account may retire a grant; nobody else (RetireGrant API reference)."""
    lab = make_lab()
    for number, account in enumerate((OTHER_ACCOUNT, THIRD_ACCOUNT)):
        lab.directory.add(
            root_principal(account, f"AKIAKMSLABTEST0000{number}", f"secret-{account}")
        )
    owner = lab.client(config=RAW)
    other = lab.client(principal=OTHER_ROOT, config=RAW)
    third = lab.client(principal=f"arn:aws:iam::{THIRD_ACCOUNT}:root", config=RAW)
    key_id = new_key(owner)
    arn = key_arn(key_id)

    retiring = grant(owner, key_id, RetiringPrincipal=OTHER_ROOT)
    code, _ = fails(third.retire_grant, GrantToken=retiring["GrantToken"])
    assert code == "AccessDeniedException"
    other.retire_grant(KeyId=arn, GrantId=retiring["GrantId"])

    grantee = grant(owner, key_id, GranteePrincipal=OTHER_ROOT, Operations=["RetireGrant"])
    assert [
        g["GrantId"] for g in other.list_retirable_grants(RetiringPrincipal=OTHER_ROOT)["Grants"]
    ] == []
    other.retire_grant(GrantToken=grantee["GrantToken"])

    plain = grant(owner, key_id, GranteePrincipal=OTHER_ROOT, Operations=["Decrypt"])
    code, _ = fails(other.retire_grant, GrantToken=plain["GrantToken"])
    assert code == "AccessDeniedException"
    owner.retire_grant(GrantToken=plain["GrantToken"])  # the key's account may
    assert ids_of(owner, key_id) == []


# == RevokeGrant ===================================================================================


def test_revoke(kms: Any, key_id: str) -> None:
    keep = grant(kms, key_id)["GrantId"]
    gone = grant(kms, key_id)["GrantId"]
    kms.revoke_grant(KeyId=key_id, GrantId=gone)
    assert ids_of(kms, key_id) == [keep]
    assert fails(kms.revoke_grant, KeyId=key_id, GrantId=gone) == (
        "NotFoundException",
        f"Grant ID {gone} not found",
    )
    assert fails(kms.revoke_grant, KeyId=key_id, GrantId="123") == (
        "InvalidGrantIdException",
        "Invalid GrantId '123'",
    )
    assert fails(kms.revoke_grant, KeyId=new_key(kms), GrantId=keep)[0] == "NotFoundException"
    assert fails(kms.revoke_grant, KeyId=key_id, GrantId=keep, DryRun=True)[0] == (
        "DryRunOperationException"
    )
    assert ids_of(kms, key_id) == [keep]


def test_a_revoked_grants_token_no_longer_retires(kms: Any, key_id: str) -> None:
    g = grant(kms, key_id)
    kms.revoke_grant(KeyId=key_id, GrantId=g["GrantId"])
    assert fails(kms.retire_grant, GrantToken=g["GrantToken"])[0] == "NotFoundException"


# == a grant lets its grantee in ===================================================================


def test_a_grant_lets_a_user_without_permissions_use_the_key_within_its_constraint(
    make_lab: Callable[..., LocalKms],
) -> None:
    lab = make_lab()
    lab.client("iam").create_user(UserName="alice")
    admin, alice = lab.client(config=RAW), lab.client(principal="alice", config=RAW)
    key_id = new_key(admin)
    assert fails(alice.encrypt, KeyId=key_id, Plaintext=b"x")[0] == "AccessDeniedException"
    token = grant(
        admin,
        key_id,
        Operations=["Encrypt"],
        Constraints={"EncryptionContextSubset": {"Project": "lab"}},
    )["GrantToken"]
    sealed = alice.encrypt(
        KeyId=key_id, Plaintext=b"x", EncryptionContext={"project": "lab", "extra": "ok"}
    )["CiphertextBlob"]
    assert (
        admin.decrypt(CiphertextBlob=sealed, EncryptionContext={"project": "lab", "extra": "ok"})[
            "Plaintext"
        ]
        == b"x"
    )
    denied = fails(alice.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"Project": "x"})
    assert denied[0] == "AccessDeniedException"
    assert fails(alice.decrypt, CiphertextBlob=sealed)[0] == "AccessDeniedException"  # not granted
    admin.retire_grant(GrantToken=token)
    assert fails(alice.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"Project": "lab"})[
        0
    ] == ("AccessDeniedException")


def test_create_grant_from_a_grant_is_limited_to_its_operations_and_constraints(
    make_lab: Callable[..., LocalKms],
) -> None:
    """Developer Guide, "Granting CreateGrant permission": a grantee whose CreateGrant comes
    from a grant may create only grants with some or all of its operations and constraints
    at least as strict; a principal whose CreateGrant comes from a policy is not limited."""
    lab = make_lab()
    iam = lab.client("iam")
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
    admin, alice = lab.client(config=RAW), lab.client(principal="alice", config=RAW)
    bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
    key_id = new_key(admin)
    grant(
        admin,
        key_id,
        Operations=["GenerateDataKey", "Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"Department": "IT"}},
    )

    def child(operations: list[str], constraints: dict[str, Any] | None) -> str:
        extra = {"Constraints": constraints} if constraints is not None else {}
        try:
            alice.create_grant(KeyId=key_id, GranteePrincipal=bob, Operations=operations, **extra)
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "created"

    it = {"Department": "IT"}
    assert child(["Decrypt"], {"EncryptionContextSubset": it}) == "created"
    assert child(["CreateGrant", "Decrypt"], {"EncryptionContextEquals": it}) == "created"
    assert child(["Decrypt"], {"EncryptionContextSubset": {**it, "Team": "a"}}) == "created"
    assert child(["Decrypt"], {"EncryptionContextSubset": {"department": "IT"}}) == "created"
    # Not some or all of the parent's operations:
    assert child(["Encrypt"], {"EncryptionContextSubset": it}) == "AccessDeniedException"
    assert child(["Decrypt", "ReEncryptFrom"], {"EncryptionContextSubset": it}) == (
        "AccessDeniedException"
    )
    # Constraints looser than the parent's: dropped, a pair removed or changed.
    assert child(["Decrypt"], None) == "AccessDeniedException"
    assert child(["Decrypt"], {"EncryptionContextSubset": {"Team": "a"}}) == (
        "AccessDeniedException"
    )
    assert child(["Decrypt"], {"EncryptionContextEquals": {"Department": "HR"}}) == (
        "AccessDeniedException"
    )
    # The administrator's CreateGrant comes from the key policy: not limited.
    assert grant(admin, key_id, GranteePrincipal=bob, Operations=["Encrypt"])["GrantId"]


# == persistence ===================================================================================


def test_grants_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "lab.sqlite"
    with LocalKms(seed=3, clock=ManualClock(START), state=state) as lab:
        kms = lab.client()
        key_id = new_key(kms)
        kept = grant(
            kms,
            key_id,
            Name="persisted",
            RetiringPrincipal=ROLE,
            Constraints={"EncryptionContextEquals": {"app": "x"}},
        )
        retired = grant(kms, key_id)
        kms.retire_grant(GrantToken=retired["GrantToken"])
        before = grants_of(kms, key_id)
    with LocalKms(seed=3, clock=ManualClock(START), state=state) as lab:
        kms = lab.client()
        assert grants_of(kms, key_id) == before
        assert [g["GrantId"] for g in before] == [kept["GrantId"]]
        again = grant(
            kms,
            key_id,
            Name="persisted",
            RetiringPrincipal=ROLE,
            Constraints={"EncryptionContextEquals": {"app": "x"}},
        )
        assert again["GrantId"] == kept["GrantId"]
        kms.retire_grant(GrantToken=kept["GrantToken"])
        assert grants_of(kms, key_id) == []


# == grant_allows: the pure rule ===================================================================


def pure(**kwargs: Any) -> Grant:
    fields: dict[str, Any] = {
        "grant_id": "a" * 64,
        "key_arn": key_arn("1234abcd-12ab-34cd-56ef-1234567890ab"),
        "issuing_account": f"arn:aws:iam::{ACCOUNT}:root",
        "creation_date": datetime(2026, 1, 1, tzinfo=UTC),
        "operations": ("Encrypt", "Decrypt", "DescribeKey", "RetireGrant", "ReEncryptFrom"),
        "grantee_principal": USER,
    }
    fields.update(kwargs)
    return Grant(**fields)


def test_grant_allows_its_operations_to_its_grantee() -> None:
    g = pure()
    assert grant_allows(g, USER, "Encrypt", None)
    assert grant_allows(g, USER, "ReEncryptFrom", {"any": "context"})
    assert not grant_allows(g, USER, "GenerateDataKey", None)
    assert not grant_allows(g, f"arn:aws:iam::{ACCOUNT}:user/mallory", "Encrypt", None)


def test_an_account_grantee_covers_its_principals_and_a_role_its_sessions() -> None:
    account = pure(grantee_principal=f"arn:aws:iam::{OTHER_ACCOUNT}:root")
    assert grant_allows(account, f"arn:aws:iam::{OTHER_ACCOUNT}:user/bob", "Encrypt", None)
    assert grant_allows(account, OTHER_ROOT, "Encrypt", None)
    assert not grant_allows(account, USER, "Encrypt", None)
    bare = pure(grantee_principal=OTHER_ACCOUNT)
    assert grant_allows(bare, f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/R/s", "Decrypt", None)
    role = pure(grantee_principal=f"arn:aws:iam::{ACCOUNT}:role/path/Reader")
    assert grant_allows(role, f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/s1", "Decrypt", None)
    assert not grant_allows(role, f"arn:aws:sts::{ACCOUNT}:assumed-role/Writer/s1", "Decrypt", None)
    assert not grant_allows(
        role, f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Reader/s1", "Decrypt", None
    )


def test_encryption_context_equals() -> None:
    g = pure(encryption_context_equals={"Department": "IT", "app": "pay"})
    assert grant_allows(g, USER, "Decrypt", {"app": "pay", "Department": "IT"})
    assert grant_allows(g, USER, "Decrypt", {"APP": "pay", "department": "IT"})  # keys: any case
    assert not grant_allows(g, USER, "Decrypt", {"app": "PAY", "Department": "IT"})  # values: exact
    assert not grant_allows(g, USER, "Decrypt", {"app": "pay"})
    assert not grant_allows(g, USER, "Decrypt", {"app": "pay", "Department": "IT", "x": "1"})
    assert not grant_allows(g, USER, "Encrypt", None)


def test_encryption_context_subset() -> None:
    g = pure(encryption_context_subset={"Department": "IT"})
    assert grant_allows(g, USER, "Encrypt", {"department": "IT", "extra": "ok"})
    assert grant_allows(g, USER, "Encrypt", {"Department": "IT"})
    assert not grant_allows(g, USER, "Encrypt", {"Department": "it"})
    assert not grant_allows(g, USER, "Encrypt", {})
    assert not grant_allows(g, USER, "Encrypt", None)


def test_constraints_do_not_apply_to_operations_without_a_context() -> None:
    g = pure(encryption_context_equals={"a": "b"})
    assert grant_allows(g, USER, "DescribeKey", None)
    assert grant_allows(g, USER, "RetireGrant", None)
    signing = pure(operations=("Sign", "GetPublicKey"), encryption_context_subset={"a": "b"})
    assert grant_allows(signing, USER, "Sign", None)


def test_source_arn_constraint() -> None:
    source = f"arn:aws:s3:::bucket-{ACCOUNT}"
    g = pure(source_arn=source)
    assert grant_allows(g, USER, "Encrypt", None, source_arn=source)
    assert not grant_allows(g, USER, "Encrypt", None)
    assert grant_allows(g, USER, "RetireGrant", None)  # SourceArn does not apply to RetireGrant


def test_a_service_principal_grant_matches_no_principal_arn() -> None:
    g = pure(grantee_principal=None, grantee_service_principal="logs.us-east-1.amazonaws.com")
    assert not grant_allows(g, USER, "Encrypt", None)


def test_may_retire() -> None:
    g = pure(retiring_principal=ROLE, operations=("Decrypt",), grantee_principal=OTHER_ROOT)
    assert may_retire(g, ROLE)
    assert may_retire(g, f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/s")
    # The key's account may retire it only through its policies (checked by the service).
    assert not may_retire(g, f"arn:aws:iam::{ACCOUNT}:user/mallory")
    assert not may_retire(g, OTHER_ROOT)  # grantee, but RetireGrant is not granted
    assert may_retire(pure(grantee_principal=OTHER_ROOT), OTHER_ROOT)
    assert not may_retire(g, f"arn:aws:iam::{THIRD_ACCOUNT}:root")


def test_child_grant_within_an_equals_parent_must_keep_the_same_equals() -> None:
    parent = pure(operations=("Decrypt", "CreateGrant"), encryption_context_equals={"App": "x"})
    same = {"encryption_context_equals": {"app": "x"}}
    assert child_grant_within(parent, ["Decrypt"], same)
    assert not child_grant_within(parent, ["Decrypt"], {"encryption_context_equals": {"app": "y"}})
    assert not child_grant_within(parent, ["Decrypt"], {"encryption_context_subset": {"app": "x"}})
    assert not child_grant_within(parent, ["Decrypt"], None)
    unconstrained = pure(operations=("Decrypt", "CreateGrant"))
    assert child_grant_within(unconstrained, ["Decrypt"], None)
    sourced = pure(operations=("Decrypt", "CreateGrant"), source_arn="arn:aws:s3:::b")
    assert not child_grant_within(sourced, ["Decrypt"], None)
    assert child_grant_within(sourced, ["Decrypt"], {"source_arn": "arn:aws:s3:::b"})
