"""Network versus local: direct KMS encryption against envelope encryption, measured.

The study-session run of ``kmslab bench`` (same options), for when you want every size from
4 KiB to 64 MiB, all four backends (kmslab in-process and over HTTP, moto in-process and its
server) and simulated round trips of 0, 2, 20 and 80 ms. It takes minutes; ``--quick`` (or
``KMSLAB_QUICK=1``) takes seconds. Round trips are *simulated* (a sleep on the client before
every KMS request); direct runs stop at ``--cap`` seconds and are extrapolated beyond, and
every extrapolated number is marked (``~`` in tables, hollow markers on dashed lines in plots).

    python benchmarks/network_vs_local.py [--quick] [--out DIR] [--sizes 4KiB 1MiB ...]
        [--backends local local-http moto moto-server] [--rtt 0 2 20 80] [--cap SECONDS]

Writes records.csv, records.json and the PNG plots to ``--out`` (default ./kmslab-bench).
"""

from __future__ import annotations

import argparse
import sys

from kmslab.bench.command import add_arguments, run_command


def main(argv: list[str] | None = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="network_vs_local.py"))
    try:
        return run_command(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
