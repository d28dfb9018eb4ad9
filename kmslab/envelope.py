"""Envelope encryption over any boto3 KMS client, in the AWS Encryption SDK's message format.

One ``GenerateDataKey`` call per message makes a fresh data key under the first KMS key (and
``Encrypt`` wraps the same data key under each further KMS key); the data key encrypts the data
locally with AES-256-GCM, frame by frame; the wrapped data keys travel in the message header; KMS
never sees the data. The result is an AWS Encryption SDK message: the official SDK, in any
language, decrypts what this module writes, and this module decrypts what the SDK writes::

    from kmslab import envelope
    blob = envelope.encrypt(kms, b"hello", key_id=arn, encryption_context={"purpose": "demo"})
    envelope.decrypt(kms, blob, encryption_context={"purpose": "demo"})        # b"hello"
    envelope.encrypt_file(kms, "big.iso", "big.iso.esdk", key_id=arn)          # any size, O(frame)
    envelope.decrypt_file(kms, "big.iso.esdk", "big.iso")                      # temp file + rename
    envelope.rewrap_file(kms, "big.iso.esdk", "moved.esdk", key_id=other_arn)  # body copied as is
    print(envelope.inspect(blob).table())                                      # every byte, mapped

``kms`` is any boto3 KMS client (kmslab's, moto's, real AWS): this module calls only
``generate_data_key``, ``encrypt``, ``decrypt`` and ``describe_key`` on it, and imports no kmslab
service code. Functions come in three shapes: bytes (``encrypt``/``decrypt``/``rewrap``), binary
streams (``*_stream``: constant memory, writes as it goes), and paths (``*_file``: a temporary file
beside the destination, renamed into place only on success, removed on any failure).

Defaults: suite 0x0478 ``AES_256_GCM_HKDF_SHA512_COMMIT_KEY`` (key commitment, no signature) and
256 KiB frames. The AWS Encryption SDK defaults to 0x0578 (the same plus an ECDSA P-384
signature) and 4 KiB frames; both suites are written and read here. The frame length was chosen
by measurement (``benchmarks/envelope_vs_sdk.py --frames``): Python costs about 2 µs per frame,
so 4 KiB frames cap even a bare AES-GCM loop near 1 GiB/s, while frames of 64 KiB to 2 MiB all
run at the AES-GCM plateau (4 MiB frames fall off it: they no longer fit a core's cache);
256 KiB sits in the middle of the plateau and costs 0.01 % of overhead.

How it is fast: frames are sealed and opened with ``encrypt_into``/``decrypt_into`` straight
between preallocated buffers laid out as the message itself; frames are gathered into 1 MiB
chunks, so small frames cost no system call of their own; input is read a chunk at a time, on
decrypt straight from the file into the chunk's buffer. A message over 1 MiB is pipelined: the
calling thread reads ahead while one more thread writes (and, for the signed suite, hashes) the
finished chunks in order, and on four CPUs or more, worker threads seal or open whole chunks at
once (pyca/cryptography releases the GIL in AES-GCM; writes and SHA-384 release it too; see
``_aes_threads`` for why two CPUs get no workers). Memory is a few chunks, whatever the
message size: 4 MiB measured for 1 GiB without workers, about 16 MiB with four.

Errors (all raised on purpose derive from :class:`EnvelopeError`)::

    EnvelopeError
    ├── InvalidParameterError      (also a ValueError) a caller mistake: no key, bad frame length,
    │                              a context key with the reserved "aws-crypto-" prefix, ...
    ├── MessageFormatError         the bytes are not a well-formed message
    │   ├── TruncatedMessageError  it ends early: in a field, before the final frame or footer
    │   └── UnsupportedMessageError  a version, suite, type or content type not read here
    ├── AuthenticationError        a tag, the key commitment, the frame order or the signature
    │                              does not verify: modified, or not made with this data key
    ├── EncryptionContextError     a required encryption context pair is missing or different
    └── DataKeyError               KMS could not generate, encrypt or decrypt the data key
                                   (``failures``: the AWS error code for each KMS key tried)

Secrets: the plaintext data key is copied out of the boto3 response into a bytearray, used to
derive the AES key (itself derived into a bytearray and overwritten once the AES-GCM object holds
it), and overwritten in a ``finally``. This is best effort: boto3 hands the key over as immutable
``bytes`` (and ``Encrypt`` needs it as ``bytes``), which Python cannot wipe. No key material ever
appears in a repr, a log line or an exception message.

Message format
==============

The AWS Encryption SDK message format, as published in the aws-encryption-sdk-specification
repository; section names are that repository's files and headings. All integers are unsigned and
big-endian. Offsets are for version 2 and grow with the variable fields.

Message (``data-format/message.md``): Header, Body, then a Footer for signed suites.

Header body, version 2.0 (``data-format/message-header.md``, "Header Body Version 2.0")::

    offset size  field
    0      1     Version                  0x02
    1      2     Algorithm Suite ID       0x0478 or 0x0578 (framework/algorithm-suites.md,
                                          "Supported Algorithm Suites")
    3      32    Message ID               32 random bytes: the HKDF salt, in every frame's AAD
    35     2     AAD Length               length of Key Value Pairs; 0 for an empty context
    37     n     Key Value Pairs          ("AAD"; framework/structures.md, "Encryption Context" and
                                          its "Serialization"): uint16 pair count, then for each
                                          pair sorted by the UTF-8 bytes of its key: uint16 key
                                          length, key, uint16 value length, value (UTF-8). Signed
                                          suites add "aws-crypto-public-key": base64 of the SEC 1
                                          compressed ECDSA public point.
    ..     2     Encrypted Data Key Count (> 0), then for each ("Encrypted Data Key Entries";
                 framework/structures.md, "Encrypted Data Key"):
    ..     2+n     Key Provider ID        "aws-kms"
    ..     2+n     Key Provider Info      the KMS key ARN, exactly as KMS returned it in "KeyId"
                                          (framework/aws-kms/aws-kms-keyring.md)
    ..     2+n     Encrypted Data Key     KMS's CiphertextBlob for the data key
    ..     1     Content Type             0x02 framed (0x01 non-framed: read only)
    ..     4     Frame Length             plaintext bytes in each regular frame
    ..     32    Algorithm Suite Data     the commit key ("Algorithm Suite Data";
                                          framework/algorithm-suites.md, "Commit Key")

Header authentication, version 2.0 ("Header Authentication Version 2.0")::

    16     Authentication Tag   AES-GCM(encryption key, IV = 12 zero bytes, plaintext = empty,
                                AAD = the header body bytes)  (client-apis/encrypt.md,
                                "Construct the header"; client-apis/decrypt.md, "Verify the header")

Header, version 1.0 (read, decrypted and rewrapped; never newly written)::

    1 Version 0x01 | 1 Type 0x80 | 2 Algorithm Suite ID | 16 Message ID | AAD as above |
    Encrypted Data Keys as above | 1 Content Type | 4 Reserved 00000000 | 1 IV Length 0x0C |
    4 Frame Length || authentication: 12 IV (zero) | 16 Authentication Tag

Key derivation (framework/algorithm-suites.md, "Algorithm Suites Encryption Key Derivation
Settings"; framework/transitive-requirements.md): for 0x0478/0x0578 the encryption key is
HKDF-SHA512(data key, salt = Message ID, info = suite id || "DERIVEKEY", 32 bytes) and the commit
key HKDF-SHA512(data key, salt = Message ID, info = "COMMITKEY", 32 bytes), compared in constant
time on decrypt before anything else is trusted. Version 1 suites: HKDF-SHAxxx(data key, no salt,
info = suite id || Message ID), or the data key itself (identity KDF). See :mod:`kmslab.suite`.

Body, framed (``data-format/message-body.md``, "Framed Data")::

    regular frame: 4 Sequence Number (1, 2, ...) | 12 IV | Frame Length bytes Encrypted Content |
                   16 Authentication Tag
    final frame:   4 Sequence Number End 0xFFFFFFFF | 4 Sequence Number | 12 IV |
                   4 Encrypted Content Length (0 .. Frame Length) | Encrypted Content |
                   16 Authentication Tag

Exactly one final frame, last. A plaintext that is an exact multiple of the frame length ends
with a full final frame (the section's SHOULD; the SDK for Python writes an empty final frame
instead, which this module reads as well). IV = 8 zero bytes || uint32 sequence number, unique
within the message. Frame AAD (``data-format/message-body-aad.md``) = Message ID ||
"AWSKMSEncryptionClient Frame" (final frame: "AWSKMSEncryptionClient Final Frame") || uint32
sequence number || uint64 plaintext length of this frame: a frame moved, dropped, repeated or
cut fails its tag even when its visible sequence number is edited to match.

Body, non-framed ("Non-Framed Data"; read only): 12 IV | 8 Encrypted Content Length | content |
16 Authentication Tag, with AAD content string "AWSKMSEncryptionClient Single Block", sequence 1.

Footer (``data-format/message-footer.md``; signed suites only)::

    2 Signature Length | Signature: DER ECDSA P-384 over the SHA-384 of the header (body and
    authentication) and the body, in serialised order (103 bytes as written here)

After the final frame (unsigned) or the footer (signed) the message ends: trailing bytes are an
error.

Decrypt, in order (client-apis/decrypt.md): parse the header; ask KMS to decrypt the ``aws-kms``
encrypted data keys in header order (only those of ``key_ids`` if given) with the header's
encryption context, until one succeeds; derive the keys; check the commit key; check the header
tag; check the required encryption context pairs; then each frame's tag, in sequence; then the
signature; then that nothing follows. The stream functions write each frame's plaintext once its
tag verifies; for signed suites the signature is only checked at the end, so a caller of
``decrypt_stream`` must discard the output if it raises. ``decrypt`` and ``decrypt_file`` never
release anything from a message that fails.

Rewrap (not an operation of the specification; the result is an ordinary, valid message): the
data key is decrypted with the old KMS key, the header is verified, the data key is wrapped under
the new KMS keys, and a new header (same Message ID, suite, frame length and commit key, new
encrypted data keys) gets a new header tag. The body bytes are copied untouched: no frame is
decrypted or re-encrypted. A signature covers the header, so a signed message cannot keep its
signature and its signing key was discarded by its author: rewrap verifies the old signature over
the old message, generates a new key pair, puts the new public key in the encryption context, and
signs the new header and the untouched body. The new signature therefore vouches for "this body,
checked against its author's signature, rewrapped by someone who could decrypt it".
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hmac
import io
import os
import queue
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol

from .message import (
    FINAL_FRAME_AAD,
    FRAME_AAD,
    MAX_FRAME_LENGTH,
    MAX_FRAMES,
    PROVIDER_ID_KMS,
    PUBLIC_KEY_FIELD,
    RESERVED_PREFIX,
    SEQUENCE_NUMBER_END,
    SINGLE_BLOCK_AAD,
    AuthenticationError,
    ContentType,
    DataKeyError,
    EncryptedDataKey,
    EncryptionContextError,
    EnvelopeError,
    Header,
    InvalidParameterError,
    MessageFormatError,
    MessageMap,
    MessageReader,
    ParsedHeader,
    Region,
    TruncatedMessageError,
    UnsupportedMessageError,
    before_final,
    body_aad,
    map_message,
    parse_header,
    readinto_of,
    serialize_header_body,
    walk_body,
)
from .suite import (
    AESGCM,
    IV_LENGTH,
    TAG_LENGTH,
    InvalidTag,
    Signer,
    Suite,
    Verifier,
    commitment_key,
    encryption_cipher,
    streaming_decryptor,
)

__all__ = [
    "DEFAULT_FRAME_LENGTH",
    "DEFAULT_SUITE",
    "AuthenticationError",
    "DataKeyError",
    "EncryptedDataKey",
    "EncryptionContextError",
    "EnvelopeError",
    "Header",
    "InvalidParameterError",
    "MessageFormatError",
    "MessageInfo",
    "MessageMap",
    "Region",
    "Suite",
    "TruncatedMessageError",
    "UnsupportedMessageError",
    "atomic_output",
    "decrypt",
    "decrypt_file",
    "decrypt_stream",
    "encrypt",
    "encrypt_file",
    "encrypt_stream",
    "inspect",
    "rewrap",
    "rewrap_file",
    "rewrap_stream",
]

DEFAULT_SUITE = Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
"""kmslab's default: key commitment, no signature (the SDK's default adds ECDSA P-384)."""

DEFAULT_FRAME_LENGTH = 256 * 1024
"""Plaintext bytes per frame; see the module docstring for the measurement behind it."""

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_ZERO_IV = bytes(IV_LENGTH)

StrPath = str | os.PathLike[str]


class KmsClient(Protocol):
    """The part of a boto3 KMS client this module uses."""

    def generate_data_key(self, **kwargs: Any) -> dict[str, Any]: ...
    def encrypt(self, **kwargs: Any) -> dict[str, Any]: ...
    def decrypt(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_key(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class MessageInfo:
    """What an encrypt, decrypt or rewrap did, without any secret."""

    suite: Suite
    message_id: str
    encryption_context: Mapping[str, str]
    key_arns: tuple[str, ...]
    frame_length: int
    frame_count: int
    plaintext_length: int
    message_length: int
    decrypted_with: str | None = None


# -- KMS -----------------------------------------------------------------------------------------


def _aws_error(exc: BaseException) -> tuple[str, str] | None:
    """(code, message) for an error from a boto3 client; None for anything else.

    Duck-typed so that this module needs no botocore import: a ``ClientError`` carries the AWS
    error in ``response``; other botocore errors (no credentials, no connection) are named by
    their class.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        error = response["Error"]
        return str(error.get("Code", "Unknown")), str(error.get("Message", ""))
    if type(exc).__module__.startswith("botocore"):
        return type(exc).__name__, str(exc)
    return None


def _kms_call(
    call: Callable[..., dict[str, Any]], key: str, what: str, **params: Any
) -> dict[str, Any]:
    try:
        return call(**params)
    except Exception as exc:
        error = _aws_error(exc)
        if error is None:
            raise
        code, text = error
        if "Plaintext" in params and not isinstance(getattr(exc, "response", None), dict):
            # botocore's own errors (parameter validation) may quote parameter values.
            text = "the request was refused before it was sent"
        raise DataKeyError(
            f"KMS {what} with {key} failed: {code}: {text}", [(key, code, text)]
        ) from None


def _key_ids(key_id: str | Sequence[str]) -> tuple[str, ...]:
    ids = (key_id,) if isinstance(key_id, str) else tuple(key_id)
    if not ids or not all(isinstance(k, str) and k for k in ids):
        raise InvalidParameterError(
            "give at least one KMS key id, key ARN, alias name or alias ARN"
        )
    return ids


def _response_arn(response: Mapping[str, Any], key: str, what: str) -> str:
    arn = response.get("KeyId")
    if not isinstance(arn, str) or not arn.startswith("arn:") or ":key/" not in arn:
        raise DataKeyError(
            f"KMS {what} with {key} did not return a key ARN as KeyId",
            [(key, "InvalidResponse", "KeyId is not a key ARN")],
        )
    return arn


def _generate_data_key(
    kms: KmsClient, key_ids: tuple[str, ...], suite: Suite, context: Mapping[str, str]
) -> tuple[bytearray, list[EncryptedDataKey]]:
    """One GenerateDataKey under the first key, one Encrypt of the same data key per other key."""
    params: dict[str, Any] = {"KeyId": key_ids[0], "NumberOfBytes": suite.key_length}
    if context:
        params["EncryptionContext"] = dict(context)
    response = _kms_call(kms.generate_data_key, key_ids[0], "GenerateDataKey", **params)
    data_key = bytearray(response.pop("Plaintext", b""))
    try:
        if len(data_key) != suite.key_length:
            raise DataKeyError(
                f"KMS GenerateDataKey with {key_ids[0]} returned a data key of the wrong length",
                [(key_ids[0], "InvalidResponse", "wrong data key length")],
            )
        arn = _response_arn(response, key_ids[0], "GenerateDataKey")
        edks = [EncryptedDataKey(PROVIDER_ID_KMS, arn.encode(), bytes(response["CiphertextBlob"]))]
        for key in key_ids[1:]:
            params = {"KeyId": key, "Plaintext": bytes(data_key)}
            if context:
                params["EncryptionContext"] = dict(context)
            wrapped = _kms_call(kms.encrypt, key, "Encrypt", **params)
            arn = _response_arn(wrapped, key, "Encrypt")
            edks.append(
                EncryptedDataKey(PROVIDER_ID_KMS, arn.encode(), bytes(wrapped["CiphertextBlob"]))
            )
        return data_key, edks
    except BaseException:
        _wipe(data_key)
        raise


def _resolve_arns(kms: KmsClient, key_ids: Sequence[str] | None) -> set[str] | None:
    """Key ARNs for ``key_ids`` (ARNs as given; ids and aliases through DescribeKey)."""
    if key_ids is None:
        return None
    arns = set()
    for key in _key_ids(key_ids):
        if key.startswith("arn:") and ":key/" in key:
            arns.add(key)
        else:
            meta = _kms_call(kms.describe_key, key, "DescribeKey", KeyId=key)
            arns.add(str(meta["KeyMetadata"]["Arn"]))
    return arns


def _decrypt_data_key(
    kms: KmsClient, header: Header, allowed: set[str] | None
) -> tuple[bytearray, str]:
    """Try the header's aws-kms encrypted data keys in order until KMS decrypts one."""
    failures: list[tuple[str, str, str]] = []
    tried = 0
    for edk in header.encrypted_data_keys:
        if edk.provider_id != PROVIDER_ID_KMS:
            continue
        arn = edk.key_arn
        if allowed is not None and arn not in allowed:
            continue
        tried += 1
        params: dict[str, Any] = {"CiphertextBlob": edk.ciphertext, "KeyId": arn}
        if header.encryption_context:
            params["EncryptionContext"] = dict(header.encryption_context)
        try:
            response = _kms_call(kms.decrypt, arn, "Decrypt", **params)
        except DataKeyError as exc:
            failures += exc.failures
            continue
        data_key = bytearray(response.pop("Plaintext", b""))
        if response.get("KeyId") != arn:
            _wipe(data_key)
            failures.append((arn, "InvalidResponse", "KMS decrypted with a different key"))
        elif len(data_key) != header.suite.key_length:
            _wipe(data_key)
            failures.append((arn, "InvalidResponse", "the data key has the wrong length"))
        else:
            return data_key, arn
    if not tried:
        wanted = "" if allowed is None else " among the allowed keys"
        raise DataKeyError(
            f"the message has no encrypted data key for a KMS key{wanted} "
            f"(its keys: {', '.join(header.key_arns) or 'none from aws-kms'})"
        )
    detail = "; ".join(f"{arn}: {code}" for arn, code, _ in failures)
    raise DataKeyError(f"KMS could not decrypt the data key with any key ({detail})", failures)


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


# -- checks --------------------------------------------------------------------------------------


def _frame_length(frame_length: int) -> int:
    if (
        not isinstance(frame_length, int)
        or isinstance(frame_length, bool)
        or not 0 < frame_length <= MAX_FRAME_LENGTH
        or frame_length % 16
    ):
        raise InvalidParameterError(
            f"frame length {frame_length!r} must be a positive multiple of 16 "
            f"(the AES block size) up to {MAX_FRAME_LENGTH}"
        )
    return frame_length


def _writable_suite(suite: Suite | int | str) -> Suite:
    try:
        chosen = Suite.parse(suite) if isinstance(suite, (str, int)) else suite
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None
    if not chosen.writable:
        raise InvalidParameterError(
            f"kmslab writes only the key-committing suites 0x0478 and 0x0578, not {chosen.label}"
        )
    return chosen


def _user_context(context: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(context or {})
    for key, value in out.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidParameterError("encryption context keys and values must be strings")
        if key.startswith(RESERVED_PREFIX):
            raise InvalidParameterError(
                f"encryption context keys starting with {RESERVED_PREFIX!r} are reserved "
                "for the message format"
            )
    return out


def _check_signing_key(header: Header) -> str | None:
    public_key = header.encryption_context.get(PUBLIC_KEY_FIELD)
    if header.suite.signing and public_key is None:
        raise MessageFormatError(
            f"a signed suite's message lacks the {PUBLIC_KEY_FIELD!r} encryption context pair"
        )
    if not header.suite.signing and public_key is not None:
        raise MessageFormatError(
            f"an unsigned suite's message carries a {PUBLIC_KEY_FIELD!r} encryption context pair"
        )
    return public_key


def _check_required_context(header: Header, required: Mapping[str, str] | None) -> None:
    for key, value in (required or {}).items():
        if header.encryption_context.get(key) != value:
            present = "a different value for" if key in header.encryption_context else "no"
            raise EncryptionContextError(
                f"the message's encryption context has {present} {key!r}; decryption requires it"
            )


@dataclass
class _Opened:
    """A parsed, authenticated header and what decrypting it produced."""

    parsed: ParsedHeader
    cipher: AESGCM
    data_key: bytearray
    key_arn: str
    verifier: Verifier | None


def _open_header(
    kms: KmsClient,
    reader: MessageReader,
    required_context: Mapping[str, str] | None,
    key_ids: Sequence[str] | None,
    require_commitment: bool,
) -> _Opened:
    parsed = parse_header(reader)
    header = parsed.header
    if require_commitment and not header.suite.committing:
        raise UnsupportedMessageError(
            f"suite {header.suite.label} has no key commitment and commitment is required"
        )
    public_key = _check_signing_key(header)
    data_key, arn = _decrypt_data_key(kms, header, _resolve_arns(kms, key_ids))
    try:
        if header.suite.committing and not hmac.compare_digest(
            commitment_key(header.suite, data_key, header.message_id), header.commitment
        ):
            raise AuthenticationError(
                "key commitment check failed: the message was not made with this data key"
            )
        cipher = encryption_cipher(header.suite, data_key, header.message_id)
        try:
            cipher.decrypt(parsed.auth_iv or _ZERO_IV, parsed.auth_tag, parsed.body)
        except InvalidTag:
            raise AuthenticationError("the header authentication tag does not verify") from None
        _check_required_context(header, required_context)
        verifier = None
        if public_key is not None:
            try:
                verifier = Verifier(header.suite, public_key)
            except ValueError as exc:
                raise AuthenticationError(str(exc)) from None
            verifier.update(parsed.body)
            verifier.update(parsed.auth_iv + parsed.auth_tag)
    except BaseException:
        _wipe(data_key)
        raise
    return _Opened(parsed, cipher, data_key, arn, verifier)


# -- body engines --------------------------------------------------------------------------------

_CHUNK = 1 << 20
"""Bytes of frames gathered per write: small frames are batched, so a 4 KiB frame costs no
system call of its own."""

_FRAME_HEAD = struct.Struct(">IQI")  # sequence number | IV: 8 zero bytes, sequence number
_FINAL_HEAD = struct.Struct(">IIQII")  # 0xFFFFFFFF | sequence | IV | content length


def _fill(readinto: Callable[[memoryview], int | None], view: memoryview) -> int:
    """Read until ``view`` is full or the stream ends; returns the bytes read."""
    got = readinto(view) or 0
    if got and got < len(view):
        while got < len(view):
            more = readinto(view[got:])
            if not more:
                break
            got += more
    return got


def _writer(destination: IO[bytes]) -> Callable[[memoryview], None]:
    raw_write = destination.write

    def write(view: memoryview) -> None:
        done = raw_write(view)
        if done is not None and done < len(view):
            while done < len(view):
                done += raw_write(view[done:])

    return write


def _aes_threads() -> int:
    """Worker threads for the AES-GCM of large messages: the CPUs this process may use beyond
    two (one for the calling thread's reads, one for the writer's), up to four; none below four.

    On two CPUs, file to file, workers cost more than they gain: the kernel's copying into and
    out of the page cache already keeps both CPUs busy, and 1 GiB took 0.57-0.60 s to encrypt
    without workers, 0.69-0.75 s with two (0.51-0.64 and 0.57-0.76 s to decrypt). From memory to
    memory, where nothing else wants the second CPU, two workers made the same machine 1.5x
    faster (1.4 to 2.0 GiB/s).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return min(4, cpus - 2) if cpus >= 4 else 0


_AES_THREADS = _aes_threads()


class _Sink:
    """Where body bytes go, in order: hashed for a signature (if any), then written.

    It starts synchronous. :meth:`parallel` hands the hashing and writing to one background
    thread working through a pool of chunk buffers (``extra`` more than the usual three, for
    chunks a :class:`_Pipeline` holds while their frames are sealed or opened): writes and
    SHA-384 release the GIL, so they overlap the AES-GCM of the next chunks. Messages of one
    chunk never start a thread.
    """

    def __init__(
        self, write: Callable[[memoryview], None], update: Callable[[Any], Any] | None, size: int
    ) -> None:
        self._write = write
        self._update = update
        self._size = size
        self._spare = bytearray(size)
        self._spare_taken = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()

    def parallel(self, extra: int = 0) -> None:
        if self._thread is not None:
            return
        if not self._spare_taken:  # else it joins the pool when given back
            self._free.put(self._spare)
        for _ in range(2 + extra):
            self._free.put(bytearray(self._size))
        self._thread = threading.Thread(
            target=self._run, name="kmslab-envelope-writer", daemon=True
        )
        self._thread.start()

    def take(self) -> bytearray:
        if self._thread is None:
            self._spare_taken = True
            return self._spare
        buffer = self._free.get()
        if self._error is not None:
            raise self._error
        return buffer

    def give(self, buffer: bytearray, n: int) -> None:
        if self._thread is None:
            self._emit(memoryview(buffer)[:n])
            self._spare_taken = False
        else:
            self._full.put((buffer, n))

    def _emit(self, view: memoryview) -> None:
        if self._update is not None:
            self._update(view)
        self._write(view)

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            buffer, n = item
            if self._error is None:
                try:
                    self._emit(memoryview(buffer)[:n])
                except BaseException as exc:
                    self._error = exc
            self._free.put(buffer)

    def close(self) -> None:
        """Wait until everything is written; raise what the writer raised."""
        self.stop()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None


_Outcome = tuple[int, BaseException | None]


class _Workers:
    """A few daemon threads that run jobs; each job reports to its own one-item queue."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], int], queue.SimpleQueue[_Outcome]] | None
        ] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name="kmslab-envelope-aes", daemon=True)
            for _ in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], int]) -> queue.SimpleQueue[_Outcome]:
        done: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self._jobs.put((job, done))
        return done

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            try:
                done.put((job(), None))
            except BaseException as exc:
                done.put((0, exc))

    def close(self) -> None:
        """Let the queued jobs finish, then end the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class _Pipeline:
    """The AES-GCM of a framed body, chunk by chunk, on worker threads, written in order.

    Frames are independent, so the chunks of a large message are sealed or opened by
    :data:`_AES_THREADS` workers at once (pyca/cryptography releases the GIL in one-shot AES-GCM
    of 2 KiB and more: two threads did 1.8x the work of one on a 2-CPU machine), while the
    calling thread reads the next chunks and the :class:`_Sink`'s thread writes the finished
    ones, oldest first. A job is a function of its output buffer that returns the bytes to
    write; an error it raises comes out of :meth:`submit` or :meth:`drain` in message order,
    after every earlier chunk was written. Without workers, or until :meth:`parallel` (a second
    chunk exists), jobs run in the calling thread. Memory: up to ``workers + 3`` input and
    ``workers + 4`` output chunks.
    """

    def __init__(self, sink: _Sink, input_size: int) -> None:
        self._sink = sink
        self._input_size = input_size
        self._inputs: list[bytearray] = []
        self._pending: collections.deque[
            tuple[queue.SimpleQueue[_Outcome], bytearray, bytearray]
        ] = collections.deque()
        self._workers: _Workers | None = None
        self._depth = 0

    def parallel(self) -> None:
        if self._workers is not None:
            return
        if not _AES_THREADS:
            self._sink.parallel()
            return
        self._depth = _AES_THREADS + 1
        self._sink.parallel(extra=self._depth)
        self._workers = _Workers(_AES_THREADS)

    def take_input(self) -> bytearray:
        """A free input buffer of ``input_size`` bytes."""
        return self._inputs.pop() if self._inputs else bytearray(self._input_size)

    def give_back(self, source: bytearray) -> None:
        self._inputs.append(source)

    def submit(self, job: Callable[[bytearray], int], source: bytearray) -> None:
        """Run ``job(output)`` and write what it returns; ``source`` is free again after it."""
        out = self._sink.take()
        if self._workers is None:
            self._sink.give(out, job(out))
            self._inputs.append(source)
            return
        self._pending.append((self._workers.submit(functools.partial(job, out)), out, source))
        while len(self._pending) > self._depth:
            self._retire()

    def _retire(self) -> None:
        done, out, source = self._pending.popleft()
        n, error = done.get()
        if error is not None:
            raise error
        self._sink.give(out, n)
        self._inputs.append(source)

    def drain(self) -> None:
        """Write every submitted chunk, in order."""
        while self._pending:
            self._retire()

    def stop(self) -> None:
        if self._workers is not None:
            self._workers.close()
            self._workers = None
        self._pending.clear()


def _frame_aad(message_id: bytes, size: int) -> tuple[bytearray, int]:
    """A regular frame's AAD, to be reused for every frame: the bytes, and the offset where each
    frame's sequence number goes."""
    return bytearray(body_aad(message_id, FRAME_AAD, 0, size)), len(message_id) + len(FRAME_AAD)


def _open_frame(
    open_into: Callable[..., Any],
    aad: bytearray,
    seq_at: int,
    sequence: int,
    frame: memoryview,
    out: memoryview,
) -> None:
    """Open one regular frame (IV, content, tag), numbered ``sequence``, into ``out``."""
    _U32.pack_into(aad, seq_at, sequence)
    try:
        open_into(frame[:IV_LENGTH], frame[IV_LENGTH:], aad, out)
    except InvalidTag:
        raise AuthenticationError(f"frame {sequence} does not verify (modified)") from None


def _seal_chunk(
    seal: Callable[..., Any],
    message_id: bytes,
    size: int,
    plaintext: memoryview,
    first: int,
    count: int,
    final: int | None,
    out: bytearray,
) -> int:
    """Frames ``first`` .. ``first + count - 1`` of ``plaintext`` (and the final frame, of
    ``final`` bytes, if given) sealed into ``out`` as the message lays them out; returns the
    bytes. Each frame goes straight into its place with ``encrypt_into``."""
    view = memoryview(out)
    aad, seq_at = _frame_aad(message_id, size)
    pos = 0
    for i in range(count):
        sequence = first + i
        _FRAME_HEAD.pack_into(out, pos, sequence, 0, sequence)
        _U32.pack_into(aad, seq_at, sequence)
        seal(
            view[pos + 4 : pos + 16],
            plaintext[i * size : (i + 1) * size],
            aad,
            view[pos + 16 : pos + 32 + size],
        )
        pos += 32 + size
    if final is not None:
        sequence = first + count
        _FINAL_HEAD.pack_into(out, pos, SEQUENCE_NUMBER_END, sequence, 0, sequence, final)
        start = count * size
        seal(
            view[pos + 8 : pos + 20],
            plaintext[start : start + final],
            body_aad(message_id, FINAL_FRAME_AAD, sequence, final),
            view[pos + 24 : pos + 40 + final],
        )
        pos += 40 + final
    return pos


def _encrypt_body(
    source: IO[bytes], sink: _Sink, cipher: AESGCM, message_id: bytes, frame_length: int
) -> tuple[int, int, int]:
    """Frames from ``source`` into ``sink``: (frame count, plaintext bytes, body bytes).

    The plaintext is read a chunk of frames at a time, one chunk ahead, so that the last frame
    is known to be final before it is sealed (a full last frame is the final frame; see the
    module docstring).
    """
    size = frame_length
    chunk = max(1, _CHUNK // size) * size
    pipeline = _Pipeline(sink, chunk)
    try:
        return _encrypt_chunks(readinto_of(source), pipeline, cipher, message_id, size)
    finally:
        pipeline.stop()


def _encrypt_chunks(
    readinto: Callable[[memoryview], int | None],
    pipeline: _Pipeline,
    cipher: AESGCM,
    message_id: bytes,
    size: int,
) -> tuple[int, int, int]:
    seal = functools.partial(_seal_chunk, cipher.encrypt_into, message_id, size)
    current = pipeline.take_input()
    n = _fill(readinto, memoryview(current))
    sequence = 1
    body = 0
    while True:
        more = 0
        ahead = None
        if n == len(current):  # a full chunk: there may be more
            ahead = pipeline.take_input()
            more = _fill(readinto, memoryview(ahead))
        count, rest = divmod(n, size)
        if not more and count and not rest:
            count, rest = count - 1, size
        if sequence + count > MAX_FRAMES:
            raise InvalidParameterError("the plaintext needs more than 2^32 - 1 frames")
        if more:
            pipeline.parallel()
        final = None if more else rest
        job = functools.partial(seal, memoryview(current), sequence, count, final)
        pipeline.submit(job, current)
        body += count * (32 + size) + (0 if final is None else 40 + final)
        sequence += count
        if final is not None:
            if ahead is not None:
                pipeline.give_back(ahead)
            pipeline.drain()
            return sequence, (sequence - 1) * size + final, body
        assert ahead is not None
        current, n = ahead, more


def _encrypt_sink_size(frame_length: int) -> int:
    return max(1, _CHUNK // frame_length) * (32 + frame_length) + 8


def _open_chunk(
    open_into: Callable[..., Any],
    message_id: bytes,
    size: int,
    frames: memoryview,
    first: int,
    count: int,
    out: bytearray,
) -> int:
    """Open ``count`` regular frames laid out in ``frames`` as in the message (sequence number,
    IV, content, tag), numbered from ``first``, into ``out``; returns the plaintext bytes."""
    view = memoryview(out)
    aad, seq_at = _frame_aad(message_id, size)
    step = 4 + IV_LENGTH + size + TAG_LENGTH
    for i in range(count):
        frame = frames[i * step + 4 : (i + 1) * step]
        _open_frame(open_into, aad, seq_at, first + i, frame, view[i * size : (i + 1) * size])
    return count * size


def _decrypt_framed(reader: MessageReader, sink: _Sink, opened: _Opened) -> tuple[int, int]:
    """Check and decrypt each frame in order: (frames, plaintext bytes).

    Regular frames are read a chunk at a time straight from the stream into buffers laid out as
    the message (:meth:`MessageReader.read_upto`) and opened by the :class:`_Pipeline`. At the
    first sequence number that is not the next one (the final frame, or a frame out of order),
    or where the stream ends, the unread rest goes back to the reader, every chunk before it is
    finished, and the frames from there on are checked one by one, as a message's last frames:
    the errors and their offsets are those of reading frame by frame.
    """
    header = opened.parsed.header
    size = header.frame_length
    message_id = header.message_id
    open_into = opened.cipher.decrypt_into
    update = opened.verifier.update if opened.verifier is not None else None
    step = 4 + IV_LENGTH + size + TAG_LENGTH
    per_chunk = max(1, _CHUNK // size)
    pipeline = _Pipeline(sink, per_chunk * step)
    job_of = functools.partial(_open_chunk, open_into, message_id, size)
    expected = 1
    try:
        while True:
            source = pipeline.take_input()
            frames = memoryview(source)
            n = reader.read_upto(frames)
            count = 0
            while (
                count < per_chunk
                and (count + 1) * step <= n
                and _U32.unpack_from(frames, count * step)[0] == expected + count
                and expected + count < MAX_FRAMES
            ):
                count += 1
            reader.unread(frames[count * step : n])
            if count:
                if update is not None:
                    update(frames[: count * step])
                if count == per_chunk:
                    pipeline.parallel()
                pipeline.submit(functools.partial(job_of, frames, expected, count), source)
                expected += count
            else:
                pipeline.give_back(source)
            if count < per_chunk:
                break
        pipeline.drain()
    finally:
        pipeline.stop()
    return _decrypt_last_frames(reader, sink, opened, expected)


def _decrypt_last_frames(
    reader: MessageReader, sink: _Sink, opened: _Opened, expected: int
) -> tuple[int, int]:
    """From frame ``expected`` on, frame by frame: whatever regular frames are left (only where
    the message is malformed), then the final frame."""
    header = opened.parsed.header
    size = header.frame_length
    message_id = header.message_id
    open_into = opened.cipher.decrypt_into
    update = opened.verifier.update if opened.verifier is not None else None
    view_of = reader.view
    aad, seq_at = _frame_aad(message_id, size)
    frame_size = IV_LENGTH + size + TAG_LENGTH
    while True:
        head = view_of(4, "frame sequence number", before_final(expected))
        (sequence,) = _U32.unpack(head)
        if update is not None:
            update(head)
        if sequence == SEQUENCE_NUMBER_END:
            break
        if sequence != expected:
            raise AuthenticationError(
                f"frame {sequence} found where frame {expected} was expected "
                "(frames reordered, dropped or repeated)"
            )
        frame = view_of(frame_size, f"frame {sequence}")
        out = sink.take()
        _open_frame(open_into, aad, seq_at, sequence, frame, memoryview(out)[:size])
        if update is not None:
            update(frame)
        sink.give(out, size)
        if expected == MAX_FRAMES:
            raise MessageFormatError("the message has more than 2^32 - 1 frames")
        expected += 1
    fixed = reader.exact(4 + IV_LENGTH + 4, "final frame")
    (sequence,) = _U32.unpack_from(fixed, 0)
    if sequence != expected:
        raise AuthenticationError(
            f"the final frame is numbered {sequence} where {expected} was expected "
            "(frames reordered, dropped or repeated)"
        )
    (length,) = _U32.unpack_from(fixed, 4 + IV_LENGTH)
    if length > size:
        raise MessageFormatError(
            f"the final frame holds {length} bytes, more than the frame length"
        )
    if update is not None:
        update(fixed)
    sealed = view_of(length + TAG_LENGTH, "final frame")
    out = sink.take() if length else bytearray()
    try:
        open_into(
            fixed[4 : 4 + IV_LENGTH],
            sealed,
            body_aad(message_id, FINAL_FRAME_AAD, sequence, length),
            memoryview(out)[:length],
        )
    except InvalidTag:
        raise AuthenticationError("the final frame does not verify (modified or cut)") from None
    if update is not None:
        update(sealed)
    sink.give(out, length)
    return sequence, (sequence - 1) * size + length


def _decrypt_sink_size(frame_length: int) -> int:
    return max(1, _CHUNK // frame_length) * frame_length


def _decrypt_single_block(reader: MessageReader, sink: _Sink, opened: _Opened) -> tuple[int, int]:
    """The non-framed body: one block, decrypted incrementally, its tag checked at the end."""
    header = opened.parsed.header
    fixed = reader.exact(IV_LENGTH + 8, "non-framed body")
    iv = fixed[:IV_LENGTH]
    (length,) = _U64.unpack_from(fixed, IV_LENGTH)
    update = opened.verifier.update if opened.verifier is not None else None
    if update is not None:
        update(fixed)
    decryptor = streaming_decryptor(
        header.suite,
        opened.data_key,
        header.message_id,
        iv,
        body_aad(header.message_id, SINGLE_BLOCK_AAD, 1, length),
    )
    left = length
    while left:
        step = min(left, _CHUNK)
        piece = reader.view(step, "encrypted content")
        if update is not None:
            update(piece)
        out = sink.take()
        n = decryptor.update_into(piece, out)
        sink.give(out, n)
        left -= step
        if left:
            sink.parallel()
    tag = reader.exact(TAG_LENGTH, "authentication tag")
    if update is not None:
        update(tag)
    try:
        decryptor.finalize_with_tag(tag)
    except InvalidTag:
        raise AuthenticationError("the message body does not verify (modified)") from None
    return 1, length


def _finish(reader: MessageReader, verifier: Verifier | None) -> None:
    """The footer (signed suites) and the end of the message."""
    if verifier is not None:
        (n,) = _U16.unpack(reader.exact(2, "footer (signature length)"))
        signature = reader.exact(n, "footer (signature)")
        if not verifier.verify(signature):
            raise AuthenticationError("the message signature does not verify")
    if not reader.at_end():
        raise MessageFormatError(f"bytes follow the end of the message at offset {reader.offset}")


# -- streams -------------------------------------------------------------------------------------


def encrypt_stream(
    kms: KmsClient,
    source: IO[bytes],
    destination: IO[bytes],
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    suite: Suite | int | str = DEFAULT_SUITE,
    frame_length: int = DEFAULT_FRAME_LENGTH,
) -> MessageInfo:
    """Encrypt everything ``source`` yields into one message written to ``destination``.

    ``key_id``: one or more KMS keys (key id, key ARN, alias name or alias ARN). The first
    generates the data key; each further one wraps it too; any one of them can decrypt. Memory
    stays at a few 1 MiB chunks whatever the size.

    Raises:
        InvalidParameterError, DataKeyError (with the AWS error code: NotFoundException,
        DisabledException, AccessDeniedException, ...).
    """
    keys = _key_ids(key_id)
    chosen = _writable_suite(suite)
    size = _frame_length(frame_length)
    context = _user_context(encryption_context)
    signer = Signer(chosen) if chosen.signing else None
    if signer is not None:
        context[PUBLIC_KEY_FIELD] = signer.public_key
    message_id = os.urandom(32)
    data_key, edks = _generate_data_key(kms, keys, chosen, context)
    try:
        header = Header(
            suite=chosen,
            message_id=message_id,
            encryption_context=context,
            encrypted_data_keys=tuple(edks),
            frame_length=size,
            commitment=commitment_key(chosen, data_key, message_id),
        )
        cipher = encryption_cipher(chosen, data_key, message_id)
    finally:
        _wipe(data_key)
    header_body = serialize_header_body(header)
    tag = cipher.encrypt(_ZERO_IV, b"", header_body)
    write = _writer(destination)
    head = memoryview(header_body + tag)
    write(head)
    if signer is not None:
        signer.update(head)
    sink = _Sink(write, signer.update if signer else None, _encrypt_sink_size(size))
    try:
        frames, plaintext, body = _encrypt_body(source, sink, cipher, message_id, size)
        sink.close()
    finally:
        sink.stop()
    length = len(head) + body
    if signer is not None:
        signature = signer.finalize()
        footer = memoryview(_U16.pack(len(signature)) + signature)
        write(footer)
        length += len(footer)
    return _info(header, frames, plaintext, length)


def decrypt_stream(
    kms: KmsClient,
    source: IO[bytes],
    destination: IO[bytes],
    *,
    encryption_context: Mapping[str, str] | None = None,
    key_ids: Sequence[str] | None = None,
    require_commitment: bool = False,
) -> MessageInfo:
    """Decrypt one message from ``source`` into ``destination``, frame by frame.

    ``encryption_context``: pairs the message's (authenticated) context must contain.
    ``key_ids``: only ask KMS for these keys (ARN, key id or alias); by default every ``aws-kms``
    encrypted data key is tried in header order. ``require_commitment``: refuse the version 1
    suites, which lack key commitment.

    Frames are written, a chunk at a time, once their tags verify. If this raises, what was
    written must be discarded (a signed message's signature is only checked at the end): use
    :func:`decrypt_file` or :func:`decrypt` when that matters.

    Raises:
        MessageFormatError (TruncatedMessageError, UnsupportedMessageError), AuthenticationError,
        EncryptionContextError, DataKeyError.
    """
    reader = MessageReader(source)
    opened = _open_header(kms, reader, encryption_context, key_ids, require_commitment)
    try:
        header = opened.parsed.header
        write = _writer(destination)
        if header.content_type is ContentType.FRAMED:
            sink = _Sink(write, None, _decrypt_sink_size(header.frame_length))
            engine = _decrypt_framed
        else:
            sink = _Sink(write, None, _CHUNK + 16)
            engine = _decrypt_single_block
        try:
            frames, plaintext = engine(reader, sink, opened)
            sink.close()
        finally:
            sink.stop()
        _finish(reader, opened.verifier)
    finally:
        _wipe(opened.data_key)
    return _info(header, frames, plaintext, reader.offset, opened.key_arn)


def rewrap_stream(
    kms: KmsClient,
    source: IO[bytes],
    destination: IO[bytes],
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    source_key_ids: Sequence[str] | None = None,
) -> MessageInfo:
    """Move a message to other KMS keys: new encrypted data keys, new header tag, same body bytes.

    ``key_id``: the new KMS key(s); the old encrypted data keys are dropped. ``encryption_context``:
    pairs the message must contain (checked after the header is authenticated). The data key is
    decrypted with one of the old keys (``source_key_ids`` to restrict which) and wrapped under
    the new ones with KMS ``Encrypt``; see the module docstring for signed messages.

    Raises:
        the errors of :func:`decrypt_stream` and of :func:`encrypt_stream`.
    """
    keys = _key_ids(key_id)
    reader = MessageReader(source)
    opened = _open_header(kms, reader, encryption_context, source_key_ids, False)
    try:
        old = opened.parsed.header
        context = dict(old.encryption_context)
        signer = Signer(old.suite) if old.suite.signing else None
        if signer is not None:
            context[PUBLIC_KEY_FIELD] = signer.public_key
        edks = []
        for key in keys:
            params: dict[str, Any] = {"KeyId": key, "Plaintext": bytes(opened.data_key)}
            if context:
                params["EncryptionContext"] = context
            wrapped = _kms_call(kms.encrypt, key, "Encrypt", **params)
            arn = _response_arn(wrapped, key, "Encrypt")
            edks.append(
                EncryptedDataKey(PROVIDER_ID_KMS, arn.encode(), bytes(wrapped["CiphertextBlob"]))
            )
    finally:
        _wipe(opened.data_key)
    header = replace(old, encryption_context=context, encrypted_data_keys=tuple(edks))
    header_body = serialize_header_body(header)
    auth_iv = _ZERO_IV if header.version == 1 else b""
    head = memoryview(header_body + auth_iv + opened.cipher.encrypt(_ZERO_IV, b"", header_body))
    write = _writer(destination)
    write(head)
    verifier = opened.verifier
    if signer is None:
        sink: Callable[[memoryview], object] = write
    else:
        signer.update(head)
        sign = signer.update
        check = verifier.update if verifier is not None else None

        def sink(view: memoryview) -> None:
            if check is not None:
                check(view)
            sign(view)
            write(view)

    frames = 0
    plaintext = 0
    for info in walk_body(reader, header, sink):
        frames += 1
        plaintext += info.content_length
    length = len(head) + reader.offset - opened.parsed.length
    if signer is not None:
        try:
            _finish(reader, verifier)
        except AuthenticationError:
            raise AuthenticationError(
                "the message signature does not verify; a modified message is not re-signed"
            ) from None
        signature = signer.finalize()
        footer = memoryview(_U16.pack(len(signature)) + signature)
        write(footer)
        length += len(footer)
    else:
        _finish(reader, None)
    return _info(header, frames, plaintext, length, opened.key_arn)


def _info(
    header: Header, frames: int, plaintext: int, length: int, decrypted_with: str | None = None
) -> MessageInfo:
    return MessageInfo(
        suite=header.suite,
        message_id=header.message_id.hex(),
        encryption_context=dict(header.encryption_context),
        key_arns=header.key_arns,
        frame_length=header.frame_length,
        frame_count=frames,
        plaintext_length=plaintext,
        message_length=length,
        decrypted_with=decrypted_with,
    )


# -- bytes ---------------------------------------------------------------------------------------


def encrypt(
    kms: KmsClient,
    plaintext: bytes,
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    suite: Suite | int | str = DEFAULT_SUITE,
    frame_length: int = DEFAULT_FRAME_LENGTH,
) -> bytes:
    """Encrypt ``plaintext`` into an AWS Encryption SDK message (see :func:`encrypt_stream`)."""
    out = io.BytesIO()
    encrypt_stream(
        kms,
        io.BytesIO(plaintext),
        out,
        key_id=key_id,
        encryption_context=encryption_context,
        suite=suite,
        frame_length=frame_length,
    )
    return out.getvalue()


def decrypt(
    kms: KmsClient,
    message: bytes,
    *,
    encryption_context: Mapping[str, str] | None = None,
    key_ids: Sequence[str] | None = None,
    require_commitment: bool = False,
) -> bytes:
    """The plaintext of ``message``, returned only if all of it verifies.

    See :func:`decrypt_stream` for the parameters and errors.
    """
    out = io.BytesIO()
    decrypt_stream(
        kms,
        io.BytesIO(message),
        out,
        encryption_context=encryption_context,
        key_ids=key_ids,
        require_commitment=require_commitment,
    )
    return out.getvalue()


def rewrap(
    kms: KmsClient,
    message: bytes,
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    source_key_ids: Sequence[str] | None = None,
) -> bytes:
    """``message`` moved to the KMS key(s) ``key_id`` (see :func:`rewrap_stream`)."""
    out = io.BytesIO()
    rewrap_stream(
        kms,
        io.BytesIO(message),
        out,
        key_id=key_id,
        encryption_context=encryption_context,
        source_key_ids=source_key_ids,
    )
    return out.getvalue()


def inspect(
    message: bytes | bytearray | memoryview | IO[bytes] | StrPath, *, max_frames: int | None = 16
) -> MessageMap:
    """A byte-offset map of a message: header fields, each encrypted data key, frames, footer.

    ``message`` is the bytes, a binary stream, or a path. Nothing is decrypted or verified (no
    KMS call): the map shows where things are and what the plain fields say. Frames after the
    first ``max_frames`` (``None``: no limit) are summarised, except the final frame.

    Raises:
        MessageFormatError (and subclasses), AuthenticationError (frames out of order).
    """
    if isinstance(message, (bytes, bytearray, memoryview)):
        return map_message(io.BytesIO(bytes(message)), max_frames)
    if isinstance(message, (str, os.PathLike)):
        with open(message, "rb") as stream:
            return map_message(stream, max_frames)
    return map_message(message, max_frames)


# -- files ---------------------------------------------------------------------------------------

_BUFFER = 1 << 16


@contextlib.contextmanager
def atomic_output(path: StrPath) -> Iterator[IO[bytes]]:
    """A temporary file beside ``path``, renamed onto it on success and removed on failure.

    What the ``*_file`` functions write through; the file is created readable and writable by its
    owner only (``mkstemp``), which suits decrypted plaintext. Replacing an existing file this way
    on ext4 makes the kernel write the new file to disk at once (its ``auto_da_alloc`` heuristic
    for rename-over): slower than writing a new file, and the reason a crash leaves the old file
    or the new one, never an empty one.
    """
    target = Path(path)
    fd, temp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb", buffering=_BUFFER) as out:
            yield out
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def encrypt_file(
    kms: KmsClient,
    source: StrPath,
    destination: StrPath,
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    suite: Suite | int | str = DEFAULT_SUITE,
    frame_length: int = DEFAULT_FRAME_LENGTH,
) -> MessageInfo:
    """Encrypt the file ``source`` to ``destination`` (written whole or not at all)."""
    with open(source, "rb", buffering=0) as src, atomic_output(destination) as dst:
        return encrypt_stream(
            kms,
            src,
            dst,
            key_id=key_id,
            encryption_context=encryption_context,
            suite=suite,
            frame_length=frame_length,
        )


def decrypt_file(
    kms: KmsClient,
    source: StrPath,
    destination: StrPath,
    *,
    encryption_context: Mapping[str, str] | None = None,
    key_ids: Sequence[str] | None = None,
    require_commitment: bool = False,
) -> MessageInfo:
    """Decrypt the file ``source`` to ``destination``; a message that fails leaves no file."""
    with open(source, "rb", buffering=0) as src, atomic_output(destination) as dst:
        return decrypt_stream(
            kms,
            src,
            dst,
            encryption_context=encryption_context,
            key_ids=key_ids,
            require_commitment=require_commitment,
        )


def rewrap_file(
    kms: KmsClient,
    source: StrPath,
    destination: StrPath,
    *,
    key_id: str | Sequence[str],
    encryption_context: Mapping[str, str] | None = None,
    source_key_ids: Sequence[str] | None = None,
) -> MessageInfo:
    """Rewrap the file ``source`` to ``destination`` (which may be the same path)."""
    with open(source, "rb", buffering=0) as src, atomic_output(destination) as dst:
        return rewrap_stream(
            kms,
            src,
            dst,
            key_id=key_id,
            encryption_context=encryption_context,
            source_key_ids=source_key_ids,
        )
