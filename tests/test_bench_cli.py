"""``kmslab bench``: prints the tables, writes the records (and plots when asked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmslab.bench.command import headline, size_argument
from kmslab.bench.record import Record
from kmslab.cli import main


def test_bench_prints_tables_and_writes_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "bench",
            "--sizes",
            "4KiB",
            "12KiB",
            "--backends",
            "local",
            "--rtt",
            "0",
            "--cap",
            "5",
            "--no-throttling",
            "--no-plots",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "SIMULATED" in out and "Speed-up of envelope over direct" in out
    assert "Time to encrypt" in out and "Where the time of one direct Encrypt call goes" in out
    assert "kmslab in-process" in out and "12 KiB" in out
    records = json.loads((tmp_path / "records.json").read_text())["records"]
    assert {r["size"] for r in records} == {4096, 12288}
    assert (tmp_path / "records.csv").read_text().startswith("size,method,operation,backend")


def test_bench_rejects_a_bad_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--methods", "telepathy", "--no-plots"]) == 2
    assert "unknown methods" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--sizes", "lots"])


def test_sizes() -> None:
    assert size_argument("4096") == 4096
    assert size_argument("64KiB") == 64 * 1024
    assert size_argument("1MiB") == size_argument("1mb") == 2**20


def test_headline_marks_extrapolated_speedups() -> None:
    records = [
        Record(2**20, "direct", "encrypt", "moto", 0.0, 0.5, 256, 1, 1, "extrapolated"),
        Record(2**20, "envelope", "encrypt", "moto", 0.0, 0.002, 1, 1, 1, "measured"),
    ]
    (line,) = headline(records)
    assert "1 MiB" in line and "moto in-process" in line and "~250x" in line
    assert "extrapolated" in line
