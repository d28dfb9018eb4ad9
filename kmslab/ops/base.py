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
from datetime import datetime
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


@dataclass(slots=True)
class Call:
    """Who calls, from which Region, at what lab time; the service notes the keys it touched."""

    principal: Principal
    region: str
    now: datetime
    operation: str = ""
    resources: list[str] = field(default_factory=list)

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
        del self.keys[key.arn]
        for alias_key, alias in list(self.aliases.items()):
            if alias.target_key_id == key.key_id and alias_key[:2] == (key.account, key.region):
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
        key = self.key_at(account, call.region, ref.value)
        if key is None:
            if ref.kind is RefKind.KEY_ARN:
                raise NotFoundException(f"Key '{text}' does not exist")
            raise self._not_found(call, ref.value)
        call.resources.append(key.arn)
        self._authorize(call, key)
        return key

    def key_at(self, account: str, region: str, key_id: str) -> Key | None:
        """The key with this id in this account and Region, if it exists."""
        return self.keys.get(key_arn(region, account, key_id))

    def _authorize(self, call: Call, key: Key) -> None:
        """May the caller use ``key`` for ``call.operation``? Until key policies are enforced,
        a key is usable by its own account only; a ciphertext or ARN of another account's
        key is refused as AWS refuses it when no policy allows it."""
        if key.account != call.account:
            raise AccessDeniedException(
                f"User: {call.principal.arn} is not authorized to perform: "
                f"kms:{call.operation} on resource: {key.arn} because no resource-based policy "
                f"allows the kms:{call.operation} action"
            )

    def _resolve_alias(self, call: Call, ref: KeyRef, account: str) -> Key:
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
        self._authorize(call, key)
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
        self.keys[key.arn] = key
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
        requested = self._resolve(call, key_id) if key_id is not None else None
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
                self._authorize(call, key)
            except AccessDeniedException:
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


def _default_policy(account: str) -> str:
    return policy.default_policy(account)
