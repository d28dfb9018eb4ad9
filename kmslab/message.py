"""The AWS Encryption SDK message format as bytes: parse, serialize, walk, and map it.

No cryptography and no KMS here: this module only knows where each field sits and checks what can
be checked without a key (lengths, versions, counts, sequence numbers, the final frame). The byte
layout, field by field with the specification sections it comes from, is in the docstring of
:mod:`kmslab.envelope`; the names below follow that layout.

The envelope's exceptions are defined here, at the bottom layer that first raises them, and
re-exported by :mod:`kmslab.envelope`, which draws the tree.
"""

from __future__ import annotations

import contextlib
import enum
import io
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .suite import IV_LENGTH, TAG_LENGTH, Suite

__all__ = [
    "FINAL_FRAME_AAD",
    "FRAME_AAD",
    "MAX_FRAMES",
    "MAX_FRAME_LENGTH",
    "PROVIDER_ID_KMS",
    "PUBLIC_KEY_FIELD",
    "SEQUENCE_NUMBER_END",
    "SINGLE_BLOCK_AAD",
    "AuthenticationError",
    "ContentType",
    "DataKeyError",
    "EncryptedDataKey",
    "EncryptionContextError",
    "EnvelopeError",
    "FrameInfo",
    "Header",
    "InvalidParameterError",
    "MessageFormatError",
    "MessageMap",
    "MessageReader",
    "ParsedHeader",
    "Region",
    "TruncatedMessageError",
    "UnsupportedMessageError",
    "before_final",
    "body_aad",
    "decode_context",
    "encode_context",
    "map_message",
    "parse_header",
    "readinto_of",
    "serialize_header_body",
    "walk_body",
]

# -- errors -------------------------------------------------------------------------------------


class EnvelopeError(Exception):
    """Base class of every error :mod:`kmslab.envelope` raises on purpose."""


class InvalidParameterError(EnvelopeError, ValueError):
    """A caller mistake: no KMS key, a bad frame length, a reserved context key, ..."""


class MessageFormatError(EnvelopeError):
    """The bytes are not a well-formed AWS Encryption SDK message."""


class TruncatedMessageError(MessageFormatError):
    """The message ends early: inside a field, before the final frame, or before the footer."""


class UnsupportedMessageError(MessageFormatError):
    """A version, algorithm suite, message type or content type this module does not read."""


class AuthenticationError(EnvelopeError):
    """A tag, the key commitment, the frame order or the signature does not verify.

    The message was modified, or it was not made with the data key it carries.
    """


class EncryptionContextError(EnvelopeError):
    """The authenticated encryption context lacks a required pair, or an argument misuses one."""


class DataKeyError(EnvelopeError):
    """KMS could not generate, encrypt or decrypt the data key with any of the KMS keys.

    ``failures`` lists ``(key id, AWS error code, AWS message)`` for each key tried.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


# -- constants ----------------------------------------------------------------------------------

PROVIDER_ID_KMS = "aws-kms"
PUBLIC_KEY_FIELD = "aws-crypto-public-key"
RESERVED_PREFIX = "aws-crypto-"
TYPE_CUSTOMER_AE = 0x80
SEQUENCE_NUMBER_END = 0xFFFFFFFF
FRAME_AAD = b"AWSKMSEncryptionClient Frame"
FINAL_FRAME_AAD = b"AWSKMSEncryptionClient Final Frame"
SINGLE_BLOCK_AAD = b"AWSKMSEncryptionClient Single Block"
MAX_FRAME_LENGTH = 2**31 - 1  # the AWS Encryption SDK's limit (the format allows 2^32 - 1)
MAX_FRAMES = 2**32 - 1
MAX_NON_FRAMED_LENGTH = 2**36 - 32
_READ_SIZE = 1 << 20  # the reader's usual read from the stream
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class ContentType(enum.IntEnum):
    NON_FRAMED = 0x01
    FRAMED = 0x02


def body_aad(message_id: bytes, content: bytes, sequence_number: int, length: int) -> bytes:
    """Message body AAD: message id || content string || uint32 sequence || uint64 length."""
    return message_id + content + _U32.pack(sequence_number) + _U64.pack(length)


# -- encryption context -------------------------------------------------------------------------


def encode_context(context: Mapping[str, str]) -> bytes:
    """The header's key-value pairs: uint16 count, then pairs sorted by UTF-8 key bytes, each as
    uint16 length + key + uint16 length + value. An empty context encodes to no bytes at all.

    Raises:
        InvalidParameterError: a non-string, or a key, value or whole encoding over 65535 bytes.
    """
    if not context:
        return b""
    pairs = []
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidParameterError("encryption context keys and values must be strings")
        pairs.append((key.encode("utf-8"), value.encode("utf-8")))
    if len(pairs) > 0xFFFF:
        raise InvalidParameterError("the encryption context has more than 65535 pairs")
    parts = [_U16.pack(len(pairs))]
    for key_bytes, value_bytes in sorted(pairs):
        if len(key_bytes) > 0xFFFF or len(value_bytes) > 0xFFFF:
            raise InvalidParameterError("an encryption context key or value exceeds 65535 bytes")
        parts += (_U16.pack(len(key_bytes)), key_bytes, _U16.pack(len(value_bytes)), value_bytes)
    encoded = b"".join(parts)
    if len(encoded) > 0xFFFF:
        raise InvalidParameterError("the encoded encryption context exceeds 65535 bytes")
    return encoded


def decode_context(data: bytes) -> dict[str, str]:
    """Inverse of :func:`encode_context`.

    Raises:
        MessageFormatError: bad lengths, invalid UTF-8, duplicate keys, or bytes left over.
    """
    if not data:
        return {}
    try:
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
                raise MessageFormatError("the encryption context is cut short")
            text = key.decode("utf-8")
            if text in out:
                raise MessageFormatError(f"the encryption context repeats the key {text!r}")
            out[text] = value.decode("utf-8")
    except struct.error:
        raise MessageFormatError("the encryption context is cut short") from None
    except UnicodeDecodeError:
        raise MessageFormatError("the encryption context is not valid UTF-8") from None
    if count == 0:
        raise MessageFormatError("a non-empty encryption context encoding declares zero pairs")
    if pos != len(data):
        raise MessageFormatError("the encryption context has bytes left over")
    return out


# -- header -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedDataKey:
    """One header entry: who can unwrap the data key (provider id and info) and the wrapped key."""

    provider_id: str
    provider_info: bytes
    ciphertext: bytes

    @property
    def key_arn(self) -> str:
        """The provider info as text: for ``aws-kms`` entries, the KMS key ARN."""
        return self.provider_info.decode("utf-8", "replace")

    def serialize(self) -> bytes:
        provider = self.provider_id.encode("utf-8")
        for name, part in (
            ("key provider id", provider),
            ("key provider info", self.provider_info),
            ("encrypted data key", self.ciphertext),
        ):
            if len(part) > 0xFFFF:
                raise InvalidParameterError(f"the {name} exceeds 65535 bytes")
        return b"".join(
            (
                _U16.pack(len(provider)),
                provider,
                _U16.pack(len(self.provider_info)),
                self.provider_info,
                _U16.pack(len(self.ciphertext)),
                self.ciphertext,
            )
        )

    def __repr__(self) -> str:
        return (
            f"EncryptedDataKey(provider_id={self.provider_id!r}, "
            f"provider_info={self.key_arn!r}, ciphertext=<{len(self.ciphertext)} bytes>)"
        )


@dataclass(frozen=True)
class Header:
    """The header body's fields (specification: data-format/message-header.md)."""

    suite: Suite
    message_id: bytes
    encryption_context: Mapping[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int
    content_type: ContentType = ContentType.FRAMED
    commitment: bytes = b""

    @property
    def version(self) -> int:
        return self.suite.message_version

    @property
    def key_arns(self) -> tuple[str, ...]:
        """The KMS key ARNs of the ``aws-kms`` encrypted data keys, in header order."""
        return tuple(
            edk.key_arn for edk in self.encrypted_data_keys if edk.provider_id == PROVIDER_ID_KMS
        )


def serialize_header_body(header: Header) -> bytes:
    """The header body bytes (version 1 or 2, from the suite), which the header tag authenticates.

    Raises:
        InvalidParameterError: a field that does not fit its length prefix.
    """
    context = encode_context(header.encryption_context)
    if not header.encrypted_data_keys:
        raise InvalidParameterError("a message needs at least one encrypted data key")
    edks = [_U16.pack(len(header.encrypted_data_keys))]
    edks += [edk.serialize() for edk in header.encrypted_data_keys]
    suite = header.suite
    if suite.message_version == 2:
        if len(header.message_id) != 32 or len(header.commitment) != suite.spec.suite_data_length:
            raise InvalidParameterError(
                "a version 2 header needs a 32-byte message id and commit key"
            )
        start = bytes((2,)) + _U16.pack(suite.value) + header.message_id
        end = bytes((header.content_type,)) + _U32.pack(header.frame_length) + header.commitment
    else:
        if len(header.message_id) != 16:
            raise InvalidParameterError("a version 1 header needs a 16-byte message id")
        start = bytes((1, TYPE_CUSTOMER_AE)) + _U16.pack(suite.value) + header.message_id
        end = (
            bytes((header.content_type,))
            + bytes(4)
            + bytes((IV_LENGTH,))
            + _U32.pack(header.frame_length)
        )
    return b"".join((start, _U16.pack(len(context)), context, *edks, end))


@dataclass(frozen=True)
class Region:
    """One field of a message: where it is, what it is called, what it holds (as text)."""

    section: str  # "header", "header auth", "body", "footer"
    name: str
    start: int
    end: int
    value: str = ""
    frame: int | None = None

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ParsedHeader:
    """A header read from a message: its fields, its exact bytes, and where everything sits."""

    header: Header
    body: bytes  # the header body bytes, as read (what the header tag and the signature cover)
    auth_iv: bytes  # version 1 only (12 zero bytes as the SDKs write it); b"" for version 2
    auth_tag: bytes
    regions: tuple[Region, ...] = field(repr=False)

    @property
    def length(self) -> int:
        """Header body plus header authentication, in bytes."""
        return len(self.body) + len(self.auth_iv) + len(self.auth_tag)


def _hex(data: bytes, limit: int = 16) -> str:
    text = data[:limit].hex()
    return text + ("…" if len(data) > limit else "") + f" ({len(data)} bytes)"


def readinto_of(stream: IO[bytes]) -> Callable[[memoryview], int | None]:
    """``stream.readinto``, or an emulation for streams that only have ``read``."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto  # type: ignore[no-any-return]

    def emulate(view: memoryview) -> int:
        data = stream.read(len(view))
        view[: len(data)] = data
        return len(data)

    return emulate


class MessageReader:
    """Reads a message from a binary stream through its own buffer, counting offsets.

    Reads from the stream are large (up to 1 MiB, or four of the largest piece asked for), and
    :meth:`view` hands out pieces of the buffer without copying, so a frame costs no system call
    of its own whatever its size. A view is valid until the next call on the reader. The reader
    may read past the end of the message, into what follows it in the stream; ``at_end`` says
    whether anything does. Data that ends early raises :class:`TruncatedMessageError`.
    """

    def __init__(self, stream: IO[bytes], offset: int = 0) -> None:
        self._stream = stream
        self._readinto = readinto_of(stream)
        self._buffer = bytearray(1 << 14)
        self._view = memoryview(self._buffer)
        self._spare: bytearray | None = None  # the other buffer of the same size, once needed
        self._lo = 0  # next unread byte in the buffer
        self._hi = 0  # end of the buffered bytes
        self._pulled = 0  # bytes read from the stream so far
        self.offset = offset
        self.regions: list[Region] | None = None

    def _refill(self, n: int, what: str, missing: str | None) -> None:
        """Make at least ``n`` bytes available from ``_lo``.

        The unread bytes move to the start of the other of two buffers (one copy, no
        allocation), which then fills from the stream.
        """
        size = len(self._buffer)
        kept = self._hi - self._lo
        grow = 4 * n > size or (self._pulled >= 4 * size and size < _READ_SIZE)
        if grow or (self._lo and kept):
            if grow:
                target = bytearray(max(4 * n, min(_READ_SIZE, 4 * size)))
                self._spare = None
            else:
                target = self._spare if self._spare is not None else bytearray(size)
                self._spare = self._buffer
            view = memoryview(target)
            view[:kept] = self._view[self._lo : self._hi]
            self._buffer, self._view = target, view
        self._lo, self._hi = 0, kept
        while self._hi - self._lo < n:
            got = self._readinto(self._view[self._hi :])
            if not got:
                available = self._hi - self._lo
                if not available and missing:
                    raise TruncatedMessageError(f"{missing} (offset {self.offset})")
                raise TruncatedMessageError(
                    f"the message ends inside the {what} (offset {self.offset + available})"
                )
            self._hi += got
            self._pulled += got

    def view(self, n: int, what: str, missing: str | None = None) -> memoryview:
        """The next ``n`` bytes, as a view valid until the next call on this reader.

        ``missing`` is the error message when nothing at all is left.
        """
        if self._hi - self._lo < n:
            self._refill(n, what, missing)
        lo = self._lo
        self._lo = lo + n
        self.offset += n
        return self._view[lo : lo + n]

    def exact(self, n: int, what: str) -> bytes:
        return bytes(self.view(n, what))

    def read_upto(self, target: memoryview) -> int:
        """Fill ``target`` with the next bytes: all of it, or fewer only where the stream ends.

        Buffered bytes come first; the rest is read from the stream straight into ``target``,
        not through the reader's buffer. Returns how many bytes were taken.
        """
        buffered = min(self._hi - self._lo, len(target))
        target[:buffered] = self._view[self._lo : self._lo + buffered]
        self._lo += buffered
        got = buffered
        while got < len(target):
            more = self._readinto(target[got:])
            if not more:
                break
            got += more
            self._pulled += more
        self.offset += got
        return got

    def unread(self, data: memoryview) -> None:
        """Give back ``data``, the last bytes taken: the next call reads them again."""
        if not data:
            return
        kept = self._view[self._lo : self._hi]
        target = bytearray(max(len(self._buffer), len(data) + len(kept)))
        target[: len(data)] = data
        target[len(data) : len(data) + len(kept)] = kept
        self._buffer, self._view, self._spare = target, memoryview(target), None
        self._lo, self._hi = 0, len(data) + len(kept)
        self.offset -= len(data)

    def into(self, target: memoryview, what: str, missing: str | None = None) -> None:
        """Fill ``target`` with the next ``len(target)`` bytes."""
        target[:] = self.view(len(target), what, missing)

    def skip(self, n: int, what: str) -> None:
        """Pass over ``n`` bytes (seeking where the stream can)."""
        buffered = min(n, self._hi - self._lo)
        self._lo += buffered
        self.offset += buffered
        left = n - buffered
        if not left:
            return
        seekable = False
        with contextlib.suppress(AttributeError, OSError):
            seekable = self._stream.seekable()
        if seekable:
            here = self._stream.tell()
            end = self._stream.seek(0, io.SEEK_END)
            if end - here < left:
                self.offset += end - here
                raise TruncatedMessageError(
                    f"the message ends inside the {what} (offset {self.offset})"
                )
            self._stream.seek(here + left)
            self.offset += left
            return
        while left:
            step = min(left, _READ_SIZE)
            self.view(step, what)
            left -= step

    def at_end(self) -> bool:
        """True when nothing follows the bytes read so far."""
        if self._hi > self._lo:
            return False
        self._lo = self._hi = 0
        got = self._readinto(self._view[:1]) or 0
        self._hi = got
        return not got

    def field(
        self, section: str, name: str, n: int, show: Callable[[bytes], str] | None = None
    ) -> bytes:
        start = self.offset
        data = self.exact(n, name)
        if self.regions is not None:
            value = show(data) if show else _hex(data)
            self.regions.append(Region(section, name, start, self.offset, value))
        return data


def _u16(data: bytes) -> int:
    return int(_U16.unpack(data)[0])


def _u32(data: bytes) -> int:
    return int(_U32.unpack(data)[0])


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def parse_header(reader: MessageReader) -> ParsedHeader:
    """Read the header body and header authentication from ``reader``.

    Raises:
        TruncatedMessageError, UnsupportedMessageError, MessageFormatError.
    """
    regions: list[Region] = []
    reader.regions = regions
    start = reader.offset
    raw: list[bytes] = []
    try:

        def take(name: str, n: int, show: Callable[[bytes], str] | None = None) -> bytes:
            data = reader.field("header", name, n, show)
            raw.append(data)
            return data

        version = take("Version", 1, lambda b: str(b[0]))[0]
        if version not in (1, 2):
            raise UnsupportedMessageError(
                f"message format version {version} is not one this module reads (1 or 2); "
                "is this an AWS Encryption SDK message?"
            )
        if version == 1:
            kind = take("Type", 1, lambda b: f"0x{b[0]:02X}")[0]
            if kind != TYPE_CUSTOMER_AE:
                raise UnsupportedMessageError(f"message type 0x{kind:02X} is not 0x80")
        suite_id = _u16(take("Algorithm Suite ID", 2, lambda b: _suite_label(_u16(b))))
        try:
            suite = Suite(suite_id)
        except ValueError:
            raise UnsupportedMessageError(f"unknown algorithm suite 0x{suite_id:04X}") from None
        if suite.message_version != version:
            raise UnsupportedMessageError(
                f"suite 0x{suite_id:04X} belongs to message format version "
                f"{suite.message_version}, not {version}"
            )
        message_id = take("Message ID", 16 if version == 1 else 32, lambda b: b.hex())
        context_length = _u16(take("AAD Length", 2, lambda b: str(_u16(b))))
        context_start = reader.offset
        context_bytes = reader.exact(context_length, "encryption context")
        raw.append(context_bytes)
        context = decode_context(context_bytes)
        _context_regions(regions, context_start, context_bytes)
        edk_count = _u16(take("Encrypted Data Key Count", 2, lambda b: str(_u16(b))))
        if edk_count == 0:
            raise MessageFormatError("the header has no encrypted data keys")
        edks = []
        for i in range(1, edk_count + 1):
            prefix = f"EDK {i}: "
            n = _u16(take(prefix + "Key Provider ID Length", 2, lambda b: str(_u16(b))))
            provider_bytes = take(prefix + "Key Provider ID", n, _text)
            n = _u16(take(prefix + "Key Provider Information Length", 2, lambda b: str(_u16(b))))
            info = take(prefix + "Key Provider Information", n, _text)
            n = _u16(take(prefix + "Encrypted Data Key Length", 2, lambda b: str(_u16(b))))
            ciphertext = take(prefix + "Encrypted Data Key", n)
            try:
                provider_id = provider_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise MessageFormatError("a key provider id is not valid UTF-8") from None
            edks.append(EncryptedDataKey(provider_id, info, ciphertext))
        content_id = take("Content Type", 1, lambda b: _content_label(b[0]))[0]
        try:
            content_type = ContentType(content_id)
        except ValueError:
            raise UnsupportedMessageError(f"unknown content type 0x{content_id:02X}") from None
        if version == 1:
            if take("Reserved", 4) != bytes(4):
                raise MessageFormatError("the reserved header field is not zero")
            iv_length = take("IV Length", 1, lambda b: str(b[0]))[0]
            if iv_length != IV_LENGTH:
                raise MessageFormatError(f"IV length {iv_length} does not match the suite (12)")
        frame_length = _u32(take("Frame Length", 4, lambda b: str(_u32(b))))
        commitment = b""
        if version == 2:
            n = suite.spec.suite_data_length
            commitment = (
                take("Algorithm Suite Data (commit key)", n, lambda b: b.hex()) if n else b""
            )
        if content_type is ContentType.FRAMED and not 0 < frame_length <= MAX_FRAME_LENGTH:
            raise MessageFormatError(f"frame length {frame_length} is out of range")
        if content_type is ContentType.NON_FRAMED and frame_length != 0:
            raise MessageFormatError("a non-framed message must have frame length 0")
        auth_iv = b""
        if version == 1:
            auth_iv = reader.field("header auth", "Header IV", IV_LENGTH)
        auth_tag = reader.field("header auth", "Header Authentication Tag", TAG_LENGTH)
    finally:
        reader.regions = None
    header = Header(
        suite=suite,
        message_id=message_id,
        encryption_context=context,
        encrypted_data_keys=tuple(edks),
        frame_length=frame_length,
        content_type=content_type,
        commitment=commitment,
    )
    body = b"".join(raw)
    assert start + len(body) + len(auth_iv) + len(auth_tag) == reader.offset
    return ParsedHeader(header, body, auth_iv, auth_tag, tuple(regions))


def _suite_label(value: int) -> str:
    try:
        return Suite(value).label
    except ValueError:
        return f"0x{value:04X} (unknown)"


def _content_label(value: int) -> str:
    try:
        return f"0x{value:02X} {ContentType(value).name.lower().replace('_', '-')}"
    except ValueError:
        return f"0x{value:02X} (unknown)"


def _context_regions(regions: list[Region], start: int, data: bytes) -> None:
    """Regions for the encryption context bytes (already decoded, so well-formed)."""
    if not data:
        return
    regions.append(
        Region("header", "AAD: Key Value Pair Count", start, start + 2, str(_u16(data[:2])))
    )
    pos = 2
    pair = 0
    while pos < len(data):
        pair += 1
        for part in ("Key", "Value"):
            n = _u16(data[pos : pos + 2])
            name = f"AAD pair {pair}: {part}"
            regions.append(Region("header", name + " Length", start + pos, start + pos + 2, str(n)))
            text = data[pos + 2 : pos + 2 + n].decode("utf-8")
            regions.append(Region("header", name, start + pos + 2, start + pos + 2 + n, text))
            pos += 2 + n


# -- body ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """Where one frame (or the single non-framed block) sits, and its plaintext length."""

    sequence_number: int
    final: bool
    start: int
    end: int
    content_length: int
    iv: bytes

    @property
    def content_start(self) -> int:
        return self.end - TAG_LENGTH - self.content_length


def walk_body(
    reader: MessageReader,
    header: Header,
    sink: Callable[[memoryview], object] | None = None,
) -> Iterator[FrameInfo]:
    """Walk the body frame by frame, checking its structure (not its tags).

    With ``sink``, every body byte is read and handed to it in order (to copy or hash a body);
    without, frame contents are skipped (seeking where the stream can).

    Raises:
        TruncatedMessageError: the body ends inside a frame or before the final frame.
        AuthenticationError: a sequence number out of order (frames reordered, dropped or repeated).
        MessageFormatError: a frame longer than the frame length, or too many frames.
    """

    def fixed(n: int, what: str) -> bytes:
        data = reader.exact(n, what)
        if sink is not None:
            sink(memoryview(data))
        return data

    def content(n: int, what: str) -> None:
        if sink is None:
            reader.skip(n, what)
            return
        left = n
        while left:
            step = min(left, _READ_SIZE)
            sink(reader.view(step, what))
            left -= step

    if header.content_type is ContentType.NON_FRAMED:
        start = reader.offset
        iv = fixed(IV_LENGTH, "body IV")
        (length,) = _U64.unpack(fixed(8, "encrypted content length"))
        if length > MAX_NON_FRAMED_LENGTH:
            raise MessageFormatError("the non-framed content is longer than 2^36 - 32 bytes")
        content(length + TAG_LENGTH, "encrypted content")
        yield FrameInfo(1, True, start, reader.offset, length, iv)
        return
    expected = 1
    while True:
        start = reader.offset
        head = reader.view(4, "frame sequence number", before_final(expected))
        (sequence,) = _U32.unpack(head)
        if sink is not None:
            sink(head)
        final = sequence == SEQUENCE_NUMBER_END
        if final:
            (sequence,) = _U32.unpack(fixed(4, "final frame sequence number"))
        if sequence != expected:
            raise AuthenticationError(
                f"frame {sequence} found where frame {expected} was expected "
                "(frames reordered, dropped or repeated)"
            )
        iv = fixed(IV_LENGTH, "frame IV")
        length = header.frame_length
        if final:
            length = _u32(fixed(4, "final frame content length"))
            if length > header.frame_length:
                raise MessageFormatError(
                    f"the final frame holds {length} bytes, more than the frame length"
                )
        content(length + TAG_LENGTH, "final frame" if final else f"frame {sequence}")
        yield FrameInfo(sequence, final, start, reader.offset, length, iv)
        if final:
            return
        if expected == MAX_FRAMES:
            raise MessageFormatError("the message has more than 2^32 - 1 frames")
        expected += 1


def before_final(expected: int) -> str:
    done = f"after frame {expected - 1}" if expected > 1 else "after its header"
    return f"the message ends {done}, before its final frame"


# -- the map ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageMap:
    """A byte-offset map of one message: every header field, the frames, the footer.

    ``regions`` are in file order; ``sections`` gives each section's ``(start, end)``. Frames past
    ``max_frames`` are summarised by one region, but counted in ``frame_count`` and
    ``plaintext_length``. Nothing was decrypted or verified to make it.
    """

    header: Header
    regions: tuple[Region, ...]
    sections: Mapping[str, tuple[int, int]]
    frame_count: int
    plaintext_length: int
    length: int

    def section(self, name: str) -> tuple[int, int]:
        """``(start, end)`` of "header", "header auth", "body" or "footer" (signed suites)."""
        return self.sections[name]

    def table(self) -> str:
        """The text twin of a drawing: one line per region."""
        h = self.header
        lines = [
            f"AWS Encryption SDK message, format version {h.version}, "
            f"suite {h.suite.label}, {self.length} bytes",
            f"{self.frame_count} frame(s) of {h.frame_length} bytes; "
            f"{self.plaintext_length} bytes of plaintext",
            "",
            f"{'offset':>10} {'length':>10}  {'section':<11} {'field':<44} value",
        ]
        for r in self.regions:
            value = r.value if len(r.value) <= 90 else r.value[:89] + "…"
            lines.append(f"{r.start:>10} {r.length:>10}  {r.section:<11} {r.name:<44} {value}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for notebooks and ``kmslab inspect --json``)."""
        h = self.header
        return {
            "version": h.version,
            "suite": {"id": h.suite.value, "name": h.suite.name},
            "message_id": h.message_id.hex(),
            "encryption_context": dict(h.encryption_context),
            "encrypted_data_keys": [
                {"provider_id": e.provider_id, "provider_info": e.key_arn}
                for e in h.encrypted_data_keys
            ],
            "frame_length": h.frame_length,
            "frame_count": self.frame_count,
            "plaintext_length": self.plaintext_length,
            "length": self.length,
            "sections": {k: list(v) for k, v in self.sections.items()},
            "regions": [
                {
                    "section": r.section,
                    "name": r.name,
                    "start": r.start,
                    "end": r.end,
                    "value": r.value,
                    **({"frame": r.frame} if r.frame is not None else {}),
                }
                for r in self.regions
            ],
        }


def _frame_regions(info: FrameInfo, framed: bool) -> list[Region]:
    pos = info.start
    out: list[Region] = []
    label = "Final frame" if info.final else f"Frame {info.sequence_number}"
    if not framed:
        label = "Single block"

    def add(name: str, n: int, value: str = "") -> None:
        nonlocal pos
        out.append(Region("body", f"{label}: {name}", pos, pos + n, value, info.sequence_number))
        pos += n

    if framed:
        if info.final:
            add("Sequence Number End", 4, "0xFFFFFFFF")
        add("Sequence Number", 4, str(info.sequence_number))
    add("IV", IV_LENGTH, info.iv.hex())
    if not framed:
        add("Encrypted Content Length", 8, str(info.content_length))
    elif info.final:
        add("Encrypted Content Length", 4, str(info.content_length))
    add("Encrypted Content", info.content_length, f"{info.content_length} bytes")
    add("Authentication Tag", TAG_LENGTH)
    return out


def map_message(stream: IO[bytes], max_frames: int | None = 16) -> MessageMap:
    """Map a message read from ``stream`` (see :class:`MessageMap`).

    Raises:
        MessageFormatError (and its subclasses), AuthenticationError for frames out of order.
    """
    reader = MessageReader(stream)
    parsed = parse_header(reader)
    header = parsed.header
    regions = list(parsed.regions)
    sections: dict[str, tuple[int, int]] = {
        "header": (0, len(parsed.body)),
        "header auth": (len(parsed.body), parsed.length),
    }
    framed = header.content_type is ContentType.FRAMED
    body_start = reader.offset
    count = 0
    plaintext = 0
    elided: list[FrameInfo] = []
    for info in walk_body(reader, header):
        count += 1
        plaintext += info.content_length
        if max_frames is None or count <= max_frames or info.final:
            if elided:
                regions.append(_elided(elided))
                elided = []
            regions += _frame_regions(info, framed)
        else:
            elided = [elided[0], info] if elided else [info]
    sections["body"] = (body_start, reader.offset)
    if header.suite.signing:
        footer_start = reader.offset
        n = _u16(reader.exact(2, "signature length"))
        regions.append(Region("footer", "Signature Length", footer_start, footer_start + 2, str(n)))
        start = reader.offset
        signature = reader.exact(n, "signature")
        regions.append(Region("footer", "Signature", start, reader.offset, _hex(signature)))
        sections["footer"] = (footer_start, reader.offset)
    if not reader.at_end():
        raise MessageFormatError(f"bytes follow the end of the message at offset {reader.offset}")
    return MessageMap(header, tuple(regions), sections, count, plaintext, reader.offset)


def _elided(frames: list[FrameInfo]) -> Region:
    first, last = frames[0], frames[-1]
    return Region(
        "body",
        f"Frames {first.sequence_number}-{last.sequence_number} (not listed)",
        first.start,
        last.end,
        f"{last.sequence_number - first.sequence_number + 1} frames",
    )
