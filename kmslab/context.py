"""Encryption context -> canonical additional authenticated data (AAD).

The encryption context is a map of UTF-8 strings that KMS binds to a symmetric ciphertext: the
same pairs, in any order, must be given to decrypt. Comparison is exact and case-sensitive.

Canonical encoding (the one the AWS Encryption SDK uses for its header, reused here so that
there is one unambiguous encoding in the project)::

    uint16   number of pairs                     (0 for an empty or missing context)
    then, for each pair sorted by the UTF-8 bytes of its key:
    uint16   length of key   | key bytes (UTF-8)
    uint16   length of value | value bytes (UTF-8)

Length prefixes make the encoding injective: no two different contexts encode to the same
bytes (``{"a": "bc"}`` and ``{"ab": "c"}`` differ), which a property test checks.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from .errors import ValidationException

_U16 = struct.Struct(">H")
_EMPTY = b"\x00\x00"


def encode_context(context: Mapping[str, str] | None) -> bytes:
    """Canonical bytes of an encryption context.

    Raises:
        ValidationException: a key or value too long to encode (over 65535 UTF-8 bytes).
    """
    if not context:
        return _EMPTY
    if len(context) > 0xFFFF:
        raise ValidationException("Encryption context has too many pairs.")
    parts = [_U16.pack(len(context))]
    for key, value in sorted(
        ((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items()),
    ):
        if len(key) > 0xFFFF or len(value) > 0xFFFF:
            raise ValidationException("Encryption context key or value is too long.")
        parts += (_U16.pack(len(key)), key, _U16.pack(len(value)), value)
    return b"".join(parts)


def decode_context(data: bytes) -> dict[str, str]:
    """Inverse of :func:`encode_context` (used by tests and the blob inspector).

    Raises:
        ValueError: bytes that are not a canonical encoding.
    """
    (count,) = _U16.unpack_from(data, 0)
    pos = 2
    out: dict[str, str] = {}
    for _ in range(count):
        (klen,) = _U16.unpack_from(data, pos)
        key = data[pos + 2 : pos + 2 + klen]
        pos += 2 + klen
        (vlen,) = _U16.unpack_from(data, pos)
        value = data[pos + 2 : pos + 2 + vlen]
        pos += 2 + vlen
        if len(key) != klen or len(value) != vlen:
            raise ValueError("truncated encryption context")
        out[key.decode("utf-8")] = value.decode("utf-8")
    if pos != len(data) or encode_context(out) != data:
        raise ValueError("not a canonical encryption context")
    return out
