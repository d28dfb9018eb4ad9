"""The KMS key aggregate and the one table of which operation is allowed in which key state.

A :class:`Key` owns an append-only list of key-material versions: rotation appends, nothing
is ever removed while the key exists, so every ciphertext a key ever produced stays
decryptable (AWS KMS Developer Guide, "Rotating AWS KMS keys"). The newest version encrypts.

``STATE_RULES`` is the AWS key-state table (Developer Guide, "Key states of AWS KMS keys")
as data: for each operation, what each key state yields. The service asks
:func:`check_state` before every operation; the tests check the table against a transcription
of the AWS page, cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .errors import (
    DisabledException,
    KmsError,
    KMSInvalidStateException,
    UnsupportedOperationException,
)
from .model import KeyManager, KeySpec, KeyState, KeyUsage, Origin, RotationType


@dataclass(slots=True)
class Material:
    """One version of a key's material. The secret never appears in a repr."""

    material_id: str
    secret: bytes = field(repr=False)
    created: datetime
    rotation_type: RotationType | None = None  # None: the key's first material
    # Imported material (Origin EXTERNAL) only:
    imported: bool = False  # ImportState IMPORTED; False once deleted or expired (secret b"")
    expiration_model: str | None = None  # KEY_MATERIAL_EXPIRES | KEY_MATERIAL_DOES_NOT_EXPIRE
    valid_to: datetime | None = None
    description: str | None = None
    pending_rotation: bool = False  # imported as NEW_KEY_MATERIAL, not yet rotated in

    def import_fields(self) -> dict[str, Any]:
        """ListKeyRotations members that describe imported material (EXTERNAL keys only)."""
        out: dict[str, Any] = {"import_state": "IMPORTED" if self.imported else "PENDING_IMPORT"}
        if self.expiration_model is not None:
            out["expiration_model"] = self.expiration_model
        if self.valid_to is not None:
            out["valid_to"] = self.valid_to
        if self.description is not None:
            out["key_material_description"] = self.description
        return out


@dataclass(slots=True)
class Key:
    key_id: str
    account: str
    region: str
    arn: str
    created: datetime
    description: str = ""
    key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
    key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    origin: Origin = Origin.AWS_KMS
    key_manager: KeyManager = KeyManager.CUSTOMER
    state: KeyState = KeyState.ENABLED
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    materials: list[Material] = field(default_factory=list, repr=False)
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation: datetime | None = None
    on_demand_rotations: int = 0
    policy: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    custom_key_store_id: str | None = None
    xks_key_id: str | None = None  # a key in an external key store: the external key's id
    available_state: KeyState | None = None  # Unavailable: the state restored on reconnect
    multi_region: bool = False
    primary_region: str | None = None  # multi-Region keys: the Region of the primary key
    last_usage: dict[str, Any] | None = None  # GetKeyLastUsage: the last cryptographic use

    @property
    def current(self) -> Material:
        """The newest material, not counting imported material still pending rotation."""
        return next(m for m in reversed(self.materials) if not m.pending_rotation)

    @property
    def pending_rotation(self) -> Material | None:
        """Imported material (ImportType NEW_KEY_MATERIAL) that RotateKeyOnDemand makes current."""
        return next((m for m in self.materials if m.pending_rotation), None)

    @property
    def awaiting_import(self) -> bool:
        """An EXTERNAL key with no material yet, or whose associated material was deleted or
        expired: it is (or, once out of PendingDeletion, will be) PendingImport."""
        associated = [m for m in self.materials if not m.pending_rotation]
        return self.origin is Origin.EXTERNAL and not (
            associated and all(m.imported for m in associated)
        )

    def material(self, material_id: str) -> Material | None:
        for m in reversed(self.materials):
            if m.material_id == material_id:
                return m
        return None

    @property
    def is_symmetric_encryption(self) -> bool:
        return self.key_spec is KeySpec.SYMMETRIC_DEFAULT

    @property
    def enabled(self) -> bool:
        return self.state is KeyState.ENABLED

    @property
    def is_replica(self) -> bool:
        """A multi-Region key that is not the primary of its set."""
        return self.multi_region and self.primary_region not in (None, self.region)

    def rotate(self, material: Material) -> None:
        """Append new material; it becomes current. Old material is kept for decryption."""
        self.materials.append(material)

    def schedule_rotation(self, now: datetime) -> None:
        period = self.rotation_period_days or 365
        self.next_rotation = now + timedelta(days=period)

    def metadata(self) -> dict[str, Any]:
        """KeyMetadata, botocore snake_case member names (the protocol makes them PascalCase)."""
        md: dict[str, Any] = {
            "aws_account_id": self.account,
            "key_id": self.key_id,
            "arn": self.arn,
            "creation_date": self.created,
            "enabled": self.state is KeyState.ENABLED,
            "description": self.description,
            "key_usage": self.key_usage.value,
            "key_state": self.state.value,
            "origin": self.origin.value,
            "key_manager": self.key_manager.value,
            "customer_master_key_spec": self.key_spec.value,
            "key_spec": self.key_spec.value,
            "multi_region": self.multi_region,
        }
        if self.deletion_date is not None:
            md["deletion_date"] = self.deletion_date
            md["pending_deletion_window_in_days"] = self.pending_window_days
        md.update(algorithms(self.key_spec, self.key_usage))
        if self.is_symmetric_encryption and self.materials:
            md["current_key_material_id"] = self.current.material_id
        if self.origin is Origin.EXTERNAL:
            live = [m for m in self.materials if m.imported and not m.pending_rotation]
            ends = [m.valid_to for m in live if m.valid_to is not None]
            if live:
                md["expiration_model"] = (
                    "KEY_MATERIAL_EXPIRES" if ends else "KEY_MATERIAL_DOES_NOT_EXPIRE"
                )
            if ends:
                md["valid_to"] = min(ends)  # the earliest expiry of associated material
        return md


_RSA_SIGNING = [
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
]
SIGNING_ALGORITHMS: dict[KeySpec, list[str]] = {
    KeySpec.RSA_2048: _RSA_SIGNING,
    KeySpec.RSA_3072: _RSA_SIGNING,
    KeySpec.RSA_4096: _RSA_SIGNING,
    KeySpec.ECC_NIST_P256: ["ECDSA_SHA_256"],
    KeySpec.ECC_NIST_P384: ["ECDSA_SHA_384"],
    KeySpec.ECC_NIST_P521: ["ECDSA_SHA_512"],
    KeySpec.ECC_SECG_P256K1: ["ECDSA_SHA_256"],
    KeySpec.ECC_NIST_EDWARDS25519: ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
    KeySpec.ML_DSA_44: ["ML_DSA_SHAKE_256"],
    KeySpec.ML_DSA_65: ["ML_DSA_SHAKE_256"],
    KeySpec.ML_DSA_87: ["ML_DSA_SHAKE_256"],
}
MAC_ALGORITHMS: dict[KeySpec, list[str]] = {
    KeySpec.HMAC_224: ["HMAC_SHA_224"],
    KeySpec.HMAC_256: ["HMAC_SHA_256"],
    KeySpec.HMAC_384: ["HMAC_SHA_384"],
    KeySpec.HMAC_512: ["HMAC_SHA_512"],
}
#: HMAC key bytes per spec (the key size equals the hash's output size).
HMAC_KEY_BYTES = {
    KeySpec.HMAC_224: 28,
    KeySpec.HMAC_256: 32,
    KeySpec.HMAC_384: 48,
    KeySpec.HMAC_512: 64,
}
#: Largest plaintext RSAES-OAEP can take, per key spec and algorithm (Encrypt API reference).
RSA_PLAINTEXT_LIMITS = {
    (KeySpec.RSA_2048, "RSAES_OAEP_SHA_1"): 214,
    (KeySpec.RSA_2048, "RSAES_OAEP_SHA_256"): 190,
    (KeySpec.RSA_3072, "RSAES_OAEP_SHA_1"): 342,
    (KeySpec.RSA_3072, "RSAES_OAEP_SHA_256"): 318,
    (KeySpec.RSA_4096, "RSAES_OAEP_SHA_1"): 470,
    (KeySpec.RSA_4096, "RSAES_OAEP_SHA_256"): 446,
}


def algorithms(spec: KeySpec, usage: KeyUsage) -> dict[str, list[str]]:
    """The algorithm lists DescribeKey and GetPublicKey show for a key spec and usage."""
    if usage is KeyUsage.ENCRYPT_DECRYPT:
        if spec is KeySpec.SYMMETRIC_DEFAULT:
            return {"encryption_algorithms": ["SYMMETRIC_DEFAULT"]}
        if spec is KeySpec.SM2:
            return {"encryption_algorithms": ["SM2PKE"]}
        return {"encryption_algorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]}
    if usage is KeyUsage.SIGN_VERIFY:
        return {"signing_algorithms": list(SIGNING_ALGORITHMS.get(spec, ["SM2DSA"]))}
    if usage is KeyUsage.GENERATE_VERIFY_MAC:
        return {"mac_algorithms": list(MAC_ALGORITHMS[spec])}
    if usage is KeyUsage.KEY_AGREEMENT:
        return {"key_agreement_algorithms": ["ECDH"]}
    return {"encapsulation_algorithms": ["ML_KEM"]}


# -- the key-state table ----------------------------------------------------------------------

# What a key state yields for an operation: None (allowed) or (error class, message template).
Outcome = tuple[type[KmsError], str] | None

OK: Outcome = None
DISABLED: Outcome = (DisabledException, "{arn} is disabled.")
PENDING_DELETION: Outcome = (KMSInvalidStateException, "{arn} is pending deletion.")
NOT_PENDING_DELETION: Outcome = (KMSInvalidStateException, "{arn} is not pending deletion.")
PENDING_IMPORT: Outcome = (KMSInvalidStateException, "{arn} is pending import.")
UNAVAILABLE: Outcome = (KMSInvalidStateException, "{arn} is unavailable.")
CREATING: Outcome = (KMSInvalidStateException, "{arn} is creating.")
UPDATING: Outcome = (KMSInvalidStateException, "{arn} is updating.")
ORIGIN_UNSUPPORTED: Outcome = (
    UnsupportedOperationException,
    "{arn} origin is {origin} which is not valid for this operation.",
)

# Column order of every row below.
_COLUMNS = (
    KeyState.ENABLED,
    KeyState.DISABLED,
    KeyState.PENDING_DELETION,
    KeyState.PENDING_IMPORT,
    KeyState.UNAVAILABLE,
    KeyState.CREATING,
    KeyState.UPDATING,
)

_CRYPTO = (OK, DISABLED, PENDING_DELETION, PENDING_IMPORT, UNAVAILABLE, CREATING, OK)
_ANY = (OK, OK, OK, OK, OK, OK, OK)
_NOT_WHILE_PENDING_DELETION = (OK, OK, PENDING_DELETION, OK, OK, OK, OK)

_ROWS: dict[tuple[str, ...], tuple[Outcome, ...]] = {
    (
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "GetPublicKey",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        # Not in the 2023 table; its model error list has the same pair as the crypto rows.
        "RotateKeyOnDemand",
    ): _CRYPTO,
    ("CreateGrant",): (OK, DISABLED, PENDING_DELETION, PENDING_IMPORT, OK, CREATING, OK),
    (
        "DeleteAlias",
        "DescribeKey",
        "GetKeyPolicy",
        "PutKeyPolicy",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListResourceTags",
        "RetireGrant",
        "RevokeGrant",
        "ListKeyRotations",
        "GetKeyLastUsage",
    ): _ANY,
    ("CancelKeyDeletion",): (
        NOT_PENDING_DELETION,
        NOT_PENDING_DELETION,
        OK,
        NOT_PENDING_DELETION,
        NOT_PENDING_DELETION,
        NOT_PENDING_DELETION,
        NOT_PENDING_DELETION,
    ),
    ("CreateAlias",): _NOT_WHILE_PENDING_DELETION,
    ("DisableKey", "EnableKey"): (
        OK,
        OK,
        PENDING_DELETION,
        PENDING_IMPORT,
        OK,
        CREATING,
        UPDATING,
    ),
    ("EnableKeyRotation", "DisableKeyRotation"): (
        OK,
        DISABLED,
        PENDING_DELETION,
        ORIGIN_UNSUPPORTED,
        ORIGIN_UNSUPPORTED,
        CREATING,
        OK,
    ),
    ("GetKeyRotationStatus",): (OK, OK, OK, ORIGIN_UNSUPPORTED, ORIGIN_UNSUPPORTED, OK, OK),
    ("ScheduleKeyDeletion",): (OK, OK, PENDING_DELETION, OK, OK, OK, UPDATING),
    ("TagResource", "UntagResource", "UpdateKeyDescription"): _NOT_WHILE_PENDING_DELETION,
    # UpdateAlias: the *destination* key; the source key may be in any state.
    ("UpdateAlias",): _NOT_WHILE_PENDING_DELETION,
    ("GetParametersForImport",): (
        OK,
        OK,
        PENDING_DELETION,
        OK,
        ORIGIN_UNSUPPORTED,
        CREATING,
        UPDATING,
    ),
    ("ImportKeyMaterial",): (OK, OK, PENDING_DELETION, OK, ORIGIN_UNSUPPORTED, CREATING, OK),
    ("DeleteImportedKeyMaterial",): (OK, OK, OK, OK, ORIGIN_UNSUPPORTED, CREATING, UPDATING),
}


def _expand() -> dict[str, dict[KeyState, Outcome]]:
    table: dict[str, dict[KeyState, Outcome]] = {}
    for ops, row in _ROWS.items():
        cells = dict(zip(_COLUMNS, row, strict=True))
        cells[KeyState.PENDING_REPLICA_DELETION] = cells[KeyState.PENDING_DELETION]
        for op in ops:
            table[op] = cells
    return table


#: operation name -> key state -> outcome
STATE_RULES: dict[str, dict[KeyState, Outcome]] = _expand()


def check_state(operation: str, key: Key) -> None:
    """Raise the AWS error for ``operation`` on ``key`` in its current state, if any."""
    outcome = STATE_RULES[operation][key.state]
    if outcome is not None:
        cls, template = outcome
        message = template.format(arn=key.arn, origin=key.origin.value)
        if key.state is KeyState.PENDING_REPLICA_DELETION:
            message = message.replace("pending deletion", "pending replica deletion")
        raise cls(message)


@dataclass(slots=True)
class Alias:
    """An alias in one account and Region. ``target_key_id`` is None for a predefined
    ``alias/aws/<service>`` alias whose AWS managed key the service has not created yet."""

    name: str
    account: str
    region: str
    arn: str
    target_key_id: str | None
    created: datetime | None
    updated: datetime | None
