"""The ``kmslab`` command.

::

    kmslab check [BACKEND]     is this machine ready, and will anything reach real AWS?
    kmslab version             print kmslab's version
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kmslab",
        description="kmslab: an offline teaching lab for AWS Key Management Service.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="versions, backend, and no real AWS unless opted in")
    check.add_argument(
        "backend",
        nargs="?",
        default="local",
        help="local, moto, moto-server, aws or an http(s):// URL (default: local)",
    )
    sub.add_parser("version", help="print kmslab's version")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        from .check import main as check_main

        return check_main([args.backend])
    if args.command == "version":
        print(f"kmslab {__version__}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
