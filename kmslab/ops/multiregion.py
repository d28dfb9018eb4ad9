"""Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and keeping related keys in step.

A set of related multi-Region keys is the keys of one account that share an ``mrk-`` key id,
at most one per Region; every member's ``Key.primary_region`` names the Region of the primary.
Nothing else links them: DescribeKey's MultiRegionConfiguration is computed from the members
that exist, so it is always current (AWS KMS Developer Guide, "Multi-Region keys in AWS KMS").

Shared properties come from the primary (API Reference, ReplicateKey and UpdatePrimaryRegion):
the key id and every version of the key material (so a ciphertext made in one Region decrypts
with a related key in any other; kmslab's ciphertext blob deliberately names no Region), the key
spec, key usage, origin and automatic rotation. Rotation is driven from the primary only:
automatic or on-demand rotation of the primary copies the new material to every replica at
once, and rotation settings cannot be changed on a replica. Description, key policy, tags,
aliases, grants and key state are each key's own.

Deletion: a primary that still has replicas goes to PendingReplicaDeletion when its deletion is
scheduled; its waiting period (PendingWindowInDays) starts when the last replica is deleted, not
merely scheduled (ScheduleKeyDeletion reference). Replicas are deleted like any key.

Simulation notes: the transient Creating state of a new replica and the Updating state during
UpdatePrimaryRegion, which last seconds in AWS, complete before the call returns. A replica of
a primary with imported material (Origin EXTERNAL) starts PendingImport with no material, as in
AWS; importing into it is the import operations' business. The error codes are the model's;
the messages for refusals specific to multi-Region keys are kmslab's wording of the API
Reference text (AWS's exact messages are not publicly recorded).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from ..errors import (
    AlreadyExistsException,
    DisabledException,
    KMSInvalidStateException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from ..ids import key_arn
from ..keys import Key
from ..model import KeyState, Origin
from .base import DEFAULT_PENDING_WINDOW_DAYS, Call, ServiceBase, _default_policy

#: How each state reads in AWS's "<key ARN> is <state>." messages.
_STATE_PHRASES = {
    KeyState.DISABLED: "disabled",
    KeyState.PENDING_DELETION: "pending deletion",
    KeyState.PENDING_REPLICA_DELETION: "pending replica deletion",
    KeyState.PENDING_IMPORT: "pending import",
    KeyState.UNAVAILABLE: "unavailable",
    KeyState.CREATING: "creating",
    KeyState.UPDATING: "updating",
}


def _require_state(key: Key, *allowed: KeyState) -> None:
    """Raise DisabledException or KMSInvalidStateException unless ``key`` is in ``allowed``."""
    if key.state in allowed:
        return
    message = f"{key.arn} is {_STATE_PHRASES[key.state]}."
    if key.state is KeyState.DISABLED:
        raise DisabledException(message)
    raise KMSInvalidStateException(message)


class MultiRegionOperations(ServiceBase):
    """ReplicateKey and UpdatePrimaryRegion; the multi-Region parts of DescribeKey, rotation and
    deletion."""

    # == the set of related keys ===================================================================

    def _related(self, key: Key) -> list[Key]:
        """Every key of ``key``'s multi-Region set (``key`` included), by Region."""
        if not key.multi_region:
            return [key]
        return sorted(
            (k for k in self.keys.values() if k.account == key.account and k.key_id == key.key_id),
            key=lambda k: k.region,
        )

    def _replicas(self, key: Key) -> list[Key]:
        return [k for k in self._related(key) if k.is_replica]

    def _multi_region_configuration(self, key: Key) -> dict[str, Any]:
        primary_region = key.primary_region or key.region
        return {
            "multi_region_key_type": "REPLICA" if key.is_replica else "PRIMARY",
            "primary_key": {
                "arn": key_arn(primary_region, key.account, key.key_id),
                "region": primary_region,
            },
            "replica_keys": [{"arn": k.arn, "region": k.region} for k in self._replicas(key)],
        }

    @staticmethod
    def _copy_shared(primary: Key, replica: Key) -> None:
        """Copy the shared properties that can change (material, rotation) to a replica."""
        replica.rotation_enabled = primary.rotation_enabled
        replica.rotation_period_days = primary.rotation_period_days
        replica.next_rotation = primary.next_rotation
        if primary.origin is not Origin.EXTERNAL:  # imported material is imported per Region
            replica.materials = [dataclasses.replace(m) for m in primary.materials]

    def _primary_of(self, call: Call, key_id: str, operation: str) -> Key:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, operation)
        if not key.multi_region:
            raise UnsupportedOperationException(
                f"{key.arn} is not a multi-Region key; {operation} is valid only for a "
                "multi-Region primary key."
            )
        if key.is_replica:
            raise UnsupportedOperationException(
                f"{key.arn} is a multi-Region replica key; {operation} is valid only for its "
                f"primary key in {key.primary_region}."
            )
        return key

    # == operations ================================================================================

    def replicate_key(
        self,
        call: Call,
        key_id: str,
        replica_region: str,
        policy: str | None = None,
        bypass_policy_lockout_safety_check: bool | None = None,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Create a replica of a multi-Region primary key in ``replica_region``: the same key
        id, every version of the key material. Raises NotFoundException,
        UnsupportedOperationException (not a multi-Region primary key),
        AlreadyExistsException, DisabledException, KMSInvalidStateException,
        MalformedPolicyDocumentException, TagException."""
        primary = self._primary_of(call, key_id, "ReplicateKey")
        _require_state(primary, KeyState.ENABLED, KeyState.PENDING_IMPORT)
        existing = self.key_at(primary.account, replica_region, primary.key_id)
        if existing is not None:
            raise AlreadyExistsException(
                f"Key {existing.arn} already exists: a multi-Region key can have only one "
                "related key in each Region."
            )
        if policy is not None:
            self._check_policy(call, policy, bypass_policy_lockout_safety_check, None)
        new_tags = self._check_tags(tags or [], {})
        replica = Key(
            key_id=primary.key_id,
            account=primary.account,
            region=replica_region,
            arn=key_arn(replica_region, primary.account, primary.key_id),
            created=call.now,
            description=description or "",
            key_usage=primary.key_usage,
            key_spec=primary.key_spec,
            origin=primary.origin,
            key_manager=primary.key_manager,
            policy=policy if policy is not None else _default_policy(primary.account),
            multi_region=True,
            primary_region=primary.region,
        )
        replica.tags.update(new_tags)
        self._copy_shared(primary, replica)
        if primary.origin is Origin.EXTERNAL:
            replica.state = KeyState.PENDING_IMPORT
        self.keys[replica.arn] = replica
        call.resources.append(replica.arn)
        self.store.save_key(replica)
        self.reschedule()
        return {
            "replica_key_metadata": self._metadata(replica),
            "replica_policy": replica.policy,
            "replica_tags": [{"tag_key": k, "tag_value": v} for k, v in replica.tags.items()],
        }

    def update_primary_region(self, call: Call, key_id: str, primary_region: str) -> dict[str, Any]:
        """Make the related key in ``primary_region`` the primary and this primary a replica.
        Both must be Enabled. Raises NotFoundException, UnsupportedOperationException,
        DisabledException, KMSInvalidStateException, ValidationException."""
        primary = self._primary_of(call, key_id, "UpdatePrimaryRegion")
        if primary_region == primary.region:
            raise ValidationException(
                f"{primary.arn} is already the primary key; PrimaryRegion must be the Region of "
                "one of its replica keys."
            )
        new = self.key_at(primary.account, primary_region, primary.key_id)
        if new is None:
            raise NotFoundException(
                f"Key '{key_arn(primary_region, primary.account, primary.key_id)}' does not exist"
            )
        call.resources.append(new.arn)
        self._authorize(call, new)
        _require_state(primary, KeyState.ENABLED)
        _require_state(new, KeyState.ENABLED)
        for key in self._related(primary):
            key.primary_region = primary_region
            self.store.save_key(key)
        return {}

    # == hooks the other operation families call ===================================================

    def _metadata(self, key: Key) -> dict[str, Any]:
        md = super()._metadata(key)
        if key.multi_region:
            md["multi_region_configuration"] = self._multi_region_configuration(key)
            if key.state is KeyState.PENDING_REPLICA_DELETION:
                md["pending_deletion_window_in_days"] = key.pending_window_days
        return md

    def _begin_deletion(self, key: Key, now: datetime, days: int) -> None:
        """A primary with replicas waits for them: PendingReplicaDeletion, no date yet."""
        if key.multi_region and not key.is_replica and self._replicas(key):
            key.state = KeyState.PENDING_REPLICA_DELETION
            key.deletion_date = None
            key.pending_window_days = days
            return
        super()._begin_deletion(key, now, days)

    def _delete_key_now(self, key: Key) -> None:
        """When the last replica of a primary that waits in PendingReplicaDeletion is deleted,
        the primary's waiting period begins."""
        super()._delete_key_now(key)
        if not key.is_replica or key.primary_region is None:
            return
        primary = self.key_at(key.account, key.primary_region, key.key_id)
        if (
            primary is not None
            and primary.state is KeyState.PENDING_REPLICA_DELETION
            and not self._replicas(primary)
        ):
            when = key.deletion_date or self.clock.now()
            days = primary.pending_window_days or DEFAULT_PENDING_WINDOW_DAYS
            primary.state = KeyState.PENDING_DELETION
            primary.deletion_date = when + timedelta(days=days)
            self.store.save_key(primary)

    def _sync_replicas(self, key: Key) -> None:
        """After a primary's material or rotation settings changed, its replicas follow."""
        super()._sync_replicas(key)
        if not key.multi_region or key.is_replica:
            return
        for replica in self._replicas(key):
            self._copy_shared(key, replica)
            self.store.save_key(replica)

    def _primary_only(self, key: Key, operation: str) -> None:
        """Rotation is managed on the primary key only (Developer Guide, "Rotating
        multi-Region keys")."""
        super()._primary_only(key, operation)
        if key.is_replica:
            raise UnsupportedOperationException(
                f"{key.arn} is a multi-Region replica key; {operation} is valid only for its "
                f"primary key in {key.primary_region}."
            )
