# ruff: noqa: E501  (the decision table reads best with one case per line)
"""Table tests of the policy evaluator (kmslab.policy.decide) against AWS's rules.

The expected decisions are written here from the AWS KMS Developer Guide ("Key policies",
"Default key policy", "Determining access to an AWS KMS key", "Allowing users in other accounts
to use a KMS key") and the IAM policy evaluation logic, not computed from the code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmslab import policy
from kmslab.policy import Caller, Request

ACCT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = Caller(f"arn:aws:iam::{ACCT}:root", ACCT, True, (f"arn:aws:iam::{ACCT}:root",))
ALICE = Caller(f"arn:aws:iam::{ACCT}:user/alice", ACCT, False, (f"arn:aws:iam::{ACCT}:user/alice",))
BOB = Caller(f"arn:aws:iam::{ACCT}:user/bob", ACCT, False, (f"arn:aws:iam::{ACCT}:user/bob",))
ROLE_SESSION = Caller(
    f"arn:aws:sts::{ACCT}:assumed-role/App/s1",
    ACCT,
    False,
    (f"arn:aws:sts::{ACCT}:assumed-role/App/s1", f"arn:aws:iam::{ACCT}:role/App"),
)
CAROL = Caller(f"arn:aws:iam::{OTHER}:user/carol", OTHER, False, (f"arn:aws:iam::{OTHER}:user/carol",))
OTHER_ROOT = Caller(f"arn:aws:iam::{OTHER}:root", OTHER, True, (f"arn:aws:iam::{OTHER}:root",))


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


def deny(principal: Any, action: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": "*", **extra}


def iam(effect: str, action: Any, resource: Any = "*", **extra: Any) -> tuple[str, str]:
    statement = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    return ("identity policy", doc(statement))


DEFAULT = policy.default_policy(ACCT)
CONSOLE = policy.console_policy(
    ACCT, admins=[f"arn:aws:iam::{ACCT}:user/bob"], users=[f"arn:aws:iam::{ACCT}:user/alice"]
)
ENC = "kms:Encrypt"


def ctx(**pairs: str) -> dict[str, list[str]]:
    out = {f"kms:encryptioncontext:{k.lower()}": [v] for k, v in pairs.items()}
    if pairs:
        out["kms:encryptioncontextkeys"] = list(pairs)
    out["kms:calleraccount"] = [ACCT]
    return out


# (case, caller, action, key policy, identity policies, context, expected, message ending)
CASES: list[tuple[str, Caller, str, str, list[tuple[str, str]], dict[str, list[str]], bool, str]] = [
    ("root, default policy", ROOT, ENC, DEFAULT, [], {}, True, ""),
    (
        "user, default policy, no IAM policy: the root statement only enables IAM",
        ALICE, ENC, DEFAULT, [], {}, False,
        "because no identity-based policy allows the kms:Encrypt action",
    ),
    ("user, default policy, IAM allows", ALICE, ENC, DEFAULT, [iam("Allow", "kms:*")], {}, True, ""),
    (
        "user, default policy, IAM allows another action only",
        ALICE, ENC, DEFAULT, [iam("Allow", "kms:Decrypt")], {}, False,
        "because no identity-based policy allows the kms:Encrypt action",
    ),
    (
        "user, default policy, IAM allows another key only",
        ALICE, ENC, DEFAULT, [iam("Allow", "kms:*", KEY.replace("1234abcd", "99999999"))], {},
        False, "because no identity-based policy allows the kms:Encrypt action",
    ),
    ("user, IAM allows this key by ARN", ALICE, ENC, DEFAULT, [iam("Allow", "kms:Encrypt", KEY)], {}, True, ""),
    (
        "user named in the key policy needs no IAM policy",
        ALICE, ENC, doc(allow({"AWS": ALICE.arn}, "kms:Encrypt")), [], {}, True, "",
    ),
    (
        "key policy without the account: IAM policies do not count",
        ALICE, ENC, doc(allow({"AWS": BOB.arn}, "kms:*")), [iam("Allow", "kms:*")], {}, False,
        "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "root is not all-powerful over a key whose policy leaves it out",
        ROOT, "kms:PutKeyPolicy", doc(allow({"AWS": ALICE.arn}, "kms:*")), [], {}, False,
        "because no resource-based policy allows the kms:PutKeyPolicy action",
    ),
    (
        "explicit deny in the key policy beats an allow",
        ALICE, ENC, doc(allow({"AWS": ALICE.arn}, "kms:*"), deny({"AWS": ALICE.arn}, "kms:Encrypt")),
        [], {}, False, "with an explicit deny in a resource-based policy",
    ),
    (
        "explicit deny in an identity policy beats the key policy's allow",
        ALICE, ENC, doc(allow({"AWS": ALICE.arn}, "kms:*")), [iam("Deny", "kms:Encrypt")], {},
        False, "with an explicit deny in an identity-based policy",
    ),
    ("console policy: key user may encrypt", ALICE, ENC, CONSOLE, [], {}, True, ""),
    (
        "console policy: key user may not schedule deletion",
        ALICE, "kms:ScheduleKeyDeletion", CONSOLE, [], {}, False,
        "because no identity-based policy allows the kms:ScheduleKeyDeletion action",
    ),
    ("console policy: key admin may disable", BOB, "kms:DisableKey", CONSOLE, [], {}, True, ""),
    ("console policy: key admin may put the policy", BOB, "kms:PutKeyPolicy", CONSOLE, [], {}, True, ""),
    (
        "console policy: key admin may not encrypt",
        BOB, ENC, CONSOLE, [], {}, False,
        "because no identity-based policy allows the kms:Encrypt action",
    ),
    (
        "console policy: the grant statement needs kms:GrantIsForAWSResource",
        ALICE, "kms:CreateGrant", CONSOLE, [], {}, False,
        "because no identity-based policy allows the kms:CreateGrant action",
    ),
    (
        "console policy: grant for an AWS resource is allowed",
        ALICE, "kms:CreateGrant", CONSOLE, [], {"kms:grantisforawsresource": ["true"]}, True, "",
    ),
    (
        "wildcard action ReEncrypt* covers ReEncryptFrom",
        ALICE, "kms:ReEncryptFrom", CONSOLE, [], {}, True, "",
    ),
    (
        "an assumed-role session is matched by its role's ARN",
        ROLE_SESSION, ENC, doc(allow({"AWS": f"arn:aws:iam::{ACCT}:role/App"}, "kms:Encrypt")),
        [], {}, True, "",
    ),
    (
        "context condition StringEquals met",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"StringEquals": {"kms:EncryptionContext:dept": "hr"}})),
        [], ctx(dept="hr"), True, "",
    ),
    (
        "context condition StringEquals not met",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"StringEquals": {"kms:EncryptionContext:dept": "hr"}})),
        [], ctx(dept="it"), False, "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "context values are case-sensitive",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"StringEquals": {"kms:EncryptionContext:dept": "hr"}})),
        [], ctx(dept="HR"), False, "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "a Deny on one context blocks only that context (blocked)",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:*"),
            deny({"AWS": ALICE.arn}, "kms:*",
                 Condition={"StringEquals": {"kms:EncryptionContext:dept": "secret"}})),
        [], ctx(dept="secret"), False, "with an explicit deny in a resource-based policy",
    ),
    (
        "a Deny on one context blocks only that context (other context passes)",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:*"),
            deny({"AWS": ALICE.arn}, "kms:*",
                 Condition={"StringEquals": {"kms:EncryptionContext:dept": "secret"}})),
        [], ctx(dept="public"), True, "",
    ),
    (
        "ForAllValues:StringEquals on context keys: only allowed keys",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app", "env"]}})),
        [], ctx(app="a", other="b"), False,
        "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "ForAnyValue:StringEquals on context keys",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "app"}})),
        [], ctx(app="a", other="b"), True, "",
    ),
    (
        "Null condition: a context is required",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt",
                  Condition={"Null": {"kms:EncryptionContextKeys": "false"}})),
        [], ctx(), False, "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "kms:CallerAccount condition",
        ALICE, ENC,
        doc(allow("*", "kms:Encrypt", Condition={"StringEquals": {"kms:CallerAccount": ACCT}})),
        [], ctx(), True, "",
    ),
    (
        "kms:ViaService condition is absent on a direct call",
        ALICE, ENC,
        doc(allow("*", "kms:Encrypt",
                  Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})),
        [], ctx(), False, "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "cross-account: key policy allows the other account, its IAM policy allows",
        CAROL, ENC, doc(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "kms:Encrypt")),
        [iam("Allow", "kms:Encrypt", KEY)], {}, True, "",
    ),
    (
        "cross-account: key policy allows the other account, no IAM policy",
        CAROL, ENC, doc(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "kms:Encrypt")), [], {},
        False, "because no identity-based policy allows the kms:Encrypt action",
    ),
    (
        "cross-account: IAM allows but the key policy does not name the account",
        CAROL, ENC, DEFAULT, [iam("Allow", "kms:*")], {}, False,
        "because no resource-based policy allows the kms:Encrypt action",
    ),
    (
        "cross-account: naming the user in the key policy still needs its IAM policy",
        CAROL, ENC, doc(allow({"AWS": CAROL.arn}, "kms:Encrypt")), [], {}, False,
        "because no identity-based policy allows the kms:Encrypt action",
    ),
    (
        "cross-account: the other account's root needs only the key policy",
        OTHER_ROOT, ENC, doc(allow({"AWS": OTHER}, "kms:Encrypt")), [], {}, True, "",
    ),
    (
        "NotAction in an identity policy",
        ALICE, ENC, DEFAULT, [("identity policy", doc({"Effect": "Allow", "NotAction": "kms:Decrypt", "Resource": "*"}))],
        {}, True, "",
    ),
    (
        "an unknown condition operator grants nothing",
        ALICE, ENC,
        doc(allow({"AWS": ALICE.arn}, "kms:Encrypt", Condition={"StringSoundsLike": {"kms:CallerAccount": ACCT}})),
        [], ctx(), False, "because no resource-based policy allows the kms:Encrypt action",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("caller", "action", "key_policy", "identity", "context", "expected", "ending"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decision(
    caller: Caller,
    action: str,
    key_policy: str,
    identity: list[tuple[str, str]],
    context: dict[str, list[str]],
    expected: bool,
    ending: str,
) -> None:
    request = Request(caller, action, KEY, context)
    decision = policy.decide(request, key_policy, identity, key_account=ACCT)
    assert decision.allowed is expected, str(decision)
    assert decision.reasons, "every decision explains itself"
    if not expected:
        assert decision.denial == (
            f"User: {caller.arn} is not authorized to perform: {action} on resource: {KEY} "
            f"{ending}"
        )


def test_a_grant_allows_what_no_policy_does() -> None:
    request = Request(ALICE, "kms:Decrypt", KEY, {})
    denied = policy.decide(request, doc(allow({"AWS": BOB.arn}, "kms:*")), [], key_account=ACCT)
    assert not denied
    granted = policy.decide(
        request, doc(allow({"AWS": BOB.arn}, "kms:*")), [], key_account=ACCT, grants=["grant g1"]
    )
    assert granted and "grant g1" in str(granted)


def test_a_grant_does_not_beat_an_explicit_deny() -> None:
    request = Request(ALICE, "kms:Decrypt", KEY, {})
    key_policy = doc(deny({"AWS": ALICE.arn}, "kms:Decrypt"))
    decision = policy.decide(request, key_policy, [], key_account=ACCT, grants=["grant g1"])
    assert not decision


def test_operations_on_no_key_are_decided_by_iam_alone() -> None:
    assert policy.decide(Request(ROOT, "kms:CreateKey", "*"), None, [])
    assert not policy.decide(Request(ALICE, "kms:CreateKey", "*"), None, [])
    assert policy.decide(Request(ALICE, "kms:CreateKey", "*"), None, [iam("Allow", "kms:Create*")])
    denied = policy.decide(Request(ALICE, "kms:ListKeys", "*"), None, [])
    assert denied.denial.endswith("because no identity-based policy allows the kms:ListKeys action")


def test_console_policy_shape() -> None:
    statements = json.loads(CONSOLE)["Statement"]
    assert [s["Sid"] for s in statements] == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    admin_actions = statements[1]["Action"]
    assert "kms:Encrypt" not in admin_actions and "kms:ScheduleKeyDeletion" in admin_actions
    assert "kms:ScheduleKeyDeletion" not in statements[2]["Action"]
