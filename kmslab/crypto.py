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
from functools import cache, lru_cache
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
        UnsupportedPrimitive: a spec the installed libraries cannot generate (SM2).
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
    if spec == "ML_KEM_512":
        return _mlkem512_generate()
    raise UnsupportedPrimitive(spec)


@lru_cache(maxsize=256)
def _load_private(der: bytes) -> Any:
    # Cached: pyca checks an RSA key's consistency on every load, which costs ~0.3 s for
    # RSA_4096 and made each Encrypt/Sign that slow. The first load still runs the check.
    return _asym().serialization.load_der_private_key(der, password=None)


def public_key_der(private_der: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of a PKCS#8 private key."""
    if _is_mlkem512(private_der):
        return _mlkem512_spki(private_der)
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

    ED25519_PH_SHA_512 pre-hashes ``message`` itself, digest or not (see :func:`_ed25519ph`).
    """
    key = _load_private(private_der)
    if algorithm in _PURE:
        out: bytes = key.sign(message)
        return out
    if algorithm == "ED25519_PH_SHA_512":
        return _ed25519ph_sign(key, message)
    signature: bytes = key.sign(*_sign_args(algorithm, message, digest))
    return signature


def verify(private_der: bytes, algorithm: str, message: bytes, digest: bool, sig: bytes) -> None:
    """Raises SignatureError when ``sig`` does not verify."""
    lib = _asym()
    public = _load_private(private_der).public_key()
    if algorithm == "ED25519_PH_SHA_512":
        _ed25519ph_verify(public, message, sig)
        return
    try:
        if algorithm in _PURE:
            public.verify(sig, message)
        else:
            public.verify(sig, *_sign_args(algorithm, message, digest))
    except (lib.InvalidSignature, ValueError) as exc:
        raise SignatureError() from exc


# Ed25519ph (HashEdDSA, RFC 8032 section 5.1, empty context) comes from libsodium through PyNaCl:
# pyca/cryptography has only pure Ed25519. AWS KMS runs it over the Message it is given, and
# ED25519_PH_SHA_512 takes only MessageType DIGEST: the caller's 64-byte SHA-512 digest is the
# HashEdDSA message, which Ed25519ph hashes again (PH(M) = SHA-512(M), FIPS 186-5 section 7.8.1
# step 1), as the Sign API reference says ("the input is hashed twice").


@cache
def _ed25519ph() -> Any:
    import nacl.bindings
    import nacl.exceptions

    return SimpleNamespace(sodium=nacl.bindings, CryptoError=nacl.exceptions.CryptoError)


def _ed25519ph_sign(key: Any, message: bytes) -> bytes:
    sodium = _ed25519ph().sodium
    _public, secret = sodium.crypto_sign_seed_keypair(key.private_bytes_raw())
    state = sodium.crypto_sign_ed25519ph_state()
    sodium.crypto_sign_ed25519ph_update(state, message)
    signature: bytes = sodium.crypto_sign_ed25519ph_final_create(state, secret)
    return signature


def _ed25519ph_verify(public: Any, message: bytes, sig: bytes) -> None:
    lib = _ed25519ph()
    if len(sig) != 64:
        raise SignatureError()
    state = lib.sodium.crypto_sign_ed25519ph_state()
    lib.sodium.crypto_sign_ed25519ph_update(state, message)
    try:
        lib.sodium.crypto_sign_ed25519ph_final_verify(state, sig, public.public_bytes_raw())
    except lib.CryptoError as exc:
        raise SignatureError() from exc


def hmac_digest(secret: bytes, mac_algorithm: str, message: bytes) -> bytes:
    """HMAC_SHA_224/256/384/512."""
    return hmac.new(secret, message, "sha" + mac_algorithm.rsplit("_", 1)[-1]).digest()


def hmac_verify(secret: bytes, mac_algorithm: str, message: bytes, mac: bytes) -> None:
    if not hmac.compare_digest(hmac_digest(secret, mac_algorithm, message), mac):
        raise SignatureError()


# == importing key material (GetParametersForImport / ImportKeyMaterial) =========================

#: RSA_AES_KEY_WRAP_* = the OAEP variant that wraps the ephemeral AES key, then AES-KWP.
_RSA_AES_OAEP = {
    "RSA_AES_KEY_WRAP_SHA_1": "RSAES_OAEP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256": "RSAES_OAEP_SHA_256",
}


class WrappedSizeError(ValueError):
    """Wrapped key material whose length cannot come from this wrapping key and algorithm."""


def generate_wrapping_key(spec: str) -> tuple[bytes, bytes]:
    """A new RSA wrapping key pair (RSA_2048/3072/4096) for GetParametersForImport:
    (PKCS#8 DER private key, DER SubjectPublicKeyInfo public key)."""
    lib = _asym()
    key = lib.rsa.generate_private_key(65537, _RSA_BITS[spec])
    public: bytes = key.public_key().public_bytes(
        lib.serialization.Encoding.DER, lib.serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _pkcs8(key), public


def unwrap_key_material(private_der: bytes, wrapping_algorithm: str, wrapped: bytes) -> bytes:
    """Recover key material wrapped with the public half of ``private_der`` for import.

    ``RSAES_OAEP_SHA_1`` / ``RSAES_OAEP_SHA_256``: ``wrapped`` is the material encrypted with
    RSAES-OAEP (OAEP and MGF1 hash both SHA-1 / SHA-256). ``RSA_AES_KEY_WRAP_SHA_*`` (PKCS #11
    CKM_RSA_AES_KEY_WRAP, what the AWS guide builds with ``openssl pkeyutl`` and
    ``openssl enc -id-aes256-wrap-pad``): ``wrapped`` is an ephemeral AES key encrypted with
    RSAES-OAEP (the modulus length in bytes), followed by the material wrapped under that AES key
    with AES Key Wrap with Padding (RFC 5649).

    ``private_der`` must be a wrapping key from :func:`generate_wrapping_key`: it is loaded
    without pyca's (slow) RSA consistency check, which a key kmslab made does not need.

    Raises:
        WrappedSizeError: ``wrapped`` has a length this key and algorithm cannot produce.
        AeadError: the bytes do not unwrap under this key and algorithm.
    """
    lib = _asym()
    key = lib.serialization.load_der_private_key(
        private_der, password=None, unsafe_skip_rsa_key_validation=True
    )
    size = (key.key_size + 7) // 8
    oaep_algorithm = _RSA_AES_OAEP.get(wrapping_algorithm, wrapping_algorithm)
    key_wrap = wrapping_algorithm in _RSA_AES_OAEP
    # RSA_AES_*: one OAEP block, then at least two 8-byte AES-KWP semiblocks
    rest = len(wrapped) - size
    if (rest < 16 or rest % 8) if key_wrap else rest:
        raise WrappedSizeError("Invalid encrypted key size.")
    try:
        head: bytes = key.decrypt(wrapped[:size], _oaep(oaep_algorithm))
    except ValueError as exc:
        raise AeadError() from exc
    if not key_wrap:
        return head
    from cryptography.hazmat.primitives import keywrap

    try:
        out: bytes = keywrap.aes_key_unwrap_with_padding(head, wrapped[size:])
    except (keywrap.InvalidUnwrap, ValueError) as exc:
        raise AeadError() from exc
    return out


def private_key_spec(der: bytes) -> tuple[str, bytes]:
    """The KMS KeySpec of a DER private key (PKCS#8, or PKCS#1 / SEC 1) and the same key as
    canonical PKCS#8 DER, so that two encodings of one key compare equal.

    Raises:
        ValueError: ``der`` is not a private key of a spec KMS knows.
    """
    from cryptography.exceptions import UnsupportedAlgorithm

    if _is_mlkem512(der):  # pyca cannot load ML-KEM-512 (see below)
        return "ML_KEM_512", der
    lib = _asym()
    try:
        key = _load_private(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a DER private key") from exc
    spec: str | None = None
    if isinstance(key, lib.rsa.RSAPrivateKey):
        spec = {2048: "RSA_2048", 3072: "RSA_3072", 4096: "RSA_4096"}.get(key.key_size)
    elif isinstance(key, lib.ec.EllipticCurvePrivateKey):
        spec = next((s for s, c in lib.curves.items() if isinstance(key.curve, c)), None)
    elif isinstance(key, lib.ed25519.Ed25519PrivateKey):
        spec = "ECC_NIST_EDWARDS25519"
    else:
        families = {**lib.mldsa, **lib.mlkem}
        spec = next((s for s, cls in families.items() if isinstance(key, cls)), None)
    if spec is None:
        raise ValueError("a private key of a spec KMS does not support")
    return spec, _pkcs8(key)


# == key agreement (DeriveSharedSecret) and ML-KEM (Encapsulate / Decapsulate) ===================


class KeyFormatError(Exception):
    """A public key that does not load, or is not on the curve of the private key."""


def ecdh(private_der: bytes, peer_public_der: bytes) -> bytes:
    """The raw ECDH shared secret Z (the x coordinate, as AWS KMS DeriveSharedSecret returns
    it) of an EC private key and a peer's DER SubjectPublicKeyInfo on the same curve.

    Raises:
        KeyFormatError: the peer key does not load or lies on another curve.
    """
    from cryptography.exceptions import UnsupportedAlgorithm

    lib = _asym()
    private = _load_private(private_der)
    try:
        peer = lib.serialization.load_der_public_key(peer_public_der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError() from exc
    if not isinstance(peer, lib.ec.EllipticCurvePublicKey) or peer.curve.name != private.curve.name:
        raise KeyFormatError()
    try:
        secret: bytes = private.exchange(lib.ec.ECDH(), peer)
    except ValueError as exc:
        raise KeyFormatError() from exc
    return secret


#: ML-KEM ciphertext bytes per parameter set (FIPS 203, table 3).
MLKEM_CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}

# ML-KEM-512 comes from kyber-py (pure Python FIPS 203; pyca/cryptography has only 768 and
# 1024). Its keys travel in the same encodings pyca uses for the other two parameter sets
# (draft-ietf-lamps-kyber-certificates, OID id-alg-ml-kem-512 = 2.16.840.1.101.3.4.4.1):
#   PKCS#8      SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING { [0] IMPLICIT seed(64) } }
#   SPKI        SEQUENCE { SEQUENCE { OID }, BIT STRING { 0 unused bits, ek (800 bytes) } }
# The 64-byte seed is d || z (FIPS 203 section 7.1); both halves of the key derive from it.
_MLKEM512_OID = bytes.fromhex("0609608648016503040401")
_MLKEM512_PKCS8_PREFIX = bytes.fromhex("3054020100300b") + _MLKEM512_OID + bytes.fromhex("04428040")
_MLKEM512_SPKI_PREFIX = bytes.fromhex("30820332300b") + _MLKEM512_OID + bytes.fromhex("0382032100")


def _mlkem512() -> Any:
    from kyber_py.ml_kem import ML_KEM_512  # type: ignore[import-untyped]

    return ML_KEM_512


def _is_mlkem512(private_der: bytes) -> bool:
    return len(private_der) == len(_MLKEM512_PKCS8_PREFIX) + 64 and private_der.startswith(
        _MLKEM512_PKCS8_PREFIX
    )


def _mlkem512_generate() -> bytes:
    return _MLKEM512_PKCS8_PREFIX + os.urandom(64)


def _mlkem512_keys(private_der: bytes) -> tuple[bytes, bytes]:
    """(ek, dk) of an ML-KEM-512 PKCS#8 private key."""
    ek, dk = _mlkem512().key_derive(private_der[len(_MLKEM512_PKCS8_PREFIX) :])
    return bytes(ek), bytes(dk)


def _mlkem512_spki(private_der: bytes) -> bytes:
    return _MLKEM512_SPKI_PREFIX + _mlkem512_keys(private_der)[0]


def mlkem_spec(private_der: bytes) -> str:
    """ML_KEM_512 / ML_KEM_768 / ML_KEM_1024 of an ML-KEM PKCS#8 private key."""
    if _is_mlkem512(private_der):
        return "ML_KEM_512"
    key = _load_private(private_der)
    for spec, cls in _asym().mlkem.items():
        if isinstance(key, cls):
            return str(spec)
    raise UnsupportedPrimitive("not an ML-KEM key")


def mlkem_encapsulate(private_der: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) encapsulated to the public half of an ML-KEM key."""
    if _is_mlkem512(private_der):
        secret, ciphertext = _mlkem512().encaps(_mlkem512_keys(private_der)[0])
        return bytes(secret), bytes(ciphertext)
    shared, ct = _load_private(private_der).public_key().encapsulate()
    return bytes(shared), bytes(ct)


def mlkem_decapsulate(private_der: bytes, ciphertext: bytes) -> bytes:
    """The shared secret of ``ciphertext``. A ciphertext of the right length always yields 32
    bytes: a wrong or altered one yields a pseudo-random value (FIPS 203 implicit rejection).

    Raises:
        ValueError: ``ciphertext`` has the wrong length for the key's parameter set.
    """
    if len(ciphertext) != MLKEM_CIPHERTEXT_BYTES[mlkem_spec(private_der)]:
        raise ValueError("ciphertext length does not match the ML-KEM parameter set")
    if _is_mlkem512(private_der):
        return bytes(_mlkem512().decaps(_mlkem512_keys(private_der)[1], ciphertext))
    out: bytes = _load_private(private_der).decapsulate(ciphertext)
    return out
