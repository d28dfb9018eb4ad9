"""IamService: the IAM operations the lab needs, one method per operation, named as botocore
names it (``xform_name``); and StsService's GetCallerIdentity.

Methods take a :class:`~kmslab.query.QueryCall` and the operation's input members as snake_case
keyword arguments (decoded and checked against botocore's IAM model by :mod:`kmslab.query`),
and return the output members as a snake_case dict. They raise only :mod:`kmslab.iam` errors,
with IAM's codes and texts. Every entity lives in the caller's account. The operations IAM has
once per kind of entity (``PutUserPolicy``, ``PutGroupPolicy``, ``PutRolePolicy``, ...) are one
method each, given the kind, and named per kind from :data:`PER_KIND_OPERATIONS`.

Who may call: :meth:`IamService.authorize` runs before anything else, as in IAM (a caller who
may not act gets AccessDenied even for an entity that does not exist). Its decision is
``IamService.decide(principal, action, resource_arn) -> bool``: by default an account's root
user may do everything and everyone else nothing; the lab points it at policy evaluation of
the caller's identity-based policies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .iam import (
    AWS_MANAGED_POLICIES,
    AccessDenied,
    AccessKey,
    Directory,
    Group,
    InvalidInput,
    ManagedPolicy,
    NoSuchEntity,
    Principal,
    Role,
    User,
    ValidationError,
)
from .query import QueryCall, page

NOT_USER_CREDENTIALS = "Must specify userName when calling with non-User credentials"

Decision = Callable[[Principal, str, str], bool]


def root_only(principal: Principal, action: str, resource_arn: str) -> bool:
    """The default decision: an account's root user may do anything in its own account."""
    del action
    account = resource_arn.split(":")[4] if resource_arn.count(":") >= 5 else ""
    return principal.kind == "Root" and account in (principal.account, "aws")


def access_denied_message(principal: Principal, action: str, resource_arn: str) -> str:
    """IAM's AccessDenied text for an identity without a policy that allows ``action``."""
    return (
        f"User: {principal.arn} is not authorized to perform: {action} on resource: "
        f"{resource_arn} because no identity-based policy allows the {action} action"
    )


# == output shapes ==============================================================================


def _user(user: User, tags: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": user.path,
        "user_name": user.name,
        "user_id": user.user_id,
        "arn": user.arn,
        "create_date": user.created,
    }
    if tags and user.tags:
        out["tags"] = user.tags
    return out


def _group(group: Group) -> dict[str, Any]:
    return {
        "path": group.path,
        "group_name": group.name,
        "group_id": group.group_id,
        "arn": group.arn,
        "create_date": group.created,
    }


def _role(role: Role, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": role.path,
        "role_name": role.name,
        "role_id": role.role_id,
        "arn": role.arn,
        "create_date": role.created,
        "assume_role_policy_document": role.trust_policy,
        "description": role.description,
    }
    if full:
        out["max_session_duration"] = role.max_session_duration
        out["role_last_used"] = {}
    if role.tags:
        out["tags"] = role.tags
    return out


def _listed_user(user: User) -> dict[str, Any]:
    return _user(user, tags=False)


def _listed_role(role: Role) -> dict[str, Any]:
    return {**_role(role, full=False), "max_session_duration": role.max_session_duration}


def _access_key(key: AccessKey, secret: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user_name": key.user_name,
        "access_key_id": key.access_key_id,
        "status": key.status,
        "create_date": key.created,
    }
    if secret:
        out["secret_access_key"] = key.secret
    return out


def _listing(
    name: str, items: list[Any], marker: str | None = None, max_items: int | None = None
) -> dict[str, Any]:
    """One page of an IAM list; the ``**paging`` of a list operation is its Marker and MaxItems."""
    chunk, truncated, next_marker = page(items, marker, max_items)
    return {name: chunk, "is_truncated": truncated, "marker": next_marker}


class IamService:
    """The lab's IAM, over the lab's :class:`~kmslab.iam.Directory`."""

    def __init__(self, directory: Directory, decide: Decision | None = None) -> None:
        self.directory = directory
        #: (principal, "iam:<Action>", resource ARN) -> may it? Replace to evaluate policies.
        self.decide: Decision = decide or root_only

    # -- authorization and helpers ---------------------------------------------------------------

    def authorize(self, principal: Principal, action: str, resource_arn: str) -> None:
        """Raises AccessDenied (403) unless :attr:`decide` allows ``action`` (``iam:...``)."""
        if not self.decide(principal, action, resource_arn):
            raise AccessDenied(access_denied_message(principal, action, resource_arn))

    def _allow(self, call: QueryCall, resource_arn: str) -> None:
        self.authorize(call.principal, f"iam:{call.operation}", resource_arn)

    def _allow_path(self, call: QueryCall, kind: str, path: str | None, name: str = "") -> None:
        """Authorizes the call on the ARN built from ``path``: of the entity (user, group, role,
        policy) a request creates, or without ``name`` of every entity of ``kind`` (List...)."""
        self._allow(call, f"arn:aws:iam::{call.account}:{kind}{path or '/'}{name}")

    def _allow_entity(self, call: QueryCall, kind: str, name: str) -> None:
        """Authorizes the call on the entity a request names, by the entity's own ARN."""
        try:
            arn = self.directory.entity(kind, call.account, name).arn
        except NoSuchEntity:  # a missing entity still has an ARN to authorize
            self._allow_path(call, kind, "/", name)
        else:
            self._allow(call, arn)

    def _target_user(self, call: QueryCall, user_name: str | None) -> str:
        """The user a request acts on: ``UserName``, or the calling IAM user itself."""
        if user_name is not None:
            return user_name
        if call.principal.kind == "IAMUser":
            return call.principal.name
        raise ValidationError(NOT_USER_CREDENTIALS)

    def _policy(self, policy: ManagedPolicy, account: str, *, get: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy_name": policy.name,
            "policy_id": policy.policy_id,
            "arn": policy.arn,
            "path": policy.path,
            "default_version_id": policy.default_version.version_id,
            "attachment_count": self.directory.attachment_count(account, policy.arn),
            "permissions_boundary_usage_count": 0,
            "is_attachable": True,
            "create_date": policy.created,
            "update_date": policy.updated,
        }
        if get:
            out["description"] = policy.description
            out["tags"] = policy.tags
        return out

    @staticmethod
    def _no_boundary(permissions_boundary: str | None) -> None:
        if permissions_boundary is not None:
            raise InvalidInput("kmslab does not simulate permissions boundaries.")

    def _list_entities(
        self, call: QueryCall, kind: str, path_prefix: str | None = None, **paging: Any
    ) -> dict[str, Any]:
        self._allow_path(call, kind, "/")
        listed: dict[str, tuple[Callable[[str], Sequence[Any]], Callable[[Any], dict[str, Any]]]]
        listed = {
            "user": (self.directory.users, _listed_user),
            "group": (self.directory.groups, _group),
            "role": (self.directory.roles, _listed_role),
        }
        entities, entry = listed[kind]
        found = [entry(e) for e in entities(call.account) if e.path.startswith(path_prefix or "/")]
        return _listing(f"{kind}s", found, **paging)

    # == users ====================================================================================

    def create_user(
        self,
        call: QueryCall,
        user_name: str,
        path: str | None = None,
        permissions_boundary: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._allow_path(call, "user", path, user_name)
        self._no_boundary(permissions_boundary)
        user = self.directory.create_user(call.account, user_name, path or "/", tags)
        return {"user": _user(user)}

    def get_user(self, call: QueryCall, user_name: str | None = None) -> dict[str, Any]:
        if user_name is None and call.principal.kind == "Root":
            self._allow(call, call.principal.arn)
            return {
                "user": {
                    "user_id": call.account,
                    "arn": call.principal.arn,
                    "create_date": self.directory.account_created(call.account),
                }
            }
        name = self._target_user(call, user_name)
        self._allow_entity(call, "user", name)
        return {"user": _user(self.directory.user(call.account, name))}

    def delete_user(self, call: QueryCall, user_name: str) -> None:
        self._allow_entity(call, "user", user_name)
        self.directory.delete_user(call.account, user_name)

    # == groups ===================================================================================

    def create_group(
        self, call: QueryCall, group_name: str, path: str | None = None
    ) -> dict[str, Any]:
        self._allow_path(call, "group", path, group_name)
        return {"group": _group(self.directory.create_group(call.account, group_name, path or "/"))}

    def get_group(
        self,
        call: QueryCall,
        group_name: str,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        self._allow_entity(call, "group", group_name)
        group = self.directory.group(call.account, group_name)
        users = [_user(u, tags=False) for u in self.directory.members(group)]
        return {"group": _group(group), **_listing("users", users, marker, max_items)}

    def delete_group(self, call: QueryCall, group_name: str) -> None:
        self._allow_entity(call, "group", group_name)
        self.directory.delete_group(call.account, group_name)

    def add_user_to_group(self, call: QueryCall, group_name: str, user_name: str) -> None:
        self._allow_entity(call, "group", group_name)
        self.directory.add_user_to_group(call.account, group_name, user_name)

    def remove_user_from_group(self, call: QueryCall, group_name: str, user_name: str) -> None:
        self._allow_entity(call, "group", group_name)
        self.directory.remove_user_from_group(call.account, group_name, user_name)

    def list_groups_for_user(
        self,
        call: QueryCall,
        user_name: str,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        self._allow_entity(call, "user", user_name)
        groups = [_group(g) for g in self.directory.groups_for_user(call.account, user_name)]
        return _listing("groups", groups, marker, max_items)

    # == roles ====================================================================================

    def create_role(
        self,
        call: QueryCall,
        role_name: str,
        assume_role_policy_document: str,
        path: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        max_signin_session_duration: int | None = None,
        permissions_boundary: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        del max_signin_session_duration  # console sign-in sessions are not simulated
        self._allow_path(call, "role", path, role_name)
        self._no_boundary(permissions_boundary)
        role = self.directory.create_role(
            call.account,
            role_name,
            assume_role_policy_document,
            path or "/",
            description,
            max_session_duration,
            tags,
        )
        return {"role": _role(role, full=False)}

    def get_role(self, call: QueryCall, role_name: str) -> dict[str, Any]:
        self._allow_entity(call, "role", role_name)
        return {"role": _role(self.directory.role(call.account, role_name), full=True)}

    def delete_role(self, call: QueryCall, role_name: str) -> None:
        self._allow_entity(call, "role", role_name)
        self.directory.delete_role(call.account, role_name)

    # == access keys ==============================================================================

    def create_access_key(self, call: QueryCall, user_name: str | None = None) -> dict[str, Any]:
        name = self._target_user(call, user_name)
        self._allow_entity(call, "user", name)
        key = self.directory.create_access_key(call.account, name)
        return {"access_key": _access_key(key, secret=True)}

    def list_access_keys(
        self,
        call: QueryCall,
        user_name: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        if user_name is None and call.principal.kind == "Root":
            self._allow(call, call.principal.arn)
            keys: list[dict[str, Any]] = [
                {
                    "access_key_id": a.access_key_id,
                    "status": "Active",
                    "create_date": a.created,
                }
                for a in self.directory.root_access_keys(call.account)
            ]
        else:
            name = self._target_user(call, user_name)
            self._allow_entity(call, "user", name)
            keys = [
                _access_key(k, secret=False) for k in self.directory.access_keys(call.account, name)
            ]
        return _listing("access_key_metadata", keys, marker, max_items)

    def delete_access_key(
        self, call: QueryCall, access_key_id: str, user_name: str | None = None
    ) -> None:
        name = self._target_user(call, user_name)
        self._allow_entity(call, "user", name)
        self.directory.delete_access_key(call.account, name, access_key_id)

    def update_access_key(
        self, call: QueryCall, access_key_id: str, status: str, user_name: str | None = None
    ) -> None:
        name = self._target_user(call, user_name)
        self._allow_entity(call, "user", name)
        self.directory.update_access_key(call.account, name, access_key_id, status)

    # == inline policies ==========================================================================

    def _put_inline(
        self, call: QueryCall, kind: str, name: str, policy_name: str, policy_document: str
    ) -> None:
        self._allow_entity(call, kind, name)
        self.directory.put_inline_policy(kind, call.account, name, policy_name, policy_document)

    def _get_inline(
        self, call: QueryCall, kind: str, name: str, policy_name: str
    ) -> dict[str, Any]:
        self._allow_entity(call, kind, name)
        document = self.directory.inline_policy(kind, call.account, name, policy_name)
        entity_name = self.directory.entity(kind, call.account, name).name
        stored = next(
            n
            for n in self.directory.inline_policy_names(kind, call.account, name)
            if n.lower() == policy_name.lower()
        )
        return {
            f"{kind}_name": entity_name,
            "policy_name": stored,
            "policy_document": document,
        }

    def _list_inline(self, call: QueryCall, kind: str, name: str, **paging: Any) -> dict[str, Any]:
        self._allow_entity(call, kind, name)
        names = self.directory.inline_policy_names(kind, call.account, name)
        return _listing("policy_names", names, **paging)

    def _delete_inline(self, call: QueryCall, kind: str, name: str, policy_name: str) -> None:
        self._allow_entity(call, kind, name)
        self.directory.delete_inline_policy(kind, call.account, name, policy_name)

    # == managed policies =========================================================================

    def create_policy(
        self,
        call: QueryCall,
        policy_name: str,
        policy_document: str,
        path: str | None = None,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._allow_path(call, "policy", path, policy_name)
        policy = self.directory.create_policy(
            call.account, policy_name, policy_document, path or "/", description, tags
        )
        out = self._policy(policy, call.account, get=False)
        if tags:
            out["tags"] = policy.tags
        return {"policy": out}

    def get_policy(self, call: QueryCall, policy_arn: str) -> dict[str, Any]:
        self._allow(call, policy_arn)
        policy = self.directory.policy(policy_arn)
        if not policy.aws_managed and policy.account != call.account:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        return {"policy": self._policy(policy, call.account, get=True)}

    def get_policy_version(
        self, call: QueryCall, policy_arn: str, version_id: str
    ) -> dict[str, Any]:
        self._allow(call, policy_arn)
        version = self.directory.policy_version(policy_arn, version_id)
        return {
            "policy_version": {
                "document": version.document,
                "version_id": version.version_id,
                "is_default_version": version.is_default,
                "create_date": version.created,
            }
        }

    def list_policies(
        self,
        call: QueryCall,
        scope: str | None = None,
        only_attached: bool | None = None,
        path_prefix: str | None = None,
        policy_usage_filter: str | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        self._allow_path(call, "policy", "/")
        chosen = []
        for policy in self.directory.policies(call.account):
            if scope == "AWS" and not policy.aws_managed:
                continue
            if scope == "Local" and policy.aws_managed:
                continue
            if not policy.path.startswith(path_prefix or "/"):
                continue
            if policy_usage_filter == "PermissionsBoundary":
                continue  # permissions boundaries are not simulated
            entry = self._policy(policy, call.account, get=False)
            if only_attached and not entry["attachment_count"]:
                continue
            chosen.append(entry)
        return _listing("policies", chosen, marker, max_items)

    def delete_policy(self, call: QueryCall, policy_arn: str) -> None:
        self._allow(call, policy_arn)
        if policy_arn in AWS_MANAGED_POLICIES:
            raise AccessDenied(
                access_denied_message(call.principal, "iam:DeletePolicy", policy_arn)
            )
        self.directory.delete_policy(call.account, policy_arn)

    def _attach(self, call: QueryCall, kind: str, name: str, policy_arn: str) -> None:
        self._allow_entity(call, kind, name)
        self.directory.attach_policy(kind, call.account, name, policy_arn)

    def _detach(self, call: QueryCall, kind: str, name: str, policy_arn: str) -> None:
        self._allow_entity(call, kind, name)
        self.directory.detach_policy(kind, call.account, name, policy_arn)

    def _list_attached(
        self, call: QueryCall, kind: str, name: str, path_prefix: str | None = None, **paging: Any
    ) -> dict[str, Any]:
        self._allow_entity(call, kind, name)
        attached = [
            {"policy_name": p.name, "policy_arn": p.arn}
            for p in self.directory.attached_policies(kind, call.account, name)
            if p.path.startswith(path_prefix or "/")
        ]
        return _listing("attached_policies", attached, **paging)


# == operations IAM has once per kind of entity =================================================

ENTITY_KINDS = ("user", "group", "role")

#: PutUserPolicy, PutGroupPolicy and PutRolePolicy are one operation on three kinds of entity,
#: and so are these others: method name (``{}`` is the kind) -> the :class:`IamService` method
#: that does it, given the kind (and as ``name`` the entity's name, sent as ``<kind>_name``).
PER_KIND_OPERATIONS: dict[str, Callable[..., Any]] = {
    "list_{}s": IamService._list_entities,
    "put_{}_policy": IamService._put_inline,
    "get_{}_policy": IamService._get_inline,
    "list_{}_policies": IamService._list_inline,
    "delete_{}_policy": IamService._delete_inline,
    "attach_{}_policy": IamService._attach,
    "detach_{}_policy": IamService._detach,
    "list_attached_{}_policies": IamService._list_attached,
}


def _kind_operation(name: str, kind: str, action: Callable[..., Any]) -> Callable[..., Any]:
    """The method ``name``: ``action`` on the entities of ``kind``."""
    entity = f"{kind}_name"

    def operation(self: IamService, call: QueryCall, **members: Any) -> Any:
        if entity in members:
            members["name"] = members.pop(entity)
        return action(self, call, kind, **members)

    operation.__name__ = name
    operation.__qualname__ = f"IamService.{name}"
    return operation


def _add_kind_operations() -> None:
    for template, action in PER_KIND_OPERATIONS.items():
        for kind in ENTITY_KINDS:
            name = template.format(kind)
            setattr(IamService, name, _kind_operation(name, kind, action))


_add_kind_operations()


class StsService:
    """The one STS operation a lab needs: who am I?"""

    def get_caller_identity(self, call: QueryCall) -> dict[str, Any]:
        who = call.principal
        return {"user_id": who.principal_id, "account": who.account, "arn": who.arn}
