"""The ``kmslab`` command.

::

    kmslab check [BACKEND]     is this machine ready, and will anything reach real AWS?
    kmslab serve [--host H] [--port P] [--state FILE] [--region R]
                               AWS KMS over HTTP for the aws CLI and any SDK
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
    serve = sub.add_parser("serve", help="serve the lab's KMS over HTTP (aws CLI, any SDK)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=4599, help="port (4599; 0 picks a free one)")
    serve.add_argument("--state", default=None, help="SQLite state file; keys survive restarts")
    serve.add_argument("--region", default="us-east-1", help="Region for the printed profiles")
    sub.add_parser("version", help="print kmslab's version")
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .lab import LocalKms
    from .server import serve_forever
    from .store import StateFileError

    try:
        lab = LocalKms(state=args.state)
    except (StateFileError, OSError) as exc:
        print(f"kmslab serve: cannot open the state file: {exc}", file=sys.stderr)
        return 1
    try:
        serve_forever(lab, host=args.host, port=args.port, region=args.region)
    except OSError as exc:
        print(f"kmslab serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        from .check import main as check_main

        return check_main([args.backend])
    if args.command == "serve":
        return _serve(args)
    if args.command == "version":
        print(f"kmslab {__version__}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
