"""Cryptographic primitives: the only module of kmslab that imports pyca/cryptography.

Everything here is a thin, typed wrapper over a vetted primitive; nothing is hand-rolled.
pyca/cryptography is imported on first use, not at ``import kmslab``: the AEAD on the first
symmetric operation, the asymmetric modules on the first asymmetric one.

Private keys travel inside kmslab as PKCS#8 DER bytes (what a key's material holds, sealed at
rest like symmetric material); public keys leave as DER SubjectPublicKeyInfo, which is what
GetPublicKey returns and what `cryptography`/OpenSSL load outside kmslab.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import threading
from functools import cache
from types import SimpleNamespace
from typing import Any

__all__ = [
    "AeadError",
    "RandomSource",
    "SignatureError",
    "UnsupportedPrimitive",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
]

NONCE_BYTES = 12
TAG_BYTES = 16


class AeadError(Exception):
    """Authentication failed: wrong key, wrong AAD, or tampered bytes. Says nothing more."""


class SignatureError(Exception):
    """A signature or MAC that does not verify."""


class UnsupportedPrimitive(Exception):
    """A key spec or algorithm the installed cryptography library cannot do."""


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


# == symmetric ===================================================================================


@cache
def _aead() -> Any:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return SimpleNamespace(AESGCM=AESGCM, InvalidTag=InvalidTag)


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM; returns ciphertext || 16-byte tag."""
    out: bytes = _aead().AESGCM(key).encrypt(nonce, plaintext, aad)
    return out


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`aes_gcm_encrypt`.

    Raises:
        AeadError: on any authentication failure.
    """
    lib = _aead()
    try:
        out: bytes = lib.AESGCM(key).decrypt(nonce, ciphertext_and_tag, aad)
    except (lib.InvalidTag, ValueError) as exc:
        raise AeadError() from exc
    return out


# == asymmetric keys and HMAC ====================================================================


@cache
def _asym() -> Any:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import (
        ec,
        ed25519,
        mldsa,
        mlkem,
        padding,
        rsa,
    )
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    return SimpleNamespace(
        InvalidSignature=InvalidSignature,
        hashes=hashes,
        serialization=serialization,
        ec=ec,
        ed25519=ed25519,
        padding=padding,
        rsa=rsa,
        Prehashed=Prehashed,
        curves={
            "ECC_NIST_P256": ec.SECP256R1,
            "ECC_NIST_P384": ec.SECP384R1,
            "ECC_NIST_P521": ec.SECP521R1,
            "ECC_SECG_P256K1": ec.SECP256K1,
        },
        mldsa={
            "ML_DSA_44": mldsa.MLDSA44PrivateKey,
            "ML_DSA_65": mldsa.MLDSA65PrivateKey,
            "ML_DSA_87": mldsa.MLDSA87PrivateKey,
        },
        mlkem={
            "ML_KEM_768": mlkem.MLKEM768PrivateKey,
            "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
        },
        hash_by_suffix={
            "SHA_224": hashes.SHA224,
            "SHA_256": hashes.SHA256,
            "SHA_384": hashes.SHA384,
            "SHA_512": hashes.SHA512,
        },
    )


_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
_DIGEST_BYTES = {"SHA_224": 28, "SHA_256": 32, "SHA_384": 48, "SHA_512": 64}


def _pkcs8(key: Any) -> bytes:
    s = _asym().serialization
    der: bytes = key.private_bytes(
        s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()
    )
    return der


def generate_private_key(spec: str) -> bytes:
    """A new private key of a KMS KeySpec / KeyPairSpec, as PKCS#8 DER.

    Raises:
        UnsupportedPrimitive: a spec the installed library cannot generate (ML_KEM_512, SM2).
    """
    lib = _asym()
    if spec in _RSA_BITS:
        return _pkcs8(lib.rsa.generate_private_key(65537, _RSA_BITS[spec]))
    if spec in lib.curves:
        return _pkcs8(lib.ec.generate_private_key(lib.curves[spec]()))
    if spec == "ECC_NIST_EDWARDS25519":
        return _pkcs8(lib.ed25519.Ed25519PrivateKey.generate())
    if spec in lib.mldsa:
        return _pkcs8(lib.mldsa[spec].generate())
    if spec in lib.mlkem:
        return _pkcs8(lib.mlkem[spec].generate())
    raise UnsupportedPrimitive(spec)


def _load_private(der: bytes) -> Any:
    return _asym().serialization.load_der_private_key(der, password=None)


def public_key_der(private_der: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a PKCS#8 private key."""
    s = _asym().serialization
    public: bytes = (
        _load_private(private_der)
        .public_key()
        .public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)
    )
    return public


def _oaep(algorithm: str) -> Any:
    lib = _asym()
    h = lib.hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else lib.hashes.SHA256()
    return lib.padding.OAEP(mgf=lib.padding.MGF1(h), algorithm=h, label=None)


def rsa_encrypt(private_der: bytes, algorithm: str, plaintext: bytes) -> bytes:
    out: bytes = _load_private(private_der).public_key().encrypt(plaintext, _oaep(algorithm))
    return out


def rsa_decrypt(private_der: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    """Raises AeadError when the ciphertext does not decrypt."""
    try:
        out: bytes = _load_private(private_der).decrypt(ciphertext, _oaep(algorithm))
    except ValueError as exc:
        raise AeadError() from exc
    return out


def digest_size(signing_algorithm: str) -> int:
    """Bytes of the digest a signing algorithm hashes with (DIGEST messages must have it)."""
    for suffix, size in _DIGEST_BYTES.items():
        if signing_algorithm.endswith(suffix):
            return size
    raise UnsupportedPrimitive(signing_algorithm)


def _sign_args(algorithm: str, message: bytes, digest: bool) -> tuple[Any, ...]:
    lib = _asym()
    h = lib.hash_by_suffix[algorithm[-7:]]()  # "SHA_256" etc.
    data_hash: Any = lib.Prehashed(h) if digest else h
    if algorithm.startswith("RSASSA_PSS"):
        pss = lib.padding.PSS(mgf=lib.padding.MGF1(h), salt_length=h.digest_size)
        return (message, pss, data_hash)
    if algorithm.startswith("RSASSA_PKCS1"):
        return (message, lib.padding.PKCS1v15(), data_hash)
    return (message, lib.ec.ECDSA(data_hash))


_PURE = ("ED25519_SHA_512", "ML_DSA_SHAKE_256")


def sign(private_der: bytes, algorithm: str, message: bytes, digest: bool) -> bytes:
    """Sign ``message`` (already a digest when ``digest``) with a KMS signing algorithm.

    Raises:
        UnsupportedPrimitive: ED25519_PH_SHA_512 (pyca has no Ed25519ph).
    """
    key = _load_private(private_der)
    if algorithm in _PURE:
        out: bytes = key.sign(message)
        return out
    if algorithm == "ED25519_PH_SHA_512":
        raise UnsupportedPrimitive("Ed25519ph")
    signature: bytes = key.sign(*_sign_args(algorithm, message, digest))
    return signature


def verify(private_der: bytes, algorithm: str, message: bytes, digest: bool, sig: bytes) -> None:
    """Raises SignatureError when ``sig`` does not verify."""
    lib = _asym()
    public = _load_private(private_der).public_key()
    if algorithm == "ED25519_PH_SHA_512":
        raise UnsupportedPrimitive("Ed25519ph")
    try:
        if algorithm in _PURE:
            public.verify(sig, message)
        else:
            public.verify(sig, *_sign_args(algorithm, message, digest))
    except (lib.InvalidSignature, ValueError) as exc:
        raise SignatureError() from exc


def hmac_digest(secret: bytes, mac_algorithm: str, message: bytes) -> bytes:
    """HMAC_SHA_224/256/384/512."""
    return hmac.new(secret, message, "sha" + mac_algorithm.rsplit("_", 1)[-1]).digest()


def hmac_verify(secret: bytes, mac_algorithm: str, message: bytes, mac: bytes) -> None:
    if not hmac.compare_digest(hmac_digest(secret, mac_algorithm, message), mac):
        raise SignatureError()
