"""Cryptographic operations: encrypt and decrypt, data keys, signatures, MACs, randomness."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import crypto
from ..crypto import AeadError
from ..errors import (
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)
from ..keys import (
    MAC_ALGORITHMS,
    RSA_PLAINTEXT_LIMITS,
    SIGNING_ALGORITHMS,
    Key,
    algorithms,
    check_state,
)
from ..model import (
    DATA_KEY_BYTES,
    KeyUsage,
)
from .base import (
    Call,
    ServiceBase,
)


@contextmanager
def _installed(what: str) -> Iterator[None]:
    """Runs a primitive that the installed cryptography library may lack (ML-DSA, Ed25519ph,
    ...): then UnsupportedOperationException says "kmslab cannot <what>"."""
    try:
        yield
    except crypto.UnsupportedPrimitive:
        raise UnsupportedOperationException(
            f"kmslab cannot {what}: the installed cryptography library has no such primitive."
        ) from None


class CryptographicOperations(ServiceBase):
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
            self._used(call, key)
            return {
                "ciphertext_blob": crypto.rsa_encrypt(key.current.secret, algorithm, plaintext),
                "key_id": key.arn,
                "encryption_algorithm": algorithm,
            }
        self._symmetric_algorithm(key, encryption_algorithm)
        self._dry_run(dry_run)
        self._used(call, key)
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
        self._used(call, key)
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
        dest = self._resolve(call, destination_key_id, action="ReEncryptTo")
        check_state("ReEncrypt", dest)
        self._require_usage(dest, "ReEncrypt")
        self._symmetric_algorithm(dest, destination_encryption_algorithm)
        self._dry_run(dry_run)
        self._used(call, source)
        self._used(call, dest)
        return {
            "ciphertext_blob": self._seal(dest, plaintext, destination_encryption_context),
            "source_key_id": source.arn,
            "key_id": dest.arn,
            "source_encryption_algorithm": "SYMMETRIC_DEFAULT",
            "destination_encryption_algorithm": "SYMMETRIC_DEFAULT",
            "source_key_material_id": material.material_id,
            "destination_key_material_id": dest.current.material_id,
        }

    def _data_key(
        self,
        call: Call,
        operation: str,
        key_id: str,
        encryption_context: dict[str, str] | None,
        number_of_bytes: int | None,
        key_spec: str | None,
        dry_run: bool | None,
    ) -> dict[str, Any]:
        """GenerateDataKey's response; GenerateDataKeyWithoutPlaintext's is this less the
        plaintext."""
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationException("Please specify either number of bytes or key spec.")
        length = DATA_KEY_BYTES[key_spec] if key_spec is not None else int(number_of_bytes or 0)
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_symmetric(key, operation)
        self._dry_run(dry_run)
        data_key = self.rng.bytes(length)
        out = {
            "ciphertext_blob": self._seal(key, data_key, encryption_context),
            "plaintext": data_key,
            "key_id": key.arn,
            "key_material_id": key.current.material_id,
        }
        self._used(call, key)
        return out

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
        return self._data_key(
            call, "GenerateDataKey", key_id, encryption_context, number_of_bytes, key_spec, dry_run
        )

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
        out = self._data_key(
            call,
            "GenerateDataKeyWithoutPlaintext",
            key_id,
            encryption_context,
            number_of_bytes,
            key_spec,
            dry_run,
        )
        del out["plaintext"]
        return out

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
        self._used(call, key)
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
        if algorithm.startswith("ED25519_"):
            # ED25519_SHA_512 takes only RAW, ED25519_PH_SHA_512 only DIGEST (Sign API reference,
            # MessageType). The wording is not AWS-documented: floci-io/floci#2924 recorded it
            # from real AWS ("Message type RAW is incompatible ...").
            given = kind or "RAW"
            if given != ("DIGEST" if algorithm == "ED25519_PH_SHA_512" else "RAW"):
                raise ValidationException(
                    f"Message type {given} is incompatible with algorithm {algorithm}."
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
        with _installed(f"sign with {signing_algorithm}"):
            signature = crypto.sign(key.current.secret, signing_algorithm, message, digest)
        self._used(call, key)
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
            with _installed(f"verify {signing_algorithm}"):
                crypto.verify(key.current.secret, signing_algorithm, message, digest, signature)
        except crypto.SignatureError:
            raise KMSInvalidSignatureException("") from None
        self._used(call, key)
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
        self._used(call, key)
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
        self._used(call, key)
        return {"key_id": key.arn, "mac_valid": True, "mac_algorithm": mac_algorithm}

    def _data_key_pair(
        self,
        call: Call,
        operation: str,
        key_id: str,
        key_pair_spec: str,
        encryption_context: dict[str, str] | None,
        dry_run: bool | None,
    ) -> dict[str, Any]:
        """GenerateDataKeyPair's response; GenerateDataKeyPairWithoutPlaintext's is this less
        the private key's plaintext."""
        key = self._resolve(call, key_id)
        check_state(operation, key)
        self._require_symmetric(key, operation)
        self._dry_run(dry_run)
        with _installed(f"generate {key_pair_spec} key pairs"):
            private = crypto.generate_private_key(key_pair_spec)
        out = {
            "private_key_ciphertext_blob": self._seal(key, private, encryption_context),
            "public_key": crypto.public_key_der(private),
            "key_id": key.arn,
            "key_pair_spec": key_pair_spec,
            "key_material_id": key.current.material_id,
            "private_key_plaintext": private,
        }
        self._used(call, key)
        return out

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
        return self._data_key_pair(
            call, "GenerateDataKeyPair", key_id, key_pair_spec, encryption_context, dry_run
        )

    def generate_data_key_pair_without_plaintext(
        self,
        call: Call,
        key_id: str,
        key_pair_spec: str,
        encryption_context: dict[str, str] | None = None,
        grant_tokens: list[str] | None = None,
        dry_run: bool | None = None,
    ) -> dict[str, Any]:
        out = self._data_key_pair(
            call,
            "GenerateDataKeyPairWithoutPlaintext",
            key_id,
            key_pair_spec,
            encryption_context,
            dry_run,
        )
        del out["private_key_plaintext"]
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
            self._custom_key_store_random(call, custom_key_store_id)
        if number_of_bytes is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy "
                "constraint: Member must not be null"
            )
        return {"plaintext": self.rng.bytes(number_of_bytes)}
