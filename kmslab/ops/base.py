"""The service's shared state and helpers; operation families build on it.

KmsService: one method per KMS operation, named as botocore names it (``xform_name``).

Methods take a :class:`Call` (who is calling, from which Region) and the operation's input
members as snake_case keyword arguments, already decoded and checked against the model's
constraints by the protocol layer. They return the output members as a snake_case dict and
raise only :mod:`kmslab.errors` classes for caller mistakes. The service never sees the wire
and never imports botocore.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .. import blob, crypto, policy
from ..clock import Clock
from ..context import encode_context
from ..crypto import AeadError, RandomSource, aes_gcm_decrypt, aes_gcm_encrypt
from ..errors import (
    AccessDeniedException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    InvalidMarkerException,
    MalformedPolicyDocumentException,
    NotFoundException,
    TagException,
    UnsupportedOperationException,
)
from ..iam import Principal
from ..ids import KeyRef, RefKind, alias_arn, format_key_id, key_arn, parse_key_ref
from ..keys import (
    HMAC_KEY_BYTES,
    Alias,
    Key,
    Material,
    check_state,
)
from ..model import (
    KeyManager,
    KeySpec,
    KeyState,
    KeyUsage,
    Origin,
    RotationType,
)
from ..store import MemoryStore, SqliteStore

T = TypeVar("T")

#: AWS: "You can perform on-demand rotation a maximum of 25 times per KMS key."
ON_DEMAND_ROTATION_LIMIT = 25
MAX_TAGS = 50
MAX_ALIASES_PER_KEY = 50
DEFAULT_ROTATION_DAYS = 365
DEFAULT_PENDING_WINDOW_DAYS = 30

#: Services whose predefined ``alias/aws/<service>`` ListAliases shows in a new account.
AWS_MANAGED_SERVICES: dict[str, str] = {
    "acm": "ACM",
    "dynamodb": "DynamoDB tables",
    "ebs": "EBS volumes",
    "elasticfilesystem": "Elastic File Systems",
    "es": "Elasticsearch domains",
    "glue": "Glue data",
    "kinesis": "Kinesis data",
    "lambda": "Lambda functions",
    "rds": "RDS databases",
    "redshift": "Redshift clusters",
    "s3": "S3 objects",
    "secretsmanager": "Secrets Manager secrets",
    "sns": "SNS topics",
    "sqs": "SQS queues",
    "ssm": "SSM parameters",
    "xray": "X-Ray data",
}

#: KeySpec -> the KeyUsage values CreateKey accepts for it (CreateKey API reference).
USAGES_FOR_SPEC: dict[KeySpec, tuple[KeyUsage, ...]] = {
    KeySpec.SYMMETRIC_DEFAULT: (KeyUsage.ENCRYPT_DECRYPT,),
    KeySpec.RSA_2048: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY),
    KeySpec.RSA_3072: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY),
    KeySpec.RSA_4096: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY),
    KeySpec.ECC_NIST_P256: (KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT),
    KeySpec.ECC_NIST_P384: (KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT),
    KeySpec.ECC_NIST_P521: (KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT),
    KeySpec.ECC_SECG_P256K1: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ECC_NIST_EDWARDS25519: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ML_DSA_44: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ML_DSA_65: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ML_DSA_87: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ML_KEM_512: (KeyUsage.ENCAPSULATE_DECAPSULATE,),
    KeySpec.ML_KEM_768: (KeyUsage.ENCAPSULATE_DECAPSULATE,),
    KeySpec.ML_KEM_1024: (KeyUsage.ENCAPSULATE_DECAPSULATE,),
    KeySpec.HMAC_224: (KeyUsage.GENERATE_VERIFY_MAC,),
    KeySpec.HMAC_256: (KeyUsage.GENERATE_VERIFY_MAC,),
    KeySpec.HMAC_384: (KeyUsage.GENERATE_VERIFY_MAC,),
    KeySpec.HMAC_512: (KeyUsage.GENERATE_VERIFY_MAC,),
    KeySpec.SM2: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT),
}

CIPHERTEXT_NAMES_UNKNOWN_KEY = (
    "The ciphertext refers to a customer master key that does not exist, does not exist in "
    "this region, or you are not allowed to access."
)
INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."
DRY_RUN_OK = "The request would have succeeded, but the DryRun option is set."

#: What a principal of another account may do with a key when both sides allow it
#: (the "Cross-account use" notes of each operation in the KMS API Reference).
CROSS_ACCOUNT_ACTIONS = frozenset(
    {
        "CreateGrant",
        "Decapsulate",
        "Decrypt",
        "DeriveSharedSecret",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncryptFrom",
        "ReEncryptTo",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)

#: Operations on no particular key: only identity policies decide.
ACCOUNT_OPERATIONS = frozenset(
    {
        "CreateKey",
        "ListKeys",
        "ListAliases",
        "GenerateRandom",
        "ListRetirableGrants",
        "CreateCustomKeyStore",
        "DescribeCustomKeyStores",
        "UpdateCustomKeyStore",
        "DeleteCustomKeyStore",
        "ConnectCustomKeyStore",
        "DisconnectCustomKeyStore",
    }
)


@dataclass(slots=True)
class Call:
    """Who calls, from which Region, at what lab time; the service notes the keys it touched."""

    principal: Principal
    region: str
    now: datetime
    operation: str = ""
    resources: list[str] = field(default_factory=list)
    #: the decoded request (snake_case), for condition keys such as kms:EncryptionContext:*
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.principal.account


ServiceEventSink = Callable[[str, Key, datetime], None]


class ServiceBase:
    """State of the simulated AWS KMS of one lab (every account and Region) and the helpers
    that every operation family uses."""

    def __init__(
        self,
        *,
        clock: Clock,
        rng: RandomSource,
        store: MemoryStore | SqliteStore,
        on_service_event: ServiceEventSink | None = None,
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.store = store
        self.keys: dict[str, Key] = {}
        self.aliases: dict[tuple[str, str, str], Alias] = {}
        self.lock = threading.RLock()
        self._next_due: datetime | None = None
        self._on_service_event = on_service_event
        #: the lab's IAM directory (identity policies, principal existence); set by the lab
        self.directory: Any = None

    # == scheduled work ============================================================================

    def reschedule(self) -> None:
        due = [k.deletion_date for k in self.keys.values() if k.deletion_date is not None]
        due += [
            k.next_rotation
            for k in self.keys.values()
            if k.rotation_enabled and k.next_rotation is not None
        ]
        due += [  # imported key material expires at its ValidTo
            m.valid_to for k in self.keys.values() for m in k.materials if m.imported and m.valid_to
        ]
        self._next_due = min(due) if due else None

    def run_due(self, now: datetime) -> None:
        """Delete keys whose waiting period ended; rotate keys whose rotation date came."""
        if self._next_due is None or now < self._next_due:
            return
        for key in list(self.keys.values()):
            if key.deletion_date is not None and key.deletion_date <= now:
                self._delete_key_now(key)
                continue
            self._expire_imported_material(key, now)
            while (
                key.rotation_enabled
                and not key.is_replica  # replicas rotate with their primary
                and key.next_rotation is not None
                and key.next_rotation <= now
                and key.state is KeyState.ENABLED
            ):
                when = key.next_rotation
                key.rotate(self._new_material(when, RotationType.AUTOMATIC))
                key.schedule_rotation(when)
                self.store.save_key(key)
                self._sync_replicas(key)
                self._service_event("RotateKey", key, when)
        self.reschedule()

    def _delete_key_now(self, key: Key) -> None:
        when = key.deletion_date or self.clock.now()
        del self.keys[key.arn]
        for alias_key, alias in list(self.aliases.items()):
            if alias.target_key_id == key.key_id and alias_key[:2] == (key.account, key.region):
                del self.aliases[alias_key]
                self.store.delete_alias(alias)
        self.store.delete_key(key.arn)
        self._service_event("DeleteKey", key, when)

    def _expire_imported_material(self, key: Key, now: datetime) -> None:
        """Delete imported material whose ValidTo came (ImportOperations overrides this)."""

    def _service_event(self, name: str, key: Key, when: datetime) -> None:
        if self._on_service_event is not None:
            self._on_service_event(name, key, when)

    # == helpers ===================================================================================

    def _new_material(
        self,
        now: datetime,
        rotation_type: RotationType | None,
        spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT,
    ) -> Material:
        if spec is KeySpec.SYMMETRIC_DEFAULT:
            secret = self.rng.bytes(32)
        elif spec in HMAC_KEY_BYTES:
            secret = self.rng.bytes(HMAC_KEY_BYTES[spec])
        else:
            # Asymmetric key generation in pyca cannot be seeded: these keys differ every run.
            try:
                secret = crypto.generate_private_key(spec.value)
            except crypto.UnsupportedPrimitive:
                raise UnsupportedOperationException(
                    f"kmslab cannot create {spec.value} keys: the installed cryptography "
                    "library has no such primitive."
                ) from None
        return Material(
            material_id=self.rng.bytes(32).hex(),
            secret=secret,
            created=now,
            rotation_type=rotation_type,
        )

    def _not_found(self, call: Call, key_id: str) -> NotFoundException:
        return NotFoundException(
            f"Key '{key_arn(call.region, call.account, key_id)}' does not exist"
        )

    def _resolve(
        self, call: Call, text: str, *, allow_alias: bool = True, action: str | None = None
    ) -> Key:
        """Find the key a caller named, with AWS's errors for each way it can be missing."""
        ref = parse_key_ref(text)
        if ref.is_alias and not allow_alias:
            raise NotFoundException(f"Invalid keyId {text}")
        if ref.region is not None and ref.region != call.region:
            raise NotFoundException(f"Invalid arn {ref.region}")
        account = ref.account or call.account
        if ref.is_alias:
            return self._resolve_alias(call, ref, account, action)
        key = self.key_at(account, call.region, ref.value)
        if key is None:
            if ref.kind is RefKind.KEY_ARN:
                raise NotFoundException(f"Key '{text}' does not exist")
            raise self._not_found(call, ref.value)
        call.resources.append(key.arn)
        self._authorize(call, key, action)
        return key

    def find_key(self, account: str, region: str, text: str) -> Key:
        """The key ``text`` names, seen from ``account`` in ``region``, without authorization
        (for explanations). Raises NotFoundException as a request would."""
        ref = parse_key_ref(text)
        owner = ref.account or account
        where = ref.region or region
        if ref.is_alias:
            alias = self.aliases.get((owner, where, ref.value))
            if alias is None or alias.target_key_id is None:
                raise NotFoundException(f"Alias {alias_arn(where, owner, ref.value)} is not found.")
            found = self.key_at(owner, where, alias.target_key_id)
        else:
            found = self.key_at(owner, where, ref.value)
        if found is None:
            raise NotFoundException(f"Key '{key_arn(where, owner, ref.value)}' does not exist")
        return found

    def key_at(self, account: str, region: str, key_id: str) -> Key | None:
        """The key with this id in this account and Region, if it exists."""
        return self.keys.get(key_arn(region, account, key_id))

    def _authorize(self, call: Call, key: Key, action: str | None = None) -> None:
        """May the caller do ``action`` (default: the operation) on ``key``? The key policy,
        the caller's identity policies and the key's grants decide, as in AWS KMS.

        Raises:
            AccessDeniedException: with AWS's message ("User: ... is not authorized to
                perform: kms:Encrypt on resource: ... because no resource-based policy allows
                the kms:Encrypt action").
        """
        action = action or call.operation
        decision = self.decide(call, action, key.arn, key.policy, key=key, key_account=key.account)
        if not decision:
            raise AccessDeniedException(decision.denial)

    def _resolve_alias(
        self, call: Call, ref: KeyRef, account: str, action: str | None = None
    ) -> Key:
        self._predefined_aliases(account, call.region)
        alias = self.aliases.get((account, call.region, ref.value))
        if alias is None:
            arn = alias_arn(call.region, account, ref.value)
            raise NotFoundException(f"Alias {arn} is not found.")
        if alias.target_key_id is None:
            key = self._create_aws_managed_key(alias, call.now)
        else:
            key = self.keys[key_arn(alias.region, alias.account, alias.target_key_id)]
        call.resources.append(key.arn)
        self._authorize(call, key, action)
        return key

    def _predefined_aliases(self, account: str, region: str) -> None:
        if (account, region, "alias/aws/s3") in self.aliases:
            return
        for service in AWS_MANAGED_SERVICES:
            name = f"alias/aws/{service}"
            alias = Alias(name, account, region, alias_arn(region, account, name), None, None, None)
            self.aliases[(account, region, name)] = alias
            self.store.save_alias(alias)

    def _create_aws_managed_key(self, alias: Alias, now: datetime) -> Key:
        """An AWS service creates its managed key on first use of its alias."""
        service = alias.name.removeprefix("alias/aws/")
        key = self._new_key(
            account=alias.account,
            region=alias.region,
            now=now,
            description=f"Default key that protects my {AWS_MANAGED_SERVICES[service]} "
            "when no other key is defined",
            policy=policy.aws_managed_policy(alias.account, service, alias.region),
            key_manager=KeyManager.AWS,
        )
        key.rotation_enabled = True
        key.rotation_period_days = DEFAULT_ROTATION_DAYS
        key.schedule_rotation(now)
        alias.target_key_id = key.key_id
        alias.created = alias.updated = now
        self.store.save_key(key)
        self.store.save_alias(alias)
        self.reschedule()
        return key

    def _new_key(
        self,
        *,
        account: str,
        region: str,
        now: datetime,
        description: str,
        policy: str,
        key_manager: KeyManager = KeyManager.CUSTOMER,
        key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT,
        key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT,
        origin: Origin = Origin.AWS_KMS,
        multi_region: bool = False,
    ) -> Key:
        # Origin EXTERNAL: no material until ImportKeyMaterial; the key waits in PendingImport.
        external = origin is Origin.EXTERNAL
        material = None if external else self._new_material(now, None, key_spec)
        raw_id = self.rng.bytes(16)
        key_id = "mrk-" + raw_id.hex() if multi_region else format_key_id(raw_id)
        key = Key(
            key_id=key_id,
            account=account,
            region=region,
            arn=key_arn(region, account, key_id),
            created=now,
            description=description,
            key_manager=key_manager,
            policy=policy,
            key_spec=key_spec,
            key_usage=key_usage,
            origin=origin,
            state=KeyState.PENDING_IMPORT if external else KeyState.ENABLED,
            multi_region=multi_region,
            primary_region=region if multi_region else None,
        )
        if material is not None:
            key.materials.append(material)
        self.keys[key.arn] = key
        return key

    # == hooks: the custom key store and multi-Region families extend these via super() ========

    def _metadata(self, key: Key) -> dict[str, Any]:
        """KeyMetadata as DescribeKey shows it (families add what the Key alone cannot tell)."""
        return key.metadata()

    def _set_state(self, key: Key, state: KeyState) -> None:
        """Make ``key`` Enabled or Disabled (in a disconnected key store it stays Unavailable)."""
        key.state = state

    def _begin_deletion(self, key: Key, now: datetime, days: int) -> None:
        """Start the waiting period (a multi-Region primary with replicas waits for them)."""
        key.state = KeyState.PENDING_DELETION
        key.deletion_date = now + timedelta(days=days)
        key.pending_window_days = days

    def _sync_replicas(self, key: Key) -> None:
        """``key``'s material or rotation settings changed: a multi-Region primary's replicas
        follow."""

    def _primary_only(self, key: Key, operation: str) -> None:
        """Refuse ``operation`` on a multi-Region replica (rotation is managed on the primary)."""

    def _check_custom_key_store(
        self,
        call: Call,
        origin: str | None,
        custom_key_store_id: str | None,
        xks_key_id: str | None,
        key_spec: KeySpec,
        multi_region: bool | None,
    ) -> None:
        """May CreateKey put a key in this custom key store?"""
        raise UnsupportedOperationException("kmslab does not simulate custom key stores.")

    def _custom_key_store_random(self, call: Call, custom_key_store_id: str) -> None:
        """May GenerateRandom draw from this custom key store?"""
        raise UnsupportedOperationException("kmslab does not simulate custom key stores.")

    @staticmethod
    def _customer_managed(call: Call, key: Key, operation: str) -> None:
        if key.key_manager is KeyManager.AWS:
            raise AccessDeniedException(
                f"User: {call.principal.arn} is not authorized to perform: kms:{operation} on "
                f"resource: {key.arn} because no resource-based policy allows the "
                f"kms:{operation} action"
            )

    @staticmethod
    def _require_usage(
        key: Key, operation: str, usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
    ) -> None:
        if key.key_usage is not usage:
            raise InvalidKeyUsageException(
                f"{key.arn} key usage is {key.key_usage.value} which is not valid for {operation}."
            )

    @staticmethod
    def _require_symmetric(key: Key, operation: str) -> None:
        ServiceBase._require_usage(key, operation)
        if not key.is_symmetric_encryption:
            raise InvalidKeyUsageException(
                f"{key.arn} key spec is {key.key_spec.value} which is not valid for {operation}."
            )

    @staticmethod
    def _symmetric_algorithm(key: Key, algorithm: str | None) -> None:
        if algorithm not in (None, "SYMMETRIC_DEFAULT"):
            raise InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {key.key_spec.value}."
            )

    @staticmethod
    def _no_recipient(recipient: Any) -> None:
        if recipient is not None:
            raise UnsupportedOperationException(
                "kmslab does not simulate AWS Nitro Enclaves attestation (Recipient)."
            )

    def _seal(self, key: Key, plaintext: bytes, context: dict[str, str] | None) -> bytes:
        material = key.current
        header = blob.make_header(key.account, key.key_id, material.material_id)
        nonce = self.rng.bytes(blob.NONCE_BYTES)
        body = aes_gcm_encrypt(material.secret, nonce, plaintext, header + encode_context(context))
        return blob.pack(header, nonce, body)

    def _open(
        self,
        call: Call,
        operation: str,
        ciphertext: bytes,
        context: dict[str, str] | None,
        key_id: str | None,
        algorithm: str | None,
    ) -> tuple[Key, Material, bytes]:
        """Decrypt a symmetric blob: the blob names its key; ``key_id`` may only confirm it."""
        action = "ReEncryptFrom" if operation == "ReEncrypt" else operation
        requested = self._resolve(call, key_id, action=action) if key_id is not None else None
        try:
            parsed = blob.unpack(ciphertext)
        except (blob.BlobFormatError, ValueError):
            raise InvalidCiphertextException("") from None
        key = self.key_at(parsed.account, call.region, parsed.key_id)
        if key is None:
            if requested is not None:
                raise IncorrectKeyException(INCORRECT_KEY)
            raise AccessDeniedException(CIPHERTEXT_NAMES_UNKNOWN_KEY)
        if requested is not None and requested.arn != key.arn:
            raise IncorrectKeyException(INCORRECT_KEY)
        if requested is None:
            call.resources.append(key.arn)
            try:
                self._authorize(call, key, action)
            except AccessDeniedException:
                if key.account == call.account:
                    raise
                raise AccessDeniedException(CIPHERTEXT_NAMES_UNKNOWN_KEY) from None
        check_state(operation, key)
        self._symmetric_algorithm(key, algorithm)
        material = key.material(parsed.key_material_id)
        if material is None:
            raise InvalidCiphertextException("")
        try:
            plaintext = aes_gcm_decrypt(
                material.secret, parsed.nonce, parsed.body, parsed.header + encode_context(context)
            )
        except AeadError:
            raise InvalidCiphertextException("") from None
        return key, material, plaintext

    @staticmethod
    def _page(
        items: Sequence[T], limit: int | None, marker: str | None, default: int
    ) -> tuple[list[T], dict[str, Any]]:
        start = 0
        if marker is not None:
            try:
                start = int(base64.urlsafe_b64decode(marker.encode()).decode().removeprefix("at:"))
            except ValueError:
                raise InvalidMarkerException("Invalid marker") from None
            if not 0 <= start <= len(items):
                raise InvalidMarkerException("Invalid marker")
        size = limit or default
        page = list(items[start : start + size])
        end = start + len(page)
        more: dict[str, Any] = {"truncated": end < len(items)}
        if end < len(items):
            more["next_marker"] = base64.urlsafe_b64encode(f"at:{end}".encode()).decode()
        return page, more

    @staticmethod
    def _check_tags(tags: Iterable[dict[str, str]], existing: dict[str, str]) -> dict[str, str]:
        new: dict[str, str] = {}
        for tag in tags:
            k = tag["tag_key"]
            if k.lower().startswith("aws:"):
                raise TagException("Tags beginning with aws: are reserved")
            if k in new:
                raise TagException("Duplicate tag keys")
            new[k] = tag["tag_value"]
        if len(set(existing) | set(new)) > MAX_TAGS:
            raise TagException("Too many tags")
        return new

    def _check_policy(self, call: Call, text: str, bypass: bool | None, key: Key | None) -> None:
        """Validate a key policy and run AWS's lockout safety check on it.

        Raises:
            MalformedPolicyDocumentException: not a policy, unknown principals, or (unless
                ``bypass``) a policy under which the caller could not call PutKeyPolicy again.
            LimitExceededException: over 32 KB.
        """
        doc = policy.parse(text)
        exists = getattr(self.directory, "principal_exists", None)
        if exists is not None:
            statements = doc.get("Statement")
            for st in statements if isinstance(statements, list) else [statements]:
                principal = st.get("Principal") if isinstance(st, dict) else None
                names = principal.get("AWS") if isinstance(principal, dict) else []
                for name in names if isinstance(names, list) else [names]:
                    if isinstance(name, str) and name != "*" and not exists(name):
                        raise MalformedPolicyDocumentException(
                            "Policy contains a statement with one or more invalid principals."
                        )
        if bypass:
            return
        resource = key.arn if key is not None else "*"
        decision = self.decide(call, "PutKeyPolicy", resource, text, key_account=call.account)
        if not decision:
            raise MalformedPolicyDocumentException(
                "The new key policy will not allow you to update the key policy in the future."
            )

    # == authorization =============================================================================

    def caller(self, principal: Principal) -> policy.Caller:
        identities = [principal.arn]
        role_arn = getattr(principal, "role_arn", None)
        if role_arn:
            identities.append(role_arn)
        return policy.Caller(
            principal.arn, principal.account, principal.kind == "Root", tuple(identities)
        )

    def _identity_policies(self, principal: Principal) -> list[tuple[str, str]]:
        provider = getattr(self.directory, "identity_policies", None)
        return list(provider(principal)) if provider is not None else []

    def condition_context(
        self, call: Call, key: Key | None, action: str, context: dict[str, str] | None = None
    ) -> dict[str, list[str]]:
        """The condition keys AWS KMS sets for this request."""
        principal = call.principal
        values: dict[str, list[str]] = {
            "kms:calleraccount": [principal.account],
            "aws:principalaccount": [principal.account],
            "aws:principalarn": [getattr(principal, "role_arn", None) or principal.arn],
            "aws:principaltype": [
                {"Root": "Account", "IAMUser": "User"}.get(principal.kind, principal.kind)
            ],
        }
        params = call.params
        if context is None:
            if action == "ReEncryptFrom":
                context = params.get("source_encryption_context")
            elif action == "ReEncryptTo":
                context = params.get("destination_encryption_context")
            else:
                context = params.get("encryption_context")
        if context:
            for k, v in context.items():
                values[f"kms:encryptioncontext:{k.lower()}"] = [v]
            values["kms:encryptioncontextkeys"] = list(context)
        for name, key_name in (
            ("encryption_algorithm", "kms:encryptionalgorithm"),
            ("signing_algorithm", "kms:signingalgorithm"),
            ("mac_algorithm", "kms:macalgorithm"),
            ("key_spec", "kms:datakeyspec"),
        ):
            if params.get(name):
                values[key_name] = [str(params[name])]
        if key is not None:
            values["kms:keyspec"] = [key.key_spec.value]
            values["kms:keyusage"] = [key.key_usage.value]
            values["kms:keyorigin"] = [key.origin.value]
            values["kms:multiregion"] = [str(key.multi_region).lower()]
        return values

    def decide(
        self,
        call: Call,
        action: str,
        resource: str,
        key_policy: str | None,
        *,
        key: Key | None = None,
        key_account: str | None = None,
        context: dict[str, str] | None = None,
    ) -> policy.Decision:
        if key is not None and key.account != call.account and action not in CROSS_ACCOUNT_ACTIONS:
            never = policy.Request(self.caller(call.principal), f"kms:{action}", resource)
            return policy.Decision(
                False,
                never,
                (
                    f"kms:{action} is never allowed on a key of another account, whatever the "
                    "policies say",
                ),
                f"User: {call.principal.arn} is not authorized to perform: kms:{action} on "
                f"resource: {resource} because no resource-based policy allows the "
                f"kms:{action} action",
            )
        request = policy.Request(
            caller=self.caller(call.principal),
            action=f"kms:{action}",
            resource=resource,
            context=policy.LazyContext(lambda: self.condition_context(call, key, action, context)),
        )
        grants = self._grants_allowing(call, key, action, context) if key is not None else []
        return policy.decide(
            request,
            key_policy,
            self._identity_policies(call.principal),
            key_account=key_account,
            grants=grants,
        )

    def _grants_allowing(
        self, call: Call, key: Key, action: str, context: dict[str, str] | None
    ) -> list[str]:
        """Descriptions of the grants on ``key`` that allow this call (the grants family
        overrides this)."""
        return []

    def authorize_account_operation(self, call: Call) -> None:
        """Operations on no particular key (CreateKey, ListKeys, ...): IAM alone decides."""
        decision = self.decide(call, call.operation, "*", None)
        if not decision:
            raise AccessDeniedException(decision.denial)

    @staticmethod
    def _dry_run(dry_run: bool | None) -> None:
        if dry_run:
            raise DryRunOperationException(DRY_RUN_OK)

    # == GetKeyLastUsage ===========================================================================

    def _used(self, call: Call, key: Key) -> None:
        """Note a successful cryptographic use of ``key``; call it last, once nothing can fail.
        :meth:`note_request` adds the request id when the call is recorded on the trail."""
        key.last_usage = {"operation": call.operation, "timestamp": call.now.isoformat()}

    def note_request(self, request_id: str, resources: Iterable[str], failed: bool) -> None:
        """The trail recorded a call: stamp its request id (= CloudTrail eventID) on the keys it
        used, and persist them. Called by the lab for every recorded call."""
        for arn in resources:
            key = self.keys.get(arn)
            usage = key.last_usage if key is not None else None
            if key is None or usage is None or "kms_request_id" in usage:
                continue
            if failed:  # defensive: _used comes last, so a failed call never reaches it
                continue
            usage["kms_request_id"] = usage["cloud_trail_event_id"] = request_id
            # A small document of its own: re-saving (and re-sealing) the whole key on every
            # Encrypt would make each use of a persisted key a large write.
            self.store.save_doc("last_usage", arn, usage)


def _default_policy(account: str) -> str:
    return policy.default_policy(account)
