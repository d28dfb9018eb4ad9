"""Algorithm suites of the AWS Encryption SDK message format, and the primitives each one names.

The table is the specification's ``framework/algorithm-suites.md`` ("Supported Algorithm Suites",
"Algorithm Suites Encryption Key Derivation Settings", "Algorithm Suites Signature Settings"); the
key schedule is ``framework/transitive-requirements.md`` ("HKDF encryption key", "HKDF commit key"):

======  =============================================  =======  ===  ===========  =========
id      name                                           version  key  KDF          signature
======  =============================================  =======  ===  ===========  =========
0x0014  AES_128_GCM_IV12_TAG16                         1        16   identity     -
0x0046  AES_192_GCM_IV12_TAG16                         1        24   identity     -
0x0078  AES_256_GCM_IV12_TAG16                         1        32   identity     -
0x0114  AES_128_GCM_IV12_TAG16_HKDF_SHA256             1        16   HKDF-SHA256  -
0x0146  AES_192_GCM_IV12_TAG16_HKDF_SHA256             1        24   HKDF-SHA256  -
0x0178  AES_256_GCM_IV12_TAG16_HKDF_SHA256             1        32   HKDF-SHA256  -
0x0214  AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256  1        16   HKDF-SHA256  P-256
0x0346  AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384  1        24   HKDF-SHA384  P-384
0x0378  AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384  1        32   HKDF-SHA384  P-384
0x0478  AES_256_GCM_HKDF_SHA512_COMMIT_KEY             2        32   HKDF-SHA512  -
0x0578  AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384  2        32   HKDF-SHA512  P-384
======  =============================================  =======  ===  ===========  =========

All use AES-GCM with a 12-byte IV and a 16-byte tag. kmslab reads every suite and writes only the
two committing ones (0x0478, 0x0578), as the specification recommends.

Key schedule (``data_key``: the plaintext data key from KMS; ``suite_id``: two bytes, big-endian):

* version 2, committing: encryption key = HKDF-SHA512(ikm=data_key, salt=message_id (32 bytes),
  info=suite_id || b"DERIVEKEY", L=32); commit key = HKDF-SHA512(ikm=data_key, salt=message_id,
  info=b"COMMITKEY", L=32), stored in the header as the algorithm suite data and compared in
  constant time on decrypt.
* version 1 with HKDF: encryption key = HKDF-SHAxxx(ikm=data_key, salt=none, info=suite_id ||
  message_id (16 bytes), L=key length).
* identity KDF: the data key is the encryption key.

Signatures (suites with ECDSA): a fresh key pair per message; its public key travels in the
encryption context as ``aws-crypto-public-key``, the base64 of the SEC 1 compressed point; the
signature is ECDSA over the SHA-384 (or SHA-256) hash of the header and body, DER-encoded and, like
the AWS Encryption SDK for Python, normalised to a fixed length (103 bytes for P-384) by replacing
``s`` with ``n - s`` when needed (both are valid signatures).

This is the only kmslab module besides :mod:`kmslab.crypto` that imports pyca/cryptography: the
preallocated AES-GCM (``encrypt_into``/``decrypt_into``), HKDF ``derive_into`` and ECDSA that the
message format needs are not (yet) offered by ``crypto.py``.

Secrets: derived keys are written into bytearrays with ``derive_into`` and overwritten as soon as
the AES-GCM object holding its own copy is built. Nothing here logs or formats key bytes.
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import struct
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import AEADDecryptionContext, Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "AESGCM",
    "IV_LENGTH",
    "TAG_LENGTH",
    "InvalidTag",
    "Signer",
    "Suite",
    "SuiteSpec",
    "Verifier",
    "commitment_key",
    "encryption_cipher",
    "streaming_decryptor",
]

IV_LENGTH = 12
TAG_LENGTH = 16
COMMIT_KEY_LENGTH = 32
_DERIVE_LABEL = b"DERIVEKEY"
_COMMIT_LABEL = b"COMMITKEY"


@dataclass(frozen=True)
class SuiteSpec:
    """What an algorithm suite fixes: message version, key length, KDF, commitment, signature."""

    message_version: int
    key_length: int
    kdf_hash: str | None
    committing: bool = False
    curve: str | None = None
    signature_hash: str | None = None
    signature_length: int = 0

    @property
    def suite_data_length(self) -> int:
        return COMMIT_KEY_LENGTH if self.committing else 0


class Suite(enum.IntEnum):
    """The AWS Encryption SDK algorithm suites, by the SDK's own names."""

    AES_128_GCM_IV12_TAG16 = 0x0014
    AES_192_GCM_IV12_TAG16 = 0x0046
    AES_256_GCM_IV12_TAG16 = 0x0078
    AES_128_GCM_IV12_TAG16_HKDF_SHA256 = 0x0114
    AES_192_GCM_IV12_TAG16_HKDF_SHA256 = 0x0146
    AES_256_GCM_IV12_TAG16_HKDF_SHA256 = 0x0178
    AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 = 0x0214
    AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0346
    AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0378
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578

    @property
    def spec(self) -> SuiteSpec:
        return _SPECS[self]

    @property
    def message_version(self) -> int:
        return _SPECS[self].message_version

    @property
    def key_length(self) -> int:
        return _SPECS[self].key_length

    @property
    def committing(self) -> bool:
        return _SPECS[self].committing

    @property
    def signing(self) -> bool:
        return _SPECS[self].curve is not None

    @property
    def writable(self) -> bool:
        """kmslab writes only the committing suites; it reads them all."""
        return _SPECS[self].committing

    @property
    def label(self) -> str:
        return f"0x{self.value:04X} {self.name}"

    @classmethod
    def parse(cls, text: str | int) -> Suite:
        """A suite from its id (``0x0478``, ``1144``) or name (case-insensitive).

        Raises:
            ValueError: no such suite.
        """
        if isinstance(text, int):
            return cls(text)
        cleaned = text.strip()
        try:
            return cls(int(cleaned, 0))
        except ValueError:
            pass
        try:
            return cls[cleaned.upper()]
        except KeyError:
            names = ", ".join(f"{s.name} (0x{s.value:04X})" for s in cls if s.writable)
            raise ValueError(f"unknown algorithm suite {text!r}; kmslab writes {names}") from None


_P256 = ("secp256r1", "sha256", 71)
_P384 = ("secp384r1", "sha384", 103)


def _signed(
    version: int, key: int, kdf: str, curve: tuple[str, str, int], commit: bool = False
) -> SuiteSpec:
    return SuiteSpec(version, key, kdf, commit, curve[0], curve[1], curve[2])


_SPECS: dict[Suite, SuiteSpec] = {
    Suite.AES_128_GCM_IV12_TAG16: SuiteSpec(1, 16, None),
    Suite.AES_192_GCM_IV12_TAG16: SuiteSpec(1, 24, None),
    Suite.AES_256_GCM_IV12_TAG16: SuiteSpec(1, 32, None),
    Suite.AES_128_GCM_IV12_TAG16_HKDF_SHA256: SuiteSpec(1, 16, "sha256"),
    Suite.AES_192_GCM_IV12_TAG16_HKDF_SHA256: SuiteSpec(1, 24, "sha256"),
    Suite.AES_256_GCM_IV12_TAG16_HKDF_SHA256: SuiteSpec(1, 32, "sha256"),
    Suite.AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256: _signed(1, 16, "sha256", _P256),
    Suite.AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: _signed(1, 24, "sha384", _P384),
    Suite.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: _signed(1, 32, "sha384", _P384),
    Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY: SuiteSpec(2, 32, "sha512", True),
    Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384: _signed(2, 32, "sha512", _P384, True),
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@functools.cache
def _ecdsa() -> Any:
    """pyca's ECDSA and point encoding, imported on first use: only the signed suites need them,
    and importing them costs every ``kmslab encrypt`` process ~30 ms."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import (
        Prehashed,
        decode_dss_signature,
        encode_dss_signature,
    )
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return SimpleNamespace(
        ec=ec,
        curves={"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1},
        Prehashed=Prehashed,
        decode_dss_signature=decode_dss_signature,
        encode_dss_signature=encode_dss_signature,
        X962=Encoding.X962,
        CompressedPoint=PublicFormat.CompressedPoint,
    )


# Group orders (SEC 2, section 2.4.2 and 2.5.1), for the fixed-length signature normalisation.
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}


def _derive(suite: Suite, data_key: bytearray, message_id: bytes) -> bytearray:
    """The encryption key, in a bytearray the caller overwrites after use."""
    spec = suite.spec
    if len(data_key) != spec.key_length:
        raise ValueError(
            f"the data key is {len(data_key)} bytes; "
            f"suite 0x{suite.value:04X} needs {spec.key_length}"
        )
    derived = bytearray(spec.key_length)
    if spec.kdf_hash is None:
        derived[:] = data_key
        return derived
    if spec.committing:
        salt: bytes | None = message_id
        info = struct.pack(">H", suite.value) + _DERIVE_LABEL
    else:
        salt, info = None, struct.pack(">H", suite.value) + message_id
    HKDF(_HASHES[spec.kdf_hash](), spec.key_length, salt, info).derive_into(data_key, derived)
    return derived


def encryption_cipher(suite: Suite, data_key: bytearray, message_id: bytes) -> AESGCM:
    """The AES-GCM object for the header tag and the frames, from the plaintext data key.

    The derived key lives only in a bytearray that is overwritten before returning (the AESGCM
    object keeps its own copy inside OpenSSL).

    Raises:
        ValueError: a data key of the wrong length for the suite.
    """
    derived = _derive(suite, data_key, message_id)
    try:
        return AESGCM(derived)
    finally:
        derived[:] = bytes(len(derived))


def streaming_decryptor(
    suite: Suite, data_key: bytearray, message_id: bytes, iv: bytes, aad: bytes
) -> AEADDecryptionContext:
    """An incremental AES-GCM decryptor (``update_into`` then ``finalize_with_tag``) for the
    non-framed body, whose single block may be far larger than memory."""
    derived = _derive(suite, data_key, message_id)
    try:
        decryptor = Cipher(algorithms.AES(derived), modes.GCM(iv)).decryptor()
    finally:
        derived[:] = bytes(len(derived))
    decryptor.authenticate_additional_data(aad)
    return decryptor


def commitment_key(suite: Suite, data_key: bytearray, message_id: bytes) -> bytes:
    """The 32-byte commit key a committing suite stores in the header (a public value)."""
    if not suite.committing:
        return b""
    return HKDF(hashes.SHA512(), COMMIT_KEY_LENGTH, message_id, _COMMIT_LABEL).derive(data_key)


class Signer:
    """A fresh ECDSA key pair for one message; hashes what it is given, signs at the end."""

    def __init__(self, suite: Suite) -> None:
        spec = suite.spec
        if spec.curve is None or spec.signature_hash is None:
            raise ValueError(f"suite 0x{suite.value:04X} has no signature")
        self._spec = spec
        lib = _ecdsa()
        self._key: ec.EllipticCurvePrivateKey = lib.ec.generate_private_key(
            lib.curves[spec.curve]()
        )
        self._hash = hashlib.new(spec.signature_hash)
        point = self._key.public_key().public_bytes(lib.X962, lib.CompressedPoint)
        self.public_key = base64.b64encode(point).decode("ascii")
        self.update = self._hash.update

    def finalize(self) -> bytes:
        """The DER signature over everything passed to :meth:`update`, at the suite's length."""
        spec = self._spec
        assert spec.curve is not None and spec.signature_hash is not None
        digest = self._hash.digest()
        lib = _ecdsa()
        algorithm = lib.ec.ECDSA(lib.Prehashed(_HASHES[spec.signature_hash]()))
        while True:
            signature = self._key.sign(digest, algorithm)
            if len(signature) != spec.signature_length:
                r, s = lib.decode_dss_signature(signature)
                signature = lib.encode_dss_signature(r, _ORDERS[spec.curve] - s)
            if len(signature) == spec.signature_length:
                return signature

    def __repr__(self) -> str:
        return f"Signer({self._spec.curve}, public_key={self.public_key!r})"


class Verifier:
    """Checks a message signature against the public key from the encryption context."""

    def __init__(self, suite: Suite, public_key: str) -> None:
        """Raises ValueError for a public key that is not a valid point on the suite's curve."""
        spec = suite.spec
        if spec.curve is None or spec.signature_hash is None:
            raise ValueError(f"suite 0x{suite.value:04X} has no signature")
        lib = _ecdsa()
        try:
            point = base64.b64decode(public_key.encode("ascii"), validate=True)
            self._key: ec.EllipticCurvePublicKey = lib.ec.EllipticCurvePublicKey.from_encoded_point(
                lib.curves[spec.curve](), point
            )
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError("the message's signature public key is not a valid point") from exc
        self._algorithm = lib.ec.ECDSA(lib.Prehashed(_HASHES[spec.signature_hash]()))
        self._hash = hashlib.new(spec.signature_hash)
        self.update = self._hash.update

    def verify(self, signature: bytes) -> bool:
        try:
            self._key.verify(signature, self._hash.digest(), self._algorithm)
        except (InvalidSignature, ValueError):
            return False
        return True
