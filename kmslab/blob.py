"""The symmetric ciphertext blob: kmslab's own versioned format.

AWS's blob is internal and undocumented (the Decrypt API reference calls it opaque and
incompatible with other libraries); this one is kmslab's and is written down here. Like AWS's,
it carries an unencrypted header that names the KMS key and the key material that encrypted
it, which is why Decrypt needs no KeyId, and that header is authenticated as AAD.

Byte layout (big-endian), version 1::

    offset  size  field
    0       1     version            0x01
    1       1     key id form        0x00: a UUID key id; 0x01: a multi-Region key (mrk-<32 hex>)
    2       5     account            the key's 12-digit AWS account id as an unsigned integer
    7       16    key id             the UUID, or the 32 hex digits after "mrk-", as raw bytes
    23      32    key material id    the KeyMaterialId (64 hex chars in the API), raw bytes
    55      12    nonce              random, per ciphertext
    67      n     ciphertext         AES-256-GCM of the plaintext
    67+n    16    tag                GCM tag over the ciphertext and the AAD

    AAD = bytes[0:55] (the header) || canonical encryption context (see context.py)

The Region is deliberately absent: the replicas of a multi-Region key share its id and its
material, so their ciphertexts decrypt in every Region the key lives in, as in AWS.

Overhead is 83 bytes, so a 4096-byte plaintext gives a 4179-byte blob, inside the model's
6144-byte CiphertextBlob limit. Any change to any byte (header, nonce, body, tag) or to the
encryption context makes authentication fail; the service reports that, like AWS, as an
InvalidCiphertextException with an empty message.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

VERSION = 1
HEADER_BYTES = 55
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
_UUID, _MRK = 0, 1


class BlobFormatError(ValueError):
    """Bytes that are not a kmslab ciphertext blob."""


@dataclass(frozen=True)
class Blob:
    account: str
    key_id: str
    key_material_id: str
    nonce: bytes
    body: bytes  # ciphertext || tag
    header: bytes


@lru_cache(maxsize=4096)
def make_header(account: str, key_id: str, key_material_id: str) -> bytes:
    if key_id.startswith("mrk-"):
        form, raw = _MRK, bytes.fromhex(key_id[4:])
    else:
        form, raw = _UUID, bytes.fromhex(key_id.replace("-", ""))  # a canonical key id
    return (
        bytes((VERSION, form))
        + int(account).to_bytes(5, "big")
        + raw
        + bytes.fromhex(key_material_id)
    )


def _uuid_text(h: str) -> str:
    """The 8-4-4-4-12 form of 32 hex digits (what ``str(uuid.UUID(hex=h))`` gives, without
    importing :mod:`uuid`, which imports :mod:`platform` on Linux: ~5 ms of every command)."""
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def pack(header: bytes, nonce: bytes, body: bytes) -> bytes:
    return header + nonce + body


def unpack(data: bytes) -> Blob:
    """Split a blob into its fields (no cryptography here).

    Raises:
        BlobFormatError: wrong version or form, or too short.
    """
    if len(data) < OVERHEAD + 1 or data[0] != VERSION or data[1] not in (_UUID, _MRK):
        raise BlobFormatError("not a kmslab ciphertext blob")
    raw = data[7:23]
    key_id = "mrk-" + raw.hex() if data[1] == _MRK else _uuid_text(raw.hex())
    return Blob(
        account=f"{int.from_bytes(data[2:7], 'big'):012d}",
        key_id=key_id,
        key_material_id=data[23:55].hex(),
        nonce=data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
        body=data[HEADER_BYTES + NONCE_BYTES :],
        header=data[:HEADER_BYTES],
    )
