"""kmslab in-process against moto in-process: per-call cost, and the cost of ``import kmslab``.

Both backends answer a genuine boto3 KMS client inside this process, so the difference is what
each does per call beyond botocore's own work. For each operation (Encrypt of 4096 bytes, Decrypt,
GenerateDataKey with AES_256) the script times ``--calls`` calls per backend per round, over
``--rounds`` rounds, after a warm-up; the backend that goes first alternates from round to round,
so slow drift on a noisy machine hits both alike. It prints the median ms/call of each backend and
the ratio kmslab/moto, and exits with status 1 if any ratio is above 0.5 (``--no-check`` skips
that).

Then it times whole interpreter runs of ``python -c "import boto3"`` and
``python -c "import kmslab"`` (and ``"import boto3, kmslab"``, which counts a lazily imported
boto3 in), interleaved, and prints the median difference against the 50 ms budget (printed only;
start-up time is too noisy to gate on).

    python benchmarks/local_vs_moto.py [--rounds 7] [--calls 200] [--import-runs 9] [--no-check]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from kmslab.backend import connect, stop
from kmslab.lab import LocalKms

MAX_RATIO = 0.5
IMPORT_BUDGET_MS = 50.0
PLAINTEXT_BYTES = 4096
WARM_UP_CALLS = 30

Call = Callable[[], object]


def operations(kms: Any) -> dict[str, Call]:
    """The timed calls against one client, each with its own key and ciphertext ready."""
    key_id = kms.create_key(Description="kmslab benchmark")["KeyMetadata"]["KeyId"]
    plaintext = os.urandom(PLAINTEXT_BYTES)
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    if kms.decrypt(CiphertextBlob=blob)["Plaintext"] != plaintext:
        raise SystemExit("a backend failed the Encrypt/Decrypt round trip")
    return {
        f"Encrypt ({PLAINTEXT_BYTES} B)": lambda: kms.encrypt(KeyId=key_id, Plaintext=plaintext),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "GenerateDataKey (AES_256)": lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    }


def ms_per_call(call: Call, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) * 1000 / calls


def ensure_separate(local: Any, moto: Any) -> None:
    """While a moto mock is active, moto's botocore hook sees every request of each boto3 client
    created after moto was imported, and works on it even when another hook answers first. Make
    sure moto does not also do the kmslab client's work, or kmslab would be timed plus moto."""
    before = len(moto.list_keys()["Keys"])
    local_key = local.create_key()["KeyMetadata"]["Arn"]
    if len(moto.list_keys()["Keys"]) != before:
        raise SystemExit("moto also answered the kmslab client: its timings would include moto")
    try:
        moto.describe_key(KeyId=local_key)
    except moto.exceptions.NotFoundException:
        return
    raise SystemExit("moto answered the kmslab client: the comparison would be moto against moto")


def time_calls(rounds: int, calls: int) -> dict[str, dict[str, list[float]]]:
    """{operation: {backend: [ms/call of each round]}}."""
    lab = LocalKms()
    try:
        clients = {"kmslab": lab.client(), "moto": connect("moto")}
        ensure_separate(clients["kmslab"], clients["moto"])
        calls_of = {name: operations(kms) for name, kms in clients.items()}
        results: dict[str, dict[str, list[float]]] = {
            op: {name: [] for name in clients} for op in calls_of["kmslab"]
        }
        for op in results:
            for name in clients:
                ms_per_call(calls_of[name][op], WARM_UP_CALLS)
        for round_number in range(rounds):
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            for op, by_backend in results.items():
                for name in order:
                    by_backend[name].append(ms_per_call(calls_of[name][op], calls))
        return results
    finally:
        stop()
        lab.close()


def time_imports(runs: int) -> dict[str, list[float]]:
    """{code: [wall ms of a whole `python -c code` run]}, the codes interleaved run by run."""
    codes = [
        "pass",
        "import boto3",
        "import kmslab",
        "import boto3, kmslab",
        "import boto3, kmslab; kmslab.LocalKms",
    ]
    wall: dict[str, list[float]] = {code: [] for code in codes}
    for run in range(runs + 1):
        for code in codes if run % 2 == 0 else reversed(codes):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            if run > 0:  # the first run only warms the page cache
                wall[code].append((time.perf_counter() - start) * 1000)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="kmslab in-process against moto in-process: per-call cost and import cost."
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--calls", type=int, default=200, help="calls per round (default 200)")
    parser.add_argument(
        "--import-runs", type=int, default=9, help="interpreter runs per import (default 9)"
    )
    parser.add_argument(
        "--no-check", action="store_true", help=f"exit 0 even if a ratio is above {MAX_RATIO}"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.calls < 1 or args.import_runs < 1:
        parser.error("--rounds, --calls and --import-runs must be at least 1")

    print(
        f"kmslab (LocalKms().client()) against moto (connect('moto')), both in-process: "
        f"median ms/call over {args.rounds} rounds x {args.calls} calls"
    )
    results = time_calls(args.rounds, args.calls)
    header = f"{'operation':<28}{'kmslab ms':>11}{'moto ms':>11}{'kmslab/moto':>13}  check"
    print(header)
    print("-" * len(header))
    too_slow = []
    for op, by_backend in results.items():
        local = statistics.median(by_backend["kmslab"])
        moto = statistics.median(by_backend["moto"])
        ratio = local / moto
        verdict = "ok" if ratio <= MAX_RATIO else f"OVER {MAX_RATIO}"
        if ratio > MAX_RATIO:
            too_slow.append(op)
        print(f"{op:<28}{local:>11.3f}{moto:>11.3f}{ratio:>13.2f}  {verdict}")
    print()

    print(f"import cost: wall time of a whole `python -c` run, median of {args.import_runs}")
    wall = time_imports(args.import_runs)
    medians = {code: statistics.median(times) for code, times in wall.items()}
    for code, median in medians.items():
        print(f"  python -c {code!r:<42}{median:>9.1f} ms")
    # kmslab's budget counts boto3 in: "import boto3, kmslab" covers a kmslab that imports boto3
    # lazily, "import kmslab" one that imports it at once.
    with_kmslab = max(medians["import kmslab"], medians["import boto3, kmslab"])
    extra = with_kmslab - medians["import boto3"]
    within = "within" if extra <= IMPORT_BUDGET_MS else "OVER"
    budget = f"({within} the {IMPORT_BUDGET_MS:.0f} ms budget)"
    print(f"  {'kmslab over boto3':<52}{extra:>9.1f} ms  {budget}")
    # For information: the service, wire protocols and IAM load on first use of LocalKms.
    service = medians["import boto3, kmslab; kmslab.LocalKms"] - medians["import boto3"]
    label = 'kmslab.LocalKms loaded, over boto3'
    print(f"  {label:<52}{service:>9.1f} ms  (first use, not import)")

    if too_slow and not args.no_check:
        print(f"\nFAIL: kmslab/moto above {MAX_RATIO} for: {', '.join(too_slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
