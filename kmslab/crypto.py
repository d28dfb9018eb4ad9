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
