"""Cryptographic primitives: the only module of kmslab that imports pyca/cryptography.

Everything here is a thin, typed wrapper over a vetted primitive; nothing is hand-rolled.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["AeadError", "RandomSource", "aes_gcm_decrypt", "aes_gcm_encrypt"]

NONCE_BYTES = 12
TAG_BYTES = 16


class AeadError(Exception):
    """Authentication failed: wrong key, wrong AAD, or tampered bytes. Says nothing more."""


class RandomSource:
    """Random bytes for key ids, key material, data keys and nonces.

    Unseeded, it is the operating system's CSPRNG. Seeded, it is a deterministic stream
    (SHAKE-256 of the seed and a counter) so that a notebook or a test gets the same key ids,
    data keys and ciphertexts every run. A seeded lab is for teaching, never for secrets.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._counter = 0
        self._lock = threading.Lock()
        self._prefix = b"" if seed is None else b"kmslab-seed:" + str(seed).encode() + b":"

    def bytes(self, n: int) -> bytes:
        if self.seed is None:
            return os.urandom(n)
        with self._lock:
            self._counter += 1
            counter = self._counter
        return hashlib.shake_256(self._prefix + struct.pack(">Q", counter)).digest(n)

    @property
    def counter(self) -> int:
        return self._counter

    def restore(self, counter: int) -> None:
        """Continue a seeded stream where a persisted lab left it."""
        with self._lock:
            self._counter = counter

    def __repr__(self) -> str:
        return "RandomSource(seeded)" if self.seed is not None else "RandomSource(os)"


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM; returns ciphertext || 16-byte tag."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`aes_gcm_encrypt`.

    Raises:
        AeadError: on any authentication failure.
    """
    try:
        return AESGCM(key).decrypt(nonce, ciphertext_and_tag, aad)
    except (InvalidTag, ValueError) as exc:
        raise AeadError() from exc


# == asymmetric keys and HMAC ====================================================================
#
# Private keys travel inside kmslab as PKCS#8 DER bytes (what Material.secret holds, sealed at
# rest like symmetric material); public keys leave as DER SubjectPublicKeyInfo, which is what
# GetPublicKey returns and what `cryptography`/OpenSSL load outside kmslab.

import hmac as _hmac  # noqa: E402
from typing import Any  # noqa: E402

from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed  # noqa: E402


class SignatureError(Exception):
    """A signature or MAC that does not verify."""


class UnsupportedPrimitive(Exception):
    """A key spec or algorithm the installed cryptography library cannot do."""


_CURVES: dict[str, Any] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_MLDSA: dict[str, Any] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
_MLKEM: dict[str, Any] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_224": hashes.SHA224,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}


def _pkcs8(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_private_key(spec: str) -> bytes:
    """A new private key of a KMS KeySpec / KeyPairSpec, as PKCS#8 DER.

    Raises:
        UnsupportedPrimitive: a spec the installed library cannot generate (ML_KEM_512, SM2).
    """
    if spec in _RSA_BITS:
        return _pkcs8(rsa.generate_private_key(65537, _RSA_BITS[spec]))
    if spec in _CURVES:
        return _pkcs8(ec.generate_private_key(_CURVES[spec]()))
    if spec == "ECC_NIST_EDWARDS25519":
        return _pkcs8(ed25519.Ed25519PrivateKey.generate())
    if spec in _MLDSA:
        return _pkcs8(_MLDSA[spec].generate())
    if spec in _MLKEM:
        return _pkcs8(_MLKEM[spec].generate())
    raise UnsupportedPrimitive(spec)


def _load_private(der: bytes) -> Any:
    return serialization.load_der_private_key(der, password=None)


def public_key_der(private_der: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a PKCS#8 private key."""
    public: bytes = (
        _load_private(private_der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return public


def _oaep(algorithm: str) -> padding.OAEP:
    h = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def rsa_encrypt(private_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    return _load_private(private_der).public_key().encrypt(plaintext, _oaep(algorithm))  # type: ignore[no-any-return]


def rsa_decrypt(private_der: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    """Raises AeadError when the ciphertext does not decrypt."""
    try:
        return _load_private(private_der).decrypt(ciphertext, _oaep(algorithm))  # type: ignore[no-any-return]
    except ValueError as exc:
        raise AeadError() from exc


def digest_size(signing_algorithm: str) -> int:
    """Bytes of the digest a signing algorithm hashes with (DIGEST messages must have it)."""
    for name, cls in _HASHES.items():
        if signing_algorithm.endswith(name):
            return int(cls().digest_size)
    if signing_algorithm == "ED25519_PH_SHA_512":
        return 64
    raise UnsupportedPrimitive(signing_algorithm)


def _sign_args(key_spec: str, algorithm: str, message: bytes, digest: bool) -> tuple[Any, ...]:
    h = _HASHES[algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]]()
    data_hash: Any = Prehashed(h) if digest else h
    if algorithm.startswith("RSASSA_PSS"):
        return (message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), data_hash)
    if algorithm.startswith("RSASSA_PKCS1"):
        return (message, padding.PKCS1v15(), data_hash)
    return (message, ec.ECDSA(data_hash))


def sign(private_der: bytes, key_spec: str, algorithm: str, message: bytes, digest: bool) -> bytes:
    """Sign ``message`` (already a digest when ``digest``) with a KMS signing algorithm."""
    key = _load_private(private_der)
    if algorithm == "ED25519_SHA_512" or algorithm == "ML_DSA_SHAKE_256":
        return key.sign(message)  # type: ignore[no-any-return]
    if algorithm == "ED25519_PH_SHA_512":
        raise UnsupportedPrimitive("Ed25519ph")
    return key.sign(*_sign_args(key_spec, algorithm, message, digest))  # type: ignore[no-any-return]


def verify(
    private_der: bytes, key_spec: str, algorithm: str, message: bytes, digest: bool, sig: bytes
) -> None:
    """Raises SignatureError when ``sig`` does not verify."""
    public = _load_private(private_der).public_key()
    try:
        if algorithm in ("ED25519_SHA_512", "ML_DSA_SHAKE_256"):
            public.verify(sig, message)
        elif algorithm == "ED25519_PH_SHA_512":
            raise UnsupportedPrimitive("Ed25519ph")
        else:
            args = _sign_args(key_spec, algorithm, message, digest)
            public.verify(sig, *args)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError() from exc


def hmac_digest(secret: bytes, mac_algorithm: str, message: bytes) -> bytes:
    """HMAC_SHA_224/256/384/512."""
    name = "sha" + mac_algorithm.rsplit("_", 1)[-1]
    return _hmac.new(secret, message, name).digest()


def hmac_verify(secret: bytes, mac_algorithm: str, message: bytes, mac: bytes) -> None:
    if not _hmac.compare_digest(hmac_digest(secret, mac_algorithm, message), mac):
        raise SignatureError()
