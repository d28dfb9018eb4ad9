"""Key and alias identifiers: parse what a caller wrote into one :class:`KeyRef`.

AWS accepts four spellings of a key (AWS KMS Developer Guide, "Key identifiers (KeyId)")::

    key id      1234abcd-12ab-34cd-56ef-1234567890ab     (or mrk-<32 hex> for multi-Region keys)
    key ARN     arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
    alias name  alias/ExampleAlias
    alias ARN   arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias

Management operations take only the first two; cryptographic operations and DescribeKey take
all four. Parsing is pure; resolving a reference against the lab's keys is the service's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import NotFoundException

_KEY_ID = re.compile(
    r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$")

PARTITION = "aws"


class RefKind(Enum):
    KEY_ID = "key id"
    KEY_ARN = "key ARN"
    ALIAS_NAME = "alias name"
    ALIAS_ARN = "alias ARN"


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A parsed key identifier. ``value`` is the key id or the alias name (``alias/...``)."""

    kind: RefKind
    value: str
    region: str | None = None
    account: str | None = None
    raw: str = ""

    @property
    def is_alias(self) -> bool:
        return self.kind in (RefKind.ALIAS_NAME, RefKind.ALIAS_ARN)


def is_key_id(text: str) -> bool:
    return _KEY_ID.match(text) is not None


def parse_key_ref(text: str) -> KeyRef:
    """Parse any of the four spellings.

    Raises:
        NotFoundException: ``Invalid keyId '<text>'`` for anything else (AWS's text).
    """
    if _KEY_ID.match(text):
        return KeyRef(RefKind.KEY_ID, text, raw=text)
    if text.startswith("alias/"):
        return KeyRef(RefKind.ALIAS_NAME, text, raw=text)
    m = _ARN.match(text)
    if m:
        _partition, region, account, kind, rest = m.groups()
        if kind == "key":
            if not _KEY_ID.match(rest):
                raise NotFoundException(f"Invalid keyId '{text}'")
            return KeyRef(RefKind.KEY_ARN, rest, region, account, text)
        return KeyRef(RefKind.ALIAS_ARN, "alias/" + rest, region, account, text)
    if text.startswith("arn:"):
        raise NotFoundException(f"Invalid arn {text}")
    raise NotFoundException(f"Invalid keyId '{text}'")


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:{PARTITION}:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    return f"arn:{PARTITION}:kms:{region}:{account}:{alias_name}"


def format_key_id(raw16: bytes) -> str:
    """A UUID-shaped key id (version-4 bits set) from 16 random bytes."""
    b = bytearray(raw16)
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
