"""KMS grants as data, and the pure rules of what a grant allows.

A grant (AWS KMS Developer Guide, "Grants in AWS KMS") delegates some operations on one KMS key
to a grantee principal, optionally only when the request's encryption context matches a
constraint. This module knows nothing of the service: the service stores :class:`Grant` objects
(``store.save_doc("grant", ...)``) and authorization asks :func:`grant_allows`.

Rules encoded here, each from the AWS documentation:

- Which grant operations a key supports depends on its type (``operations_for``): a symmetric
  encryption key cannot grant ``Sign``, an asymmetric key cannot grant ``GenerateDataKey``
  (CreateGrant API reference, ``Operations``).
- Encryption context constraints apply only to operations that take an encryption context, that
  is the cryptographic operations of symmetric encryption keys; ``DescribeKey``, ``RetireGrant``
  and ``CreateGrant`` ignore them (API reference, ``GrantConstraints``). In a constraint the
  *key* of each pair is not case sensitive, the *value* is.
- The retiring principal may retire a grant; so may the grantee when the grant allows
  ``RetireGrant``, and the account in which the grant was created (RetireGrant API reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ALWAYS_GRANTABLE",
    "CONTEXT_OPERATIONS",
    "Grant",
    "grant_allows",
    "may_retire",
    "operations_for",
    "principal_matches",
]

#: Grant operations every key supports.
ALWAYS_GRANTABLE = frozenset({"CreateGrant", "DescribeKey", "RetireGrant"})

_SYMMETRIC = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    }
)

#: Grant operations whose requests carry an encryption context (the only ones an encryption
#: context constraint can apply to).
CONTEXT_OPERATIONS = _SYMMETRIC

_BY_USAGE = {
    "ENCRYPT_DECRYPT": frozenset(
        {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}
    ),
    "SIGN_VERIFY": frozenset({"Sign", "Verify", "GetPublicKey"}),
    "GENERATE_VERIFY_MAC": frozenset({"GenerateMac", "VerifyMac"}),
    "KEY_AGREEMENT": frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    "ENCAPSULATE_DECAPSULATE": frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
}


def operations_for(key_spec: str, key_usage: str) -> frozenset[str]:
    """The grant operations a key of this spec and usage supports."""
    if key_spec == "SYMMETRIC_DEFAULT":
        return ALWAYS_GRANTABLE | _SYMMETRIC
    return ALWAYS_GRANTABLE | _BY_USAGE.get(key_usage, frozenset())


@dataclass(slots=True)
class Grant:
    """One grant on one key. ``tokens`` are every grant token CreateGrant returned for it (a
    retried CreateGrant with the same Name returns the same grant with a new token)."""

    grant_id: str
    key_arn: str
    issuing_account: str  # arn:aws:iam::<account>:root
    creation_date: datetime
    operations: tuple[str, ...]
    grantee_principal: str | None = None
    retiring_principal: str | None = None
    grantee_service_principal: str | None = None
    retiring_service_principal: str | None = None
    name: str | None = None
    encryption_context_equals: dict[str, str] | None = None
    encryption_context_subset: dict[str, str] | None = None
    source_arn: str | None = None
    tokens: list[str] = field(default_factory=list, repr=False)

    @property
    def key_account(self) -> str:
        return self.key_arn.split(":")[4]

    def constraints(self) -> dict[str, object] | None:
        """GrantConstraints (botocore snake_case member names), or None without constraints."""
        out: dict[str, object] = {}
        if self.encryption_context_equals is not None:
            out["encryption_context_equals"] = dict(self.encryption_context_equals)
        if self.encryption_context_subset is not None:
            out["encryption_context_subset"] = dict(self.encryption_context_subset)
        if self.source_arn is not None:
            out["source_arn"] = self.source_arn
        return out or None


_ASSUMED_ROLE = re.compile(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_IAM = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(.+)$")


def _account_of(principal: str) -> str | None:
    if re.fullmatch(r"\d{12}", principal):
        return principal
    m = re.match(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):", principal)
    return m.group(1) if m else None


def principal_matches(granted: str, caller_arn: str) -> bool:
    """Is ``caller_arn`` the principal ``granted`` names? An account (``arn:...:root`` or the
    bare account id) names every principal of that account (whose own IAM policies then
    decide); a role names the sessions of that role (``arn:aws:sts::...:assumed-role/R/s``)."""
    if granted == caller_arn:
        return True
    account = _account_of(granted)
    if account is not None and (
        granted == account or (_IAM.match(granted) and granted.endswith(":root"))
    ):
        return _account_of(caller_arn) == account
    session = _ASSUMED_ROLE.match(caller_arn)
    if session is not None:
        _partition, acct, role = session.groups()
        role_arn = _IAM.match(granted)
        if role_arn is not None and role_arn.group(2) == acct:
            path = role_arn.group(3)
            return path.startswith("role/") and path.rsplit("/", 1)[-1] == role
    return False


def _context_satisfies(grant: Grant, context: dict[str, str] | None) -> bool:
    # Constraint keys are case insensitive, values case sensitive (GrantConstraints).
    request = {k.lower(): v for k, v in (context or {}).items()}
    if grant.encryption_context_equals is not None:
        wanted = {k.lower(): v for k, v in grant.encryption_context_equals.items()}
        if request != wanted:
            return False
    if grant.encryption_context_subset is not None:
        for k, v in grant.encryption_context_subset.items():
            if request.get(k.lower()) != v:
                return False
    return True


def grant_allows(
    grant: Grant,
    principal_arn: str,
    operation: str,
    encryption_context: dict[str, str] | None,
    *,
    source_arn: str | None = None,
) -> bool:
    """Does ``grant`` let ``principal_arn`` perform the grant operation ``operation``
    (``ReEncryptFrom``/``ReEncryptTo`` for the two halves of ReEncrypt) with this encryption
    context? ``source_arn`` is the request's ``aws:SourceArn``, for a SourceArn constraint.

    Pure: whether the key is usable at all (its state, its key policy) is decided elsewhere.
    A grant to a service principal (GranteeServicePrincipal) never matches a principal ARN.
    """
    if operation not in grant.operations:
        return False
    if grant.grantee_principal is None or not principal_matches(
        grant.grantee_principal, principal_arn
    ):
        return False
    if (
        grant.source_arn is not None
        and operation != "RetireGrant"
        and source_arn != grant.source_arn
    ):
        return False
    if operation in CONTEXT_OPERATIONS:
        return _context_satisfies(grant, encryption_context)
    return True


def child_grant_within(
    parent: Grant,
    operations: list[str],
    constraints: dict[str, Any] | None,
) -> bool:
    """May a grantee whose CreateGrant permission comes from ``parent`` create a grant with
    these operations and constraints (CreateGrant's ``Operations`` and ``Constraints``, snake
    case)? Only some or all of the parent's operations, with constraints at least as strict:
    a Subset may gain pairs or become an Equals holding its pairs, an Equals must stay the same
    (Developer Guide, "Granting CreateGrant permission"). Policies are not limited this way."""
    if not set(operations) <= set(parent.operations):
        return False
    constraints = constraints or {}
    if parent.source_arn is not None and constraints.get("source_arn") != parent.source_arn:
        return False
    equals = constraints.get("encryption_context_equals")
    subset = constraints.get("encryption_context_subset")
    if parent.encryption_context_equals is not None:
        return equals is not None and _lower(equals) == _lower(parent.encryption_context_equals)
    if parent.encryption_context_subset is not None:
        child = equals if equals is not None else subset
        if child is None:
            return False
        pairs = _lower(child)
        wanted = _lower(parent.encryption_context_subset)
        return all(pairs.get(k) == v for k, v in wanted.items())
    return True


def _lower(pairs: dict[str, str]) -> dict[str, str]:
    # Constraint keys are case insensitive, values case sensitive (GrantConstraints).
    return {k.lower(): v for k, v in pairs.items()}


def may_retire(grant: Grant, principal_arn: str) -> bool:
    """May ``principal_arn`` call RetireGrant on ``grant`` by virtue of the grant itself? Its
    retiring principal may, and so may the grantee if the grant allows RetireGrant. (The
    account in which the grant was created may too, but that is a policy decision: its
    principals need kms:RetireGrant from the key policy or IAM, which the caller checks.)"""
    if grant.retiring_principal is not None and principal_matches(
        grant.retiring_principal, principal_arn
    ):
        return True
    return (
        "RetireGrant" in grant.operations
        and grant.grantee_principal is not None
        and principal_matches(grant.grantee_principal, principal_arn)
    )
