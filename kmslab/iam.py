"""The lab's IAM: accounts, users, groups, roles, identity policies, access keys, and the
principals that sign requests.

The service identifies a caller from the access key id in the request signature, as AWS does:
:meth:`Directory.by_access_key` maps an *active* key to its :class:`Principal` (an inactive or
deleted key maps to nothing, and the request fails with UnrecognizedClientException). The
:class:`Directory` is what the lab's IAM operations (:mod:`kmslab.iamservice`) change, and what
policy evaluation reads: :meth:`Directory.identity_policies` lists every identity policy that
applies to a principal, :meth:`Directory.principal_exists` says whether a key policy may name a
principal.

Identifiers follow AWS's forms (IAM User Guide, "IAM identifiers", unique ID prefixes)::

    user id      AIDA + 17    group id  AGPA + 17    role id  AROA + 17    policy id  ANPA + 17
    access key   AKIA + 16 (long-term)   ASIA + 16 (role session)   secret: 40 characters

Randomness comes from the lab's random source, so a seeded lab hands out the same ids every run.
Roles are used without an STS call: ``lab.client("kms", principal=<role ARN>)`` acts as the
assumed-role session ``arn:aws:sts::<account>:assumed-role/<role>/kmslab`` whose session key is
derived from the role's id (no state to keep, the same after a reopen).

Errors are AWS IAM's, one class per wire code (``NoSuchEntity``, ``EntityAlreadyExists``, ...);
the query protocol (:mod:`kmslab.query`) turns them into IAM's XML error responses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from .errors import AwsError

DEFAULT_ACCOUNT = "111122223333"

#: The default account's root credentials. Fixed and documented, so a learner configures the
#: aws CLI once for `kmslab serve`. They are lab-only strings, valid nowhere else.
ADMIN_ACCESS_KEY_ID = "AKIAKMSLABADMIN00001"
ADMIN_SECRET_ACCESS_KEY = "kmslab/admin/secret/do-not-use-in-aws"

#: The session name of the role sessions the lab hands out (``.../assumed-role/<role>/kmslab``).
DEFAULT_SESSION_NAME = "kmslab"

#: IAM quotas (IAM User Guide, "IAM and AWS STS quotas").
MAX_ACCESS_KEYS_PER_USER = 2
INLINE_POLICY_BYTES = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_POLICY_BYTES = 6144

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws:iam::(\d{12}):(root|user|role|group)(/.*)?$")
_SESSION_ARN = re.compile(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/(.+)$")
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# == errors =====================================================================================


class IamError(AwsError):
    """An AWS IAM error: ``code`` is the wire code (the class name), ``message`` AWS's text.

    ::

        IamError                    400 unless stated; <Type>Sender</Type>
        ├── NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409, LimitExceeded 409,
        │   MalformedPolicyDocument, InvalidInput, UnmodifiableEntity   (modeled by IAM)
        ├── ValidationError, AccessDenied 403, InvalidClientTokenId 403, InvalidAction,
        │   MissingAction, MalformedQueryString, IncompleteSignature   (common query errors)
        └── ServiceFailure 500, <Type>Receiver</Type>: anything unexpected
    """

    sender_fault: ClassVar[bool] = True


class NoSuchEntity(IamError):
    status = 404


class EntityAlreadyExists(IamError):
    status = 409


class DeleteConflict(IamError):
    status = 409


class LimitExceeded(IamError):
    status = 409


class MalformedPolicyDocument(IamError):
    pass


class InvalidInput(IamError):
    pass


class UnmodifiableEntity(IamError):
    pass


class ValidationError(IamError):
    pass


class AccessDenied(IamError):
    status = 403


class InvalidClientTokenId(IamError):
    status = 403


class InvalidAction(IamError):
    pass


class MissingAction(IamError):
    pass


class MalformedQueryString(IamError):
    pass


class IncompleteSignature(IamError):
    pass


class ServiceFailure(IamError):
    status = 500
    sender_fault = False


# == principals =================================================================================


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signs a request: an account root, an IAM user (with one of its access keys), or a
    role session. ``access_key_id`` is empty for a user found by name that has no active key."""

    account: str
    arn: str
    kind: str  # "Root" | "IAMUser" | "AssumedRole"
    name: str  # "root", the user name, or the role name
    principal_id: str  # the account id, the user id (AIDA...), or "<role id>:<session name>"
    access_key_id: str
    secret_access_key: str = field(repr=False)
    role_arn: str = ""  # the role of an assumed-role session
    session_name: str = ""

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
        elif self.kind == "AssumedRole":
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.principal_id.split(":")[0],
                    "arn": self.role_arn,
                    "accountId": self.account,
                    "userName": self.name,
                }
            }
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


# == the directory's entities ===================================================================


def _arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


@dataclass
class Account:
    account_id: str
    access_key_id: str
    secret: str = field(repr=False)
    created: datetime


@dataclass
class User:
    account: str
    name: str
    path: str
    user_id: str
    created: datetime
    groups: list[str] = field(default_factory=list)  # group names, in the order joined
    inline: dict[str, str] = field(default_factory=dict)  # policy name -> document
    attached: list[str] = field(default_factory=list)  # managed policy ARNs
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return _arn(self.account, "user", self.path, self.name)


@dataclass
class Group:
    account: str
    name: str
    path: str
    group_id: str
    created: datetime
    inline: dict[str, str] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return _arn(self.account, "group", self.path, self.name)


@dataclass
class Role:
    account: str
    name: str
    path: str
    role_id: str
    created: datetime
    trust_policy: str
    description: str | None = None
    max_session_duration: int = 3600
    inline: dict[str, str] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return _arn(self.account, "role", self.path, self.name)


@dataclass
class PolicyVersion:
    version_id: str
    document: str
    created: datetime
    is_default: bool


@dataclass
class ManagedPolicy:
    arn: str
    account: str  # "aws" for AWS managed policies
    name: str
    path: str
    policy_id: str
    created: datetime
    updated: datetime
    versions: list[PolicyVersion] = field(default_factory=list)
    description: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def default_version(self) -> PolicyVersion:
        return next(v for v in self.versions if v.is_default)

    @property
    def aws_managed(self) -> bool:
        return self.account == "aws"


@dataclass
class AccessKey:
    account: str
    user_name: str
    access_key_id: str
    secret: str = field(repr=False)
    status: str  # "Active" | "Inactive"
    created: datetime


# == AWS managed policies =======================================================================


def _aws_policy(
    name: str, description: str, created: str, updated: str, version: str, document: Any
) -> ManagedPolicy:
    when, changed = datetime.fromisoformat(created), datetime.fromisoformat(updated)
    digest = hashlib.sha256(name.encode()).digest()
    return ManagedPolicy(
        arn=f"arn:aws:iam::aws:policy/{name}",
        account="aws",
        name=name,
        path="/",
        policy_id="ANPA" + "".join(_B32[b % 32] for b in digest[:17]),
        created=when,
        updated=changed,
        versions=[PolicyVersion(version, json.dumps(document, indent=4), changed, True)],
        description=description,
    )


#: A few AWS managed policies, with AWS's documents. ReadOnlyAccess is abridged to the
#: services this lab simulates (the real document lists several hundred services; its iam, kms
#: and sts actions are exactly these).
AWS_MANAGED_POLICIES: dict[str, ManagedPolicy] = {
    p.arn: p
    for p in (
        _aws_policy(
            "AdministratorAccess",
            "Provides full access to AWS services and resources.",
            "2015-02-06T18:39:46+00:00",
            "2015-02-06T18:39:46+00:00",
            "v1",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
        ),
        _aws_policy(
            "AWSKeyManagementServicePowerUser",
            "Provides access to AWS Key Management Service (AWS KMS).",
            "2015-02-06T18:40:40+00:00",
            "2017-03-07T00:55:11+00:00",
            "v2",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "kms:CreateAlias",
                            "kms:CreateKey",
                            "kms:DeleteAlias",
                            "kms:Describe*",
                            "kms:GenerateRandom",
                            "kms:Get*",
                            "kms:List*",
                            "kms:TagResource",
                            "kms:UntagResource",
                            "iam:ListGroups",
                            "iam:ListRoles",
                            "iam:ListUsers",
                        ],
                        "Resource": "*",
                    }
                ],
            },
        ),
        _aws_policy(
            "ReadOnlyAccess",
            "Provides read-only access to AWS services and resources.",
            "2015-02-06T18:39:48+00:00",
            "2015-02-06T18:39:48+00:00",
            "v1",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadOnlyActionsGroup1",
                        "Effect": "Allow",
                        "Action": ["iam:Generate*", "iam:Get*", "iam:List*", "iam:Simulate*"],
                        "Resource": "*",
                    },
                    {
                        "Sid": "ReadOnlyActionsGroup2",
                        "Effect": "Allow",
                        "Action": [
                            "kms:Describe*",
                            "kms:Get*",
                            "kms:List*",
                            "sts:GetAccessKeyInfo",
                            "sts:GetCallerIdentity",
                            "sts:GetSessionToken",
                        ],
                        "Resource": "*",
                    },
                ],
            },
        ),
    )
}


# == policy grammar =============================================================================

_TOP_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource"}
    | {"NotResource", "Condition"}
)
_TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
        "sts:setcontext",
    }
)
SYNTAX_ERRORS = "Syntax errors in policy."


def _strings(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(doc: Any) -> list[dict[str, Any]]:
    """The statements of a policy whose grammar is right; ``AssertionError`` otherwise."""
    assert isinstance(doc, dict)
    assert set(doc) <= _TOP_ELEMENTS
    assert doc.get("Version", "2012-10-17") in ("2008-10-17", "2012-10-17")
    assert isinstance(doc.get("Id", ""), str)
    raw = doc.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    assert isinstance(statements, list) and statements
    for st in statements:
        assert isinstance(st, dict) and set(st) <= _STATEMENT_ELEMENTS
        assert not ("Action" in st and "NotAction" in st)
        assert not ("Resource" in st and "NotResource" in st)
        assert not ("Principal" in st and "NotPrincipal" in st)
        assert isinstance(st.get("Effect"), str) and st["Effect"] in ("Allow", "Deny")
        for name in ("Action", "NotAction", "Resource", "NotResource"):
            assert name not in st or _strings(st[name])
        assert isinstance(st.get("Sid", ""), str)
        condition = st.get("Condition", {})
        assert isinstance(condition, dict)
        assert all(isinstance(block, dict) for block in condition.values())
    return statements


def _no_whitespace_size(text: str) -> int:
    return len(re.sub(r"\s", "", text).encode("utf-8"))


def check_identity_policy(text: str) -> dict[str, Any]:
    """Validate an identity-based policy (inline or managed) as IAM does.

    Raises:
        MalformedPolicyDocument: with IAM's texts ("Syntax errors in policy.", "Policy document
            must be version 2012-10-17 or greater.", ...).
    """
    try:
        doc = json.loads(text)
        statements = _statements(doc)
    except (ValueError, AssertionError):
        raise MalformedPolicyDocument(SYNTAX_ERRORS) from None
    if doc.get("Version") != "2012-10-17":
        raise MalformedPolicyDocument("Policy document must be version 2012-10-17 or greater.")
    sids = [st["Sid"] for st in statements if st.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument("Statement IDs (SID) in a single policy must be unique.")
    if any("Principal" in st or "NotPrincipal" in st for st in statements):
        raise MalformedPolicyDocument("Policy document should not specify a principal.")
    for st in statements:
        if not _as_list(st.get("Action", st.get("NotAction"))):
            raise MalformedPolicyDocument("Policy statement must contain actions.")
    for st in statements:
        if not _as_list(st.get("Resource", st.get("NotResource"))):
            raise MalformedPolicyDocument("Policy statement must contain resources.")
    for st in statements:
        for action in _as_list(st.get("Action", st.get("NotAction"))):
            if action == "*":
                continue
            if ":" not in action:
                raise MalformedPolicyDocument(
                    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                )
            if action.count(":") > 1:
                raise MalformedPolicyDocument("Actions/Condition can contain only one colon.")
    return dict(doc)


# == the directory ==============================================================================


class _Random(Protocol):
    def bytes(self, n: int) -> bytes: ...


class _Store(Protocol):
    def save_doc(self, kind: str, ident: str, doc: dict[str, Any]) -> None: ...

    def delete_doc(self, kind: str, ident: str) -> None: ...


class _OsRandom:
    def bytes(self, n: int) -> bytes:
        return os.urandom(n)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _revive_times(doc: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for name in ("created", "updated"):
        if isinstance(out.get(name), str):
            out[name] = datetime.fromisoformat(out[name])
    return out


#: Persisted document kinds (``store.save_doc(kind, id, doc)``), restored in this order.
DOC_KINDS = ("iam_account", "iam_policy", "iam_group", "iam_user", "iam_role", "iam_access_key")


class Directory:
    """The lab's IAM state for every account, and the principals that sign requests.

    Entity names are unique per account regardless of case, as in IAM. Methods that change
    state persist it through ``store`` and raise only :class:`IamError` subclasses.
    """

    def __init__(
        self,
        default_account: str = DEFAULT_ACCOUNT,
        *,
        rng: _Random | None = None,
        now: Callable[[], datetime] | None = None,
        store: _Store | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.default_account = default_account
        #: Held while the directory changes; the lab sets it to the service's lock, so that
        #: IAM and KMS requests (and their store transactions) never interleave.
        self.lock: Any = threading.RLock()
        self._rng: _Random = rng if rng is not None else _OsRandom()
        self._now = now or (lambda: datetime.now(UTC))
        self._store = store
        self._on_change = on_change
        self._accounts: dict[str, Account] = {}
        self._users: dict[tuple[str, str], User] = {}
        self._groups: dict[tuple[str, str], Group] = {}
        self._roles: dict[tuple[str, str], Role] = {}
        self._policies: dict[str, ManagedPolicy] = {}  # customer managed, by ARN
        self._keys: dict[str, AccessKey] = {}  # user access keys by id
        self._by_access_key: dict[str, Principal] = {}  # every usable key
        self._extra: dict[str, Principal] = {}  # principals registered with add()
        self._install_account(
            Account(default_account, ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY, self._now())
        )

    # -- persistence -------------------------------------------------------------------------------

    def _save(self, kind: str, ident: str, obj: Any) -> None:
        if self._store is not None:
            self._store.save_doc(kind, ident, _plain(obj))
        if self._on_change is not None:
            self._on_change()

    def _delete(self, kind: str, ident: str) -> None:
        if self._store is not None:
            self._store.delete_doc(kind, ident)

    def restore(self, docs: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Reload what :meth:`_save` persisted (``Snapshot.docs`` of the lab's store)."""
        with self.lock:
            for doc in docs.get("iam_account", {}).values():
                self._install_account(Account(**_revive_times(doc)))
            for doc in docs.get("iam_policy", {}).values():
                d = _revive_times(doc)
                d["versions"] = [PolicyVersion(**_revive_times(v)) for v in d["versions"]]
                policy = ManagedPolicy(**d)
                self._policies[policy.arn] = policy
            for doc in docs.get("iam_group", {}).values():
                group = Group(**_revive_times(doc))
                self._groups[(group.account, group.name.lower())] = group
            for doc in docs.get("iam_user", {}).values():
                user = User(**_revive_times(doc))
                self._users[(user.account, user.name.lower())] = user
            for doc in docs.get("iam_role", {}).values():
                role = Role(**_revive_times(doc))
                self._roles[(role.account, role.name.lower())] = role
            for doc in docs.get("iam_access_key", {}).values():
                key = AccessKey(**_revive_times(doc))
                self._keys[key.access_key_id] = key
            for user in self._users.values():
                self._index_user(user)

    # -- random identifiers ------------------------------------------------------------------------

    def _new_id(self, prefix: str, n: int) -> str:
        return prefix + "".join(_B32[b % 32] for b in self._rng.bytes(n))

    def _new_secret(self) -> str:
        return base64.b64encode(self._rng.bytes(30)).decode("ascii")

    # -- accounts ----------------------------------------------------------------------------------

    def _install_account(self, account: Account) -> None:
        old = self._accounts.get(account.account_id)
        if old is not None:
            self._by_access_key.pop(old.access_key_id, None)
        self._accounts[account.account_id] = account
        self._by_access_key[account.access_key_id] = root_principal(
            account.account_id, account.access_key_id, account.secret
        )

    def account(self, account_id: str) -> Principal:
        """The root user of ``account_id``; the account is created (with its own generated
        root access key) the first time it is named."""
        if not _ACCOUNT_ID.match(account_id):
            raise ValueError(f"an AWS account id is 12 digits, not {account_id!r}")
        with self.lock:
            account = self._accounts.get(account_id)
            if account is None:
                account = Account(
                    account_id, self._new_id("AKIA", 16), self._new_secret(), self._now()
                )
                self._install_account(account)
                self._save("iam_account", account_id, account)
            return root_principal(account_id, account.access_key_id, account.secret)

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account_created(self, account_id: str) -> datetime:
        return self._accounts[account_id].created

    # -- principals --------------------------------------------------------------------------------

    def add(self, principal: Principal) -> None:
        """Register a principal by hand (its access key and ARN)."""
        with self.lock:
            self._by_access_key[principal.access_key_id] = principal
            self._extra[principal.arn] = principal

    def by_access_key(self, access_key_id: str) -> Principal | None:
        """The principal whose *active* access key this is, or ``None``."""
        return self._by_access_key.get(access_key_id)

    def _user_principal(self, user: User, key: AccessKey | None) -> Principal:
        return Principal(
            account=user.account,
            arn=user.arn,
            kind="IAMUser",
            name=user.name,
            principal_id=user.user_id,
            access_key_id=key.access_key_id if key else "",
            secret_access_key=key.secret if key else "",
        )

    def _index_user(self, user: User) -> None:
        for key in self._keys.values():
            if key.account == user.account and key.user_name.lower() == user.name.lower():
                if key.status == "Active":
                    self._by_access_key[key.access_key_id] = self._user_principal(user, key)
                else:
                    self._by_access_key.pop(key.access_key_id, None)

    def session(self, role: Role, session_name: str = DEFAULT_SESSION_NAME) -> Principal:
        """The assumed-role session principal of ``role``; its temporary credentials are
        derived from the role id and the session name, so asking twice gives the same key."""
        seed = hmac.new(role.role_id.encode(), session_name.encode(), hashlib.sha256).digest()
        access_key = "ASIA" + "".join(_B32[b % 32] for b in seed[:16])
        secret = base64.b64encode(hashlib.sha256(b"secret:" + seed).digest()[:30]).decode()
        principal = Principal(
            account=role.account,
            arn=f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}",
            kind="AssumedRole",
            name=role.name,
            principal_id=f"{role.role_id}:{session_name}",
            access_key_id=access_key,
            secret_access_key=secret,
            role_arn=role.arn,
            session_name=session_name,
        )
        with self.lock:
            self._by_access_key[access_key] = principal
        return principal

    def find(self, name_or_arn: str | None) -> Principal | None:
        """Resolve a principal without creating anything.

        ``None`` is the default account's root; a bare name is a user of the default account
        (a bare 12-digit id, when no user has that name, is that account's root); ARNs of an
        account root, a user, a role (its ``kmslab`` session) or a role session resolve to that
        principal. A user without an active access key comes back with empty credentials; use
        :meth:`signing_principal` to get one that can sign.
        """
        with self.lock:
            if name_or_arn is None:
                return self._root(self.default_account)
            if not name_or_arn.startswith("arn:"):
                user = self._users.get((self.default_account, name_or_arn.lower()))
                if user is not None:
                    return self._user_principal(user, self._first_active_key(user))
                return self._root(name_or_arn) if _ACCOUNT_ID.match(name_or_arn) else None
            if name_or_arn in self._extra:
                return self._extra[name_or_arn]
            m = _SESSION_ARN.match(name_or_arn)
            if m:
                role = self._roles.get((m.group(1), m.group(2).lower()))
                return self.session(role, m.group(3)) if role is not None else None
            m = _IAM_ARN.match(name_or_arn)
            if m is None:
                return None
            account, kind = m.group(1), m.group(2)
            if kind == "root":
                return self._root(account) if m.group(3) is None else None
            name = (m.group(3) or "/").rsplit("/", 1)[1]
            if kind == "user":
                user = self._users.get((account, name.lower()))
                if user is None or user.arn != name_or_arn:
                    return None
                return self._user_principal(user, self._first_active_key(user))
            if kind == "role":
                role = self._roles.get((account, name.lower()))
                if role is None or role.arn != name_or_arn:
                    return None
                return self.session(role)
            return None

    def signing_principal(self, name_or_arn: str | None) -> Principal | None:
        """Like :meth:`find`, but ready to sign: an account named by its root ARN (or bare id)
        is created on demand, and a user without an active access key gets one (as the console
        would create one for a lab user). ``None`` when nothing by that name exists."""
        with self.lock:
            if name_or_arn is not None:
                m = re.match(r"^(?:arn:aws:iam::)?(\d{12})(?::root)?$", name_or_arn)
                bare_user = (self.default_account, name_or_arn.lower()) in self._users
                if m and not bare_user:
                    return self.account(m.group(1))
            who = self.find(name_or_arn)
            if who is None or who.access_key_id:
                return who
            user = self._users[(who.account, who.name.lower())]
            key = self.create_access_key(user.account, user.name)
            return self._user_principal(user, key)

    def _root(self, account_id: str) -> Principal | None:
        account = self._accounts.get(account_id)
        if account is None:
            return None
        return root_principal(account_id, account.access_key_id, account.secret)

    def _first_active_key(self, user: User) -> AccessKey | None:
        for key in self._keys.values():
            if (
                key.account == user.account
                and key.user_name.lower() == user.name.lower()
                and key.status == "Active"
            ):
                return key
        return None

    def principals(self) -> list[Principal]:
        """Every principal that can sign right now: account roots and users' active keys."""
        with self.lock:
            out = [p for p in self._by_access_key.values() if p.kind != "AssumedRole"]
            return out + [p for p in self._extra.values() if p not in out]

    # -- what policy evaluation reads ------------------------------------------------------------

    def identity_policies(self, principal: Principal) -> list[tuple[str, str]]:
        """Every identity-based policy that applies to ``principal``, as (label, JSON text).

        An IAM user: its inline policies, its attached managed policies, then for each of its
        groups the group's inline and attached policies. A role session: the role's inline and
        attached policies. An account root: none (it needs none in its own account).
        Managed policies contribute their default version.
        """
        with self.lock:
            out: list[tuple[str, str]] = []
            if principal.kind == "IAMUser":
                user = self._users.get((principal.account, principal.name.lower()))
                if user is None or user.user_id != principal.principal_id:
                    return []
                self._entity_policies(out, "user", user.name, user.inline, user.attached)
                for group_name in user.groups:
                    group = self._groups.get((user.account, group_name.lower()))
                    if group is not None:
                        self._entity_policies(
                            out, "group", group.name, group.inline, group.attached
                        )
            elif principal.kind == "AssumedRole":
                name = principal.role_arn.rsplit("/", 1)[-1]
                role = self._roles.get((principal.account, name.lower()))
                if role is None or role.arn != principal.role_arn:
                    return []
                self._entity_policies(out, "role", role.name, role.inline, role.attached)
            return out

    def _entity_policies(
        self,
        out: list[tuple[str, str]],
        kind: str,
        name: str,
        inline: dict[str, str],
        attached: list[str],
    ) -> None:
        for policy_name, document in inline.items():
            out.append((f"inline policy {policy_name} of {kind} {name}", document))
        for arn in attached:
            policy = self._policy_or_none(arn)
            if policy is not None:
                out.append(
                    (
                        f"managed policy {arn} attached to {kind} {name}",
                        policy.default_version.document,
                    )
                )

    def principal_exists(self, arn: str) -> bool:
        """May a policy's Principal element name ``arn``? ``"*"``, a 12-digit account id or
        an account root ARN (any account, as AWS accepts them), and the users, roles and
        role sessions that exist in this lab."""
        if arn == "*" or _ACCOUNT_ID.match(arn):
            return True
        with self.lock:
            m = _SESSION_ARN.match(arn)
            if m:
                return (m.group(1), m.group(2).lower()) in self._roles
            m = _IAM_ARN.match(arn)
            if m is None:
                return arn in self._extra
            account, kind, rest = m.group(1), m.group(2), m.group(3)
            if kind == "root":
                return rest is None
            name = (rest or "/").rsplit("/", 1)[1]
            if kind == "user":
                user = self._users.get((account, name.lower()))
                return user is not None and user.arn == arn
            if kind == "role":
                role = self._roles.get((account, name.lower()))
                return role is not None and role.arn == arn
            return False

    def groups_of(self, principal: Principal) -> list[str]:
        """The names of the groups an IAM user principal belongs to."""
        user = self._users.get((principal.account, principal.name.lower()))
        return list(user.groups) if user is not None and principal.kind == "IAMUser" else []

    # -- users -------------------------------------------------------------------------------------

    def user(self, account: str, name: str) -> User:
        user = self._users.get((account, name.lower()))
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    def users(self, account: str) -> list[User]:
        return sorted(
            (u for u in self._users.values() if u.account == account), key=lambda u: u.name.lower()
        )

    def create_user(
        self, account: str, name: str, path: str = "/", tags: list[dict[str, str]] | None = None
    ) -> User:
        with self.lock:
            if (account, name.lower()) in self._users:
                raise EntityAlreadyExists(f"User with name {name} already exists.")
            _check_tags(tags)
            user = User(account, name, path, self._new_id("AIDA", 17), self._now())
            user.tags = list(tags or [])
            self._users[(account, name.lower())] = user
            self._save_user(user)
            return user

    def _save_user(self, user: User) -> None:
        self._save("iam_user", f"{user.account}/{user.name.lower()}", user)

    def delete_user(self, account: str, name: str) -> None:
        with self.lock:
            user = self.user(account, name)
            if self.access_keys(account, user.name):
                raise DeleteConflict("Cannot delete entity, must delete access keys first.")
            if user.inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if user.attached:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            if user.groups:
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            del self._users[(account, user.name.lower())]
            self._delete("iam_user", f"{account}/{user.name.lower()}")

    # -- groups ------------------------------------------------------------------------------------

    def group(self, account: str, name: str) -> Group:
        group = self._groups.get((account, name.lower()))
        if group is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        return group

    def groups(self, account: str) -> list[Group]:
        return sorted(
            (g for g in self._groups.values() if g.account == account),
            key=lambda g: g.name.lower(),
        )

    def members(self, group: Group) -> list[User]:
        return [
            u
            for u in self.users(group.account)
            if group.name.lower() in (n.lower() for n in u.groups)
        ]

    def groups_for_user(self, account: str, user_name: str) -> list[Group]:
        user = self.user(account, user_name)
        return [self._groups[(account, n.lower())] for n in user.groups]

    def create_group(self, account: str, name: str, path: str = "/") -> Group:
        with self.lock:
            if (account, name.lower()) in self._groups:
                raise EntityAlreadyExists(f"Group with name {name} already exists.")
            group = Group(account, name, path, self._new_id("AGPA", 17), self._now())
            self._groups[(account, name.lower())] = group
            self._save_group(group)
            return group

    def _save_group(self, group: Group) -> None:
        self._save("iam_group", f"{group.account}/{group.name.lower()}", group)

    def delete_group(self, account: str, name: str) -> None:
        with self.lock:
            group = self.group(account, name)
            if self.members(group):
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            if group.inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if group.attached:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            del self._groups[(account, group.name.lower())]
            self._delete("iam_group", f"{account}/{group.name.lower()}")

    def add_user_to_group(self, account: str, group_name: str, user_name: str) -> None:
        with self.lock:
            user = self.user(account, user_name)
            group = self.group(account, group_name)
            if group.name.lower() not in (n.lower() for n in user.groups):
                user.groups.append(group.name)
                self._save_user(user)

    def remove_user_from_group(self, account: str, group_name: str, user_name: str) -> None:
        with self.lock:
            user = self.user(account, user_name)
            group = self.group(account, group_name)
            kept = [n for n in user.groups if n.lower() != group.name.lower()]
            if kept != user.groups:
                user.groups = kept
                self._save_user(user)

    # -- roles -------------------------------------------------------------------------------------

    def role(self, account: str, name: str) -> Role:
        role = self._roles.get((account, name.lower()))
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def roles(self, account: str) -> list[Role]:
        return sorted(
            (r for r in self._roles.values() if r.account == account), key=lambda r: r.name.lower()
        )

    def create_role(
        self,
        account: str,
        name: str,
        trust_policy: str,
        path: str = "/",
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Role:
        with self.lock:
            if (account, name.lower()) in self._roles:
                raise EntityAlreadyExists(f"Role with name {name} already exists.")
            self.check_trust_policy(trust_policy)
            _check_tags(tags)
            role = Role(
                account,
                name,
                path,
                self._new_id("AROA", 17),
                self._now(),
                trust_policy,
                description,
                max_session_duration or 3600,
            )
            role.tags = list(tags or [])
            self._roles[(account, name.lower())] = role
            self._save_role(role)
            return role

    def _save_role(self, role: Role) -> None:
        self._save("iam_role", f"{role.account}/{role.name.lower()}", role)

    def delete_role(self, account: str, name: str) -> None:
        with self.lock:
            role = self.role(account, name)
            if role.inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if role.attached:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            del self._roles[(account, role.name.lower())]
            self._delete("iam_role", f"{account}/{role.name.lower()}")
            for akid, p in list(self._by_access_key.items()):
                if p.kind == "AssumedRole" and p.role_arn == role.arn:
                    del self._by_access_key[akid]

    def check_trust_policy(self, text: str) -> None:
        """Validate a role trust policy.

        Raises:
            MalformedPolicyDocument: invalid JSON, a Resource element, an action other than
                the sts:AssumeRole family, or an AWS principal that does not exist.
        """
        try:
            doc = json.loads(text)
        except ValueError:
            raise MalformedPolicyDocument("This policy contains invalid Json") from None
        try:
            statements = _statements(doc)
        except AssertionError:
            raise MalformedPolicyDocument(SYNTAX_ERRORS) from None
        for st in statements:
            if "Resource" in st or "NotResource" in st:
                raise MalformedPolicyDocument("Has prohibited field Resource")
        for st in statements:
            actions = _as_list(st.get("Action", st.get("NotAction")))
            if any(a.lower() not in _TRUST_ACTIONS for a in actions):
                raise MalformedPolicyDocument(
                    "AssumeRole policy may only specify STS AssumeRole actions."
                )
        for st in statements:
            principal = st.get("Principal", st.get("NotPrincipal"))
            if principal is None:
                raise MalformedPolicyDocument("Missing required field Principal")
            if isinstance(principal, dict):
                for arn in _as_list(principal.get("AWS")):
                    if not isinstance(arn, str) or not self.principal_exists(arn):
                        raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{arn}"')

    # -- access keys -------------------------------------------------------------------------------

    def access_keys(self, account: str, user_name: str) -> list[AccessKey]:
        user = self.user(account, user_name)
        return [
            k
            for k in self._keys.values()
            if k.account == account and k.user_name.lower() == user.name.lower()
        ]

    def root_access_keys(self, account: str) -> list[Account]:
        return [self._accounts[account]]

    def create_access_key(self, account: str, user_name: str) -> AccessKey:
        with self.lock:
            user = self.user(account, user_name)
            if len(self.access_keys(account, user.name)) >= MAX_ACCESS_KEYS_PER_USER:
                raise LimitExceeded(
                    f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                )
            key = AccessKey(
                account,
                user.name,
                self._new_id("AKIA", 16),
                self._new_secret(),
                "Active",
                self._now(),
            )
            self._keys[key.access_key_id] = key
            self._index_user(user)
            self._save("iam_access_key", key.access_key_id, key)
            return key

    def _user_key(self, account: str, user_name: str, access_key_id: str) -> AccessKey:
        user = self.user(account, user_name)
        key = self._keys.get(access_key_id)
        if key is None or key.account != account or key.user_name.lower() != user.name.lower():
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def update_access_key(
        self, account: str, user_name: str, access_key_id: str, status: str
    ) -> None:
        with self.lock:
            key = self._user_key(account, user_name, access_key_id)
            key.status = status
            self._index_user(self.user(account, user_name))
            self._save("iam_access_key", key.access_key_id, key)

    def delete_access_key(self, account: str, user_name: str, access_key_id: str) -> None:
        with self.lock:
            key = self._user_key(account, user_name, access_key_id)
            del self._keys[key.access_key_id]
            self._by_access_key.pop(key.access_key_id, None)
            self._delete("iam_access_key", key.access_key_id)

    # -- inline policies ---------------------------------------------------------------------------

    def entity(self, kind: str, account: str, name: str) -> User | Group | Role:
        if kind == "user":
            return self.user(account, name)
        if kind == "group":
            return self.group(account, name)
        return self.role(account, name)

    def _save_entity(self, entity: User | Group | Role) -> None:
        if isinstance(entity, User):
            self._save_user(entity)
        elif isinstance(entity, Group):
            self._save_group(entity)
        else:
            self._save_role(entity)

    def put_inline_policy(
        self, kind: str, account: str, name: str, policy_name: str, document: str
    ) -> None:
        """``kind`` is "user", "group" or "role"."""
        with self.lock:
            entity = self.entity(kind, account, name)
            limit = INLINE_POLICY_BYTES[kind]
            if _no_whitespace_size(document) > limit:
                raise LimitExceeded(
                    f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}"
                )
            check_identity_policy(document)
            existing = next((n for n in entity.inline if n.lower() == policy_name.lower()), None)
            if existing is not None and existing != policy_name:
                del entity.inline[existing]
            entity.inline[policy_name] = document
            self._save_entity(entity)

    def inline_policy(self, kind: str, account: str, name: str, policy_name: str) -> str:
        entity = self.entity(kind, account, name)
        for stored, document in entity.inline.items():
            if stored.lower() == policy_name.lower():
                return document
        raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")

    def inline_policy_names(self, kind: str, account: str, name: str) -> list[str]:
        return sorted(self.entity(kind, account, name).inline, key=str.lower)

    def delete_inline_policy(self, kind: str, account: str, name: str, policy_name: str) -> None:
        with self.lock:
            entity = self.entity(kind, account, name)
            stored = next((n for n in entity.inline if n.lower() == policy_name.lower()), None)
            if stored is None:
                raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
            del entity.inline[stored]
            self._save_entity(entity)

    # -- managed policies --------------------------------------------------------------------------

    def _policy_or_none(self, arn: str) -> ManagedPolicy | None:
        return self._policies.get(arn) or AWS_MANAGED_POLICIES.get(arn)

    def policy(self, arn: str) -> ManagedPolicy:
        policy = self._policy_or_none(arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        return policy

    def policies(self, account: str) -> list[ManagedPolicy]:
        """AWS managed policies, then the account's customer managed policies."""
        local = sorted(
            (p for p in self._policies.values() if p.account == account),
            key=lambda p: p.name.lower(),
        )
        return list(AWS_MANAGED_POLICIES.values()) + local

    def attachment_count(self, account: str, arn: str) -> int:
        entities: Iterable[User | Group | Role] = [
            *self.users(account),
            *self.groups(account),
            *self.roles(account),
        ]
        return sum(1 for e in entities if arn in e.attached)

    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        path: str = "/",
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> ManagedPolicy:
        with self.lock:
            if any(
                p.account == account and p.name.lower() == name.lower()
                for p in self._policies.values()
            ):
                raise EntityAlreadyExists(
                    f"A policy called {name} already exists. Duplicate names are not allowed."
                )
            if _no_whitespace_size(document) > MANAGED_POLICY_BYTES:
                raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_BYTES}")
            check_identity_policy(document)
            _check_tags(tags)
            now = self._now()
            policy = ManagedPolicy(
                arn=_arn(account, "policy", path, name),
                account=account,
                name=name,
                path=path,
                policy_id=self._new_id("ANPA", 17),
                created=now,
                updated=now,
                versions=[PolicyVersion("v1", document, now, True)],
                description=description,
                tags=list(tags or []),
            )
            self._policies[policy.arn] = policy
            self._save("iam_policy", policy.arn, policy)
            return policy

    def policy_version(self, arn: str, version_id: str) -> PolicyVersion:
        policy = self._policy_or_none(arn)
        for version in policy.versions if policy else []:
            if version.version_id == version_id:
                return version
        raise NoSuchEntity(
            f"Policy {arn} version {version_id} does not exist or is not attachable."
        )

    def delete_policy(self, account: str, arn: str) -> None:
        with self.lock:
            policy = self._policies.get(arn)
            if policy is None or policy.account != account:
                raise NoSuchEntity(f"Policy {arn} was not found.")
            if self.attachment_count(account, arn):
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            del self._policies[arn]
            self._delete("iam_policy", arn)

    def attach_policy(self, kind: str, account: str, name: str, arn: str) -> None:
        with self.lock:
            entity = self.entity(kind, account, name)
            policy = self._policy_or_none(arn)
            if policy is None or policy.account not in ("aws", account):
                raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
            if arn not in entity.attached:
                entity.attached.append(arn)
                self._save_entity(entity)

    def detach_policy(self, kind: str, account: str, name: str, arn: str) -> None:
        with self.lock:
            entity = self.entity(kind, account, name)
            if arn not in entity.attached:
                raise NoSuchEntity(f"Policy {arn} was not found.")
            entity.attached.remove(arn)
            self._save_entity(entity)

    def attached_policies(self, kind: str, account: str, name: str) -> list[ManagedPolicy]:
        entity = self.entity(kind, account, name)
        return [p for p in (self._policy_or_none(a) for a in entity.attached) if p is not None]


def _check_tags(tags: list[dict[str, str]] | None) -> None:
    keys = [t["key"].lower() for t in tags or []]
    if len(keys) != len(set(keys)):
        raise InvalidInput("Duplicate tag keys found.")
