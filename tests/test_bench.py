"""kmslab.bench: chunking, simulated round trips, extrapolation, records, and the headline.

Everything runs through genuine boto3 clients made by ``kmslab.connect`` (kmslab in-process,
moto in-process); what is checked is observable from outside: the requests the probe saw, the
plaintext that comes back, the time a call takes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmslab import bench
from kmslab.bench import (
    CHUNK_BYTES,
    ClientProbe,
    Plan,
    Record,
    chunk_count,
    chunks,
    direct_decrypt,
    direct_encrypt,
    extrapolate,
    load_records,
    open_backend,
    speedups,
)
from kmslab.bench.probe import http_request_bytes, http_response_bytes
from kmslab.progress import Progress

KiB, MiB = 1024, 1024 * 1024


@pytest.fixture(scope="module")
def local() -> Iterator[bench.Backend]:
    with open_backend("local") as backend:
        yield backend


# -- chunking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "calls"), [(0, 0), (1, 1), (4095, 1), (4096, 1), (4097, 2), (8192, 2), (MiB, 256)]
)
def test_chunk_count(size: int, calls: int) -> None:
    assert chunk_count(size) == calls
    assert [len(c) for c in chunks(bytes(size))] == (
        [CHUNK_BYTES] * (size // CHUNK_BYTES) + ([size % CHUNK_BYTES] if size % CHUNK_BYTES else [])
    )


def test_chunks_keep_every_byte_in_order() -> None:
    data = os.urandom(3 * CHUNK_BYTES + 17)
    pieces = list(chunks(data))
    assert [len(p) for p in pieces] == [4096, 4096, 4096, 17]
    assert b"".join(pieces) == data


def test_kms_takes_4096_bytes_and_not_one_more(local: bench.Backend) -> None:
    kms, key = local.client, local.key_arn
    kms.encrypt(KeyId=key, Plaintext=bytes(CHUNK_BYTES))
    with pytest.raises(ClientError) as info:
        kms.encrypt(KeyId=key, Plaintext=bytes(CHUNK_BYTES + 1))
    assert info.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize("workers", [1, 3])
def test_direct_sends_one_request_per_chunk_and_the_remainder_last(
    local: bench.Backend, workers: int
) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 1)  # two full chunks and a remainder of one byte
    probe = ClientProbe(local.client)
    try:
        sizes: list[int] = []
        local.client.meta.events.register(
            "before-parameter-build.kms.Encrypt",
            lambda params, **_: sizes.append(len(params["Plaintext"])),
            unique_id="test-chunk-sizes",
        )
        run = direct_encrypt(local.client, local.key_arn, data, workers=workers)
        assert probe.counts().requests == 3 == run.done
        assert sorted(sizes) == [1, CHUNK_BYTES, CHUNK_BYTES]
        back = direct_decrypt(local.client, run.outputs, workers=workers)
        assert b"".join(back.outputs) == data  # in order, remainder included
        assert probe.counts().requests == 6
    finally:
        local.client.meta.events.unregister(
            "before-parameter-build.kms.Encrypt", unique_id="test-chunk-sizes"
        )
        probe.detach()


def test_a_capped_direct_run_stops_after_the_minimum_calls(local: bench.Backend) -> None:
    run = direct_encrypt(
        local.client, local.key_arn, bytes(16 * CHUNK_BYTES), cap_seconds=0.0, min_calls=3
    )
    assert run.done == 3 and len(run.outputs) == 3


# -- simulated round trips and wire bytes -----------------------------------------------------


def test_a_20_ms_simulated_round_trip_adds_at_least_20_ms_per_call(local: bench.Backend) -> None:
    kms, key = local.client, local.key_arn
    probe = ClientProbe(kms, rtt_ms=20)
    try:
        for _ in range(3):
            start = time.perf_counter()
            kms.encrypt(KeyId=key, Plaintext=b"x")
            assert time.perf_counter() - start >= 0.020
        counts = probe.counts()
        assert counts.requests == 3
        assert counts.simulated_rtt_seconds >= 3 * 0.020
        probe.rtt_ms = 0
        before = probe.counts()
        kms.encrypt(KeyId=key, Plaintext=b"x")
        assert (probe.counts() - before).simulated_rtt_seconds == 0
    finally:
        probe.detach()
    with pytest.raises(ValueError):
        probe.rtt_ms = -1


def test_detach_removes_the_round_trip(local: bench.Backend) -> None:
    probe = ClientProbe(local.client, rtt_ms=200)
    probe.detach()
    start = time.perf_counter()
    local.client.encrypt(KeyId=local.key_arn, Plaintext=b"x")
    assert time.perf_counter() - start < 0.2
    assert probe.counts().requests == 0


def test_bytes_are_those_of_the_http_messages(local: bench.Backend) -> None:
    probe = ClientProbe(local.client)
    try:
        local.client.encrypt(KeyId=local.key_arn, Plaintext=bytes(CHUNK_BYTES))
        counts = probe.counts()
    finally:
        probe.detach()
    # 4096 bytes travel base64-encoded (5464 characters) inside JSON, plus line and headers.
    assert 5464 + 300 < counts.bytes_sent < 5464 + 3000
    assert 5464 < counts.bytes_received < 5464 + 3000  # the ciphertext blob comes back
    size = http_request_bytes("POST", "http://h:1/", {"A": "b"}, b"xyz")
    assert size == len(b"POST / HTTP/1.1\r\nA: b\r\nHost: h:1\r\n\r\nxyz")
    assert http_response_bytes(200, {"A": "b"}, b"{}") == len(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n{}")


# -- extrapolation -------------------------------------------------------------------------------


def test_extrapolate_is_linear_in_calls() -> None:
    assert extrapolate(0.5, 10, 256) == pytest.approx(12.8)
    assert extrapolate(1.0, 4, 4) == 1.0
    assert extrapolate(2.0, 8, 0) == 0
    with pytest.raises(ValueError):
        extrapolate(1.0, 0, 10)
    with pytest.raises(ValueError):
        extrapolate(-1.0, 1, 10)


def _records(plan: Plan) -> list[Record]:
    results = bench.run(plan)
    assert not results.cancelled
    return results.records


def test_capped_runs_are_extrapolated_and_marked() -> None:
    plan = Plan(
        sizes=(16 * KiB, 64 * KiB),
        backends=("local",),
        rtts_ms=(5.0,),
        methods=("direct", "envelope"),
        direct_cap_seconds=0.001,
        min_direct_calls=2,
        envelope_repeats=1,
        breakdown_calls=3,
        throttling=False,
    )
    records = {(r.size, r.method, r.operation): r for r in _records(plan)}
    small = records[(16 * KiB, "direct", "encrypt")]
    assert small.status == "extrapolated" and small.extrapolated
    assert small.measured_calls == 2 and small.calls == 4
    assert small.seconds == pytest.approx(small.measured_seconds / 2 * 4)
    assert small.measured_seconds >= 2 * 0.005  # two calls, each with 5 ms simulated
    # The larger size is not run again: extrapolated from the same measured calls.
    large = records[(64 * KiB, "direct", "encrypt")]
    assert large.extrapolated and large.basis_size == 16 * KiB
    assert large.measured_seconds == small.measured_seconds
    assert large.seconds == pytest.approx(small.measured_seconds / 2 * 16)
    assert large.calls == 16
    assert large.bytes_sent == pytest.approx(small.bytes_sent * 4, rel=0.01)
    assert not records[(64 * KiB, "envelope", "encrypt")].extrapolated


# -- records -------------------------------------------------------------------------------------


def test_records_are_complete_and_round_trip_through_csv_and_json(tmp_path: Path) -> None:
    plan = Plan(
        sizes=(4 * KiB, 8 * KiB + 1),
        backends=("local",),
        rtts_ms=(0.0, 1.0),
        direct_cap_seconds=5.0,
        workers=2,
        envelope_repeats=1,
        breakdown_calls=3,
        throttling=False,
    )
    results = bench.run(plan)
    records = results.records
    expected = {
        (size, method, operation, rtt)
        for size in plan.sizes
        for method in plan.methods
        for operation in ("encrypt", "decrypt")
        for rtt in plan.rtts_ms
    }
    assert {(r.size, r.method, r.operation, r.simulated_rtt_ms) for r in records} == expected
    for r in records:
        assert r.backend == "local" and r.status == "measured"
        assert r.seconds > 0 and r.bytes_sent > 0 and r.bytes_received > 0
        if r.method == "envelope":
            assert r.calls == 1 and r.implementation.startswith("kmslab.envelope")
        else:
            assert r.calls == chunk_count(r.size) == r.measured_calls
            assert r.workers == (2 if r.method == "direct-threads" else 1)
    assert {b.backend for b in results.breakdown} == {"local"}
    assert {b.rtt_ms for b in results.breakdown} == {0.0, 1.0}
    written = results.save(tmp_path)
    assert sorted(p.name for p in written) == ["records.csv", "records.json"]
    assert load_records(tmp_path / "records.csv") == records
    assert load_records(tmp_path / "records.json") == records
    document = json.loads((tmp_path / "records.json").read_text())
    assert document["plan"]["sizes"] == [4 * KiB, 8 * KiB + 1]
    assert any("SIMULATED" in note for note in document["notes"])
    assert document["breakdown"][0]["server_how"].startswith("measured")


def test_the_minimal_envelope_is_labelled_and_round_trips(local: bench.Backend) -> None:
    codec = bench.envelope_codec(prefer_minimal=True)
    assert "minimal" in codec.label and "not the ESDK format" in codec.label
    data = os.urandom(100_000)
    assert codec.decrypt(local.client, codec.encrypt(local.client, data, local.key_arn)) == data


def test_speedup_at_1_mib_against_moto_in_process_clears_a_generous_floor() -> None:
    plan = Plan(
        sizes=(MiB,),
        backends=("moto",),
        rtts_ms=(0.0,),
        methods=("direct", "envelope"),
        direct_cap_seconds=0.5,
        envelope_repeats=3,
        breakdown_calls=3,
        throttling=False,
    )
    (speedup,) = speedups(_records(plan))
    assert speedup.backend == "moto" and speedup.size == MiB
    assert speedup.ratio >= 20, speedup


# -- cancelling, quick mode, importing -----------------------------------------------------------


def test_a_cancelled_run_returns_what_it_has() -> None:
    progress = Progress()
    progress.cancel()
    results = bench.run(Plan.quick_plan(throttling=False), progress=progress)
    assert results.cancelled and results.records == []


def test_cancel_from_another_thread_stops_a_background_job() -> None:
    job = bench.start(
        Plan(
            sizes=(4 * KiB, 64 * KiB, MiB),
            backends=("local",),
            rtts_ms=(20.0,),
            direct_cap_seconds=30.0,
            throttling=False,
        ),
        progress=Progress(),
    )
    time.sleep(0.3)
    job.cancel()
    results = job.result(timeout=20)
    assert results.cancelled
    assert all(r.size < MiB for r in results.records)


def test_quick_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSLAB_QUICK", "1")
    assert bench.quick_mode() and Plan.default().quick
    assert max(Plan.default().sizes) <= MiB
    monkeypatch.setenv("KMSLAB_QUICK", "0")
    assert not bench.quick_mode() and not Plan.default().quick
    assert max(Plan.default().sizes) == 64 * MiB


@pytest.mark.parametrize(
    "bad",
    [
        {"sizes": ()},
        {"sizes": (0,)},
        {"rtts_ms": (-1.0,)},
        {"methods": ("telepathy",)},
        {"backends": ()},
        {"direct_cap_seconds": 0},
    ],
)
def test_plan_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Plan(**bad)  # type: ignore[arg-type]


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown benchmark backend"):
        open_backend("carrier-pigeon")


def test_import_kmslab_bench_pulls_in_no_moto_matplotlib_or_ipywidgets() -> None:
    code = (
        "import sys, kmslab, kmslab.bench, kmslab.progress, kmslab.quota, kmslab.viz\n"
        "heavy = [m for m in ('moto', 'matplotlib', 'ipywidgets') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_speedups_pair_envelope_with_direct() -> None:
    def rec(method: str, seconds: float, status: str = "measured") -> Record:
        return Record(MiB, method, "encrypt", "moto", 0.0, seconds, 1, 1, 1, status)

    (s,) = speedups([rec("direct", 2.0, "extrapolated"), rec("envelope", 0.01)])
    assert s.ratio == pytest.approx(200) and s.extrapolated
    assert speedups([rec("envelope", 0.01)]) == []
    assert math.isinf(speedups([rec("direct", 1.0), rec("envelope", 0.0)])[0].ratio)
