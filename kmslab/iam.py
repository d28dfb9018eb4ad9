"""The lab's principals: accounts and the access keys that identify callers.

The service identifies a caller from the access key id in the request signature, as AWS does.
This module holds the directory that maps access keys to principals. It starts with each
account's root user; users, groups, roles and identity policies arrive with the IAM work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCOUNT = "111122223333"

#: The default account's root credentials. Fixed and documented, so a learner configures the
#: aws CLI once for `kmslab serve`. They are lab-only strings, valid nowhere else.
ADMIN_ACCESS_KEY_ID = "AKIAKMSLABADMIN00001"
ADMIN_SECRET_ACCESS_KEY = "kmslab/admin/secret/do-not-use-in-aws"


@dataclass(frozen=True, slots=True)
class Principal:
    account: str
    arn: str
    kind: str  # "Root" | "IAMUser" | "AssumedRole"
    name: str
    principal_id: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def user_identity(self) -> dict[str, Any]:
        """The CloudTrail ``userIdentity`` block of this principal."""
        identity: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": self.access_key_id,
        }
        if self.kind == "IAMUser":
            identity["userName"] = self.name
        return identity


def root_principal(account: str, access_key_id: str, secret: str) -> Principal:
    return Principal(
        account=account,
        arn=f"arn:aws:iam::{account}:root",
        kind="Root",
        name="root",
        principal_id=account,
        access_key_id=access_key_id,
        secret_access_key=secret,
    )


class Directory:
    """Access key id -> principal; principal name or ARN -> principal."""

    def __init__(self, default_account: str = DEFAULT_ACCOUNT) -> None:
        self.default_account = default_account
        self._by_access_key: dict[str, Principal] = {}
        self._by_arn: dict[str, Principal] = {}
        self.add(root_principal(default_account, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY))

    def add(self, principal: Principal) -> None:
        self._by_access_key[principal.access_key_id] = principal
        self._by_arn[principal.arn] = principal

    def by_access_key(self, access_key_id: str) -> Principal | None:
        return self._by_access_key.get(access_key_id)

    def find(self, name_or_arn: str | None) -> Principal | None:
        """``None`` is the default account's root; a bare name is a user of that account."""
        if name_or_arn is None:
            return self._by_arn[f"arn:aws:iam::{self.default_account}:root"]
        if name_or_arn.startswith("arn:"):
            return self._by_arn.get(name_or_arn)
        return self._by_arn.get(f"arn:aws:iam::{self.default_account}:user/{name_or_arn}")

    def principals(self) -> list[Principal]:
        return list(self._by_arn.values())
