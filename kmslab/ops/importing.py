"""Imported key material ("bring your own key", Origin EXTERNAL).

GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, and the expiry of imported
material on the lab clock (AWS KMS Developer Guide, "Importing key material"; kms-rules.md R11).

A key created with ``Origin=EXTERNAL`` has no material and waits in ``PendingImport``. Every
permanently associated material of a key is a :class:`~kmslab.keys.Material` with
``imported=True`` while KMS holds it; deleting it (DeleteImportedKeyMaterial) or its ``ValidTo``
passing wipes the secret, sets ``imported=False`` and returns the key to ``PendingImport``
(unless it is pending deletion). Only the *same* material can be imported again; the key is
``Enabled`` again once every associated material is back. Symmetric keys can also take new
material (``ImportType=NEW_KEY_MATERIAL``), kept ``pending_rotation`` until RotateKeyOnDemand
makes it current.

Key material ID of imported material. AWS: "KMS assigns a unique identifier to the key material
based on the KMS key ID and the imported key material", and on re-import "computes the
identifier for the key material" and compares it (ImportKeyMaterial, ``KeyMaterialId``). kmslab
computes it as the 64 hex digits of::

    SHA-256( b"kmslab imported key material" || 0x00 || key id (UTF-8) || 0x00 || material )

where ``material`` is the raw bytes (symmetric, HMAC) or the canonical PKCS#8 DER of a private
key. The same material in the same key always gets the same id, so a re-import after deletion
or expiry is recognised without keeping the deleted secret, and a ciphertext (whose blob names
its material id) decrypts again once its material is back. AWS's own derivation is not public;
only the property is reproduced.

Import token (kmslab's own format; AWS's token is opaque). It binds the wrapping private key,
the wrapping algorithm, the key and the expiry together, sealed under the lab's import-token
secret, so nothing but that secret needs to be stored and a token survives a restart of a
persisted lab::

    offset  size  field
    0       4     magic b"KIT1"
    4       12    nonce
    16      n+16  AES-256-GCM(import-token secret, nonce, payload, AAD = magic), tag appended

    payload = UTF-8 JSON {"key": key ARN, "algorithm": WrappingAlgorithm,
                          "spec": WrappingKeySpec, "valid_to": ParametersValidTo (ISO 8601),
                          "wrapping_key": base64 of the wrapping private key (PKCS#8 DER)}

The import-token secret is 32 random bytes made on first use and persisted as the document
``import-token-secret/lab`` (restored by :meth:`ImportOperations.restore_import_state`). Unlike
key material it is stored unencrypted in the state file: the store seals only key material, and
this secret protects nothing but wrapping keys that live 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import crypto
from ..crypto import AeadError, aes_gcm_decrypt, aes_gcm_encrypt
from ..errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    KMSInvalidStateException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from ..keys import HMAC_KEY_BYTES, Key, Material, check_state
from ..model import ExpirationModel, KeyState, Origin
from .base import Call, ServiceBase

#: "Each public key and import token set is valid for 24 hours." (GetParametersForImport)
PARAMETERS_LIFETIME = timedelta(hours=24)
#: "The maximum value [of ValidTo] is 365 days from the request date." (ImportKeyMaterial)
MAX_VALID_TO = timedelta(days=365)
SYMMETRIC_MATERIAL_BYTES = 32
TOKEN_MAGIC = b"KIT1"
TOKEN_SECRET_DOC = "import-token-secret"
NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"

# Messages AWS documents no wording for (see the module's tests for what is AWS-recorded).
INVALID_TOKEN = "The import token is invalid or is associated with a different KMS key."
EXPIRED_TOKEN = (
    "The import token is expired. Use GetParametersForImport to get a new import token and "
    "public key."
)
NOT_PREVIOUS_MATERIAL = (
    "The key material is not the key material that was previously imported into this KMS key."
)
ALREADY_ASSOCIATED = "The key material being imported is already associated with this KMS key."


def imported_material_id(key_id: str, material: bytes) -> str:
    """The key material ID kmslab gives ``material`` imported into key ``key_id``."""
    data = b"kmslab imported key material\x00" + key_id.encode() + b"\x00" + material
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ImportParameters:
    """What an import token carries."""

    key_arn: str
    algorithm: str
    spec: str
    valid_to: datetime
    wrapping_key: bytes  # PKCS#8 DER of the wrapping private key


class ImportOperations(ServiceBase):
    _import_token_secret: bytes | None = None

    # == persistence ===============================================================================

    def restore_import_state(self, docs: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Take back the import-token secret of a persisted lab (``Snapshot.docs``)."""
        doc = docs.get(TOKEN_SECRET_DOC, {}).get("lab")
        if doc is not None:
            self._import_token_secret = bytes.fromhex(doc["secret"])

    def _token_secret(self) -> bytes:
        if self._import_token_secret is None:
            self._import_token_secret = self.rng.bytes(32)
        # Saved with every token, inside the request's transaction: never a token without it.
        self.store.save_doc(TOKEN_SECRET_DOC, "lab", {"secret": self._import_token_secret.hex()})
        return self._import_token_secret

    # == operations ================================================================================

    def get_parameters_for_import(
        self, call: Call, key_id: str, wrapping_algorithm: str, wrapping_key_spec: str
    ) -> dict[str, Any]:
        """A wrapping public key and an import token, valid 24 hours on the lab clock.

        Raises NotFoundException, UnsupportedOperationException (not an EXTERNAL key; SM2),
        KMSInvalidStateException (pending deletion), ValidationException (RSAES_PKCS1_V1_5).
        """
        if wrapping_algorithm == "RSAES_PKCS1_V1_5":
            raise ValidationException(
                "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported (since "
                "October 10, 2023). Use RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, "
                "RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256."
            )
        if wrapping_algorithm == "SM2PKE" or wrapping_key_spec == "SM2":
            raise UnsupportedOperationException(
                "The SM2 wrapping key spec and the SM2PKE wrapping algorithm are available only "
                "in China Regions; kmslab does not simulate them."
            )
        key = self._imported_key(call, key_id, "GetParametersForImport")
        wrapping_key, public_key = crypto.generate_wrapping_key(wrapping_key_spec)
        valid_to = call.now + PARAMETERS_LIFETIME
        params = ImportParameters(
            key.arn, wrapping_algorithm, wrapping_key_spec, valid_to, wrapping_key
        )
        return {
            "key_id": key.arn,
            "import_token": self._seal_token(params),
            "public_key": public_key,
            "parameters_valid_to": valid_to,
        }

    def import_key_material(
        self,
        call: Call,
        key_id: str,
        import_token: bytes,
        encrypted_key_material: bytes,
        valid_to: datetime | None = None,
        expiration_model: str | None = None,
        import_type: str | None = None,
        key_material_description: str | None = None,
        key_material_id: str | None = None,
    ) -> dict[str, Any]:
        """Unwrap and import (or re-import) key material; the key becomes Enabled once all its
        material is imported.

        Raises ValidationException (ValidTo / ExpirationModel / ImportType rules),
        NotFoundException, UnsupportedOperationException, KMSInvalidStateException,
        InvalidImportTokenException, ExpiredImportTokenException, InvalidCiphertextException,
        IncorrectKeyMaterialException.
        """
        model = ExpirationModel(expiration_model or ExpirationModel.KEY_MATERIAL_EXPIRES)
        if model is ExpirationModel.KEY_MATERIAL_EXPIRES and valid_to is None:
            raise ValidationException(
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
            )
        if model is ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE and valid_to is not None:
            raise ValidationException(
                "A validTo date must not be set if the ExpirationModel is "
                "KEY_MATERIAL_DOES_NOT_EXPIRE"
            )
        key = self._imported_key(call, key_id, "ImportKeyMaterial")
        if valid_to is not None:
            if valid_to <= call.now:
                raise ValidationException("The validTo date must be in the future.")
            if valid_to > call.now + MAX_VALID_TO:
                raise ValidationException(
                    "The validTo date must be no more than 365 days from the request date."
                )
        self._symmetric_only_members(key, import_type, key_material_description, key_material_id)
        if import_type == NEW_KEY_MATERIAL and key_material_id is not None:
            raise ValidationException(
                "You cannot specify a key material ID with ImportType set to NEW_KEY_MATERIAL."
            )
        params = self._open_token(key, import_token, call.now)
        secret = self._checked_material(key, self._unwrap(params, encrypted_key_material))
        material_id = imported_material_id(key.key_id, secret)
        if key_material_id is not None and key_material_id != material_id:
            raise IncorrectKeyMaterialException(
                f"The key material does not match the key material ID {key_material_id}."
            )
        associated = [m for m in key.materials if not m.pending_rotation]
        kind = import_type or (EXISTING_KEY_MATERIAL if associated else NEW_KEY_MATERIAL)
        target = key.material(material_id)
        if kind == EXISTING_KEY_MATERIAL and target is None:
            raise IncorrectKeyMaterialException(NOT_PREVIOUS_MATERIAL)
        if kind == NEW_KEY_MATERIAL:
            if target is not None:
                raise IncorrectKeyMaterialException(ALREADY_ASSOCIATED)
            if key.pending_rotation is not None:
                raise KMSInvalidStateException(
                    f"{key.arn} already has key material pending rotation. Rotate the key "
                    "(RotateKeyOnDemand) or delete that key material first."
                )
            target = Material(
                material_id=material_id,
                secret=secret,
                created=call.now,
                pending_rotation=bool(associated),
            )
            key.materials.append(target)
        assert target is not None
        target.secret = secret
        target.imported = True
        target.expiration_model = model.value
        target.valid_to = valid_to
        if key_material_description is not None:
            target.description = key_material_description
        if key.state is KeyState.PENDING_IMPORT and not key.awaiting_import:
            key.state = KeyState.ENABLED
        self.store.save_key(key)
        self.reschedule()
        out: dict[str, Any] = {"key_id": key.arn}
        if key.is_symmetric_encryption:
            out["key_material_id"] = material_id
        return out

    def delete_imported_key_material(
        self, call: Call, key_id: str, key_material_id: str | None = None
    ) -> dict[str, Any]:
        """Delete imported material (default: the current one); the key goes to PendingImport
        unless it is pending deletion. Material pending rotation is simply dropped.

        Raises NotFoundException, UnsupportedOperationException, KMSInvalidStateException,
        ValidationException (KeyMaterialId on a non-symmetric key).
        """
        key = self._imported_key(call, key_id, "DeleteImportedKeyMaterial")
        self._symmetric_only_members(key, None, None, key_material_id)
        out: dict[str, Any] = {"key_id": key.arn}
        if key_material_id is not None:
            target = key.material(key_material_id)
            if target is None:
                raise NotFoundException(
                    f"Key material {key_material_id} is not associated with {key.arn}."
                )
        elif any(not m.pending_rotation for m in key.materials):
            target = key.current
        else:
            return out  # PendingImport and never imported: no effect
        self._drop_material(key, target)
        self.store.save_key(key)
        self.reschedule()
        if key.is_symmetric_encryption:
            out["key_material_id"] = target.material_id
        return out

    # == scheduled work ============================================================================

    def _expire_imported_material(self, key: Key, now: datetime) -> None:
        expired = [
            m for m in key.materials if m.imported and m.valid_to is not None and m.valid_to <= now
        ]
        for m in expired:
            self._drop_material(key, m)
        if expired:
            self.store.save_key(key)
            when = min(m.valid_to or now for m in expired)
            self._service_event("DeleteExpiredKeyMaterial", key, when)

    # == helpers ===================================================================================

    def _imported_key(self, call: Call, key_id: str, operation: str) -> Key:
        key = self._resolve(call, key_id, allow_alias=False)
        if key.origin is not Origin.EXTERNAL:
            raise UnsupportedOperationException(
                f"{key.arn} origin is {key.origin.value} which is not valid for this operation."
            )
        check_state(operation, key)
        return key

    @staticmethod
    def _symmetric_only_members(
        key: Key,
        import_type: str | None,
        description: str | None,
        material_id: str | None,
    ) -> None:
        """ImportType, KeyMaterialDescription and KeyMaterialId are "only usable with
        symmetric encryption keys" (ImportKeyMaterial, DeleteImportedKeyMaterial)."""
        if key.is_symmetric_encryption:
            return
        for member, value in (
            ("ImportType", import_type),
            ("KeyMaterialDescription", description),
            ("KeyMaterialId", material_id),
        ):
            if value is not None:
                raise ValidationException(
                    f"{member} is only supported for symmetric encryption KMS keys; "
                    f"{key.arn} has key spec {key.key_spec.value}."
                )

    @staticmethod
    def _drop_material(key: Key, material: Material) -> None:
        """Forget imported material's secret. Material pending rotation is not permanently
        associated with the key: it goes altogether."""
        if material.pending_rotation:
            key.materials.remove(material)
            return
        material.secret = b""
        material.imported = False
        if key.state not in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION):
            key.state = KeyState.PENDING_IMPORT

    def _seal_token(self, params: ImportParameters) -> bytes:
        payload = json.dumps(
            {
                "key": params.key_arn,
                "algorithm": params.algorithm,
                "spec": params.spec,
                "valid_to": params.valid_to.isoformat(),
                "wrapping_key": base64.b64encode(params.wrapping_key).decode(),
            }
        ).encode()
        nonce = self.rng.bytes(crypto.NONCE_BYTES)
        sealed = aes_gcm_encrypt(self._token_secret(), nonce, payload, TOKEN_MAGIC)
        return TOKEN_MAGIC + nonce + sealed

    def _open_token(self, key: Key, token: bytes, now: datetime) -> ImportParameters:
        secret = self._import_token_secret
        head = len(TOKEN_MAGIC) + crypto.NONCE_BYTES
        if secret is None or not token.startswith(TOKEN_MAGIC) or len(token) < head:
            raise InvalidImportTokenException(INVALID_TOKEN)
        try:
            payload = aes_gcm_decrypt(
                secret, token[len(TOKEN_MAGIC) : head], token[head:], TOKEN_MAGIC
            )
            doc = json.loads(payload)
            params = ImportParameters(
                key_arn=doc["key"],
                algorithm=doc["algorithm"],
                spec=doc["spec"],
                valid_to=datetime.fromisoformat(doc["valid_to"]),
                wrapping_key=base64.b64decode(doc["wrapping_key"]),
            )
        except (AeadError, ValueError, KeyError, TypeError):
            raise InvalidImportTokenException(INVALID_TOKEN) from None
        if params.key_arn != key.arn:
            raise InvalidImportTokenException(INVALID_TOKEN)
        if now > params.valid_to:
            raise ExpiredImportTokenException(EXPIRED_TOKEN)
        return params

    @staticmethod
    def _unwrap(params: ImportParameters, wrapped: bytes) -> bytes:
        try:
            return crypto.unwrap_key_material(params.wrapping_key, params.algorithm, wrapped)
        except crypto.WrappedSizeError:
            raise ValidationException("Invalid encrypted key size.") from None
        except AeadError:
            raise InvalidCiphertextException("") from None

    @staticmethod
    def _checked_material(key: Key, material: bytes) -> bytes:
        """The material as kmslab keeps it, if it suits the key's spec.

        Symmetric: 256 bits of raw binary; HMAC: as many bytes as the spec's digest; asymmetric:
        a DER private key of the key's spec, kept as canonical PKCS#8.
        """
        spec = key.key_spec
        if key.is_symmetric_encryption:
            if len(material) == SYMMETRIC_MATERIAL_BYTES:
                return material
            expected = "256 bits (32 bytes) of raw binary data"
        elif spec in HMAC_KEY_BYTES:
            if len(material) == HMAC_KEY_BYTES[spec]:
                return material
            expected = f"{HMAC_KEY_BYTES[spec]} bytes of raw binary data"
        else:
            try:
                found, canonical = crypto.private_key_spec(material)
            except ValueError:
                found, canonical = "", b""
            if found == spec.value:
                return canonical
            expected = f"a DER-encoded private key of key spec {spec.value}"
        raise IncorrectKeyMaterialException(
            f"The key material is invalid: a {spec.value} KMS key needs {expected}."
        )
