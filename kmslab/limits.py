"""How much plaintext one KMS ``Encrypt`` call accepts, found by asking a real client.

Symmetric keys take at most 4096 bytes (the ``Plaintext`` member of botocore's KMS model says
so; beyond it KMS answers ``ValidationException``). RSA keys encrypt with RSAES-OAEP, whose
limit is ``k - 2*hLen - 2`` bytes for a ``k``-byte modulus and a ``hLen``-byte hash (RFC 8017,
section 7.1.1): 214/190 bytes for RSA_2048 with SHA-1/SHA-256, 342/318 for RSA_3072, 470/446
for RSA_4096. :func:`find_plaintext_limit` does not trust either number: it searches for the
boundary with real ``Encrypt`` calls and reports what it found beside what was expected.

Works over any boto3 KMS client (errors are read duck-typed, as in :mod:`kmslab.envelope`, so
no botocore import); no widgets, no matplotlib (the plot and its table twin are in
:mod:`kmslab.viz.limits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ENCRYPT_LIMIT",
    "PlaintextLimit",
    "check_direct_calls",
    "direct_encrypt_calls",
    "expected_limit",
    "find_plaintext_limit",
    "oaep_limit",
]

#: Bytes of plaintext one Encrypt call takes with a symmetric key.
ENCRYPT_LIMIT = 4096

MODULUS_BYTES = {"RSA_2048": 256, "RSA_3072": 384, "RSA_4096": 512}
HASH_BYTES = {"RSAES_OAEP_SHA_1": 20, "RSAES_OAEP_SHA_256": 32}


def oaep_limit(key_spec: str, algorithm: str) -> int:
    """RSAES-OAEP's largest message: modulus bytes - 2 x hash bytes - 2 (RFC 8017, 7.1.1)."""
    return MODULUS_BYTES[key_spec] - 2 * HASH_BYTES[algorithm] - 2


def expected_limit(key_spec: str, algorithm: str | None) -> int:
    """What the documentation leads you to expect for this key spec and algorithm."""
    if key_spec in MODULUS_BYTES and algorithm in HASH_BYTES:
        return oaep_limit(key_spec, algorithm)
    return ENCRYPT_LIMIT


@dataclass(frozen=True)
class PlaintextLimit:
    """The largest plaintext one Encrypt call accepted, and how it was found."""

    key_spec: str
    algorithm: str
    limit: int  # the largest size that worked (0: even 1 byte failed)
    calls: int  # Encrypt calls the search made
    code: str = ""  # the error code of the smallest size that failed
    message: str = ""

    @property
    def expected(self) -> int:
        return expected_limit(self.key_spec, self.algorithm)

    @property
    def label(self) -> str:
        if self.algorithm in ("", "SYMMETRIC_DEFAULT"):
            return self.key_spec
        return f"{self.key_spec} {self.algorithm.removeprefix('RSAES_')}"

    def line(self) -> str:
        return (
            f"{self.label}: {self.limit} bytes OK, {self.limit + 1} bytes {self.code} "
            f"({self.calls} Encrypt calls)"
        )


def find_plaintext_limit(
    kms: Any,
    key_id: str,
    *,
    key_spec: str = "SYMMETRIC_DEFAULT",
    algorithm: str | None = None,
    high: int = 2 * ENCRYPT_LIMIT,
) -> PlaintextLimit:
    """Binary-search the largest plaintext ``Encrypt`` accepts for ``key_id`` (sizes 1 ..
    ``high``), with real calls through ``kms``. ``algorithm`` is sent as EncryptionAlgorithm
    (required for RSA keys). About log2(high) calls."""
    ok, failed = 0, high + 1  # largest size known to work, smallest known to fail
    calls, code, message = 0, "", ""
    while failed - ok > 1:
        size = (ok + failed) // 2
        params: dict[str, Any] = {"KeyId": key_id, "Plaintext": b"x" * size}
        if algorithm is not None:
            params["EncryptionAlgorithm"] = algorithm
        calls += 1
        try:
            kms.encrypt(**params)
        except Exception as exc:  # a botocore ClientError, duck-typed: no botocore import here
            response = getattr(exc, "response", None)
            if not (isinstance(response, dict) and isinstance(response.get("Error"), dict)):
                raise
            failed = size
            code = str(response["Error"].get("Code", ""))
            message = str(response["Error"].get("Message", ""))
        else:
            ok = size
    return PlaintextLimit(key_spec, algorithm or "SYMMETRIC_DEFAULT", ok, calls, code, message)


def direct_encrypt_calls(size: int, limit: int = ENCRYPT_LIMIT) -> int:
    """Encrypt calls needed to encrypt ``size`` bytes directly, ``limit`` bytes per call."""
    if size < 0 or limit < 1:
        raise ValueError("size must not be negative and limit must be positive")
    return max(1, math.ceil(size / limit))


def check_direct_calls(answer: Any, size: int, limit: int = ENCRYPT_LIMIT) -> str:
    """Exercise check: how many Encrypt calls would ``size`` bytes need without data keys?
    Returns "correct: ..." or "not yet: ..." with a hint."""
    expected = direct_encrypt_calls(size, limit)
    if answer == expected:
        return (
            f"correct: {size:,} bytes / {limit:,} bytes per call = {expected:,} Encrypt calls "
            f"(and {expected:,} Decrypt calls to read it back). With a data key: one "
            "GenerateDataKey call, whatever the size."
        )
    return (
        f"not yet: {answer!r} is not it. Hint: divide the size in bytes ({size:,}; "
        f"1 MiB = 1024 x 1024 bytes) by the most one Encrypt call takes ({limit:,}), "
        "and round up."
    )
