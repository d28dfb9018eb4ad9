"""Key policies and IAM policies: documents, validation, and the evaluation AWS KMS performs.

Pure functions over policy JSON; no service state. Evaluation is fail-closed: a statement or
condition this module does not understand grants nothing (and a Deny it cannot evaluate is
not silently ignored: an unknown condition operator makes the statement not match, so it can
neither allow nor deny — the only safe reading, and noted in the explanation).

How AWS KMS decides (Developer Guide, "Key policies in AWS KMS", "Determining access"):

1. An explicit ``Deny`` in the key policy or in the caller's identity policies wins.
2. The key policy is authoritative. A statement naming the caller (user, role or assumed
   role) allows directly. A statement naming the caller's *account* (``arn:aws:iam::ACCT:root``
   or ``ACCT``) allows the account's root user directly and *delegates* to IAM for everyone
   else in that account: an identity policy must then allow too.
3. A grant on the key that names the caller and the operation allows it.
4. Otherwise the request is denied, and the message says which kind of policy was missing.

Across accounts, the key policy must allow the other account (or its principal) *and* that
account's identity policy must allow the caller; only the operations AWS allows across
accounts can be allowed at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from .errors import LimitExceededException, MalformedPolicyDocumentException

#: AWS: "The maximum length of a key policy document is 32 KB (32,768 bytes)."
MAX_POLICY_BYTES = 32768


def default_policy(account: str) -> str:
    """The policy CreateKey gives a key when the request has none (key-policy-default.html).

    One statement: the account principal may do everything, which *enables IAM policies* to
    grant access; by itself it lets no user or role do anything.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def aws_managed_policy(account: str, service: str, region: str) -> str:
    """The shape of an AWS managed key's policy: use only through the service, read directly."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account "
                    f"that are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def parse(text: str) -> dict[str, Any]:
    """Parse and validate a key policy document.

    Raises:
        LimitExceededException: over 32 KB.
        MalformedPolicyDocumentException: not JSON, or not a policy.
    """
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise LimitExceededException(
            f"Policy document exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )
    try:
        doc = json.loads(text)
    except ValueError:
        raise MalformedPolicyDocumentException("The policy is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise MalformedPolicyDocumentException("The policy is not a JSON object.")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyDocumentException("Policy contains no statements.")
    for st in statements:
        if not isinstance(st, dict):
            raise MalformedPolicyDocumentException("Policy contains an invalid statement.")
        if st.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicyDocumentException(
                "Policy contains a statement with an invalid or missing Effect."
            )
        if "Principal" not in st and "NotPrincipal" not in st:
            raise MalformedPolicyDocumentException("Policy contains a statement with no principal.")
    return doc


def console_policy(account: str, admins: Iterable[str] = (), users: Iterable[str] = ()) -> str:
    """The key policy the AWS console writes for a key with key administrators and key users
    (key-policy-default.html): the account statement, the administrators statement (manage,
    never use), the users statement (use, never manage) and the grants statement for AWS
    services. ``admins`` and ``users`` are principal ARNs."""
    admins, users = list(admins), list(users)
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if admins:
        statements.append(
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": admins if len(admins) > 1 else admins[0]},
                "Action": [
                    "kms:Create*",
                    "kms:Describe*",
                    "kms:Enable*",
                    "kms:List*",
                    "kms:Put*",
                    "kms:Update*",
                    "kms:Revoke*",
                    "kms:Disable*",
                    "kms:Get*",
                    "kms:Delete*",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "kms:ScheduleKeyDeletion",
                    "kms:CancelKeyDeletion",
                    "kms:RotateKeyOnDemand",
                ],
                "Resource": "*",
            }
        )
    if users:
        principal = {"AWS": users if len(users) > 1 else users[0]}
        statements += [
            {
                "Sid": "Allow use of the key",
                "Effect": "Allow",
                "Principal": principal,
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            },
            {
                "Sid": "Allow attachment of persistent resources",
                "Effect": "Allow",
                "Principal": principal,
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ]
    return json.dumps(
        {"Version": "2012-10-17", "Id": "key-consolepolicy-3", "Statement": statements}, indent=2
    )


# == evaluation ==================================================================================


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@cache
def _glob_rx(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rx, re.IGNORECASE if ignore_case else 0)


def _glob(pattern: str, text: str, ignore_case: bool = False) -> bool:
    return _glob_rx(pattern, ignore_case).fullmatch(text) is not None


@lru_cache(maxsize=1024)
def parsed(text: str) -> dict[str, Any]:
    """A policy document parsed once (documents are immutable strings)."""
    doc = json.loads(text)
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True)
class Caller:
    """Who asks: the principal ARN, its account, and whether it is that account's root user.

    ``identities`` are the ARNs a policy's Principal element may name to mean this caller: the
    principal's ARN, and for an assumed-role session also the role's ARN."""

    arn: str
    account: str
    is_root: bool
    identities: tuple[str, ...]


class LazyContext(Mapping[str, list[str]]):
    """Condition keys computed on first use: most decisions test no condition at all."""

    def __init__(self, build: Callable[[], Mapping[str, list[str]]]) -> None:
        self._build = build
        self._values: Mapping[str, list[str]] | None = None

    def _get(self) -> Mapping[str, list[str]]:
        if self._values is None:
            self._values = self._build()
        return self._values

    def __getitem__(self, key: str) -> list[str]:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


@dataclass(frozen=True)
class Request:
    caller: Caller
    action: str  # "kms:Encrypt"
    resource: str  # the key ARN, or "*" for operations on no key
    #: condition keys (lower-case) -> values; multi-valued keys are lists
    context: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """A statement that applies to the request."""

    source: str  # "key policy", or an identity policy's label
    sid: str
    effect: str  # "Allow" | "Deny"
    via_account: bool  # matched the caller's account principal, not the caller itself


def _principal_match(element: Any, caller: Caller) -> str | None:
    """'direct', 'account', or None: how a Principal element names the caller."""
    if element == "*":
        return "direct"
    if not isinstance(element, dict):
        return None
    how: str | None = None
    for name in _as_list(element.get("AWS")):
        if not isinstance(name, str):
            continue
        if name == "*" or name in caller.identities:
            return "direct"
        if name in (caller.account, f"arn:aws:iam::{caller.account}:root"):
            how = "direct" if caller.is_root else "account"
    return how


def _condition_values(raw: Any) -> list[str]:
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(raw)]


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, b: a == b,
    "StringNotEquals": lambda a, b: a == b,
    "StringEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringNotEqualsIgnoreCase": lambda a, b: a.lower() == b.lower(),
    "StringLike": lambda a, b: _glob(b, a),
    "StringNotLike": lambda a, b: _glob(b, a),
    "ArnEquals": lambda a, b: a == b,
    "ArnNotEquals": lambda a, b: a == b,
    "ArnLike": lambda a, b: _glob(b, a),
    "ArnNotLike": lambda a, b: _glob(b, a),
    "Bool": lambda a, b: a.lower() == b.lower(),
    "NumericEquals": lambda a, b: float(a) == float(b),
    "NumericNotEquals": lambda a, b: float(a) == float(b),
    "NumericLessThan": lambda a, b: float(a) < float(b),
    "NumericLessThanEquals": lambda a, b: float(a) <= float(b),
    "NumericGreaterThan": lambda a, b: float(a) > float(b),
    "NumericGreaterThanEquals": lambda a, b: float(a) >= float(b),
}


class UnknownCondition(Exception):
    pass


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, list[str]]
) -> bool:
    """One condition operator/key pair, with ForAnyValue:/ForAllValues: and ...IfExists."""
    qualifier = ""
    if ":" in operator and operator.split(":", 1)[0] in ("ForAnyValue", "ForAllValues"):
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    present = context.get(key.lower())
    if operator == "Null":
        is_null = present is None or present == []
        return any((w.lower() == "true") == is_null for w in wanted)
    test = _OPERATORS.get(operator)
    if test is None:
        raise UnknownCondition(operator)
    negated = "Not" in operator
    if present is None or present == []:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        return negated  # a missing key never equals; a negated test holds

    def one(value: str) -> bool:
        try:
            hit = any(test(value, w) for w in wanted)
        except ValueError:
            hit = False
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def _conditions_hold(conditions: Any, context: Mapping[str, list[str]]) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        raise UnknownCondition("Condition")
    for operator, pairs in conditions.items():
        if not isinstance(pairs, dict):
            raise UnknownCondition(operator)
        for key, raw in pairs.items():
            if not _condition_holds(operator, key, _condition_values(raw), context):
                return False
    return True


def _action_match(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            isinstance(a, str) and _glob(a, action, True) for a in _as_list(statement["NotAction"])
        )
    return any(
        isinstance(a, str) and _glob(a, action, True) for a in _as_list(statement.get("Action"))
    )


def _resource_match(statement: dict[str, Any], resource: str, key_policy: bool) -> bool:
    if "NotResource" in statement:
        return not any(
            isinstance(r, str) and _glob(r, resource) for r in _as_list(statement["NotResource"])
        )
    resources = _as_list(statement.get("Resource"))
    if key_policy and resources == ["*"]:
        return True  # in a key policy, "*" means this key
    return any(isinstance(r, str) and _glob(r, resource) for r in resources)


@dataclass(frozen=True)
class _Candidate:
    """A statement whose principal, action and resource match; its condition is still to test."""

    match: Match
    condition: Any


@lru_cache(maxsize=4096)
def _candidates(
    text: str, caller: Caller, action: str, resource: str, source: str, key_policy: bool
) -> tuple[_Candidate, ...]:
    """The statements of a policy that name this caller, action and resource. Policies are
    immutable text, so this part of the evaluation is computed once per combination; only
    conditions, which depend on the request, are evaluated on every call."""
    found: list[_Candidate] = []
    for i, st in enumerate(_as_list(parsed(text).get("Statement"))):
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            continue
        sid = str(st.get("Sid") or f"statement {i + 1}")
        via_account = False
        if key_policy:
            how = _principal_match(st.get("Principal"), caller)
            if how is None:
                continue
            via_account = how == "account"
        if not _action_match(st, action):
            continue
        if not _resource_match(st, resource, key_policy):
            continue
        found.append(_Candidate(Match(source, sid, st["Effect"], via_account), st.get("Condition")))
    return tuple(found)


def matches(
    text: str, request: Request, *, source: str, key_policy: bool
) -> tuple[list[Match], list[str]]:
    """The statements of the policy ``text`` that apply to ``request``, and notes on those
    whose conditions kept them out."""
    found: list[Match] = []
    notes: list[str] = []
    for cand in _candidates(
        text, request.caller, request.action, request.resource, source, key_policy
    ):
        sid = cand.match.sid
        if cand.condition:
            try:
                if not _conditions_hold(cand.condition, request.context):
                    notes.append(f'{source}: "{sid}" does not apply: its Condition is not met')
                    continue
            except UnknownCondition as exc:
                notes.append(
                    f'{source}: "{sid}" ignored: condition operator {exc} is not understood'
                )
                continue
        found.append(cand.match)
    return found, notes


@dataclass(frozen=True)
class Decision:
    """The outcome of an authorization, with the reasons a learner can read."""

    allowed: bool
    request: Request
    reasons: tuple[str, ...]
    denial: str = ""  # AWS's AccessDeniedException message when not allowed

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "ALLOWED" if self.allowed else "DENIED"
        req = self.request
        head = f"{verdict}: {req.caller.arn} -> {req.action} on {req.resource}"
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def decide(
    request: Request,
    key_policy: str | None,
    identity_policies: Iterable[tuple[str, str]],
    *,
    key_account: str | None = None,
    grants: Iterable[str] = (),
) -> Decision:
    """AWS KMS's decision for ``request``.

    Args:
        key_policy: the key's policy text, or None for operations on no key (IAM alone decides).
        identity_policies: (label, JSON) of the caller's identity policies.
        key_account: the key's account (cross-account use needs both sides).
        grants: descriptions of grants on the key that allow this request.
    """
    caller = request.caller
    reasons: list[str] = []
    action = request.action
    ident_matches: list[Match] = []
    for label, text in identity_policies:
        try:
            found, notes = matches(text, request, source=label, key_policy=False)
        except ValueError:
            continue
        ident_matches += found
        reasons += notes
    key_matches: list[Match] = []
    if key_policy is not None:
        found, notes = matches(key_policy, request, source="key policy", key_policy=True)
        key_matches = found
        reasons += notes

    def deny(message_tail: str) -> Decision:
        msg = (
            f"User: {caller.arn} is not authorized to perform: {action} on resource: "
            f"{request.resource} {message_tail}"
        )
        return Decision(False, request, tuple(reasons), msg)

    for m in key_matches:
        if m.effect == "Deny" and not m.via_account:
            reasons.append(f'key policy statement "{m.sid}" explicitly denies it')
            return deny("with an explicit deny in a resource-based policy")
    for m in ident_matches:
        if m.effect == "Deny":
            reasons.append(f'{m.source}: statement "{m.sid}" explicitly denies it')
            return deny("with an explicit deny in an identity-based policy")
    for m in key_matches:
        if m.effect == "Deny" and m.via_account:
            reasons.append(f'key policy statement "{m.sid}" denies it to the whole account')
            return deny("with an explicit deny in a resource-based policy")

    identity_allows = caller.is_root or any(m.effect == "Allow" for m in ident_matches)
    if key_policy is None:  # an operation on no particular key: IAM alone decides
        if caller.is_root:
            reasons.append("the account's root user may do anything in its own account")
            return Decision(True, request, tuple(reasons))
        allow = [m for m in ident_matches if m.effect == "Allow"]
        if allow:
            reasons.append(f'{allow[0].source}: statement "{allow[0].sid}" allows it')
            return Decision(True, request, tuple(reasons))
        reasons.append("no identity policy of the caller allows it")
        return deny(f"because no identity-based policy allows the {action} action")

    cross_account = key_account is not None and key_account != caller.account
    direct = [m for m in key_matches if m.effect == "Allow" and not m.via_account]
    delegated = [m for m in key_matches if m.effect == "Allow" and m.via_account]
    granted = list(grants)
    if direct and not cross_account:
        reasons.append(f'key policy statement "{direct[0].sid}" allows the caller directly')
        return Decision(True, request, tuple(reasons))
    if granted:
        reasons.append(f"a grant allows it: {granted[0]}")
        return Decision(True, request, tuple(reasons))
    if not direct and not delegated:
        reasons.append("the key policy has no statement that allows this caller this action")
        return deny(f"because no resource-based policy allows the {action} action")
    first = (direct or delegated)[0]
    if cross_account:
        reasons.append(
            f'key policy statement "{first.sid}" allows account {caller.account}; across '
            "accounts, that account's identity policy must allow it too"
        )
    else:
        reasons.append(
            f'key policy statement "{first.sid}" allows the account {caller.account}, '
            "which enables IAM policies to grant access"
        )
    if identity_allows:
        if caller.is_root:
            reasons.append("the caller is the account's root user")
        else:
            first_allow = next(m for m in ident_matches if m.effect == "Allow")
            reasons.append(f'{first_allow.source}: statement "{first_allow.sid}" allows it')
        return Decision(True, request, tuple(reasons))
    reasons.append("no identity policy of the caller allows it")
    return deny(f"because no identity-based policy allows the {action} action")
