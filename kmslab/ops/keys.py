"""Key lifecycle, rotation, tags and key policy operations."""

from __future__ import annotations

from typing import Any

from ..errors import (
    KMSInvalidStateException,
    LimitExceededException,
    NotFoundException,
    TagException,
    UnsupportedOperationException,
    ValidationException,
)
from ..keys import (
    Key,
    check_state,
)
from ..model import (
    KeySpec,
    KeyState,
    KeyUsage,
    Origin,
    RotationType,
)
from .base import (
    DEFAULT_PENDING_WINDOW_DAYS,
    DEFAULT_ROTATION_DAYS,
    ON_DEMAND_ROTATION_LIMIT,
    USAGES_FOR_SPEC,
    Call,
    ServiceBase,
    _default_policy,
)


class KeyOperations(ServiceBase):
    # == keys ======================================================================================

    def create_key(
        self,
        call: Call,
        policy: str | None = None,
        description: str | None = None,
        key_usage: str | None = None,
        customer_master_key_spec: str | None = None,
        key_spec: str | None = None,
        origin: str | None = None,
        custom_key_store_id: str | None = None,
        bypass_policy_lockout_safety_check: bool | None = None,
        tags: list[dict[str, str]] | None = None,
        multi_region: bool | None = None,
        xks_key_id: str | None = None,
    ) -> dict[str, Any]:
        """Raises ValidationException, MalformedPolicyDocumentException, TagException,
        LimitExceededException, UnsupportedOperationException."""
        if key_spec is not None and customer_master_key_spec is not None:
            raise ValidationException(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                "CustomerMasterKeySpec parameter is deprecated. Use KeySpec instead."
            )
        spec = KeySpec(key_spec or customer_master_key_spec or "SYMMETRIC_DEFAULT")
        if key_usage is None and spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise ValidationException(
                "You must specify a KeyUsage value for all KMS keys except for symmetric "
                "encryption keys."
            )
        usage = KeyUsage(key_usage or "ENCRYPT_DECRYPT")
        if usage not in USAGES_FOR_SPEC[spec]:
            raise ValidationException(
                f"KeyUsage {usage.value} is not compatible with KeySpec {spec.value}"
            )
        if spec is KeySpec.SM2:
            raise UnsupportedOperationException(
                "SM2 keys are available only in China Regions; kmslab does not simulate them."
            )
        key_origin = Origin(origin or "AWS_KMS")
        if key_origin not in (Origin.AWS_KMS, Origin.EXTERNAL) or custom_key_store_id or xks_key_id:
            self._check_custom_key_store(
                call, origin, custom_key_store_id, xks_key_id, spec, multi_region
            )
        if policy is not None:
            self._check_policy(call, policy, bypass_policy_lockout_safety_check, None)
        new_tags = self._check_tags(tags or [], {})
        key = self._new_key(
            account=call.account,
            region=call.region,
            now=call.now,
            description=description or "",
            policy=policy if policy is not None else _default_policy(call.account),
            key_spec=spec,
            key_usage=usage,
            origin=key_origin,
            multi_region=bool(multi_region),
        )
        key.custom_key_store_id, key.xks_key_id = custom_key_store_id, xks_key_id
        key.tags.update(new_tags)
        call.resources.append(key.arn)
        self.store.save_key(key)
        return {"key_metadata": self._metadata(key)}

    def describe_key(
        self, call: Call, key_id: str, grant_tokens: list[str] | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id)
        check_state("DescribeKey", key)
        return {"key_metadata": self._metadata(key)}

    def list_keys(
        self,
        call: Call,
        limit: int | None = None,
        marker: str | None = None,
        resource_owners: list[str] | None = None,
    ) -> dict[str, Any]:
        mine = [
            {"key_id": k.key_id, "key_arn": k.arn}
            for k in self.keys.values()
            if k.account == call.account and k.region == call.region
        ]
        page, more = self._page(mine, limit, marker, 100)
        return {"keys": page, **more}

    def update_key_description(self, call: Call, key_id: str, description: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "UpdateKeyDescription")
        check_state("UpdateKeyDescription", key)
        key.description = description
        self.store.save_key(key)
        return {}

    def enable_key(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "EnableKey")
        check_state("EnableKey", key)
        self._set_state(key, KeyState.ENABLED)
        # A key whose rotation fell due while it was disabled rotates as soon as it is enabled.
        if (
            key.rotation_enabled
            and not key.is_replica  # replicas rotate with their primary
            and key.next_rotation is not None
            and key.next_rotation <= call.now
        ):
            key.rotate(self._new_material(call.now, RotationType.AUTOMATIC))
            key.schedule_rotation(call.now)
            self._sync_replicas(key)
            self._service_event("RotateKey", key, call.now)
            self.reschedule()
        self.store.save_key(key)
        return {}

    def disable_key(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "DisableKey")
        check_state("DisableKey", key)
        self._set_state(key, KeyState.DISABLED)
        self.store.save_key(key)
        return {}

    def schedule_key_deletion(
        self, call: Call, key_id: str, pending_window_in_days: int | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "ScheduleKeyDeletion")
        days = (
            DEFAULT_PENDING_WINDOW_DAYS
            if pending_window_in_days is None
            else pending_window_in_days
        )
        if not 7 <= days <= 30:
            bound = "greater than or equal to 7" if days < 7 else "less than or equal to 30"
            raise ValidationException(
                f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed "
                f"to satisfy constraint: Member must have value {bound}"
            )
        check_state("ScheduleKeyDeletion", key)
        self._begin_deletion(key, call.now, days)
        self.store.save_key(key)
        self.reschedule()
        return {
            "key_id": key.arn,
            "deletion_date": key.deletion_date,
            "key_state": key.state.value,
            "pending_window_in_days": days,
        }

    def cancel_key_deletion(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        check_state("CancelKeyDeletion", key)
        # An EXTERNAL key whose material was deleted or expired meanwhile still needs it.
        state = KeyState.PENDING_IMPORT if key.awaiting_import else KeyState.DISABLED
        self._set_state(key, state)
        key.deletion_date = None
        key.pending_window_days = None
        self.store.save_key(key)
        self.reschedule()
        return {"key_id": key.arn}

    # == rotation ==================================================================================

    def _rotation_key(
        self, call: Call, key_id: str, operation: str, imported_ok: bool = False
    ) -> Key:
        key = self._resolve(call, key_id, allow_alias=False)
        check_state(operation, key)
        if key.origin is not Origin.AWS_KMS and not (imported_ok and key.origin is Origin.EXTERNAL):
            raise UnsupportedOperationException(
                f"{key.arn} origin is {key.origin.value} which is not valid for this operation."
            )
        if not key.is_symmetric_encryption:
            raise UnsupportedOperationException(
                f"{key.arn} key spec is {key.key_spec.value} which is not valid for this operation."
            )
        return key

    def enable_key_rotation(
        self, call: Call, key_id: str, rotation_period_in_days: int | None = None
    ) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "EnableKeyRotation")
        self._customer_managed(call, key, "EnableKeyRotation")
        self._primary_only(key, "EnableKeyRotation")
        period = rotation_period_in_days or DEFAULT_ROTATION_DAYS
        if not key.rotation_enabled or key.rotation_period_days != period:
            key.rotation_enabled = True
            key.rotation_period_days = period
            key.schedule_rotation(call.now)
        self.store.save_key(key)
        self._sync_replicas(key)
        self.reschedule()
        return {}

    def disable_key_rotation(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "DisableKeyRotation")
        self._customer_managed(call, key, "DisableKeyRotation")
        self._primary_only(key, "DisableKeyRotation")
        key.rotation_enabled = False
        key.rotation_period_days = None
        key.next_rotation = None
        self.store.save_key(key)
        self._sync_replicas(key)
        self.reschedule()
        return {}

    def get_key_rotation_status(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "GetKeyRotationStatus")
        # While a key is pending deletion its rotation status reads false (rotate-keys.html).
        enabled = key.rotation_enabled and key.state is not KeyState.PENDING_DELETION
        out: dict[str, Any] = {"key_rotation_enabled": enabled, "key_id": key.key_id}
        if enabled:
            out["rotation_period_in_days"] = key.rotation_period_days
            out["next_rotation_date"] = key.next_rotation
        return out

    def rotate_key_on_demand(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "RotateKeyOnDemand")
        check_state("RotateKeyOnDemand", key)
        if not key.is_symmetric_encryption:
            raise UnsupportedOperationException(
                f"{key.arn} key spec is {key.key_spec.value} which is not valid for this operation."
            )
        if key.custom_key_store_id is not None:
            raise UnsupportedOperationException(
                f"{key.arn} origin is {key.origin.value} which is not valid for this operation."
            )
        self._primary_only(key, "RotateKeyOnDemand")
        # Imported keys rotate only to material imported with ImportType NEW_KEY_MATERIAL.
        pending = key.pending_rotation
        if key.origin is not Origin.AWS_KMS and pending is None:
            raise KMSInvalidStateException(
                f"No available key material pending rotation for the key: {key.arn}."
            )
        if key.on_demand_rotations >= ON_DEMAND_ROTATION_LIMIT:
            raise LimitExceededException(
                "The on-demand rotations limit has been reached for the given keyId. "
                f"No more on-demand rotations can be performed for this key: {key.arn}"
            )
        key.on_demand_rotations += 1
        if pending is not None:
            key.materials.remove(pending)
            pending.pending_rotation = False
            pending.rotation_type, pending.created = RotationType.ON_DEMAND, call.now
        key.rotate(pending or self._new_material(call.now, RotationType.ON_DEMAND))
        self.store.save_key(key)
        self._sync_replicas(key)
        return {"key_id": key.key_id}

    def list_key_rotations(
        self,
        call: Call,
        key_id: str,
        include_key_material: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "ListKeyRotations", imported_ok=True)
        everything = include_key_material == "ALL_KEY_MATERIAL"
        rows = []
        for m in key.materials:
            if m.rotation_type is None and not everything:
                continue
            row: dict[str, Any] = {
                "key_id": key.key_id,
                "key_material_id": m.material_id,
                "key_material_state": "PENDING_ROTATION"
                if m.pending_rotation
                else "CURRENT"
                if m is key.current
                else "NON_CURRENT",
            }
            if m.rotation_type is not None:
                row["rotation_date"] = m.created
                row["rotation_type"] = m.rotation_type.value
            if key.origin is Origin.EXTERNAL:
                row.update(m.import_fields())
            rows.append(row)
        page, more = self._page(rows, limit, marker, 100)
        return {"rotations": page, **more}

    # == tags ======================================================================================

    def tag_resource(self, call: Call, key_id: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "TagResource")
        check_state("TagResource", key)
        key.tags.update(self._check_tags(tags, key.tags))
        self.store.save_key(key)
        return {}

    def untag_resource(self, call: Call, key_id: str, tag_keys: list[str]) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "UntagResource")
        check_state("UntagResource", key)
        for k in tag_keys:
            if k.lower().startswith("aws:"):
                raise TagException("Tags beginning with aws: are reserved")
        for k in tag_keys:
            key.tags.pop(k, None)
        self.store.save_key(key)
        return {}

    def list_resource_tags(
        self, call: Call, key_id: str, limit: int | None = None, marker: str | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        rows = [{"tag_key": k, "tag_value": v} for k, v in key.tags.items()]
        page, more = self._page(rows, limit, marker, 50)
        return {"tags": page, **more}

    # == key policy ================================================================================

    def get_key_policy(
        self, call: Call, key_id: str, policy_name: str | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        name = policy_name or "default"
        if name != "default":
            raise NotFoundException(f"Policy {name} not found")
        return {"policy": key.policy, "policy_name": "default"}

    def put_key_policy(
        self,
        call: Call,
        key_id: str,
        policy: str,
        policy_name: str | None = None,
        bypass_policy_lockout_safety_check: bool | None = None,
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        if (policy_name or "default") != "default":
            raise ValidationException(
                f"1 validation error detected: Value '{policy_name}' at 'policyName' failed to "
                "satisfy constraint: Member must satisfy enum value set: [default]"
            )
        self._customer_managed(call, key, "PutKeyPolicy")
        self._check_policy(call, policy, bypass_policy_lockout_safety_check, key)
        key.policy = policy
        self.store.save_key(key)
        return {}

    def list_key_policies(
        self, call: Call, key_id: str, limit: int | None = None, marker: str | None = None
    ) -> dict[str, Any]:
        self._resolve(call, key_id, allow_alias=False)
        page, more = self._page(["default"], limit, marker, 100)
        return {"policy_names": page, **more}
