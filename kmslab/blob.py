"""The symmetric ciphertext blob: kmslab's own versioned format.

AWS's blob is internal and undocumented (the Decrypt API reference calls it opaque and
incompatible with other libraries); this one is kmslab's and is written down here. Like AWS's,
it carries an unencrypted header that names the KMS key and the key material that encrypted
it, which is why Decrypt needs no KeyId, and that header is authenticated as AAD.

Byte layout (big-endian), version 1::

    offset  size  field
    0       1     version            0x01
    1       16    key id             the UUID of the KMS key, raw bytes
    17      32    key material id    the KeyMaterialId (64 hex chars in the API), raw bytes
    49      12    nonce              random, per ciphertext
    61      n     ciphertext         AES-256-GCM of the plaintext
    61+n    16    tag                GCM tag over the ciphertext and the AAD

    AAD = bytes[0:49] (the header) || canonical encryption context (see context.py)

Overhead is 77 bytes, so a 4096-byte plaintext gives a 4173-byte blob, inside the model's
6144-byte CiphertextBlob limit. Any change to any byte (header, nonce, body, tag) or to the
encryption context makes authentication fail; the service reports that, like AWS, as an
InvalidCiphertextException with an empty message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

VERSION = 1
HEADER_BYTES = 49
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class BlobFormatError(ValueError):
    """Bytes that are not a kmslab ciphertext blob."""


@dataclass(frozen=True, slots=True)
class Blob:
    key_id: str
    key_material_id: str
    nonce: bytes
    body: bytes  # ciphertext || tag
    header: bytes

    @property
    def aad_prefix(self) -> bytes:
        return self.header


def make_header(key_id: str, key_material_id: str) -> bytes:
    return bytes((VERSION,)) + uuid.UUID(key_id).bytes + bytes.fromhex(key_material_id)


def pack(header: bytes, nonce: bytes, body: bytes) -> bytes:
    return header + nonce + body


def unpack(data: bytes) -> Blob:
    """Split a blob into its fields (no cryptography here).

    Raises:
        BlobFormatError: wrong version or too short.
    """
    if len(data) < OVERHEAD + 1 or data[0] != VERSION:
        raise BlobFormatError("not a kmslab ciphertext blob")
    header = data[:HEADER_BYTES]
    return Blob(
        key_id=str(uuid.UUID(bytes=data[1:17])),
        key_material_id=data[17:49].hex(),
        nonce=data[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
        body=data[HEADER_BYTES + NONCE_BYTES :],
        header=header,
    )
