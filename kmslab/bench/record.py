"""Benchmark results as plain records, their arithmetic, and their CSV/JSON files.

One :class:`Record` is one measurement (or one extrapolation) of one method encrypting or
decrypting one size of data against one backend with one simulated round trip. Records are
flat, so a CSV row, a JSON object and a pandas row are the same thing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CHUNK_BYTES",
    "EXTRAPOLATED",
    "MEASURED",
    "Record",
    "Speedup",
    "chunk_count",
    "chunks",
    "extrapolate",
    "load_records",
    "records_from_csv",
    "records_to_csv",
    "save_records",
    "speedups",
]

CHUNK_BYTES = 4096
"""The most plaintext one KMS Encrypt call takes (the Plaintext member's max length)."""

MEASURED = "measured"
EXTRAPOLATED = "extrapolated"
Status = Literal["measured", "extrapolated"]


def chunk_count(size: int, chunk: int = CHUNK_BYTES) -> int:
    """How many Encrypt calls ``size`` bytes need: ceil(size / chunk); 0 bytes need none."""
    if size < 0 or chunk < 1:
        raise ValueError("size must be >= 0 and chunk >= 1")
    return -(-size // chunk)


def chunks(data: bytes | bytearray | memoryview, chunk: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``data`` cut into ``chunk``-byte pieces (the last one holds the remainder), as bytes."""
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        yield bytes(view[start : start + chunk])


def extrapolate(measured_seconds: float, measured_calls: int, total_calls: int) -> float:
    """Time for ``total_calls`` at the rate measured: ``measured_seconds / measured_calls * total``.

    Direct encryption is bound by calls (every call carries at most 4096 bytes and costs about
    the same), so its time is linear in the number of calls. With a thread pool the measured
    rate already includes the overlap, so the same formula holds.
    """
    if measured_calls < 1:
        raise ValueError("cannot extrapolate from no calls")
    if measured_seconds < 0 or total_calls < 0:
        raise ValueError("seconds and calls cannot be negative")
    return measured_seconds / measured_calls * total_calls


@dataclass(frozen=True)
class Record:
    """One measurement, or one extrapolation from a measurement (``status`` says which).

    Fields (units in the names where there are any):

    * ``size``: plaintext bytes; ``method``: "direct" (one Encrypt per 4096-byte chunk, one
      after the other), "direct-threads" (the same from a pool of ``workers`` threads) or
      "envelope" (one GenerateDataKey, then AES-256-GCM locally; ``implementation`` says with
      what); ``operation``: "encrypt" or "decrypt" (the way back).
    * ``backend``: who answered (see :data:`kmslab.bench.BACKEND_LABELS`).
    * ``simulated_rtt_ms``: the round trip *added on the client* before every request (a sleep;
      0 means none added). Not a measured network.
    * ``seconds``: wall time of the whole operation; ``calls``: KMS requests it takes;
      ``bytes_sent``/``bytes_received``: HTTP bytes of those requests and responses.
    * ``status``: "measured", or "extrapolated" when the run was stopped at the time cap and
      the rest computed with :func:`extrapolate` from ``measured_calls`` calls that took
      ``measured_seconds`` at size ``basis_size``.
    * ``throttled``: ThrottlingException answers among the requests (retried by botocore).
    """

    size: int
    method: str
    operation: str
    backend: str
    simulated_rtt_ms: float
    seconds: float
    calls: int
    bytes_sent: int
    bytes_received: int
    status: str
    workers: int = 1
    measured_calls: int = 0
    measured_seconds: float = 0.0
    basis_size: int = 0
    throttled: int = 0
    implementation: str = ""

    @property
    def extrapolated(self) -> bool:
        return self.status == EXTRAPOLATED

    @property
    def wire_bytes(self) -> int:
        return self.bytes_sent + self.bytes_received

    @property
    def mib_per_second(self) -> float:
        return self.size / 2**20 / self.seconds if self.seconds > 0 else math.inf

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Record:
        """From a JSON object or a CSV row (whose values are all strings)."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in row:
                continue
            value = row[f.name]
            if f.type in ("int",):
                value = int(float(value))
            elif f.type in ("float",):
                value = float(value)
            else:
                value = str(value)
            kwargs[f.name] = value
        return cls(**kwargs)


_FIELDS = [f.name for f in fields(Record)]


def records_to_csv(records: Iterable[Record]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(record.as_dict())
    return out.getvalue()


def records_from_csv(text: str) -> list[Record]:
    return [Record.from_dict(row) for row in csv.DictReader(io.StringIO(text))]


def save_records(
    records: Sequence[Record], directory: str | Path, extra: dict[str, Any] | None = None
) -> list[Path]:
    """Write ``records.csv`` and ``records.json`` (with ``extra`` beside the records)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "records.csv"
    json_path = folder / "records.json"
    csv_path.write_text(records_to_csv(records), encoding="utf-8")
    document = {"records": [r.as_dict() for r in records], **(extra or {})}
    json_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return [csv_path, json_path]


def load_records(path: str | Path) -> list[Record]:
    """Records from a ``records.csv`` or ``records.json`` written by :func:`save_records`."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".json":
        return [Record.from_dict(row) for row in json.loads(text)["records"]]
    return records_from_csv(text)


@dataclass(frozen=True)
class Speedup:
    """How much faster the envelope is than a direct method for one size, backend and RTT."""

    size: int
    backend: str
    simulated_rtt_ms: float
    operation: str
    baseline: str
    baseline_seconds: float
    envelope_seconds: float
    extrapolated: bool

    @property
    def ratio(self) -> float:
        if self.envelope_seconds <= 0:
            return math.inf
        return self.baseline_seconds / self.envelope_seconds


def speedups(
    records: Iterable[Record], operation: str = "encrypt", baseline: str = "direct"
) -> list[Speedup]:
    """Envelope over ``baseline`` for every (size, backend, RTT) that has both records."""
    envelope: dict[tuple[int, str, float], Record] = {}
    base: dict[tuple[int, str, float], Record] = {}
    for r in records:
        if r.operation != operation:
            continue
        key = (r.size, r.backend, r.simulated_rtt_ms)
        if r.method == "envelope":
            envelope[key] = r
        elif r.method == baseline:
            base[key] = r
    return [
        Speedup(
            size=key[0],
            backend=key[1],
            simulated_rtt_ms=key[2],
            operation=operation,
            baseline=baseline,
            baseline_seconds=base[key].seconds,
            envelope_seconds=envelope[key].seconds,
            extrapolated=base[key].extrapolated or envelope[key].extrapolated,
        )
        for key in sorted(base.keys() & envelope.keys(), key=lambda k: (k[1], k[2], k[0]))
    ]
