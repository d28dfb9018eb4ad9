"""Alias operations."""

from __future__ import annotations

from typing import Any

from ..errors import (
    AlreadyExistsException,
    LimitExceededException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from ..ids import alias_arn
from ..keys import (
    Alias,
    Key,
    check_state,
)
from .base import (
    MAX_ALIASES_PER_KEY,
    Call,
    ServiceBase,
)


class AliasOperations(ServiceBase):
    # == aliases ===================================================================================

    @staticmethod
    def _check_alias_name(name: str) -> None:
        if not name.startswith("alias/"):
            raise ValidationException(
                'Alias must start with the prefix "alias/". Please see '
                "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
            )
        if name.startswith("alias/aws/"):
            raise NotAuthorizedException(
                "Cannot create, update or delete an alias with the reserved prefix alias/aws/."
            )
        rest = name.removeprefix("alias/")
        if not rest or any(not (c.isascii() and (c.isalnum() or c in "/_-")) for c in rest):
            raise ValidationException(f"{name} contains invalid characters for an alias")

    def _alias_target(self, call: Call, target_key_id: str, operation: str) -> Key:
        key = self._resolve(call, target_key_id, allow_alias=False)
        self._customer_managed(call, key, operation)
        check_state(operation, key)
        return key

    def create_alias(self, call: Call, alias_name: str, target_key_id: str) -> dict[str, Any]:
        self._check_alias_name(alias_name)
        key = self._alias_target(call, target_key_id, "CreateAlias")
        slot = (call.account, call.region, alias_name)
        if slot in self.aliases:
            arn = alias_arn(call.region, call.account, alias_name)
            raise AlreadyExistsException(f"An alias with the name {arn} already exists")
        if sum(a.target_key_id == key.key_id for a in self.aliases.values()) >= MAX_ALIASES_PER_KEY:
            raise LimitExceededException(f"Too many aliases for key {key.arn}")
        alias = Alias(
            alias_name,
            call.account,
            call.region,
            alias_arn(call.region, call.account, alias_name),
            key.key_id,
            call.now,
            call.now,
        )
        self.aliases[slot] = alias
        self.store.save_alias(alias)
        return {}

    def _existing_alias(self, call: Call, alias_name: str) -> Alias:
        self._check_alias_name(alias_name)
        alias = self.aliases.get((call.account, call.region, alias_name))
        if alias is None:
            arn = alias_arn(call.region, call.account, alias_name)
            raise NotFoundException(f"Alias {arn} is not found.")
        return alias

    def update_alias(self, call: Call, alias_name: str, target_key_id: str) -> dict[str, Any]:
        alias = self._existing_alias(call, alias_name)
        new = self._alias_target(call, target_key_id, "UpdateAlias")
        old = self.key_at(alias.account, alias.region, alias.target_key_id or "")
        if old is not None and (old.key_spec, old.key_usage) != (new.key_spec, new.key_usage):
            raise ValidationException(
                f"{alias_name} points to a {old.key_spec.value} {old.key_usage.value} key; "
                "the new target must have the same key type and key usage."
            )
        alias.target_key_id = new.key_id
        alias.updated = call.now
        self.store.save_alias(alias)
        return {}

    def delete_alias(self, call: Call, alias_name: str) -> dict[str, Any]:
        alias = self._existing_alias(call, alias_name)
        del self.aliases[(alias.account, alias.region, alias.name)]
        self.store.delete_alias(alias)
        return {}

    def list_aliases(
        self,
        call: Call,
        key_id: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> dict[str, Any]:
        self._predefined_aliases(call.account, call.region)
        target = self._resolve(call, key_id, allow_alias=False).key_id if key_id else None
        rows = []
        for alias in sorted(self.aliases.values(), key=lambda a: a.name):
            if (alias.account, alias.region) != (call.account, call.region):
                continue
            if target is not None and alias.target_key_id != target:
                continue
            row: dict[str, Any] = {"alias_name": alias.name, "alias_arn": alias.arn}
            if alias.target_key_id is not None:
                row["target_key_id"] = alias.target_key_id
            if alias.created is not None:
                row["creation_date"] = alias.created
                row["last_updated_date"] = alias.updated
            rows.append(row)
        page, more = self._page(rows, limit, marker, 50)
        return {"aliases": page, **more}
