"""The two ways to protect data with KMS that the benchmark compares.

**direct**: cut the data into 4096-byte chunks (the most one ``Encrypt`` call accepts) and send
every chunk to KMS; decrypting sends every ciphertext back. Serial, or from a thread pool (the
fair best a user could do: it hides round trips, though not the client's CPU time per call).

**envelope**: one ``GenerateDataKey``, then AES-256-GCM on this machine; decrypting takes one
``Decrypt`` of the wrapped data key. With :mod:`kmslab.envelope` (the AWS Encryption SDK message
format) when it can be imported, otherwise a minimal stand-in that says so in its label.

Each runner returns a :class:`Run`: wall seconds, how many chunks were done, and the outputs.
Direct runs stop at a time cap (after at least ``min_calls`` calls) so that a 64 MiB run does
not take minutes; the caller extrapolates the rest.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .record import CHUNK_BYTES, chunk_count

__all__ = [
    "Cancelled",
    "Envelope",
    "Run",
    "direct_decrypt",
    "direct_encrypt",
    "envelope_codec",
]


class Cancelled(Exception):
    """The run was cancelled (the progress bar's Cancel button, or ``progress.cancel()``)."""


@dataclass
class Run:
    seconds: float
    done: int
    outputs: list[bytes]


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _capped(
    call: Callable[[int], bytes],
    total: int,
    *,
    workers: int,
    cap_seconds: float,
    min_calls: int,
    cancel: threading.Event | None,
) -> Run:
    """Call ``call(i)`` for i in 0..total-1 until done, or until ``cap_seconds`` have passed
    and at least ``min_calls`` calls are done. Returns the outputs of the calls made, in order."""
    outputs: list[bytes | None] = [None] * total
    start = time.perf_counter()
    if workers <= 1:
        done = 0
        for i in range(total):
            _check(cancel)
            outputs[i] = call(i)
            done += 1
            if done >= min_calls and time.perf_counter() - start > cap_seconds:
                break
        return Run(time.perf_counter() - start, done, [o for o in outputs if o is not None])

    stop = threading.Event()
    lock = threading.Lock()
    count = [0]

    def one(i: int) -> None:
        if stop.is_set() or (cancel is not None and cancel.is_set()):
            return
        outputs[i] = call(i)
        with lock:
            count[0] += 1
            if count[0] >= min_calls and time.perf_counter() - start > cap_seconds:
                stop.set()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmslab-bench") as pool:
        futures = [pool.submit(one, i) for i in range(total)]
        try:
            for future in futures:
                future.result()
        except BaseException:  # Ctrl-C or a failed call: do not run the queued calls
            stop.set()
            for future in futures:
                future.cancel()
            raise
    seconds = time.perf_counter() - start
    _check(cancel)
    # Threads finish out of order: keep the calls made, as a prefix is not guaranteed.
    done_outputs = [o for o in outputs if o is not None]
    return Run(seconds, len(done_outputs), done_outputs)


def direct_encrypt(
    kms: Any,
    key_id: str,
    data: bytes,
    *,
    workers: int = 1,
    cap_seconds: float = float("inf"),
    min_calls: int = 1,
    cancel: threading.Event | None = None,
) -> Run:
    """One ``Encrypt`` per 4096-byte chunk of ``data``; outputs are the ciphertext blobs."""
    view = memoryview(data)

    def encrypt(i: int) -> bytes:
        chunk = bytes(view[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES])
        return bytes(kms.encrypt(KeyId=key_id, Plaintext=chunk)["CiphertextBlob"])

    return _capped(
        encrypt,
        chunk_count(len(data)),
        workers=workers,
        cap_seconds=cap_seconds,
        min_calls=min_calls,
        cancel=cancel,
    )


def direct_decrypt(
    kms: Any,
    blobs: Sequence[bytes],
    *,
    workers: int = 1,
    cap_seconds: float = float("inf"),
    min_calls: int = 1,
    cancel: threading.Event | None = None,
) -> Run:
    """One ``Decrypt`` per ciphertext blob; outputs are the plaintext chunks."""

    def decrypt(i: int) -> bytes:
        return bytes(kms.decrypt(CiphertextBlob=blobs[i])["Plaintext"])

    return _capped(
        decrypt,
        len(blobs),
        workers=workers,
        cap_seconds=cap_seconds,
        min_calls=min_calls,
        cancel=cancel,
    )


@dataclass(frozen=True)
class Envelope:
    """An envelope implementation: ``encrypt(kms, data, key_id)`` and ``decrypt(kms, blob)``."""

    label: str
    encrypt: Callable[[Any, bytes, str], bytes]
    decrypt: Callable[[Any, bytes], bytes]


def _minimal_encrypt(kms: Any, data: bytes, key_id: str) -> bytes:
    from kmslab import crypto

    response = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    wrapped = bytes(response["CiphertextBlob"])
    nonce = os.urandom(12)
    sealed = crypto.aes_gcm_encrypt(bytes(response["Plaintext"]), nonce, data, wrapped)
    return len(wrapped).to_bytes(2, "big") + wrapped + nonce + sealed


def _minimal_decrypt(kms: Any, blob: bytes) -> bytes:
    from kmslab import crypto

    n = int.from_bytes(blob[:2], "big")
    wrapped, nonce, sealed = blob[2 : 2 + n], blob[2 + n : 14 + n], blob[14 + n :]
    key = bytes(kms.decrypt(CiphertextBlob=wrapped)["Plaintext"])
    return crypto.aes_gcm_decrypt(key, nonce, sealed, wrapped)


MINIMAL = Envelope(
    "minimal stand-in: GenerateDataKey + one AES-256-GCM call (not the ESDK format)",
    _minimal_encrypt,
    _minimal_decrypt,
)


def envelope_codec(prefer_minimal: bool = False) -> Envelope:
    """:mod:`kmslab.envelope` when it imports (and not ``prefer_minimal``), else :data:`MINIMAL`."""
    if prefer_minimal:
        return MINIMAL
    try:
        from kmslab import envelope
    except ImportError:
        return MINIMAL

    def encrypt(kms: Any, data: bytes, key_id: str) -> bytes:
        return envelope.encrypt(kms, data, key_id=key_id)

    def decrypt(kms: Any, blob: bytes) -> bytes:
        return envelope.decrypt(kms, blob)

    frame = getattr(envelope, "DEFAULT_FRAME_LENGTH", None)
    frames = f", {frame // 1024} KiB frames" if isinstance(frame, int) else ""
    return Envelope(f"kmslab.envelope (AWS Encryption SDK message{frames})", encrypt, decrypt)
