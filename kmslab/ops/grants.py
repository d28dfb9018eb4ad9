"""Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

Grants are stored and validated here (kms-rules R14 and the CreateGrant API reference); what a
grant allows is the pure :func:`kmslab.grants.grant_allows`, which authorization consults
through :meth:`GrantOperations._grants_allowing`.

Identifiers, as AWS shapes them: a grant id is 64 hex digits; a grant token is an opaque,
long base64url string. kmslab's token carries a version byte, the grant id and 192 random
bytes; a token is valid only while it is one that CreateGrant returned for a live grant.

The error codes are the model's. Two messages are AWS's recorded text (the CreateGrant-only
refusal and the InvalidArnException for a principal); the others are kmslab's wording, and
tests/test_grants.py lists which.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..errors import (
    AccessDeniedException,
    InvalidArnException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    NotFoundException,
    ValidationException,
)
from ..grants import (
    ALWAYS_GRANTABLE,
    CONTEXT_OPERATIONS,
    Grant,
    child_grant_within,
    grant_allows,
    may_retire,
    operations_for,
)
from ..ids import RefKind, parse_key_ref
from ..keys import Key, check_state
from ..store import from_doc, to_doc
from .base import Call, ServiceBase

#: Store kind of grant documents (``store.save_doc("grant", grant_id, doc)``).
GRANT_DOC = "grant"

MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_VALUE = 384
LIST_GRANTS_DEFAULT = 50
LIST_GRANTS_MAX = 100

_GRANT_ID = re.compile(r"^[0-9a-f]{64}$")
_TOKEN_VERSION = b"\x01"
_TOKEN_RANDOM_BYTES = 192

#: Principals a grant may name: accounts, IAM users and roles, federated users, assumed-role
#: sessions (IAM ARNs, "IAM User Guide: IAM ARNs"), a bare account id, or an AWS service
#: principal (which ListGrants may show as a GranteePrincipal).
_PRINCIPAL = re.compile(
    r"^(?:\d{12}"
    r"|arn:aws[a-z-]*:iam::\d{12}:(?:root|user/.+|role/.+|federated-user/.+)"
    r"|arn:aws[a-z-]*:sts::\d{12}:(?:assumed-role/[^/]+/.+|federated-user/.+)"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?)$"
)

ONLY_CREATE_GRANT = "Grants must not contain only the CreateGrant operation."


def _invalid_principal(principal: str) -> InvalidArnException:
    return InvalidArnException(f"ARN does not refer to a valid principal: {principal}")


class GrantOperations(ServiceBase):
    """The grants family. Grants live in ``self.grants`` (grant id -> :class:`Grant`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grants: dict[str, Grant] = {}

    # == persistence ===============================================================================

    def restore_grants(self, docs: dict[str, dict[str, Any]]) -> None:
        """Reload the grants of a persisted lab (``Snapshot.docs["grant"]``)."""
        for doc in docs.values():
            grant = from_doc(Grant, doc)
            grant.operations = tuple(grant.operations)
            grant.tokens = list(grant.tokens)
            self.grants[grant.grant_id] = grant

    def _save_grant(self, grant: Grant) -> None:
        self.grants[grant.grant_id] = grant
        self.store.save_doc(GRANT_DOC, grant.grant_id, to_doc(grant))

    def _drop_grant(self, grant: Grant) -> None:
        self.grants.pop(grant.grant_id, None)
        self.store.delete_doc(GRANT_DOC, grant.grant_id)

    def _grants_of(self, key: Key) -> list[Grant]:
        mine = [g for g in self.grants.values() if g.key_arn == key.arn]
        return sorted(mine, key=lambda g: (g.creation_date, g.grant_id))

    # == tokens and ids ============================================================================

    def _new_token(self, grant_id: str) -> str:
        raw = _TOKEN_VERSION + bytes.fromhex(grant_id) + self.rng.bytes(_TOKEN_RANDOM_BYTES)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _grant_of_token(self, token: str) -> Grant | None:
        """The live grant a token was issued for, None for a well-formed token of a grant that
        is gone.

        Raises:
            InvalidGrantTokenException: not a grant token.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidGrantTokenException("Invalid grant token.") from None
        if len(raw) != 1 + 32 + _TOKEN_RANDOM_BYTES or raw[:1] != _TOKEN_VERSION:
            raise InvalidGrantTokenException("Invalid grant token.")
        grant = self.grants.get(raw[1:33].hex())
        if grant is None:
            return None
        if token not in grant.tokens:
            raise InvalidGrantTokenException("Invalid grant token.")
        return grant

    @staticmethod
    def _check_grant_id(grant_id: str) -> None:
        if _GRANT_ID.match(grant_id) is None:
            raise InvalidGrantIdException(f"Invalid GrantId '{grant_id}'")

    def _check_tokens(self, grant_tokens: list[str] | None) -> None:
        for token in grant_tokens or []:
            self._grant_of_token(token)

    # == CreateGrant ===============================================================================

    @staticmethod
    def _check_constraints(constraints: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        if not constraints:
            return None, None, None
        equals = constraints.get("encryption_context_equals")
        subset = constraints.get("encryption_context_subset")
        if equals is not None and subset is not None:
            raise ValidationException(
                "EncryptionContextEquals and EncryptionContextSubset cannot both be specified "
                "in a grant constraint."
            )
        for pairs in (equals, subset):
            if pairs is None:
                continue
            if len(pairs) > MAX_CONSTRAINT_PAIRS:
                raise ValidationException(
                    f"A grant constraint can include up to {MAX_CONSTRAINT_PAIRS} encryption "
                    "context pairs."
                )
            if any(len(v) > MAX_CONSTRAINT_VALUE for v in pairs.values()):
                raise ValidationException(
                    "The encryption context value in a grant constraint cannot exceed "
                    f"{MAX_CONSTRAINT_VALUE} characters."
                )
        return equals or None, subset or None, constraints.get("source_arn")

    @staticmethod
    def _check_principals(
        grantee: str | None,
        retiring: str | None,
        grantee_service: str | None,
        retiring_service: str | None,
        source_arn: str | None,
    ) -> None:
        if (grantee is None) == (grantee_service is None):
            raise ValidationException(
                "You must specify either GranteePrincipal or GranteeServicePrincipal, but not both."
            )
        if retiring is not None and retiring_service is not None:
            raise ValidationException(
                "You can specify either RetiringPrincipal or RetiringServicePrincipal, but not "
                "both."
            )
        if grantee_service is not None:
            if source_arn is None:
                raise ValidationException(
                    "When you specify a GranteeServicePrincipal, you must also specify a "
                    "SourceArn grant constraint."
                )
            if retiring is None and retiring_service is None:
                raise ValidationException(
                    "When you specify a GranteeServicePrincipal, you must also specify either a "
                    "RetiringPrincipal or a RetiringServicePrincipal."
                )
        for principal in (grantee, retiring):
            if principal is not None and _PRINCIPAL.match(principal) is None:
                raise _invalid_principal(principal)

    @staticmethod
    def _check_operations(key: Key, operations: list[str], constrained: bool) -> tuple[str, ...]:
        if not operations:
            raise ValidationException(
                "1 validation error detected: Value '[]' at 'operations' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1"
            )
        unique = tuple(dict.fromkeys(operations))
        if unique == ("CreateGrant",):
            raise ValidationException(ONLY_CREATE_GRANT)
        allowed = operations_for(key.key_spec.value, key.key_usage.value)
        for op in unique:
            if op not in allowed:
                raise ValidationException(
                    f"Grant operation {op} is not valid for a KMS key with key spec "
                    f"{key.key_spec.value} and key usage {key.key_usage.value}."
                )
        if constrained:
            for op in unique:
                if op not in CONTEXT_OPERATIONS and op not in ALWAYS_GRANTABLE:
                    raise ValidationException(
                        "Encryption context grant constraints are supported only on grant "
                        f"operations that include an EncryptionContext parameter; {op} does not."
                    )
        return unique

    def create_grant(
        self,
        call: Call,
        key_id: str,
        operations: list[str],
        grantee_principal: str | None = None,
        retiring_principal: str | None = None,
        constraints: dict[str, Any] | None = None,
        grant_tokens: list[str] | None = None,
        name: str | None = None,
        dry_run: bool | None = None,
        grantee_service_principal: str | None = None,
        retiring_service_principal: str | None = None,
    ) -> dict[str, Any]:
        """Raises NotFoundException, DisabledException, KMSInvalidStateException,
        ValidationException, InvalidArnException, InvalidGrantTokenException,
        DryRunOperationException."""
        equals, subset, source_arn = self._check_constraints(constraints)
        self._check_principals(
            grantee_principal,
            retiring_principal,
            grantee_service_principal,
            retiring_service_principal,
            source_arn,
        )
        self._check_tokens(grant_tokens)
        key = self._resolve(call, key_id, allow_alias=False)
        check_state("CreateGrant", key)
        ops = self._check_operations(key, operations, equals is not None or subset is not None)
        self._dry_run(dry_run)
        wanted = Grant(
            grant_id="",
            key_arn=key.arn,
            issuing_account=f"arn:aws:iam::{key.account}:root",
            creation_date=call.now,
            operations=ops,
            grantee_principal=grantee_principal,
            retiring_principal=retiring_principal,
            grantee_service_principal=grantee_service_principal,
            retiring_service_principal=retiring_service_principal,
            name=name,
            encryption_context_equals=equals,
            encryption_context_subset=subset,
            source_arn=source_arn,
        )
        grant = self._same_named(wanted) if name is not None else None
        if grant is None:
            grant = wanted
            grant.grant_id = self.rng.bytes(32).hex()
        token = self._new_token(grant.grant_id)
        grant.tokens.append(token)
        self._save_grant(grant)
        return {"grant_token": token, "grant_id": grant.grant_id}

    def _same_named(self, wanted: Grant) -> Grant | None:
        """CreateGrant retried with the same Name and identical parameters: the same grant."""

        def signature(g: Grant) -> tuple[Any, ...]:
            return (
                g.key_arn,
                g.name,
                sorted(g.operations),
                g.grantee_principal,
                g.retiring_principal,
                g.grantee_service_principal,
                g.retiring_service_principal,
                g.encryption_context_equals,
                g.encryption_context_subset,
                g.source_arn,
            )

        target = signature(wanted)
        return next((g for g in self.grants.values() if signature(g) == target), None)

    # == listing ===================================================================================

    @staticmethod
    def _entry(grant: Grant) -> dict[str, Any]:
        """GrantListEntry (snake_case member names)."""
        return {
            "key_id": grant.key_arn,
            "grant_id": grant.grant_id,
            "name": grant.name,
            "creation_date": grant.creation_date,
            "grantee_principal": grant.grantee_principal,
            "retiring_principal": grant.retiring_principal,
            "issuing_account": grant.issuing_account,
            "operations": list(grant.operations),
            "constraints": grant.constraints(),
            "grantee_service_principal": grant.grantee_service_principal,
            "retiring_service_principal": grant.retiring_service_principal,
        }

    def list_grants(
        self,
        call: Call,
        key_id: str,
        limit: int | None = None,
        marker: str | None = None,
        grant_id: str | None = None,
        grantee_principal: str | None = None,
        grantee_service_principal: str | None = None,
    ) -> dict[str, Any]:
        """Raises NotFoundException, InvalidMarkerException, InvalidGrantIdException."""
        key = self._resolve(call, key_id, allow_alias=False)
        check_state("ListGrants", key)
        if grant_id is not None:
            self._check_grant_id(grant_id)
        rows = [
            self._entry(g)
            for g in self._grants_of(key)
            if (grant_id is None or g.grant_id == grant_id)
            and (grantee_principal is None or g.grantee_principal == grantee_principal)
            and (
                grantee_service_principal is None
                or g.grantee_service_principal == grantee_service_principal
            )
        ]
        size = min(limit, LIST_GRANTS_MAX) if limit is not None else None
        page, more = self._page(rows, size, marker, LIST_GRANTS_DEFAULT)
        return {"grants": page, **more}

    def list_retirable_grants(
        self,
        call: Call,
        limit: int | None = None,
        marker: str | None = None,
        retiring_principal: str | None = None,
        retiring_service_principal: str | None = None,
    ) -> dict[str, Any]:
        """Grants in the caller's Region, on keys of any account, whose retiring principal is
        the one named. Raises ValidationException, InvalidMarkerException."""
        if (retiring_principal is None) == (retiring_service_principal is None):
            raise ValidationException(
                "You must specify either RetiringPrincipal or RetiringServicePrincipal, but not "
                "both."
            )
        if retiring_principal is not None and _PRINCIPAL.match(retiring_principal) is None:
            raise _invalid_principal(retiring_principal)
        for grant in [g for g in self.grants.values() if g.key_arn not in self.keys]:
            self._drop_grant(grant)  # the key was deleted: its grants went with it
        mine = sorted(
            (
                g
                for g in self.grants.values()
                if g.key_arn.split(":")[3] == call.region
                and (retiring_principal is None or g.retiring_principal == retiring_principal)
                and (
                    retiring_service_principal is None
                    or g.retiring_service_principal == retiring_service_principal
                )
            ),
            key=lambda g: (g.creation_date, g.grant_id),
        )
        size = min(limit, LIST_GRANTS_MAX) if limit is not None else None
        page, more = self._page([self._entry(g) for g in mine], size, marker, LIST_GRANTS_DEFAULT)
        return {"grants": page, **more}

    # == retiring and revoking =====================================================================

    def _key_without_authorization(self, call: Call, key_id: str) -> Key:
        """The key RetireGrant names. Permission to retire comes from the grant itself, not from
        the key policy, so the key is looked up without authorizing the caller on it."""
        ref = parse_key_ref(key_id)
        if ref.is_alias:
            raise NotFoundException(f"Invalid keyId {key_id}")
        if ref.region is not None and ref.region != call.region:
            raise NotFoundException(f"Invalid arn {ref.region}")
        key = self.key_at(ref.account or call.account, call.region, ref.value)
        if key is None:
            if ref.kind is RefKind.KEY_ARN:
                raise NotFoundException(f"Key '{key_id}' does not exist")
            raise self._not_found(call, ref.value)
        call.resources.append(key.arn)
        return key

    @staticmethod
    def _grant_not_found(grant_id: str) -> NotFoundException:
        return NotFoundException(f"Grant ID {grant_id} not found")

    def retire_grant(
        self,
        call: Call,
        grant_token: str | None = None,
        key_id: str | None = None,
        grant_id: str | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        """Retire by grant token, or by key id/ARN and grant id.

        Raises ValidationException, InvalidGrantTokenException, InvalidGrantIdException,
        NotFoundException, AccessDeniedException (caller neither retiring principal, nor
        grantee with RetireGrant, nor in the key's account), DryRunOperationException.
        """
        grant: Grant | None
        if grant_token is not None:
            grant = self._grant_of_token(grant_token)
            if grant is None:
                raise NotFoundException("Grant not found for the grant token.")
            if grant_id is not None and grant_id != grant.grant_id:
                raise InvalidGrantIdException(f"Invalid GrantId '{grant_id}'")
            call.resources.append(grant.key_arn)
        elif key_id is not None and grant_id is not None:
            key = self._key_without_authorization(call, key_id)
            self._check_grant_id(grant_id)
            grant = self.grants.get(grant_id)
            if grant is None or grant.key_arn != key.arn:
                raise self._grant_not_found(grant_id)
        else:
            raise ValidationException("Grant token OR (grant ID, key ID) must be specified")
        owner = self.keys.get(grant.key_arn)
        if owner is not None:
            check_state("RetireGrant", owner)
        if not may_retire(grant, call.principal.arn) and not self._account_may_retire(call, grant):
            raise AccessDeniedException(
                f"User: {call.principal.arn} is not authorized to perform: kms:RetireGrant on "
                f"resource: {grant.key_arn} because the grant does not allow it"
            )
        self._dry_run(dry_run)
        self._drop_grant(grant)
        return {}

    def _account_may_retire(self, call: Call, grant: Grant) -> bool:
        """The grant's account may retire it: its root user, or a principal the key policy and
        IAM allow kms:RetireGrant."""
        owner = self.keys.get(grant.key_arn)
        if owner is None or call.account != owner.account:
            return False
        decision = self.decide(
            call, "RetireGrant", owner.arn, owner.policy, key=owner, key_account=owner.account
        )
        return decision.allowed

    def revoke_grant(
        self, call: Call, key_id: str, grant_id: str, dry_run: bool | None = None
    ) -> dict[str, Any]:
        """Raises NotFoundException, InvalidGrantIdException, DryRunOperationException."""
        key = self._resolve(call, key_id, allow_alias=False)
        check_state("RevokeGrant", key)
        self._check_grant_id(grant_id)
        grant = self.grants.get(grant_id)
        if grant is None or grant.key_arn != key.arn:
            raise self._grant_not_found(grant_id)
        self._dry_run(dry_run)
        self._drop_grant(grant)
        return {}

    # == authorization hook ========================================================================

    def _grants_allowing(
        self, call: Call, key: Key, action: str, context: dict[str, str] | None
    ) -> list[str]:
        """The grants on ``key`` that let the caller do ``action`` with this request's
        encryption context (see :func:`kmslab.grants.grant_allows`)."""
        params = getattr(call, "params", None) or {}
        if context is None:
            name = {
                "ReEncryptFrom": "source_encryption_context",
                "ReEncryptTo": "destination_encryption_context",
            }.get(action, "encryption_context")
            context = params.get(name)
        callers = [call.principal.arn]
        role_arn = getattr(call.principal, "role_arn", None)
        if role_arn:
            callers.append(role_arn)
        return [
            f"grant {g.grant_id}"
            for g in self._grants_of(key)
            if any(grant_allows(g, who, action, context) for who in callers)
            and (
                action != "CreateGrant"
                or call.operation != "CreateGrant"
                or child_grant_within(g, params.get("operations") or [], params.get("constraints"))
            )
        ]
