"""Key agreement and key encapsulation: DeriveSharedSecret (ECDH), Encapsulate and Decapsulate
(ML-KEM, FIPS 203).

DeriveSharedSecret returns the raw ECDH shared secret Z of the key's private key and a peer's
public key, exactly what the peer computes with its own private key and GetPublicKey's
public key (DeriveSharedSecret API reference: "DeriveSharedSecret returns the raw shared
secret"). Encapsulate produces a 32-byte shared secret and its ciphertext under the key's public
key (768, 1088 or 1568 bytes for ML_KEM_512/768/1024); Decapsulate recovers it with the private
key. A wrong ciphertext of the right length yields a pseudo-random value, never an error
(implicit rejection); only a ciphertext of the wrong length is an InvalidCiphertextException.
"""

from __future__ import annotations

from typing import Any

from .. import crypto
from ..errors import (
    InvalidCiphertextException,
    UnsupportedOperationException,
    ValidationException,
)
from ..keys import Key, check_state
from ..model import KeyUsage, Origin
from .base import Call, ServiceBase


class AgreementOperations(ServiceBase):
    def derive_shared_secret(
        self,
        call: Call,
        key_id: str,
        key_agreement_algorithm: str,
        public_key: bytes,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
        recipient: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Raises NotFoundException, DisabledException, KMSInvalidStateException,
        InvalidKeyUsageException, ValidationException, UnsupportedOperationException,
        DryRunOperationException."""
        self._no_recipient(recipient)
        key = self._resolve(call, key_id)
        check_state("DeriveSharedSecret", key)
        self._require_usage(key, "DeriveSharedSecret", KeyUsage.KEY_AGREEMENT)
        if key.origin not in (Origin.AWS_KMS, Origin.EXTERNAL):
            raise UnsupportedOperationException(
                f"{key.arn} origin is {key.origin.value} which is not valid for this operation."
            )
        try:
            secret = crypto.ecdh(key.current.secret, public_key)
        except crypto.KeyFormatError:
            raise ValidationException(
                "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a public key on "
                f"the curve of key spec {key.key_spec.value}."
            ) from None
        self._dry_run(dry_run)
        self._used(call, key)
        return {
            "key_id": key.arn,
            "shared_secret": secret,
            "key_agreement_algorithm": key_agreement_algorithm,
            "key_origin": key.origin.value,
        }

    def _kem_key(self, call: Call, key_id: str, operation: str) -> Key:
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_usage(key, operation, KeyUsage.ENCAPSULATE_DECAPSULATE)
        return key

    def encapsulate(
        self,
        call: Call,
        key_id: str,
        encapsulation_algorithm: str,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        """Raises NotFoundException, DisabledException, KMSInvalidStateException,
        InvalidKeyUsageException, DryRunOperationException."""
        key = self._kem_key(call, key_id, "Encapsulate")
        self._dry_run(dry_run)
        secret, ciphertext = crypto.mlkem_encapsulate(key.current.secret)
        self._used(call, key)
        return {
            "key_id": key.arn,
            "shared_secret": secret,
            "shared_secret_ciphertext_blob": ciphertext,
            "encapsulation_algorithm": encapsulation_algorithm,
        }

    def decapsulate(
        self,
        call: Call,
        key_id: str,
        shared_secret_ciphertext_blob: bytes,
        encapsulation_algorithm: str,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        """Raises NotFoundException, DisabledException, KMSInvalidStateException,
        InvalidKeyUsageException, InvalidCiphertextException (wrong length only),
        DryRunOperationException."""
        key = self._kem_key(call, key_id, "Decapsulate")
        expected = crypto.MLKEM_CIPHERTEXT_BYTES[key.key_spec.value]
        if len(shared_secret_ciphertext_blob) != expected:
            raise InvalidCiphertextException("")
        self._dry_run(dry_run)
        secret = crypto.mlkem_decapsulate(key.current.secret, shared_secret_ciphertext_blob)
        self._used(call, key)
        return {
            "key_id": key.arn,
            "shared_secret": secret,
            "encapsulation_algorithm": encapsulation_algorithm,
        }
