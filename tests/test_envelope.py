"""kmslab.envelope: round trips, the byte map, tampering, secrets, rewrap.

Most tests run through a genuine boto3 client of a kmslab lab. The exhaustive ones (every bit flip,
every truncation, hypothesis) use ``StubKms``, a few-line in-memory KMS that binds the encryption
context like KMS does: thousands of decrypts then take a second, and a flip in the encryption
context must be caught by the message's own header tag rather than by KMS.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmslab import LocalKms, envelope
from kmslab.envelope import (
    AuthenticationError,
    DataKeyError,
    EncryptionContextError,
    EnvelopeError,
    InvalidParameterError,
    MessageFormatError,
    Suite,
    TruncatedMessageError,
    UnsupportedMessageError,
)
from kmslab.message import decode_context, encode_context

UNSIGNED = Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
SIGNED = Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
SUITES = [pytest.param(UNSIGNED, id="0x0478"), pytest.param(SIGNED, id="0x0578")]
STUB_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"
STUB_ARN_2 = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000002"


class StubKms:
    """The three KMS calls the envelope makes, answered from a dict; binds the context like KMS."""

    def __init__(self) -> None:
        self.blobs: dict[bytes, tuple[bytes, str, dict[str, str]]] = {}
        self.handed_out: list[bytes] = []

    @staticmethod
    def _fail(code: str, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": f"stub {code}"}}, operation)

    def _wrap(self, key: str, plaintext: bytes, context: Mapping[str, str] | None) -> bytes:
        blob = b"stub-blob-" + len(self.blobs).to_bytes(4, "big") + os.urandom(8)
        self.blobs[blob] = (plaintext, key, dict(context or {}))
        return blob

    def _arn(self, key: str) -> str:
        if key in (STUB_ARN, STUB_ARN_2):
            return key
        raise self._fail("NotFoundException", "GenerateDataKey")

    def generate_data_key(self, **kw: Any) -> dict[str, Any]:
        arn = self._arn(kw["KeyId"])
        plaintext = os.urandom(kw["NumberOfBytes"])
        self.handed_out.append(plaintext)
        blob = self._wrap(arn, plaintext, kw.get("EncryptionContext"))
        return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": arn}

    def encrypt(self, **kw: Any) -> dict[str, Any]:
        arn = self._arn(kw["KeyId"])
        blob = self._wrap(arn, kw["Plaintext"], kw.get("EncryptionContext"))
        return {"CiphertextBlob": blob, "KeyId": arn}

    def decrypt(self, **kw: Any) -> dict[str, Any]:
        found = self.blobs.get(kw["CiphertextBlob"])
        if found is None or found[2] != (kw.get("EncryptionContext") or {}):
            raise self._fail("InvalidCiphertextException", "Decrypt")
        if kw.get("KeyId") not in (None, found[1]):
            raise self._fail("IncorrectKeyException", "Decrypt")
        return {"Plaintext": found[0], "KeyId": found[1]}

    def describe_key(self, **kw: Any) -> dict[str, Any]:
        return {"KeyMetadata": {"Arn": self._arn(kw["KeyId"])}}


@pytest.fixture(scope="module")
def envelope_lab() -> Iterator[LocalKms]:
    with LocalKms(seed=5) as lab:
        yield lab


@pytest.fixture(scope="module")
def kms(envelope_lab: LocalKms) -> Any:
    return envelope_lab.client()


@pytest.fixture(scope="module")
def arns(kms: Any) -> tuple[str, str, str]:
    made = [
        kms.create_key(Description=f"envelope test {i}")["KeyMetadata"]["Arn"] for i in range(3)
    ]
    return made[0], made[1], made[2]


@pytest.fixture(scope="module")
def stub() -> StubKms:
    return StubKms()


def data(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("frame", [16, 64, 4096])
def test_round_trip_sizes_around_frame_boundaries(
    kms: Any, arns: tuple[str, ...], suite: Suite, frame: int
) -> None:
    for size in (0, 1, frame - 1, frame, frame + 1, 2 * frame, 3 * frame + 5):
        message = envelope.encrypt(kms, data(size), key_id=arns[0], suite=suite, frame_length=frame)
        assert envelope.decrypt(kms, message) == data(size)
        mapped = envelope.inspect(message, max_frames=None)
        assert mapped.header.suite is suite
        assert mapped.plaintext_length == size
        # A plaintext that fills its last frame ends with a full final frame (the spec's SHOULD).
        assert mapped.frame_count == max(1, -(-size // frame))


def test_bytes_stream_and_file_shapes_agree(
    kms: Any, arns: tuple[str, ...], tmp_path: Path
) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(data(100_000))
    info = envelope.encrypt_file(kms, plain, tmp_path / "m.esdk", key_id=arns[0], frame_length=4096)
    assert info.plaintext_length == 100_000 and info.frame_count == 25
    assert info.message_length == (tmp_path / "m.esdk").stat().st_size
    assert info.key_arns == (arns[0],)
    out = io.BytesIO()
    with open(tmp_path / "m.esdk", "rb") as src:
        back = envelope.decrypt_stream(kms, src, out)
    assert out.getvalue() == data(100_000)
    assert back.decrypted_with == arns[0] and back.message_id == info.message_id
    envelope.decrypt_file(kms, tmp_path / "m.esdk", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data(100_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", "m.esdk", "plain.bin"]


class Trickle(io.RawIOBase):
    """A non-seekable stream that hands out at most 7 bytes per read, like a slow pipe."""

    def __init__(self, payload: bytes) -> None:
        self._data = io.BytesIO(payload)

    def readable(self) -> bool:
        return True

    def readinto(self, view: Any) -> int:
        chunk = self._data.read(min(7, len(view)))
        view[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("suite", SUITES)
def test_short_reads_from_pipes(stub: StubKms, suite: Suite) -> None:
    out = io.BytesIO()
    envelope.encrypt_stream(
        stub, Trickle(data(1000)), out, key_id=STUB_ARN, suite=suite, frame_length=64
    )
    back = io.BytesIO()
    envelope.decrypt_stream(stub, Trickle(out.getvalue()), back)
    assert back.getvalue() == data(1000)
    assert envelope.inspect(Trickle(out.getvalue())).frame_count == 16


def test_several_kms_keys_any_one_decrypts(
    envelope_lab: LocalKms, kms: Any, arns: tuple[str, ...]
) -> None:
    first, second, third = arns
    message = envelope.encrypt(kms, b"shared", key_id=[first, second], frame_length=64)
    assert envelope.inspect(message).header.key_arns == (first, second)
    assert envelope.decrypt(kms, message, key_ids=[second]) == b"shared"
    key_id = second.rsplit("/", 1)[1]
    assert envelope.decrypt(kms, message, key_ids=[key_id]) == b"shared"
    with pytest.raises(DataKeyError, match="no encrypted data key"):
        envelope.decrypt(kms, message, key_ids=[third])
    kms.disable_key(KeyId=first)
    try:
        out = io.BytesIO()
        info = envelope.decrypt_stream(kms, io.BytesIO(message), out)
        assert out.getvalue() == b"shared" and info.decrypted_with == second
    finally:
        kms.enable_key(KeyId=first)
    generate = [e for e in envelope_lab.trail if e["eventName"] == "GenerateDataKey"]
    assert generate, "GenerateDataKey is called once per message"


def test_aliases_and_key_ids_work_and_arns_are_recorded(kms: Any, arns: tuple[str, ...]) -> None:
    kms.create_alias(AliasName="alias/envelope-test", TargetKeyId=arns[0])
    message = envelope.encrypt(kms, b"x", key_id="alias/envelope-test")
    assert envelope.inspect(message).header.key_arns == (arns[0],)
    assert envelope.decrypt(kms, message, key_ids=["alias/envelope-test"]) == b"x"


class FailingWriter(io.RawIOBase):
    """A destination that fails once it has taken ``limit`` bytes (a full disk)."""

    def __init__(self, limit: int) -> None:
        self.taken = 0
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, view: Any) -> int:
        if self.taken + len(view) > self.limit:
            raise OSError(28, "No space left on device")
        self.taken += len(view)
        return len(view)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("frame", [4096, 256 * 1024, 2 * 1024 * 1024])
def test_multi_chunk_messages_use_the_writer_thread(
    stub: StubKms, suite: Suite, frame: int
) -> None:
    """Messages over 1 MiB are written by a background thread; results must not change."""
    threads = threading.active_count()
    for size in (3 * 1024 * 1024 + 5, 4 * 1024 * 1024):
        plain = os.urandom(size)
        message = envelope.encrypt(stub, plain, key_id=STUB_ARN, suite=suite, frame_length=frame)
        mapped = envelope.inspect(message)
        assert mapped.frame_count == -(-size // frame) and mapped.length == len(message)
        assert envelope.decrypt(stub, message) == plain
    assert threading.active_count() == threads


def test_failures_in_later_chunks_stop_the_writer_and_leave_nothing(
    stub: StubKms, tmp_path: Path
) -> None:
    threads = threading.active_count()
    plain = os.urandom(3 * 1024 * 1024)
    message = envelope.encrypt(stub, plain, key_id=STUB_ARN, frame_length=4096)
    bad = bytearray(message)
    bad[-2 * 1024 * 1024] ^= 1  # a frame in the second megabyte
    (tmp_path / "bad.esdk").write_bytes(bad)
    with pytest.raises(AuthenticationError, match="does not verify"):
        envelope.decrypt_file(stub, tmp_path / "bad.esdk", tmp_path / "out.bin")
    assert [p.name for p in tmp_path.iterdir()] == ["bad.esdk"]
    with pytest.raises(OSError, match="No space"):
        envelope.encrypt_stream(stub, io.BytesIO(plain), FailingWriter(1_500_000), key_id=STUB_ARN)
    with pytest.raises(OSError, match="No space"):
        envelope.decrypt_stream(stub, io.BytesIO(message), FailingWriter(1_500_000))
    assert threading.active_count() == threads


# -- encryption context --------------------------------------------------------------------------


def test_encryption_context_is_authenticated_and_required_pairs_checked(
    kms: Any, arns: tuple[str, ...]
) -> None:
    context = {"purpose": "demo", "tenant": "é-42"}
    message = envelope.encrypt(kms, b"ctx", key_id=arns[0], encryption_context=context)
    assert dict(envelope.inspect(message).header.encryption_context) == context
    assert envelope.decrypt(kms, message, encryption_context={"purpose": "demo"}) == b"ctx"
    assert envelope.decrypt(kms, message, encryption_context=context) == b"ctx"
    with pytest.raises(EncryptionContextError, match="different value for 'purpose'"):
        envelope.decrypt(kms, message, encryption_context={"purpose": "other"})
    with pytest.raises(EncryptionContextError, match="no 'owner'"):
        envelope.decrypt(kms, message, encryption_context={"owner": "me"})


def test_signed_suite_puts_public_key_in_context(kms: Any, arns: tuple[str, ...]) -> None:
    message = envelope.encrypt(
        kms, b"s", key_id=arns[0], suite=SIGNED, encryption_context={"a": "b"}
    )
    header = envelope.inspect(message).header
    assert set(header.encryption_context) == {"a", "aws-crypto-public-key"}
    assert len(header.encryption_context["aws-crypto-public-key"]) == 68  # base64 of 49 bytes


@pytest.mark.parametrize(
    "context",
    [{"aws-crypto-public-key": "x"}, {"aws-crypto-anything": "x"}, {"k": 1}, {"k" * 70000: "v"}],
)
def test_bad_contexts_are_refused(stub: StubKms, context: Any) -> None:
    with pytest.raises(InvalidParameterError):
        envelope.encrypt(stub, b"x", key_id=STUB_ARN, encryption_context=context)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
def test_context_encoding_round_trips(context: dict[str, str]) -> None:
    assert decode_context(encode_context(context)) == context


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
)
def test_context_encoding_is_injective(a: dict[str, str], b: dict[str, str]) -> None:
    assert (encode_context(a) == encode_context(b)) == (a == b)


# -- parameters and KMS errors -------------------------------------------------------------------


@pytest.mark.parametrize("frame", [0, -16, 15, 100, 2**31, True])
def test_bad_frame_lengths(stub: StubKms, frame: Any) -> None:
    with pytest.raises(InvalidParameterError, match="frame length"):
        envelope.encrypt(stub, b"x", key_id=STUB_ARN, frame_length=frame)


@pytest.mark.parametrize("suite", [0x0378, 0x0178, "AES_256_GCM_IV12_TAG16", 0x9999, "nope"])
def test_only_committing_suites_are_written(stub: StubKms, suite: Any) -> None:
    with pytest.raises(InvalidParameterError):
        envelope.encrypt(stub, b"x", key_id=STUB_ARN, suite=suite)


def test_suites_by_name_and_id(stub: StubKms) -> None:
    for name in ("0x0578", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", 0x0578):
        message = envelope.encrypt(stub, b"x", key_id=STUB_ARN, suite=name)
        assert envelope.inspect(message).header.suite is SIGNED


def test_kms_errors_become_data_key_errors_with_the_aws_code(
    kms: Any, arns: tuple[str, ...]
) -> None:
    missing = arns[0].rsplit("/", 1)[0] + "/11111111-2222-3333-4444-555555555555"
    with pytest.raises(DataKeyError) as info:
        envelope.encrypt(kms, b"x", key_id=missing)
    assert info.value.failures[0][1] == "NotFoundException"
    assert "NotFoundException" in str(info.value)
    with pytest.raises(InvalidParameterError):
        envelope.encrypt(kms, b"x", key_id=[])
    kms.disable_key(KeyId=arns[2])
    try:
        with pytest.raises(DataKeyError) as info:
            envelope.encrypt(kms, b"x", key_id=[arns[0], arns[2]])
        assert info.value.failures[0][1] == "DisabledException"
    finally:
        kms.enable_key(KeyId=arns[2])


def test_other_exceptions_are_not_swallowed(stub: StubKms) -> None:
    class Broken(StubKms):
        def generate_data_key(self, **kw: Any) -> dict[str, Any]:
            raise RuntimeError("a bug, not an AWS error")

    with pytest.raises(RuntimeError):
        envelope.encrypt(Broken(), b"x", key_id=STUB_ARN)


# -- secrets -------------------------------------------------------------------------------------


def test_data_key_is_wiped_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stub = StubKms()
    wiped: list[bytearray] = []
    real_wipe = envelope._wipe

    def recording_wipe(buffer: bytearray) -> None:
        real_wipe(buffer)
        wiped.append(buffer)

    monkeypatch.setattr(envelope, "_wipe", recording_wipe)
    caplog.set_level("DEBUG")
    message = envelope.encrypt(stub, b"secret", key_id=[STUB_ARN, STUB_ARN_2], suite=SIGNED)
    info = envelope.decrypt_stream(stub, io.BytesIO(message), io.BytesIO())
    moved = envelope.rewrap(stub, message, key_id=STUB_ARN_2)
    failures: list[str] = []
    for bad in (message[:-1], moved[:200] + bytes([moved[200] ^ 1]) + moved[201:]):
        with pytest.raises(EnvelopeError) as caught:
            envelope.decrypt(stub, bad)
        failures.append(f"{caught.value} {caught.value!r}")
    key = stub.handed_out[-1]
    assert len(wiped) >= 4 and all(len(b) == 32 and not any(b) for b in wiped)
    shown = " ".join(
        [repr(info), repr(envelope.inspect(message)), envelope.inspect(message).table(), *failures]
    )
    shown += caplog.text + json.dumps(envelope.inspect(moved).to_dict())
    for form in (key.hex(), repr(key), key.hex().upper()):
        assert form not in shown


# -- tampering -----------------------------------------------------------------------------------


def small_message(stub: StubKms, suite: Suite) -> bytes:
    return envelope.encrypt(
        stub, data(40), key_id=STUB_ARN, suite=suite, frame_length=16, encryption_context={"k": "v"}
    )


@pytest.mark.parametrize("suite", SUITES)
def test_every_single_bit_flip_is_rejected(stub: StubKms, suite: Suite) -> None:
    message = small_message(stub, suite)
    assert envelope.decrypt(stub, message) == data(40)
    assert envelope.inspect(message).frame_count == 3
    for i in range(len(message)):
        for bit in range(8):
            bad = bytearray(message)
            bad[i] ^= 1 << bit
            with pytest.raises(EnvelopeError) as caught:
                envelope.decrypt(stub, bytes(bad))
            assert str(caught.value), f"byte {i} bit {bit}: an error without a message"


@pytest.mark.parametrize("suite", SUITES)
def test_bit_flips_through_a_real_kms_client(kms: Any, arns: tuple[str, ...], suite: Suite) -> None:
    """The same, sampled, with kmslab's KMS answering (it also binds the encryption context)."""
    message = envelope.encrypt(
        kms, data(40), key_id=arns[0], suite=suite, frame_length=16, encryption_context={"k": "v"}
    )
    for i in range(0, len(message), 7):
        bad = bytearray(message)
        bad[i] ^= 0x10
        with pytest.raises(EnvelopeError):
            envelope.decrypt(kms, bytes(bad))


@pytest.mark.parametrize("suite", SUITES)
def test_every_truncation_is_rejected(stub: StubKms, suite: Suite) -> None:
    message = small_message(stub, suite)
    for end in range(len(message)):
        with pytest.raises(EnvelopeError):
            envelope.decrypt(stub, message[:end])


def test_truncations_report_where_the_message_ends(stub: StubKms) -> None:
    message = small_message(stub, UNSIGNED)
    mapped = envelope.inspect(message)
    final_start = next(r.start for r in mapped.regions if r.name.startswith("Final frame"))
    with pytest.raises(TruncatedMessageError, match="final frame"):
        envelope.decrypt(stub, message[:final_start])
    with pytest.raises(TruncatedMessageError, match="encryption context"):
        envelope.decrypt(stub, message[:40])
    with pytest.raises(MessageFormatError, match="bytes follow the end"):
        envelope.decrypt(stub, message + b"\x00")


def frames_of(message: bytes) -> list[tuple[int, int]]:
    """(start, end) of each frame, from the byte map."""
    spans: dict[int, list[int]] = {}
    for region in envelope.inspect(message, max_frames=None).regions:
        if region.frame is not None:
            spans.setdefault(region.frame, []).extend((region.start, region.end))
    return [(min(s), max(s)) for _, s in sorted(spans.items())]


def test_reordered_dropped_repeated_frames_are_rejected(stub: StubKms) -> None:
    message = small_message(stub, UNSIGNED)
    (a0, a1), (b0, b1), (c0, _) = frames_of(message)
    head, f1, f2, rest = message[:a0], message[a0:a1], message[b0:b1], message[c0:]
    attempts = {
        "swapped": head + f2 + f1 + rest,
        "dropped": head + f2 + rest,
        "repeated": head + f1 + f1 + f2 + rest,
        "final frame dropped": head + f1 + f2,
        # Renumber frame 2 as frame 1 and drop the real frame 1: the AAD still says 2.
        "renumbered": head + b"\x00\x00\x00\x01" + f2[4:] + rest,
    }
    for name, bad in attempts.items():
        with pytest.raises((AuthenticationError, TruncatedMessageError)):
            envelope.decrypt(stub, bad)
        assert name


def test_frames_from_another_message_under_the_same_key_are_rejected(stub: StubKms) -> None:
    one, two = small_message(stub, UNSIGNED), small_message(stub, UNSIGNED)
    (a0, a1), _, _ = frames_of(one)
    (b0, b1), _, _ = frames_of(two)
    with pytest.raises(AuthenticationError):
        envelope.decrypt(stub, one[:a0] + two[b0:b1] + one[a1:])


@pytest.mark.parametrize("suite", SUITES)
def test_failed_decrypt_leaves_no_output_file(stub: StubKms, suite: Suite, tmp_path: Path) -> None:
    message = small_message(stub, suite)
    length = len(message)
    cases = {"truncated": message[: length - 5], "flipped": message[:-3] + b"\x00\x00\x00"}
    for name, bad in cases.items():
        source = tmp_path / f"{name}.esdk"
        source.write_bytes(bad)
        with pytest.raises(EnvelopeError):
            envelope.decrypt_file(stub, source, tmp_path / f"{name}.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flipped.esdk", "truncated.esdk"]


def test_garbage_and_other_versions(stub: StubKms) -> None:
    for junk, error in (
        (b"", TruncatedMessageError),
        (b"hello world", UnsupportedMessageError),
        (b"\x02\x99\x99" + bytes(60), UnsupportedMessageError),
        (b"\x01\x81" + bytes(60), UnsupportedMessageError),
        (b"\x02\x03\x78" + bytes(60), UnsupportedMessageError),
    ):
        with pytest.raises(error):
            envelope.decrypt(stub, junk)
        with pytest.raises(error):
            envelope.inspect(junk)


def test_required_commitment_refuses_version_1(stub: StubKms) -> None:
    # A hand-made version 1 header (suite 0x0378): refused as soon as it is parsed, before any
    # KMS call. Real version 1 messages from the SDK are in test_envelope_interop.py.
    legacy = b"\x01\x80\x03\x78" + bytes(16) + b"\x00\x00" + b"\x00\x01" + bytes(6) + b"\x02"
    legacy += bytes(4) + b"\x0c" + (4096).to_bytes(4, "big") + bytes(28)
    with pytest.raises(UnsupportedMessageError, match="no key commitment"):
        envelope.decrypt(stub, legacy, require_commitment=True)


# -- property: round trips over sizes, contexts, frames, suites ----------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(0, 700),
    frame=st.sampled_from([16, 32, 64, 256]),
    suite=st.sampled_from([UNSIGNED, SIGNED]),
    context=st.dictionaries(
        st.text(min_size=1, max_size=6).filter(lambda k: not k.startswith("aws-crypto-")),
        st.text(max_size=6),
        max_size=4,
    ),
)
def test_round_trip_property(
    stub: StubKms, size: int, frame: int, suite: Suite, context: dict[str, str]
) -> None:
    plain = os.urandom(size)
    message = envelope.encrypt(
        stub, plain, key_id=STUB_ARN, suite=suite, frame_length=frame, encryption_context=context
    )
    assert envelope.decrypt(stub, message, encryption_context=context) == plain
    mapped = envelope.inspect(message, max_frames=None)
    assert mapped.plaintext_length == size and mapped.length == len(message)
    overhead = len(message) - size
    assert overhead == mapped.section("header auth")[1] + 32 * mapped.frame_count + 8 + (
        105 if suite is SIGNED else 0
    )


# -- the byte map --------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_inspect_covers_every_byte_once(kms: Any, arns: tuple[str, ...], suite: Suite) -> None:
    message = envelope.encrypt(
        kms, data(300), key_id=arns[:2], suite=suite, frame_length=64, encryption_context={"a": "1"}
    )
    mapped = envelope.inspect(message, max_frames=None)
    position = 0
    for region in mapped.regions:
        assert region.start == position, region
        position = region.end
    assert position == len(message) == mapped.length
    names = [r.name for r in mapped.regions]
    assert "EDK 2: Key Provider Information" in names
    arn_values = [r.value for r in mapped.regions if r.name.endswith("Key Provider Information")]
    assert arn_values == list(arns[:2])
    sections = mapped.sections
    assert sections["header"][0] == 0 and sections["header"][1] == sections["header auth"][0]
    assert sections["body"][0] == sections["header auth"][1]
    assert ("footer" in sections) == suite.signing
    assert json.loads(json.dumps(mapped.to_dict()))["frame_count"] == 5
    assert "Final frame: Encrypted Content Length" in mapped.table()


def test_inspect_summarises_long_bodies(stub: StubKms, tmp_path: Path) -> None:
    message = envelope.encrypt(stub, data(10_000), key_id=STUB_ARN, frame_length=16)
    path = tmp_path / "long.esdk"
    path.write_bytes(message)
    mapped = envelope.inspect(path, max_frames=3)
    assert mapped.frame_count == 625
    elided = [r for r in mapped.regions if r.name.startswith("Frames 4-624")]
    assert len(elided) == 1 and elided[0].value == "621 frames"
    assert mapped.regions[-1].name == "Final frame: Authentication Tag"
    assert mapped.regions[-1].end == len(message)


# -- rewrap --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_rewrap_rewrites_the_header_and_copies_the_body_untouched(
    kms: Any, arns: tuple[str, ...], suite: Suite
) -> None:
    old_key, new_key = arns[0], arns[1]
    message = envelope.encrypt(
        kms,
        data(5000),
        key_id=old_key,
        suite=suite,
        frame_length=1024,
        encryption_context={"purpose": "rewrap"},
    )
    moved = envelope.rewrap(kms, message, key_id=new_key, encryption_context={"purpose": "rewrap"})
    before, after = envelope.inspect(message), envelope.inspect(moved)
    body_before = message[slice(*before.section("body"))]
    body_after = moved[slice(*after.section("body"))]
    assert body_before == body_after and len(body_before) > 5000
    assert after.header.key_arns == (new_key,)
    assert after.header.message_id == before.header.message_id
    assert after.header.commitment == before.header.commitment
    assert after.header.encryption_context["purpose"] == "rewrap"
    assert envelope.decrypt(kms, moved, key_ids=[new_key]) == data(5000)
    with pytest.raises(DataKeyError):
        envelope.decrypt(kms, moved, key_ids=[old_key])
    if suite.signing:
        old_pub = before.header.encryption_context["aws-crypto-public-key"]
        assert after.header.encryption_context["aws-crypto-public-key"] != old_pub
        assert message[slice(*before.section("footer"))] != moved[slice(*after.section("footer"))]
    else:
        assert moved[after.section("body")[0] :] == message[before.section("body")[0] :]


@pytest.mark.parametrize("suite", SUITES)
def test_rewrap_refuses_tampered_messages(stub: StubKms, suite: Suite, tmp_path: Path) -> None:
    message = small_message(stub, suite)
    body_start = envelope.inspect(message).section("body")[0]
    header_flip = bytearray(message)
    header_flip[60] ^= 1
    with pytest.raises(EnvelopeError):
        envelope.rewrap(stub, bytes(header_flip), key_id=STUB_ARN_2)
    if suite.signing:
        body_flip = bytearray(message)
        body_flip[body_start + 20] ^= 1
        path = tmp_path / "bad.esdk"
        path.write_bytes(body_flip)
        with pytest.raises(AuthenticationError, match="not re-signed"):
            envelope.rewrap_file(stub, path, tmp_path / "out.esdk", key_id=STUB_ARN_2)
        assert not (tmp_path / "out.esdk").exists()
        assert [p.name for p in tmp_path.iterdir()] == ["bad.esdk"]


def test_rewrap_file_in_place(stub: StubKms, tmp_path: Path) -> None:
    path = tmp_path / "m.esdk"
    path.write_bytes(envelope.encrypt(stub, data(3000), key_id=STUB_ARN, frame_length=512))
    info = envelope.rewrap_file(stub, path, path, key_id=STUB_ARN_2)
    assert info.key_arns == (STUB_ARN_2,) and info.decrypted_with == STUB_ARN
    assert info.message_length == path.stat().st_size
    assert envelope.decrypt(stub, path.read_bytes(), key_ids=[STUB_ARN_2]) == data(3000)
