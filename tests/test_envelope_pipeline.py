"""The framed body's pipeline: chunks of frames sealed and opened on worker threads.

A large message's chunks are encrypted and decrypted by worker threads while the calling thread
reads ahead and a writer thread writes; decrypt reads whole chunks of frames at once and hands
back what follows the last regular frame. None of that may change a byte of output, the order of
what is written, or which error a damaged message raises. The tests shrink the chunk to a few
16-byte frames, so that a message of a few hundred bytes spans many chunks, and compare every
result against the same code reading one frame per chunk in one thread.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Any

import pytest
from test_envelope import STUB_ARN, SUITES, StubKms, data

from kmslab import envelope
from kmslab.envelope import EnvelopeError, Suite

FRAME = 16


@pytest.fixture
def stub() -> StubKms:
    return StubKms()


@pytest.fixture
def pipelined(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four 16-byte frames per chunk, two AES workers."""
    monkeypatch.setattr(envelope, "_CHUNK", 4 * FRAME)
    monkeypatch.setattr(envelope, "_AES_THREADS", 2)


def frame_by_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """One frame per chunk and no workers: the reference reading."""
    monkeypatch.setattr(envelope, "_CHUNK", FRAME)
    monkeypatch.setattr(envelope, "_AES_THREADS", 0)


def outcome(stub: StubKms, message: bytes) -> tuple[str, str, bytes]:
    """(error class, error text, what decrypt_stream wrote before it stopped)."""
    out = io.BytesIO()
    try:
        envelope.decrypt_stream(stub, io.BytesIO(message), out)
    except EnvelopeError as exc:
        return type(exc).__name__, str(exc), out.getvalue()
    return "", "", out.getvalue()


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("size", [0, 1, 4 * FRAME, 4 * FRAME + 1, 13 * FRAME, 13 * FRAME + 7])
def test_pipelined_messages_round_trip_and_match_the_layout(
    stub: StubKms, pipelined: None, suite: Suite, size: int
) -> None:
    threads = threading.active_count()
    plain = os.urandom(size)
    message = envelope.encrypt(stub, plain, key_id=STUB_ARN, suite=suite, frame_length=FRAME)
    mapped = envelope.inspect(message, max_frames=None)
    assert mapped.frame_count == max(1, -(-size // FRAME)) and mapped.length == len(message)
    assert envelope.decrypt(stub, message) == plain
    assert threading.active_count() == threads


def test_a_message_has_the_same_frames_whatever_the_pipeline(
    stub: StubKms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same data key and message id: the pipelined and the one-thread encryption are identical."""
    plain = data(13 * FRAME + 5)
    fixed_id = bytes(range(32))
    monkeypatch.setattr(envelope.os, "urandom", lambda n: fixed_id[:n] if n == 32 else bytes(n))
    results = []
    for chunk, workers in ((FRAME, 0), (4 * FRAME, 2), (1 << 20, 2)):
        monkeypatch.setattr(envelope, "_CHUNK", chunk)
        monkeypatch.setattr(envelope, "_AES_THREADS", workers)
        stub.generate_data_key = lambda **kw: {  # type: ignore[method-assign]
            "Plaintext": bytes(32),
            "CiphertextBlob": b"blob",
            "KeyId": STUB_ARN,
        }
        results.append(envelope.encrypt(stub, plain, key_id=STUB_ARN, frame_length=FRAME))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("suite", SUITES)
def test_damage_gives_the_same_error_and_output_as_reading_frame_by_frame(
    stub: StubKms, monkeypatch: pytest.MonkeyPatch, suite: Suite
) -> None:
    """Every truncation and every byte flipped, against a message of 11 frames in 3 chunks.

    What decrypt_stream wrote before the error is verified plaintext only: a start of the
    message's plaintext, written a chunk at a time, so no more than the reference wrote.
    """
    monkeypatch.setattr(envelope, "_CHUNK", 4 * FRAME)
    monkeypatch.setattr(envelope, "_AES_THREADS", 2)
    plain = data(10 * FRAME + 3)
    message = envelope.encrypt(stub, plain, key_id=STUB_ARN, suite=suite, frame_length=FRAME)
    body = envelope.inspect(message).section("body")[0]
    damaged = [message[:end] for end in range(body, len(message))]
    for i in range(body, len(message)):
        bad = bytearray(message)
        bad[i] ^= 0x41
        damaged.append(bytes(bad))
    damaged.append(message + b"\x00")
    piped = [outcome(stub, m) for m in damaged]
    frame_by_frame(monkeypatch)
    reference = [outcome(stub, m) for m in damaged]
    assert all(error for error, _, _ in reference)
    assert [(error, text) for error, text, _ in piped] == [(e, t) for e, t, _ in reference]
    for (_, _, written), (_, _, verified) in zip(piped, reference, strict=True):
        assert plain.startswith(written) and len(written) <= len(verified)


def test_frames_out_of_order_across_chunks_are_named(stub: StubKms, pipelined: None) -> None:
    message = envelope.encrypt(stub, data(12 * FRAME), key_id=STUB_ARN, frame_length=FRAME)
    spans = {}
    for region in envelope.inspect(message, max_frames=None).regions:
        if region.frame is not None:
            start, end = spans.get(region.frame, (region.start, region.end))
            spans[region.frame] = (min(start, region.start), max(end, region.end))
    (a0, a1), (b0, b1) = spans[5], spans[6]  # frame 5 ends chunk 2, frame 6 starts chunk 2
    swapped = message[:a0] + message[b0:b1] + message[a0:a1] + message[b1:]
    error, text, written = outcome(stub, swapped)
    assert error == "AuthenticationError"
    assert text.startswith("frame 6 found where frame 5 was expected")
    assert written == data(4 * FRAME)  # the first chunk, and nothing after it


def test_one_cpu_runs_no_worker_threads(stub: StubKms, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope, "_CHUNK", 4 * FRAME)
    monkeypatch.setattr(envelope, "_AES_THREADS", 0)
    seen: list[str] = []
    start = threading.Thread.start

    def spy(thread: threading.Thread) -> None:
        seen.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", spy)
    message = envelope.encrypt(stub, data(9 * FRAME), key_id=STUB_ARN, frame_length=FRAME)
    assert envelope.decrypt(stub, message) == data(9 * FRAME)
    assert seen == ["kmslab-envelope-writer", "kmslab-envelope-writer"]


def test_the_worker_count_follows_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    for cpus, workers in ((1, 0), (2, 0), (3, 0), (4, 2), (5, 3), (16, 4)):
        monkeypatch.setattr(envelope.os, "sched_getaffinity", lambda _pid, n=cpus: set(range(n)))
        assert envelope._aes_threads() == workers


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes a read, as a pipe or a socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        n = min(len(target), self._step, len(self._data))
        target[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


@pytest.mark.parametrize("step", [1, 7, 100, 4096])
def test_short_reads_fill_whole_chunks(stub: StubKms, pipelined: None, step: int) -> None:
    """Decrypt reads chunks of frames straight from the stream: short reads must add up."""
    plain = data(9 * FRAME + 5)
    message = envelope.encrypt(stub, plain, key_id=STUB_ARN, frame_length=FRAME)
    out = io.BytesIO()
    info = envelope.decrypt_stream(stub, Trickle(message, step), out)
    assert out.getvalue() == plain and info.message_length == len(message)
    with pytest.raises(EnvelopeError, match="bytes follow the end"):
        envelope.decrypt_stream(stub, Trickle(message + b"\x00", step), io.BytesIO())
