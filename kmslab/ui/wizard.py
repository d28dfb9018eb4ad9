"""Creating a customer managed key, step by step: the console's "Create key" wizard.

:class:`KeyWizard` is the pure view-model. It holds the choices of each step (the IAM group and
users of the walkthrough, key type, Region, key material origin, alias, description and tags,
key administrators, key users) and turns them into

- the boto3 calls it will make (:meth:`KeyWizard.calls`), rendered as Python
  (:meth:`KeyWizard.python`) and as the equivalent aws CLI commands (:meth:`KeyWizard.cli`);
- the key policy the console would write (:attr:`KeyWizard.policy`, from
  :func:`kmslab.policy.console_policy`);
- the keys themselves: :meth:`KeyWizard.create` makes exactly the calls it shows, through real
  boto3 clients, so what the learner reads beside each step is what runs.

:class:`KeyWizardView` is the thin ipywidgets view: one step per page, Back and Next buttons, a
description on every control and, beside each step, the boto3 call and aws CLI command that
step shapes (the lines it sets are marked ``# <- this step``, in words, not colour).

The order of the calls matters and is part of the lesson: the IAM users must exist before the
key policy names them (KMS refuses a policy with unknown principals), and an alias or replica
needs the key id that CreateKey returns.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from ..ops.base import USAGES_FOR_SPEC
from ..policy import console_policy
from . import Panel, pre_html

__all__ = [
    "KEY_TYPES",
    "ORIGINS",
    "REGIONS",
    "STEPS",
    "USE_CASES",
    "ApiCall",
    "Created",
    "Feedback",
    "KeyWizard",
    "KeyWizardView",
    "Ref",
    "Step",
    "check_key_choice",
    "parse_pairs",
]


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    description: str


STEPS: tuple[Step, ...] = (
    Step(
        "iam",
        "IAM group and users",
        "Who will administer the key and who will use it. The walkthrough puts two IAM users, "
        "myKeyManager and myKeyUser, in the group myKMSGroup. They must exist before the key "
        "policy can name them.",
    ),
    Step(
        "key_type",
        "Key type",
        "Symmetric (one AES-256 key that never leaves KMS: the default, and what AWS services "
        "use), asymmetric (an RSA or elliptic-curve key pair whose public half you can download "
        "and use outside AWS) or HMAC (a secret key for message authentication codes).",
    ),
    Step(
        "region",
        "Region",
        "A KMS key lives in one Region and never leaves it. A multi-Region key is the exception: "
        "ReplicateKey copies its key material to related keys in other Regions, with the same "
        "key id, so ciphertext made in one Region decrypts in another.",
    ),
    Step(
        "origin",
        "Key material origin",
        "Where the key material comes from: KMS generates it (the default), you import your own "
        "(EXTERNAL: the key waits in PendingImport), or a custom key store makes it in your "
        "CloudHSM cluster or external key manager.",
    ),
    Step(
        "labels",
        "Alias, description and tags",
        "An alias is a friendly name (alias/...) that points at the key and can be moved to "
        "another key; the description is for people; tags label the key for cost reports and "
        "attribute-based access control.",
    ),
    Step(
        "admins",
        "Key administrators",
        "Principals who may manage the key (describe, enable, disable, tag, change the policy, "
        "schedule deletion) but not use it to encrypt or decrypt.",
    ),
    Step(
        "users",
        "Key users",
        "Principals who may use the key for cryptographic operations (Encrypt, Decrypt, "
        "ReEncrypt, GenerateDataKey) but not manage it.",
    ),
    Step(
        "review",
        "Review the key policy",
        "The key policy the console writes from your choices: the account statement that lets "
        "IAM policies grant access, then one statement for administrators and two for users.",
    ),
    Step(
        "create",
        "Create",
        "Every call, in order: IAM first (the policy names the users), then CreateKey, then the "
        "alias and any replicas, which need the new key's id.",
    ),
)

STEP_NAMES = tuple(step.name for step in STEPS)

#: Key type -> (key specs offered for it, what it is for).
KEY_TYPES: dict[str, tuple[tuple[str, ...], str]] = {
    "symmetric": (
        ("SYMMETRIC_DEFAULT",),
        "One 256-bit AES-GCM key. It never leaves KMS unencrypted, so every use is a call to "
        "KMS that is authorized and logged. AWS services (S3, EBS, RDS, ...) integrate only with "
        "symmetric keys; only symmetric keys rotate automatically, live in custom key stores "
        "and make data keys (GenerateDataKey).",
    ),
    "asymmetric": (
        (
            "RSA_2048",
            "RSA_3072",
            "RSA_4096",
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "ECC_NIST_P521",
            "ECC_SECG_P256K1",
            "ECC_NIST_EDWARDS25519",
            "ML_DSA_44",
            "ML_DSA_65",
            "ML_DSA_87",
            "ML_KEM_512",
            "ML_KEM_768",
            "ML_KEM_1024",
        ),
        "A key pair. The private key never leaves KMS; the public key (GetPublicKey) can be "
        "handed to anyone. Pick it when someone outside AWS, who cannot call KMS, must encrypt "
        "data only you can decrypt (RSA, ENCRYPT_DECRYPT) or verify your signatures (RSA, ECC "
        "or ML-DSA, SIGN_VERIFY); ECC keys can also derive shared secrets (KEY_AGREEMENT).",
    ),
    "hmac": (
        ("HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"),
        "A secret key for GenerateMac and VerifyMac: integrity and authenticity of messages "
        "such as tokens, checked inside KMS. Nothing public to share.",
    ),
}

#: Origin -> what it means.
ORIGINS: dict[str, str] = {
    "AWS_KMS": "KMS generates the key material in its HSMs. The default, and the right choice "
    "unless a rule says otherwise.",
    "EXTERNAL": "You import your own key material (bring your own key). The key starts in "
    "PendingImport; you wrap your material with GetParametersForImport's public key and call "
    "ImportKeyMaterial. You keep a copy, you may make it expire, and you can delete it at once. "
    "Notebook 07 does it.",
    "AWS_CLOUDHSM": "A custom key store backed by your own AWS CloudHSM cluster: the material is "
    "made and used in HSMs only you control. Symmetric, single-Region keys only; needs a "
    "connected custom key store (notebook 07).",
    "EXTERNAL_KEY_STORE": "An external key store (XKS): the material stays in a key manager "
    "outside AWS that KMS calls through a proxy. Symmetric, single-Region keys only; needs a "
    "connected external key store and the external key's id (notebook 07).",
}

CUSTOM_KEY_STORE_ORIGINS = ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")

REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
)

#: Which create_key parameters (and which other calls) each step shapes.
STEP_PARAMS: dict[str, tuple[str, ...]] = {
    "key_type": ("KeySpec", "KeyUsage"),
    "region": ("MultiRegion",),
    "origin": ("Origin", "CustomKeyStoreId", "XksKeyId"),
    "labels": ("Description", "Tags"),
    "admins": ("Policy",),
    "users": ("Policy",),
    "review": ("Policy",),
}

_ALIAS = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")


def parse_pairs(text: str) -> dict[str, str]:
    """``"team=security, env=prod"`` -> ``{"team": "security", "env": "prod"}``.

    Raises ValueError for a piece without ``=`` or with an empty key."""
    pairs: dict[str, str] = {}
    for piece in text.split(","):
        piece = piece.strip()
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{piece!r} is not key=value")
        pairs[key.strip()] = value.strip()
    return pairs


# == calls and how they read =======================================================================


@dataclass(frozen=True)
class Ref:
    """A value known only when the calls run: the new key's id, or the policy document."""

    name: str  # the Python variable
    shell: str  # how the aws CLI command refers to it


KEY_ID = Ref("key_id", '"$KEY_ID"')
POLICY = Ref("policy", "file://policy.json")


def _pascal(snake: str) -> str:
    return "".join(word.title() for word in snake.split("_"))


def _kebab(pascal: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", pascal).lower()


def _py(value: Any) -> str:
    if isinstance(value, Ref):
        return value.name
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    return repr(value)


def _sh(value: Any) -> str:
    if isinstance(value, Ref):
        return value.shell
    if isinstance(value, list):  # tags: the CLI's shorthand, one item per tag
        return " ".join(
            shlex.quote(",".join(f"{k}={v}" for k, v in item.items())) for item in value
        )
    return shlex.quote(str(value))


@dataclass(frozen=True)
class ApiCall:
    """One boto3 call: ``service`` client, ``operation`` (boto3's snake_case method name),
    ``params`` (AWS's PascalCase names; values may be :class:`Ref`). ``result`` names the
    variable the call's answer at ``result_path`` is bound to (CreateKey binds ``key_id``)."""

    service: str
    operation: str
    params: dict[str, Any]
    region: str | None = None  # None: IAM, a global service
    result: str | None = None
    result_path: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The API name: ``CreateKey``."""
        return _pascal(self.operation)

    def python(self, mark: Iterable[str] = ()) -> str:
        """The call as Python; parameters named in ``mark`` end with ``# <- this step``."""
        marked = set(mark)
        head = f"{self.result} = " if self.result else ""
        tail = "".join(f"[{json.dumps(p)}]" for p in self.result_path)
        args = [f"{k}={_py(v)}" for k, v in self.params.items()]
        one_line = f"{head}{self.service}.{self.operation}({', '.join(args)}){tail}"
        if not (marked & set(self.params)) and len(one_line) <= 96:
            return one_line
        lines = [f"{head}{self.service}.{self.operation}("]
        for (k, _v), arg in zip(self.params.items(), args, strict=True):
            lines.append(f"    {arg}," + ("  # <- this step" if k in marked else ""))
        lines.append(f"){tail}")
        return "\n".join(lines)

    def cli(self) -> str:
        """The same call as an aws CLI command (one option per line when it is long)."""
        words = ["aws", self.service, _kebab(self.name)]
        options: list[str] = []
        for k, v in self.params.items():
            if isinstance(v, bool):
                options.append(f"--{_kebab(k)}" if v else f"--no-{_kebab(k)}")
            else:
                options.append(f"--{_kebab(k)} {_sh(v)}")
        if self.region:
            options.append(f"--region {self.region}")
        if self.result_path:
            options.append(f"--query {'.'.join(self.result_path)} --output text")
        text = " ".join(words + options)
        if len(text) > 96:
            text = " \\\n    ".join([" ".join(words), *options])
        if self.result:
            return f"{self.result.upper()}=$({text})"
        return text

    def summary(self, values: Mapping[str, Any]) -> str:
        """A short plain line for the creation log: no ids, no ARNs."""
        names = [str(values[k]) for k in ("GroupName", "UserName", "AliasName") if k in values]
        if "ReplicaRegion" in values:
            names.append(f"to {values['ReplicaRegion']}")
        return " ".join([f"{self.service} {self.name}", *names])


@dataclass(frozen=True)
class Created:
    """What :meth:`KeyWizard.create` made."""

    key_id: str
    arn: str
    region: str
    alias: str | None
    replica_regions: tuple[str, ...]
    log: tuple[str, ...]


# == the view-model ================================================================================


@dataclass
class KeyWizard:
    """The choices of the console's "Create key" wizard, and the calls they amount to.

    Every attribute is one control of the wizard; change them in any order. ``account`` is the
    account the key and users belong to (STS GetCallerIdentity tells you yours)."""

    account: str
    group: str = "myKMSGroup"
    users: list[str] = field(default_factory=lambda: ["myKeyManager", "myKeyUser"])
    key_type: str = "symmetric"
    key_spec: str = "SYMMETRIC_DEFAULT"
    key_usage: str = "ENCRYPT_DECRYPT"
    region: str = "us-east-1"
    multi_region: bool = False
    replica_regions: list[str] = field(default_factory=list)
    origin: str = "AWS_KMS"
    custom_key_store_id: str = ""
    xks_key_id: str = ""
    alias: str = "alias/myKMSKey"
    description: str = "myKMSKey"
    tags: dict[str, str] = field(default_factory=dict)
    admins: list[str] = field(default_factory=lambda: ["myKeyManager"])
    key_users: list[str] = field(default_factory=lambda: ["myKeyUser"])
    created: Created | None = field(default=None, init=False)
    log: list[str] = field(default_factory=list, init=False)

    # -- choices that depend on each other ---------------------------------------------------------

    def choose_key_type(self, key_type: str) -> None:
        """Pick symmetric, asymmetric or hmac; the key spec and usage follow (first offered)."""
        if key_type not in KEY_TYPES:
            raise ValueError(f"key type must be one of {', '.join(KEY_TYPES)}, not {key_type!r}")
        self.key_type = key_type
        self.choose_key_spec(KEY_TYPES[key_type][0][0])

    def choose_key_spec(self, key_spec: str) -> None:
        """Pick a key spec; the usage stays if the spec allows it, else becomes the first
        usage it allows."""
        usages = self.usages_for(key_spec)
        if not usages:
            raise ValueError(f"unknown key spec {key_spec!r}")
        for kind, (specs, _about) in KEY_TYPES.items():
            if key_spec in specs:
                self.key_type = kind
        self.key_spec = key_spec
        if self.key_usage not in usages:
            self.key_usage = usages[0]

    @staticmethod
    def usages_for(key_spec: str) -> tuple[str, ...]:
        """The KeyUsage values CreateKey accepts with ``key_spec``."""
        return tuple(
            str(u) for spec, usages in USAGES_FOR_SPEC.items() if spec == key_spec for u in usages
        )

    def arn_of(self, user: str) -> str:
        return f"arn:aws:iam::{self.account}:user/{user}"

    # -- what the choices amount to ----------------------------------------------------------------

    @property
    def policy(self) -> str:
        """The key policy, as the console writes it (pretty-printed JSON)."""
        return console_policy(
            self.account,
            admins=[self.arn_of(u) for u in self.admins],
            users=[self.arn_of(u) for u in self.key_users],
        )

    def statement_sids(self) -> list[str]:
        return [str(st.get("Sid")) for st in json.loads(self.policy)["Statement"]]

    def problems(self) -> list[str]:
        """What CreateKey (or IAM) would refuse, or what cannot work, in plain sentences."""
        found: list[str] = []
        if not self.group.strip():
            found.append("IAM: the group needs a name.")
        if not self.users:
            found.append("IAM: name at least one user.")
        if len(set(self.users)) != len(self.users):
            found.append("IAM: each user name must be different.")
        specs, _about = KEY_TYPES.get(self.key_type, ((), ""))
        if self.key_spec not in specs:
            found.append(f"Key type: {self.key_spec} is not a {self.key_type} key spec.")
        elif self.key_usage not in self.usages_for(self.key_spec):
            found.append(
                f"Key type: KeyUsage {self.key_usage} is not compatible with KeySpec "
                f"{self.key_spec}."
            )
        if self.region not in REGIONS:
            found.append(f"Region: {self.region} is not one of the lab's Regions.")
        if self.replica_regions and not self.multi_region:
            found.append("Region: only a multi-Region key can have replicas.")
        if self.region in self.replica_regions:
            found.append("Region: a replica must be in another Region than its primary.")
        if self.origin not in ORIGINS:
            found.append(f"Origin: {self.origin} is not an origin.")
        if self.origin in CUSTOM_KEY_STORE_ORIGINS:
            if self.key_spec != "SYMMETRIC_DEFAULT":
                found.append("Origin: custom key stores hold symmetric encryption keys only.")
            if self.multi_region:
                found.append("Origin: a key in a custom key store cannot be multi-Region.")
            if not self.custom_key_store_id:
                found.append("Origin: name the custom key store (its id, cks-...).")
            if self.origin == "EXTERNAL_KEY_STORE" and not self.xks_key_id:
                found.append("Origin: an external key store key needs the external key's id.")
        if self.alias:
            if not _ALIAS.match(self.alias):
                found.append(
                    "Alias: it must start with alias/ and use only letters, digits, /, _ and -."
                )
            elif self.alias.startswith("alias/aws/"):
                found.append("Alias: the prefix alias/aws/ is reserved for AWS managed keys.")
        for key in self.tags:
            if key.lower().startswith("aws:"):
                found.append(f"Tags: tag keys beginning with aws: are reserved ({key}).")
        for role, names in (("administrator", self.admins), ("user", self.key_users)):
            for name in names:
                if name not in self.users:
                    found.append(f"Key {role}s: {name} is not one of the IAM users.")
        return found

    def advice(self) -> list[str]:
        """Choices KMS accepts but a reviewer would question."""
        notes: list[str] = []
        both = sorted(set(self.admins) & set(self.key_users))
        if both:
            notes.append(
                f"{', '.join(both)} both administers and uses the key: separation of duties "
                "is lost."
            )
        if not self.admins:
            notes.append(
                "No key administrators: only principals that IAM policies allow (through the "
                "account statement) can manage the key."
            )
        return notes

    # -- the calls ---------------------------------------------------------------------------------

    def _create_key_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"Policy": POLICY}
        if self.description:
            params["Description"] = self.description
        params["KeySpec"] = self.key_spec
        params["KeyUsage"] = self.key_usage
        params["Origin"] = self.origin
        if self.origin in CUSTOM_KEY_STORE_ORIGINS:
            params["CustomKeyStoreId"] = self.custom_key_store_id
            if self.origin == "EXTERNAL_KEY_STORE":
                params["XksKeyId"] = self.xks_key_id
        if self.multi_region:
            params["MultiRegion"] = True
        if self.tags:
            params["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in self.tags.items()]
        return params

    def _iam_calls(self) -> list[ApiCall]:
        calls = [ApiCall("iam", "create_group", {"GroupName": self.group})]
        calls += [ApiCall("iam", "create_user", {"UserName": u}) for u in self.users]
        calls += [
            ApiCall("iam", "add_user_to_group", {"GroupName": self.group, "UserName": u})
            for u in self.users
        ]
        return calls

    def _create_key_call(self) -> ApiCall:
        return ApiCall(
            "kms",
            "create_key",
            self._create_key_params(),
            self.region,
            result="key_id",
            result_path=("KeyMetadata", "KeyId"),
        )

    def _alias_calls(self) -> list[ApiCall]:
        if not self.alias:
            return []
        return [
            ApiCall(
                "kms", "create_alias", {"AliasName": self.alias, "TargetKeyId": KEY_ID}, self.region
            )
        ]

    def _replica_calls(self) -> list[ApiCall]:
        if not self.multi_region:
            return []
        # The key policy is not shared between related keys: give each replica the same one.
        return [
            ApiCall(
                "kms",
                "replicate_key",
                {"KeyId": KEY_ID, "ReplicaRegion": region, "Policy": POLICY},
                self.region,
            )
            for region in self.replica_regions
        ]

    def calls(self, step: str | None = None) -> list[ApiCall]:
        """The calls ``step`` shapes; every call, in order, for None or ``"create"``."""
        if step is not None and step not in STEP_NAMES:
            raise ValueError(f"step must be one of {', '.join(STEP_NAMES)}, not {step!r}")
        if step == "iam":
            return self._iam_calls()
        if step == "region":
            return [self._create_key_call(), *self._replica_calls()]
        if step == "labels":
            return [self._create_key_call(), *self._alias_calls()]
        if step == "review":
            return [
                self._create_key_call(),
                ApiCall(
                    "kms",
                    "get_key_policy",
                    {"KeyId": KEY_ID, "PolicyName": "default"},
                    self.region,
                    result="policy_now",
                    result_path=("Policy",),
                ),
            ]
        if step in ("key_type", "origin", "admins", "users"):
            return [self._create_key_call()]
        return [
            *self._iam_calls(),
            self._create_key_call(),
            *self._alias_calls(),
            *self._replica_calls(),
        ]

    def python(self, step: str | None = None) -> str:
        """The boto3 code of ``step`` (or of everything), with the lines it sets marked."""
        mark = STEP_PARAMS.get(step or "", ())
        lines: list[str] = []
        if step in (None, "create", "region"):
            if step != "region":
                lines += ["import boto3", "", 'iam = boto3.client("iam")']
            lines.append(
                f'kms = boto3.client("kms", region_name={json.dumps(self.region)})'
                + ("  # <- this step" if step == "region" else "")
            )
        if step in (None, "create"):
            lines.append('policy = open("policy.json").read()  # the reviewed key policy')
        if lines:
            lines.append("")
        lines += [
            call.python(mark if call.operation == "create_key" else ()) for call in self.calls(step)
        ]
        return "\n".join(lines)

    def cli(self, step: str | None = None) -> str:
        """The aws CLI commands of ``step`` (or of everything)."""
        present = self._create_key_params()
        mark = [p for p in STEP_PARAMS.get(step or "", ()) if p != "Policy" and p in present]
        lines: list[str] = []
        if step == "region":
            mark.insert(0, "Region")
        if mark:
            lines.append("# this step sets " + ", ".join(f"--{_kebab(p)}" for p in mark))
        if step in ("admins", "users", "review"):
            lines.append("# policy.json holds the key policy shown in the review step")
        lines += [call.cli() for call in self.calls(step)]
        return "\n".join(lines)

    # -- doing it ----------------------------------------------------------------------------------

    def create(self, clients: Callable[..., Any]) -> Created:
        """Make every call of :meth:`calls`, in order, through real boto3 clients.

        ``clients(service, region=...)`` returns a boto3 client: ``course.client`` in a
        notebook, or ``lambda s, region=None: boto3.client(s, region_name=region)`` against AWS.
        An IAM group or user that already exists is kept (the log says so); any other error
        is raised as boto3 raised it, after the log has recorded what was done.

        Raises ValueError when :meth:`problems` finds something wrong."""
        problems = self.problems()
        if problems:
            raise ValueError("fix these first: " + " ".join(problems))
        iam = clients("iam", region=self.region)
        kms = clients("kms", region=self.region)
        bound: dict[str, Any] = {"policy": self.policy}
        self.log = []
        for call in self.calls():
            values = {k: bound[v.name] if isinstance(v, Ref) else v for k, v in call.params.items()}
            client = iam if call.service == "iam" else kms
            try:
                out = getattr(client, call.operation)(**values)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if call.service == "iam" and code in (
                    "EntityAlreadyExists",
                    "EntityAlreadyExistsException",
                ):
                    self.log.append(f"{call.summary(values)}: already exists, kept")
                    continue
                self.log.append(f"{call.summary(values)}: {code}")
                raise
            if call.result:
                for part in call.result_path:
                    out = out[part]
                bound[call.result] = out
            self.log.append(f"{call.summary(values)}: OK")
        key_id = str(bound["key_id"])
        arn = str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
        self.created = Created(
            key_id=key_id,
            arn=arn,
            region=self.region,
            alias=self.alias or None,
            replica_regions=tuple(self.replica_regions) if self.multi_region else (),
            log=tuple(self.log),
        )
        return self.created


# == an exercise ===================================================================================


@dataclass(frozen=True)
class Feedback:
    correct: bool
    text: str

    def __str__(self) -> str:
        return ("correct: " if self.correct else "not yet: ") + self.text


#: Use case -> (accepted (spec, usage) pairs, why, hint).
USE_CASES: dict[str, tuple[frozenset[tuple[str, str]], str, str]] = {
    "encrypt S3 objects and EBS volumes": (
        frozenset({("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")}),
        "AWS services integrate with symmetric encryption keys only.",
        "AWS services call KMS for you; which key type do they integrate with?",
    ),
    "partners outside AWS verify our signatures": (
        frozenset(
            (spec, "SIGN_VERIFY")
            for spec in KEY_TYPES["asymmetric"][0]
            if spec.startswith(("RSA", "ECC", "ML_DSA"))
        ),
        "an asymmetric signing key: the partners verify with the public key, no AWS call.",
        "the partners have no AWS credentials, so they need a public key: which usage signs?",
    ),
    "customers outside AWS encrypt data only we can read": (
        frozenset(
            (spec, "ENCRYPT_DECRYPT")
            for spec in KEY_TYPES["asymmetric"][0]
            if spec.startswith("RSA")
        ),
        "an RSA encryption key: customers encrypt with the public key, only KMS decrypts.",
        "they encrypt with a public key outside AWS; which asymmetric family encrypts in KMS?",
    ),
    "check that a session token was issued by us": (
        frozenset((spec, "GENERATE_VERIFY_MAC") for spec in KEY_TYPES["hmac"][0]),
        "an HMAC key: GenerateMac issues, VerifyMac checks, the secret never leaves KMS.",
        "nobody outside needs a public key; a keyed hash (MAC) is enough.",
    ),
}


def check_key_choice(use_case: str, key_spec: str, key_usage: str) -> Feedback:
    """Is (``key_spec``, ``key_usage``) a right key for ``use_case`` (a key of USE_CASES)?"""
    if use_case not in USE_CASES:
        raise ValueError(f"use case must be one of: {'; '.join(USE_CASES)}")
    accepted, why, hint = USE_CASES[use_case]
    if key_usage not in KeyWizard.usages_for(key_spec):
        return Feedback(False, f"CreateKey refuses KeyUsage {key_usage} with KeySpec {key_spec}.")
    if (key_spec, key_usage) in accepted:
        return Feedback(True, f"{key_spec} / {key_usage}: {why}")
    return Feedback(False, hint)


# == the view ======================================================================================

_STYLE = {"description_width": "initial"}
_WIDE = widgets.Layout(width="420px")


def _pre(title: str, text: str) -> str:
    # Long lines (an ARN in the policy, a long CLI option) wrap inside their column.
    return pre_html(text, wrap=True, title=title)


# Two columns that share the width and wrap under each other when the notebook is narrow; each
# may shrink below its content's width (min-width 0) so that nothing runs under its neighbour.
_COLUMN = {"flex": "1 1 420px", "min_width": "0", "max_width": "100%"}


class KeyWizardView:
    """One step per page, Back/Next, and beside each step its boto3 call and aws CLI command.

    ``clients`` is what :meth:`KeyWizard.create` needs (``course.client``); without it the
    Create button explains that it has nothing to create the key with."""

    def __init__(self, model: KeyWizard, clients: Callable[..., Any] | None = None) -> None:
        self.model = model
        self.clients = clients
        self.index = 0
        self._syncing = False
        m = model
        # -- step 1: IAM
        self.group = widgets.Text(
            value=m.group,
            description="IAM group",
            continuous_update=False,
            style=_STYLE,
            tooltip="The IAM group the users join",
            layout=_WIDE,
        )
        self.users = widgets.Text(
            value=", ".join(m.users),
            description="IAM users (comma-separated)",
            continuous_update=False,
            style=_STYLE,
            layout=_WIDE,
            tooltip="User names, separated by commas",
        )
        # -- step 2: key type
        self.key_type = widgets.RadioButtons(
            options=[("Symmetric", "symmetric"), ("Asymmetric", "asymmetric"), ("HMAC", "hmac")],
            value=m.key_type,
            description="Key type",
            style=_STYLE,
        )
        self.key_spec = widgets.Dropdown(
            options=list(KEY_TYPES[m.key_type][0]),
            value=m.key_spec,
            description="Key spec",
            style=_STYLE,
        )
        self.key_usage = widgets.Dropdown(
            options=list(m.usages_for(m.key_spec)),
            value=m.key_usage,
            description="Key usage",
            style=_STYLE,
        )
        self.key_note = widgets.HTML()
        # -- step 3: Region
        self.region = widgets.Dropdown(
            options=list(REGIONS), value=m.region, description="Region", style=_STYLE
        )
        self.multi_region = widgets.Checkbox(
            value=m.multi_region,
            description="Multi-Region key (mrk-...)",
            style=_STYLE,
            indent=False,
        )
        self.replicas = widgets.SelectMultiple(
            options=[r for r in REGIONS if r != m.region],
            value=tuple(m.replica_regions),
            description="Replica Regions",
            style=_STYLE,
            rows=4,
        )
        # -- step 4: origin
        self.origin = widgets.RadioButtons(
            options=[
                ("KMS (AWS_KMS)", "AWS_KMS"),
                ("External: import your own (EXTERNAL)", "EXTERNAL"),
                ("CloudHSM key store (AWS_CLOUDHSM)", "AWS_CLOUDHSM"),
                ("External key store (EXTERNAL_KEY_STORE)", "EXTERNAL_KEY_STORE"),
            ],
            value=m.origin,
            description="Key material origin",
            style=_STYLE,
            layout=widgets.Layout(width="auto"),
        )
        self.store_id = widgets.Text(
            value=m.custom_key_store_id,
            description="Custom key store ID",
            style=_STYLE,
            placeholder="cks-...",
            continuous_update=False,
        )
        self.xks_id = widgets.Text(
            value=m.xks_key_id,
            description="External key ID (XKS)",
            style=_STYLE,
            continuous_update=False,
        )
        self.origin_note = widgets.HTML()
        # -- step 5: labels
        self.alias = widgets.Text(
            value=m.alias,
            description="Alias",
            style=_STYLE,
            continuous_update=False,
            layout=_WIDE,
        )
        self.description = widgets.Text(
            value=m.description,
            description="Description",
            style=_STYLE,
            continuous_update=False,
            layout=_WIDE,
        )
        self.tags = widgets.Text(
            value=", ".join(f"{k}={v}" for k, v in m.tags.items()),
            description="Tags (key=value, comma-separated)",
            style=_STYLE,
            continuous_update=False,
            layout=_WIDE,
        )
        # -- steps 6 and 7: who
        self.admins = widgets.SelectMultiple(
            options=list(m.users),
            value=tuple(m.admins),
            description="Key administrators",
            style=_STYLE,
            rows=3,
        )
        self.key_users = widgets.SelectMultiple(
            options=list(m.users),
            value=tuple(m.key_users),
            description="Key users",
            style=_STYLE,
            rows=3,
        )
        # -- step 8: review; step 9: create
        self.policy_html = widgets.HTML()
        self.create_button = widgets.Button(
            description="Create the key", tooltip="Make every call shown, in order", icon="key"
        )
        self.panel = Panel()
        self.create_button.on_click(self.panel.guard(self._create))
        # -- frame
        self.header = widgets.HTML()
        self.code = widgets.HTML(layout=widgets.Layout(**_COLUMN))
        self.problems = widgets.HTML()
        self.back = widgets.Button(
            description="Back", tooltip="The previous step", icon="arrow-left"
        )
        self.next = widgets.Button(description="Next", tooltip="The next step", icon="arrow-right")
        self.back.on_click(self.panel.guard(lambda _b: self.go(self.index - 1)))
        self.next.on_click(self.panel.guard(lambda _b: self.go(self.index + 1)))
        self.pages: dict[str, list[widgets.Widget]] = {
            "iam": [self.group, self.users],
            "key_type": [self.key_type, self.key_spec, self.key_usage, self.key_note],
            "region": [self.region, self.multi_region, self.replicas],
            "origin": [self.origin, self.store_id, self.xks_id, self.origin_note],
            "labels": [self.alias, self.description, self.tags],
            "admins": [self.admins],
            "users": [self.key_users],
            "review": [self.policy_html],
            "create": [self.create_button, self.panel.html],
        }
        self.page = widgets.VBox(layout=widgets.Layout(width="100%", min_width="0"))
        for control in (
            self.group,
            self.users,
            self.key_type,
            self.key_spec,
            self.key_usage,
            self.region,
            self.multi_region,
            self.replicas,
            self.origin,
            self.store_id,
            self.xks_id,
            self.alias,
            self.description,
            self.tags,
            self.admins,
            self.key_users,
        ):
            control.observe(self.panel.guard(self._changed), names="value")
        self.go(0)

    # -- navigation --------------------------------------------------------------------------------

    @property
    def step(self) -> Step:
        return STEPS[self.index]

    def go(self, index: int) -> None:
        self.index = max(0, min(index, len(STEPS) - 1))
        self.back.disabled = self.index == 0
        self.next.disabled = self.index == len(STEPS) - 1
        self.page.children = tuple(self.pages[self.step.name])
        self.refresh()

    # -- controls -> model -------------------------------------------------------------------------

    def _changed(self, change: Any) -> None:
        if self._syncing:
            return
        m, owner, value = self.model, change["owner"], change["new"]
        if owner is self.group:
            m.group = value.strip()
        elif owner is self.users:
            m.users = [u.strip() for u in value.split(",") if u.strip()]
            m.admins = [u for u in m.admins if u in m.users]
            m.key_users = [u for u in m.key_users if u in m.users]
        elif owner is self.key_type:
            m.choose_key_type(value)
        elif owner is self.key_spec:
            if value is not None:
                m.choose_key_spec(value)
        elif owner is self.key_usage:
            if value is not None:
                m.key_usage = value
        elif owner is self.region:
            m.region = value
            m.replica_regions = [r for r in m.replica_regions if r != value]
        elif owner is self.multi_region:
            m.multi_region = bool(value)
            if not value:
                m.replica_regions = []
        elif owner is self.replicas:
            m.replica_regions = list(value)
            if value:
                m.multi_region = True
        elif owner is self.origin:
            m.origin = value
        elif owner is self.store_id:
            m.custom_key_store_id = value.strip()
        elif owner is self.xks_id:
            m.xks_key_id = value.strip()
        elif owner is self.alias:
            m.alias = value.strip()
        elif owner is self.description:
            m.description = value
        elif owner is self.tags:
            m.tags = parse_pairs(value)
        elif owner is self.admins:
            m.admins = list(value)
        elif owner is self.key_users:
            m.key_users = list(value)
        self.refresh()

    def _sync_controls(self) -> None:
        """Model -> controls, for the choices that depend on other choices."""
        m = self.model
        self._syncing = True
        try:
            self.key_type.value = m.key_type
            self.key_spec.options = list(KEY_TYPES[m.key_type][0])
            self.key_spec.value = m.key_spec
            self.key_usage.options = list(m.usages_for(m.key_spec))
            self.key_usage.value = m.key_usage
            self.replicas.options = [r for r in REGIONS if r != m.region]
            self.replicas.value = tuple(m.replica_regions)
            self.multi_region.value = m.multi_region
            self.admins.options = list(m.users)
            self.admins.value = tuple(m.admins)
            self.key_users.options = list(m.users)
            self.key_users.value = tuple(m.key_users)
            show_store = m.origin in CUSTOM_KEY_STORE_ORIGINS
            self.store_id.layout.display = None if show_store else "none"
            self.xks_id.layout.display = None if m.origin == "EXTERNAL_KEY_STORE" else "none"
        finally:
            self._syncing = False

    def refresh(self) -> None:
        """Redraw the page's notes, the code beside it and the problems."""
        self._sync_controls()
        m, step = self.model, self.step
        self.header.value = (
            f"<h4 style='margin:4px 0'>Step {self.index + 1} of {len(STEPS)}: "
            f"{html.escape(step.title)}</h4><p style='max-width:1000px'>"
            f"{html.escape(step.description)}</p>"
        )
        self.key_note.value = f"<p>{html.escape(KEY_TYPES[m.key_type][1])}</p>"
        self.origin_note.value = f"<p>{html.escape(ORIGINS.get(m.origin, ''))}</p>"
        self.policy_html.value = _pre("policy.json", m.policy)
        side = _pre("boto3 (Python)", m.python(step.name)) + _pre("aws CLI", m.cli(step.name))
        if step.name in ("admins", "users"):
            which = (
                "Allow access for Key Administrators"
                if step.name == "admins"
                else ("Allow use of the key")
            )
            statement = [s for s in json.loads(m.policy)["Statement"] if s.get("Sid") == which]
            side += _pre(
                "its statement in the key policy",
                json.dumps(statement[0], indent=2) if statement else "(none: nobody chosen)",
            )
        self.code.value = side
        problems = m.problems()
        lines = [f"✘ {html.escape(p)}" for p in problems]
        lines += [f"⚠ Note: {html.escape(a)}" for a in m.advice()]
        self.problems.value = "<br>".join(lines) if lines else "✔ No problems found."
        self.create_button.disabled = bool(problems) or self.clients is None

    def _create(self, _button: Any = None) -> None:
        if self.clients is None:
            self.panel.show(False, "no clients to create the key with")
            return
        created = self.model.create(self.clients)
        self.panel.show(
            True,
            f"created {created.key_id} in {created.region}"
            + (f" as {created.alias}" if created.alias else "")
            + (
                f", replicas in {', '.join(created.replica_regions)}"
                if created.replica_regions
                else ""
            )
            + " | "
            + "; ".join(created.log),
        )

    def widget(self) -> widgets.Widget:
        nav = widgets.HBox([self.back, self.next])
        left = widgets.VBox([self.page, self.problems, nav], layout=widgets.Layout(**_COLUMN))
        columns = widgets.HBox(
            [left, self.code],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", width="100%"),
        )
        return widgets.VBox([self.header, columns])
