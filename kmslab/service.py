"""KmsService: one method per KMS operation, named as botocore names it (``xform_name``).

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

from . import blob, crypto, policy
from .clock import Clock
from .context import encode_context
from .crypto import AeadError, RandomSource, aes_gcm_decrypt, aes_gcm_encrypt
from .errors import (
    AccessDeniedException,
    AlreadyExistsException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    InvalidMarkerException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    KMSInvalidStateException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    NotAuthorizedException,
    NotFoundException,
    TagException,
    UnsupportedOperationException,
    ValidationException,
)
from .iam import Principal
from .ids import KeyRef, RefKind, alias_arn, format_key_id, key_arn, parse_key_ref
from .keys import (
    HMAC_KEY_BYTES,
    MAC_ALGORITHMS,
    RSA_PLAINTEXT_LIMITS,
    SIGNING_ALGORITHMS,
    Alias,
    Key,
    Material,
    algorithms,
    check_state,
)
from .model import (
    DATA_KEY_BYTES,
    KeyManager,
    KeySpec,
    KeyState,
    KeyUsage,
    Origin,
    RotationType,
)
from .store import MemoryStore, SqliteStore

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


@dataclass(slots=True)
class Call:
    """Who calls, from which Region, at what lab time; the service notes the keys it touched."""

    principal: Principal
    region: str
    now: datetime
    resources: list[str] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.principal.account


ServiceEventSink = Callable[[str, Key, datetime], None]


class KmsService:
    """The simulated AWS KMS of one lab: every account and Region in it."""

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

    # == scheduled work ============================================================================

    def reschedule(self) -> None:
        due = [k.deletion_date for k in self.keys.values() if k.deletion_date is not None]
        due += [
            k.next_rotation
            for k in self.keys.values()
            if k.rotation_enabled and k.next_rotation is not None
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
            while (
                key.rotation_enabled
                and key.next_rotation is not None
                and key.next_rotation <= now
                and key.state is KeyState.ENABLED
            ):
                when = key.next_rotation
                key.rotate(self._new_material(when, RotationType.AUTOMATIC))
                key.schedule_rotation(when)
                self.store.save_key(key)
                self._service_event("RotateKey", key, when)
        self.reschedule()

    def _delete_key_now(self, key: Key) -> None:
        when = key.deletion_date or self.clock.now()
        del self.keys[key.key_id]
        for alias_key, alias in list(self.aliases.items()):
            if alias.target_key_id == key.key_id:
                del self.aliases[alias_key]
                self.store.delete_alias(alias)
        self.store.delete_key(key.key_id)
        self._service_event("DeleteKey", key, when)

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

    def _resolve(self, call: Call, text: str, *, allow_alias: bool = True) -> Key:
        """Find the key a caller named, with AWS's errors for each way it can be missing."""
        ref = parse_key_ref(text)
        if ref.is_alias and not allow_alias:
            raise NotFoundException(f"Invalid keyId {text}")
        if ref.region is not None and ref.region != call.region:
            raise NotFoundException(f"Invalid arn {ref.region}")
        account = ref.account or call.account
        if ref.is_alias:
            return self._resolve_alias(call, ref, account)
        key = self.keys.get(ref.value)
        if key is None or key.region != call.region or key.account != account:
            if ref.kind is RefKind.KEY_ARN:
                raise NotFoundException(f"Key '{text}' does not exist")
            raise self._not_found(call, ref.value)
        call.resources.append(key.arn)
        return key

    def _resolve_alias(self, call: Call, ref: KeyRef, account: str) -> Key:
        self._predefined_aliases(account, call.region)
        alias = self.aliases.get((account, call.region, ref.value))
        if alias is None:
            arn = alias_arn(call.region, account, ref.value)
            raise NotFoundException(f"Alias {arn} is not found.")
        if alias.target_key_id is None:
            key = self._create_aws_managed_key(alias, call.now)
        else:
            key = self.keys[alias.target_key_id]
        call.resources.append(key.arn)
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
    ) -> Key:
        material = self._new_material(now, None, key_spec)
        key_id = format_key_id(self.rng.bytes(16))
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
        )
        key.materials.append(material)
        self.keys[key_id] = key
        return key

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
        KmsService._require_usage(key, operation)
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
        header = blob.make_header(key.key_id, material.material_id)
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
        requested = self._resolve(call, key_id) if key_id is not None else None
        try:
            parsed = blob.unpack(ciphertext)
        except (blob.BlobFormatError, ValueError):
            raise InvalidCiphertextException("") from None
        key = self.keys.get(parsed.key_id)
        if key is None or key.region != call.region or key.account != call.account:
            if requested is not None:
                raise IncorrectKeyException(INCORRECT_KEY)
            raise AccessDeniedException(CIPHERTEXT_NAMES_UNKNOWN_KEY)
        if requested is not None and requested.key_id != key.key_id:
            raise IncorrectKeyException(INCORRECT_KEY)
        if requested is None:
            call.resources.append(key.arn)
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

    def _check_policy(
        self, call: Call, text: str, bypass: bool | None, principal_arns: Sequence[str]
    ) -> None:
        doc = policy.parse(text)
        if not bypass and not policy.allows(doc, principal_arns, "kms:PutKeyPolicy"):
            raise MalformedPolicyDocumentException(
                "The new key policy will not allow you to update the key policy in the future."
            )

    def _caller_principals(self, call: Call) -> list[str]:
        arns = [call.principal.arn, call.account, f"arn:aws:iam::{call.account}:root"]
        return arns

    @staticmethod
    def _dry_run(dry_run: bool | None) -> None:
        if dry_run:
            raise DryRunOperationException(DRY_RUN_OK)

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
        if (origin or "AWS_KMS") != Origin.AWS_KMS or custom_key_store_id or xks_key_id:
            raise UnsupportedOperationException(
                "kmslab does not create keys with imported material or in custom key stores yet."
            )
        if multi_region:
            raise UnsupportedOperationException("kmslab does not create multi-Region keys yet.")
        if policy is not None:
            self._check_policy(
                call, policy, bypass_policy_lockout_safety_check, self._caller_principals(call)
            )
        new_tags = self._check_tags(tags or [], {})
        key = self._new_key(
            account=call.account,
            region=call.region,
            now=call.now,
            description=description or "",
            policy=policy if policy is not None else _default_policy(call.account),
            key_spec=spec,
            key_usage=usage,
        )
        key.tags.update(new_tags)
        call.resources.append(key.arn)
        self.store.save_key(key)
        return {"key_metadata": key.metadata()}

    def describe_key(
        self, call: Call, key_id: str, grant_tokens: list[str] | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id)
        check_state("DescribeKey", key)
        return {"key_metadata": key.metadata()}

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
        key.state = KeyState.ENABLED
        # A key whose rotation fell due while it was disabled rotates as soon as it is enabled.
        if key.rotation_enabled and key.next_rotation is not None and key.next_rotation <= call.now:
            key.rotate(self._new_material(call.now, RotationType.AUTOMATIC))
            key.schedule_rotation(call.now)
            self.reschedule()
        self.store.save_key(key)
        return {}

    def disable_key(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._resolve(call, key_id, allow_alias=False)
        self._customer_managed(call, key, "DisableKey")
        check_state("DisableKey", key)
        key.state = KeyState.DISABLED
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
        key.state = KeyState.PENDING_DELETION
        key.deletion_date = call.now + timedelta(days=days)
        key.pending_window_days = days
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
        key.state = KeyState.DISABLED
        key.deletion_date = None
        key.pending_window_days = None
        self.store.save_key(key)
        self.reschedule()
        return {"key_id": key.arn}

    # == rotation ==================================================================================

    def _rotation_key(self, call: Call, key_id: str, operation: str) -> Key:
        key = self._resolve(call, key_id, allow_alias=False)
        check_state(operation, key)
        if key.origin is not Origin.AWS_KMS:
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
        period = rotation_period_in_days or DEFAULT_ROTATION_DAYS
        if not key.rotation_enabled or key.rotation_period_days != period:
            key.rotation_enabled = True
            key.rotation_period_days = period
            key.schedule_rotation(call.now)
        self.store.save_key(key)
        self.reschedule()
        return {}

    def disable_key_rotation(self, call: Call, key_id: str) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "DisableKeyRotation")
        self._customer_managed(call, key, "DisableKeyRotation")
        key.rotation_enabled = False
        key.rotation_period_days = None
        key.next_rotation = None
        self.store.save_key(key)
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
        if key.origin is not Origin.AWS_KMS:
            raise KMSInvalidStateException(
                f"No available key material pending rotation for the key: {key.arn}."
            )
        if key.on_demand_rotations >= ON_DEMAND_ROTATION_LIMIT:
            raise LimitExceededException(
                "The on-demand rotations limit has been reached for the given keyId. "
                f"No more on-demand rotations can be performed for this key: {key.arn}"
            )
        key.on_demand_rotations += 1
        key.rotate(self._new_material(call.now, RotationType.ON_DEMAND))
        self.store.save_key(key)
        return {"key_id": key.key_id}

    def list_key_rotations(
        self,
        call: Call,
        key_id: str,
        include_key_material: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> dict[str, Any]:
        key = self._rotation_key(call, key_id, "ListKeyRotations")
        everything = include_key_material == "ALL_KEY_MATERIAL"
        rows = []
        for m in key.materials:
            if m.rotation_type is None and not everything:
                continue
            row: dict[str, Any] = {
                "key_id": key.key_id,
                "key_material_id": m.material_id,
                "key_material_state": "CURRENT" if m is key.current else "NON_CURRENT",
            }
            if m.rotation_type is not None:
                row["rotation_date"] = m.created
                row["rotation_type"] = m.rotation_type.value
            rows.append(row)
        page, more = self._page(rows, limit, marker, 100)
        return {"rotations": page, **more}

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
        old = self.keys.get(alias.target_key_id or "")
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
        self._check_policy(
            call, policy, bypass_policy_lockout_safety_check, self._caller_principals(call)
        )
        key.policy = policy
        self.store.save_key(key)
        return {}

    def list_key_policies(
        self, call: Call, key_id: str, limit: int | None = None, marker: str | None = None
    ) -> dict[str, Any]:
        self._resolve(call, key_id, allow_alias=False)
        page, more = self._page(["default"], limit, marker, 100)
        return {"policy_names": page, **more}

    # == cryptography ==============================================================================

    def encrypt(
        self,
        call: Call,
        key_id: str,
        plaintext: bytes,
        encryption_context: dict[str, str] | None = None,
        grant_tokens: list[str] | None = None,
        encryption_algorithm: str | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id)
        check_state("Encrypt", key)
        self._require_usage(key, "Encrypt")
        if not key.is_symmetric_encryption:
            algorithm = self._rsa_algorithm(key, encryption_algorithm, encryption_context)
            limit = RSA_PLAINTEXT_LIMITS[(key.key_spec, algorithm)]
            if len(plaintext) > limit:
                raise ValidationException(
                    f"Algorithm {algorithm} and key spec {key.key_spec.value} cannot encrypt "
                    f"data larger than {limit} bytes."
                )
            self._dry_run(dry_run)
            return {
                "ciphertext_blob": crypto.rsa_encrypt(key.current.secret, algorithm, plaintext),
                "key_id": key.arn,
                "encryption_algorithm": algorithm,
            }
        self._symmetric_algorithm(key, encryption_algorithm)
        self._dry_run(dry_run)
        return {
            "ciphertext_blob": self._seal(key, plaintext, encryption_context),
            "key_id": key.arn,
            "encryption_algorithm": "SYMMETRIC_DEFAULT",
        }

    def decrypt(
        self,
        call: Call,
        ciphertext_blob: bytes,
        encryption_context: dict[str, str] | None = None,
        grant_tokens: list[str] | None = None,
        key_id: str | None = None,
        encryption_algorithm: str | None = None,
        recipient: dict[str, Any] | None = None,
        dry_run: bool | None = None,
        dry_run_modifiers: list[str] | None = None,
    ) -> dict[str, Any]:
        self._no_recipient(recipient)
        if key_id is not None:
            named = self._resolve(call, key_id)
            if not named.is_symmetric_encryption:
                return self._rsa_decrypt(
                    call, named, ciphertext_blob, encryption_algorithm, encryption_context, dry_run
                )
        key, material, plaintext = self._open(
            call, "Decrypt", ciphertext_blob, encryption_context, key_id, encryption_algorithm
        )
        self._dry_run(dry_run)
        return {
            "key_id": key.arn,
            "plaintext": plaintext,
            "encryption_algorithm": "SYMMETRIC_DEFAULT",
            "key_material_id": material.material_id,
        }

    def re_encrypt(
        self,
        call: Call,
        destination_key_id: str,
        ciphertext_blob: bytes,
        source_encryption_context: dict[str, str] | None = None,
        source_key_id: str | None = None,
        destination_encryption_context: dict[str, str] | None = None,
        source_encryption_algorithm: str | None = None,
        destination_encryption_algorithm: str | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
        dry_run_modifiers: list[str] | None = None,
    ) -> dict[str, Any]:
        source, material, plaintext = self._open(
            call,
            "ReEncrypt",
            ciphertext_blob,
            source_encryption_context,
            source_key_id,
            source_encryption_algorithm,
        )
        dest = self._resolve(call, destination_key_id)
        check_state("ReEncrypt", dest)
        self._require_usage(dest, "ReEncrypt")
        self._symmetric_algorithm(dest, destination_encryption_algorithm)
        self._dry_run(dry_run)
        return {
            "ciphertext_blob": self._seal(dest, plaintext, destination_encryption_context),
            "source_key_id": source.arn,
            "key_id": dest.arn,
            "source_encryption_algorithm": "SYMMETRIC_DEFAULT",
            "destination_encryption_algorithm": "SYMMETRIC_DEFAULT",
            "source_key_material_id": material.material_id,
            "destination_key_material_id": dest.current.material_id,
        }

    def _data_key_length(self, key_spec: str | None, number_of_bytes: int | None) -> int:
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationException("Please specify either number of bytes or key spec.")
        return DATA_KEY_BYTES[key_spec] if key_spec is not None else int(number_of_bytes or 0)

    def generate_data_key(
        self,
        call: Call,
        key_id: str,
        encryption_context: dict[str, str] | None = None,
        number_of_bytes: int | None = None,
        key_spec: str | None = None,
        grant_tokens: list[str] | None = None,
        recipient: dict[str, Any] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        self._no_recipient(recipient)
        length = self._data_key_length(key_spec, number_of_bytes)
        key = self._resolve(call, key_id)
        check_state("GenerateDataKey", key)
        self._require_symmetric(key, "GenerateDataKey")
        self._dry_run(dry_run)
        data_key = self.rng.bytes(length)
        return {
            "ciphertext_blob": self._seal(key, data_key, encryption_context),
            "plaintext": data_key,
            "key_id": key.arn,
            "key_material_id": key.current.material_id,
        }

    def generate_data_key_without_plaintext(
        self,
        call: Call,
        key_id: str,
        encryption_context: dict[str, str] | None = None,
        key_spec: str | None = None,
        number_of_bytes: int | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        length = self._data_key_length(key_spec, number_of_bytes)
        key = self._resolve(call, key_id)
        check_state("GenerateDataKeyWithoutPlaintext", key)
        self._require_symmetric(key, "GenerateDataKeyWithoutPlaintext")
        self._dry_run(dry_run)
        return {
            "ciphertext_blob": self._seal(key, self.rng.bytes(length), encryption_context),
            "key_id": key.arn,
            "key_material_id": key.current.material_id,
        }

    # == asymmetric and HMAC keys ================================================================

    @staticmethod
    def _rsa_algorithm(
        key: Key, algorithm: str | None, encryption_context: dict[str, str] | None
    ) -> str:
        if encryption_context:
            raise ValidationException(
                "EncryptionContext is not supported for asymmetric keys and algorithms."
            )
        valid = algorithms(key.key_spec, key.key_usage)["encryption_algorithms"]
        if algorithm is None or algorithm not in valid:
            raise InvalidKeyUsageException(
                f"Algorithm {algorithm or 'SYMMETRIC_DEFAULT'} is incompatible with key spec "
                f"{key.key_spec.value}."
            )
        return algorithm

    def _rsa_decrypt(
        self,
        call: Call,
        key: Key,
        ciphertext: bytes,
        algorithm: str | None,
        encryption_context: dict[str, str] | None,
        dry_run: bool | None,
    ) -> dict[str, Any]:
        check_state("Decrypt", key)
        self._require_usage(key, "Decrypt")
        algorithm = self._rsa_algorithm(key, algorithm, encryption_context)
        try:
            plaintext = crypto.rsa_decrypt(key.current.secret, algorithm, ciphertext)
        except AeadError:
            raise InvalidCiphertextException("") from None
        self._dry_run(dry_run)
        return {"key_id": key.arn, "plaintext": plaintext, "encryption_algorithm": algorithm}

    def get_public_key(
        self, call: Call, key_id: str, grant_tokens: list[str] | None = None
    ) -> dict[str, Any]:
        key = self._resolve(call, key_id)
        check_state("GetPublicKey", key)
        if key.is_symmetric_encryption or key.key_usage is KeyUsage.GENERATE_VERIFY_MAC:
            raise UnsupportedOperationException(
                f"{key.arn} key spec is {key.key_spec.value} which is not valid for GetPublicKey."
            )
        return {
            "key_id": key.arn,
            "public_key": crypto.public_key_der(key.current.secret),
            "customer_master_key_spec": key.key_spec.value,
            "key_spec": key.key_spec.value,
            "key_usage": key.key_usage.value,
            **algorithms(key.key_spec, key.key_usage),
        }

    def _signing_key(
        self,
        call: Call,
        key_id: str,
        operation: str,
        algorithm: str,
        message: bytes,
        kind: str | None,
    ) -> tuple[Key, bool]:
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_usage(key, operation, KeyUsage.SIGN_VERIFY)
        if algorithm not in SIGNING_ALGORITHMS.get(key.key_spec, []):
            raise InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {key.key_spec.value}."
            )
        digest = kind == "DIGEST"
        if kind == "EXTERNAL_MU":
            raise UnsupportedOperationException(
                "kmslab does not support MessageType EXTERNAL_MU yet."
            )
        if digest and algorithm != "ML_DSA_SHAKE_256" and algorithm != "ED25519_SHA_512":
            if len(message) != crypto.digest_size(algorithm):
                raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        elif digest:
            raise ValidationException(
                f"MessageType DIGEST is not supported for algorithm {algorithm}."
            )
        return key, digest

    def sign(
        self,
        call: Call,
        key_id: str,
        message: bytes,
        signing_algorithm: str,
        message_type: str | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        key, digest = self._signing_key(
            call, key_id, "Sign", signing_algorithm, message, message_type
        )
        self._dry_run(dry_run)
        try:
            signature = crypto.sign(
                key.current.secret, key.key_spec.value, signing_algorithm, message, digest
            )
        except crypto.UnsupportedPrimitive:
            raise UnsupportedOperationException(
                f"kmslab cannot sign with {signing_algorithm}: the installed cryptography "
                "library has no such primitive."
            ) from None
        return {"key_id": key.arn, "signature": signature, "signing_algorithm": signing_algorithm}

    def verify(
        self,
        call: Call,
        key_id: str,
        message: bytes,
        signature: bytes,
        signing_algorithm: str,
        message_type: str | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        key, digest = self._signing_key(
            call, key_id, "Verify", signing_algorithm, message, message_type
        )
        self._dry_run(dry_run)
        try:
            crypto.verify(
                key.current.secret,
                key.key_spec.value,
                signing_algorithm,
                message,
                digest,
                signature,
            )
        except crypto.SignatureError:
            raise KMSInvalidSignatureException("") from None
        except crypto.UnsupportedPrimitive:
            raise UnsupportedOperationException(
                f"kmslab cannot verify {signing_algorithm}: the installed cryptography "
                "library has no such primitive."
            ) from None
        return {"key_id": key.arn, "signature_valid": True, "signing_algorithm": signing_algorithm}

    def _mac_key(self, call: Call, key_id: str, operation: str, mac_algorithm: str) -> Key:
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_usage(key, operation, KeyUsage.GENERATE_VERIFY_MAC)
        if mac_algorithm not in MAC_ALGORITHMS[key.key_spec]:
            raise InvalidKeyUsageException(
                f"Algorithm {mac_algorithm} is incompatible with key spec {key.key_spec.value}."
            )
        return key

    def generate_mac(
        self,
        call: Call,
        message: bytes,
        key_id: str,
        mac_algorithm: str,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        key = self._mac_key(call, key_id, "GenerateMac", mac_algorithm)
        self._dry_run(dry_run)
        mac = crypto.hmac_digest(key.current.secret, mac_algorithm, message)
        return {"mac": mac, "mac_algorithm": mac_algorithm, "key_id": key.arn}

    def verify_mac(
        self,
        call: Call,
        message: bytes,
        key_id: str,
        mac_algorithm: str,
        mac: bytes,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        key = self._mac_key(call, key_id, "VerifyMac", mac_algorithm)
        self._dry_run(dry_run)
        try:
            crypto.hmac_verify(key.current.secret, mac_algorithm, message, mac)
        except crypto.SignatureError:
            raise KMSInvalidMacException("") from None
        return {"key_id": key.arn, "mac_valid": True, "mac_algorithm": mac_algorithm}

    def _data_key_pair(
        self,
        call: Call,
        operation: str,
        key_id: str,
        key_pair_spec: str,
        encryption_context: dict[str, str] | None,
        dry_run: bool | None,
    ) -> tuple[Key, bytes, dict[str, Any]]:
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_symmetric(key, operation)
        self._dry_run(dry_run)
        try:
            private = crypto.generate_private_key(key_pair_spec)
        except crypto.UnsupportedPrimitive:
            raise UnsupportedOperationException(
                f"kmslab cannot generate {key_pair_spec} key pairs: the installed cryptography "
                "library has no such primitive."
            ) from None
        out = {
            "private_key_ciphertext_blob": self._seal(key, private, encryption_context),
            "public_key": crypto.public_key_der(private),
            "key_id": key.arn,
            "key_pair_spec": key_pair_spec,
            "key_material_id": key.current.material_id,
        }
        return key, private, out

    def generate_data_key_pair(
        self,
        call: Call,
        key_id: str,
        key_pair_spec: str,
        encryption_context: dict[str, str] | None = None,
        grant_tokens: list[str] | None = None,
        recipient: dict[str, Any] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        self._no_recipient(recipient)
        _key, private, out = self._data_key_pair(
            call, "GenerateDataKeyPair", key_id, key_pair_spec, encryption_context, dry_run
        )
        out["private_key_plaintext"] = private
        return out

    def generate_data_key_pair_without_plaintext(
        self,
        call: Call,
        key_id: str,
        key_pair_spec: str,
        encryption_context: dict[str, str] | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        _key, _private, out = self._data_key_pair(
            call,
            "GenerateDataKeyPairWithoutPlaintext",
            key_id,
            key_pair_spec,
            encryption_context,
            dry_run,
        )
        return out

    def generate_random(
        self,
        call: Call,
        number_of_bytes: int | None = None,
        custom_key_store_id: str | None = None,
        recipient: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._no_recipient(recipient)
        if custom_key_store_id is not None:
            raise UnsupportedOperationException("kmslab does not simulate custom key stores yet.")
        if number_of_bytes is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy "
                "constraint: Member must not be null"
            )
        return {"plaintext": self.rng.bytes(number_of_bytes)}


def _default_policy(account: str) -> str:
    return policy.default_policy(account)
