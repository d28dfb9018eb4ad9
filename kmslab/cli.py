"""The ``kmslab`` command.

::

    kmslab check [BACKEND]                  is this machine ready, and will anything reach real AWS?
    kmslab serve [--host H] [--port P] [--state FILE] [--region R]
                                            AWS KMS over HTTP for the aws CLI and any SDK
    kmslab version                          print kmslab's version
    kmslab create-key [--alias alias/NAME] [--description TEXT]     print the new key's id
    kmslab encrypt --key-id K [--key-id K2] [--context k=v ...] IN -o OUT
    kmslab decrypt IN -o OUT [--context k=v ...] [--key-id K]
    kmslab rewrap --key-id K2 IN -o OUT [--context k=v ...]
    kmslab inspect FILE [--json] [--frames N]

``-`` means standard input or output. The KMS commands talk to a local lab whose keys persist
between runs in a state file (``--state PATH``; by default ``$KMSLAB_STATE``, else
``$XDG_DATA_HOME/kmslab/lab.db``, else ``~/.local/share/kmslab/lab.db``), or, with
``--endpoint-url URL``, to any KMS server (``kmslab serve``, moto). Files are encrypted in the AWS
Encryption SDK message format (see :mod:`kmslab.envelope`). Errors are one line on standard error
and exit status 1; output files appear only when a command succeeds.

Each subcommand is one ``_cmd_*`` function, registered in :func:`_parser`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .envelope import MessageInfo

__all__ = ["default_state_path", "main"]

STATE_ENV = "KMSLAB_STATE"


def default_state_path() -> Path:
    """Where the local lab keeps its keys: ``$KMSLAB_STATE``, else the XDG data directory."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data_home) / "kmslab" / "lab.db"


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# -- KMS ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _kms(args: argparse.Namespace, envelope_only: bool = False) -> Iterator[Any]:
    """The KMS client the command uses: a KMS server, or the persistent local lab.

    A boto3 client, except for the local lab with ``envelope_only`` (the file commands), which
    get a :class:`_LabKms`: the same requests to the same lab, without botocore's client.
    """
    if args.endpoint_url:
        from .backend import connect

        try:
            yield connect(args.endpoint_url, region_name=args.region)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return
    state = Path(args.state).expanduser() if args.state else default_state_path()
    state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _collector_paused():
        from .lab import LocalKms
        from .store import StateFileError

        try:
            lab = LocalKms(state=state)
        except StateFileError as exc:
            raise CommandError(f"cannot open the state file {state}: {exc}") from None
    with lab:
        yield _LabKms(lab, args.region) if envelope_only else lab.client(region_name=args.region)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the lab is imported and opened.

    That start-up makes a few hundred thousand long-lived objects (botocore's service model, the
    lab) and no garbage, so the collections it would trigger only walk them, ~10 % of it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_BLOB_MEMBERS = ("CiphertextBlob", "Plaintext", "CiphertextForRecipient")


class _LabKmsError(Exception):
    """An AWS error from the local lab, shaped as botocore's ``ClientError`` (``response``)."""

    def __init__(self, operation: str, status: int, answer: dict[str, Any]) -> None:
        code = str(answer.get("__type", "Unknown")).rsplit("#", 1)[-1]
        message = str(answer.get("message", answer.get("Message", "")))
        super().__init__(
            f"An error occurred ({code}) when calling the {operation} operation: {message}"
        )
        self.operation_name = operation
        self.response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


class _LabKms:
    """The local lab's KMS for ``encrypt``, ``decrypt`` and ``rewrap``, without a boto3 client.

    Each call is the AWS JSON 1.1 request a boto3 client would send (blobs in base64), signed as
    the account's root user and answered by the lab's own wire layer (``LocalKms.handle``: the
    model's validation, key policies and states, AWS's error codes, the trail), as the lab's
    in-process transport answers boto3. What it leaves out is botocore's client side: importing
    boto3 and building a client took ~0.25 s of every command on a 2-CPU machine.
    Only the operations :mod:`kmslab.envelope` calls exist; errors are :class:`_LabKmsError`.
    ``--endpoint-url`` and the other commands use boto3 as before.
    """

    def __init__(self, lab: Any, region: str) -> None:
        if not _REGION.fullmatch(region):
            raise CommandError(f"Provided region_name '{region}' doesn't match a supported format.")
        signer = lab.directory.signing_principal(None)
        # The principal the in-process transport finds from the request's access key.
        self._principal = lab.directory.by_access_key(signer.access_key_id) or signer
        self._handle = lab.handle
        self._target = lab.kms.target_prefix
        self._region = region

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        request = {
            name: base64.b64encode(value).decode("ascii")
            if isinstance(value, (bytes, bytearray))
            else value
            for name, value in params.items()
        }
        response = self._handle(
            self._target + operation, json.dumps(request).encode(), self._principal, self._region
        )
        answer: dict[str, Any] = json.loads(response.body or b"{}")
        if response.status >= 300:
            raise _LabKmsError(operation, response.status, answer)
        for name in _BLOB_MEMBERS:
            if isinstance(answer.get(name), str):
                answer[name] = base64.b64decode(answer[name])
        return answer

    def generate_data_key(self, **params: Any) -> dict[str, Any]:
        return self._call("GenerateDataKey", params)

    def encrypt(self, **params: Any) -> dict[str, Any]:
        return self._call("Encrypt", params)

    def decrypt(self, **params: Any) -> dict[str, Any]:
        return self._call("Decrypt", params)

    def describe_key(self, **params: Any) -> dict[str, Any]:
        return self._call("DescribeKey", params)


def _context(pairs: list[str] | None) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--context {pair!r}: write it as KEY=VALUE")
        context[key] = value
    return context


_SIZE = re.compile(r"\s*(\d+)\s*(|k|kb|kib|m|mb|mib)\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


def _size(text: str) -> int:
    """``4096``, ``64KiB``, ``1MiB`` -> bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 4096, 64KiB or 1MiB")
    return int(match[1]) * _UNITS[match[2].lower()]


# -- files ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    # Unbuffered: kmslab.envelope reads 1 MiB at a time into its own buffers.
    with open(path, "rb", buffering=0) as stream:
        yield stream


@contextlib.contextmanager
def _output(path: str, binary_to_terminal_ok: bool = False) -> Iterator[IO[bytes]]:
    """A destination written whole or not at all: temp file + rename, or a spool for stdout."""
    from .envelope import atomic_output

    if path != "-":
        with atomic_output(path) as stream:
            yield stream
        return
    if not binary_to_terminal_ok and sys.stdout.isatty():
        raise CommandError("refusing to write binary data to a terminal; use -o FILE")
    with tempfile.TemporaryFile() as spool:
        yield spool
        spool.seek(0)
        sys.stdout.flush()
        shutil.copyfileobj(spool, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()


def _report(verb: str, info: MessageInfo, out: str) -> None:
    where = "standard output" if out == "-" else out
    print(
        f"kmslab: {verb} {info.plaintext_length} bytes -> {where} "
        f"(suite 0x{info.suite.value:04X}, {info.frame_count} frame(s), "
        f"keys: {', '.join(info.key_arns)})",
        file=sys.stderr,
    )


# -- subcommands ----------------------------------------------------------------------------------


def _cmd_check(args: argparse.Namespace) -> int:
    from .check import main as check_main

    return check_main([args.backend])


def _cmd_serve(args: argparse.Namespace) -> int:
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


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"kmslab {__version__}")
    return 0


def _cmd_create_key(args: argparse.Namespace) -> int:
    with _kms(args) as kms:
        params = {"Description": args.description} if args.description else {}
        metadata = kms.create_key(**params)["KeyMetadata"]
        if args.alias:
            kms.create_alias(AliasName=args.alias, TargetKeyId=metadata["KeyId"])
    print(metadata["KeyId"])
    alias = f" as {args.alias}" if args.alias else ""
    print(f"kmslab: created {metadata['Arn']}{alias}", file=sys.stderr)
    return 0


def _cmd_encrypt(args: argparse.Namespace) -> int:
    from .envelope import encrypt_stream

    context = _context(args.context)
    with (
        _kms(args, envelope_only=True) as kms,
        _input(args.input) as src,
        _output(args.output) as dst,
    ):
        info = encrypt_stream(
            kms,
            src,
            dst,
            key_id=args.key_id,
            encryption_context=context,
            suite=args.suite,
            frame_length=args.frame_length,
        )
    _report("encrypted", info, args.output)
    return 0


def _cmd_decrypt(args: argparse.Namespace) -> int:
    from .envelope import decrypt_stream

    context = _context(args.context)
    with (
        _kms(args, envelope_only=True) as kms,
        _input(args.input) as src,
        _output(args.output, True) as dst,
    ):
        info = decrypt_stream(
            kms,
            src,
            dst,
            encryption_context=context,
            key_ids=args.key_id,
            require_commitment=args.require_commitment,
        )
    _report("decrypted", info, args.output)
    return 0


def _cmd_rewrap(args: argparse.Namespace) -> int:
    from .envelope import rewrap_stream

    context = _context(args.context)
    with (
        _kms(args, envelope_only=True) as kms,
        _input(args.input) as src,
        _output(args.output) as dst,
    ):
        info = rewrap_stream(
            kms,
            src,
            dst,
            key_id=args.key_id,
            encryption_context=context,
            source_key_ids=args.source_key_id,
        )
    _report("rewrapped", info, args.output)
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .envelope import inspect

    with _input(args.input) as src:
        mapped = inspect(src, max_frames=args.frames)
    if args.json:
        print(json.dumps(mapped.to_dict(), indent=2))
    else:
        print(mapped.table())
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench.command import run_command

    return run_command(args)


# -- parser ---------------------------------------------------------------------------------------


def _kms_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("where the KMS keys live")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="a KMS server (kmslab serve, moto) instead of the local lab",
    )
    group.add_argument(
        "--state",
        metavar="PATH",
        help=f"the local lab's state file (default: ${STATE_ENV}, else "
        "$XDG_DATA_HOME/kmslab/lab.db, else ~/.local/share/kmslab/lab.db)",
    )
    group.add_argument("--region", default="us-east-1", help="AWS region (default: us-east-1)")
    return common


def _parser(bench_options: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``bench_options=False`` leaves out the options of ``kmslab bench``,
    whose package takes ~0.1 s to import, for the commands that do not need them."""
    parser = argparse.ArgumentParser(
        prog="kmslab",
        description="kmslab: an offline teaching lab for AWS Key Management Service.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    kms = _kms_options()

    check = sub.add_parser("check", help="versions, backend, and no real AWS unless opted in")
    check.add_argument(
        "backend",
        nargs="?",
        default="local",
        help="local, moto, moto-server, aws or an http(s):// URL (default: local)",
    )
    check.set_defaults(run=_cmd_check)

    serve = sub.add_parser("serve", help="serve the lab's KMS over HTTP (aws CLI, any SDK)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=4599, help="port (4599; 0 picks a free one)")
    serve.add_argument("--state", default=None, help="SQLite state file; keys survive restarts")
    serve.add_argument("--region", default="us-east-1", help="Region for the printed profiles")
    serve.set_defaults(run=_cmd_serve)

    sub.add_parser("version", help="print kmslab's version").set_defaults(run=_cmd_version)

    create = sub.add_parser("create-key", parents=[kms], help="create a KMS key; print its id")
    create.add_argument("--alias", metavar="alias/NAME", help="also give it this alias")
    create.add_argument("--description", metavar="TEXT", help="the key's description")
    create.set_defaults(run=_cmd_create_key)

    context_help = "an encryption context pair KEY=VALUE (repeat for more)"
    encrypt = sub.add_parser(
        "encrypt", parents=[kms], help="envelope-encrypt a file (AWS Encryption SDK format)"
    )
    encrypt.add_argument("input", metavar="IN", help="the file to encrypt, or - for stdin")
    encrypt.add_argument("-o", "--output", required=True, metavar="OUT", help="- for stdout")
    encrypt.add_argument(
        "--key-id",
        action="append",
        required=True,
        metavar="K",
        help="KMS key id, ARN or alias; repeat to let any of several keys decrypt",
    )
    encrypt.add_argument("--context", action="append", metavar="KEY=VALUE", help=context_help)
    encrypt.add_argument(
        "--suite",
        default="AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
        help="0x0478 / AES_256_GCM_HKDF_SHA512_COMMIT_KEY (default) or "
        "0x0578 / AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 (signed, the SDK's default)",
    )
    encrypt.add_argument(
        "--frame-length",
        type=_size,
        default=256 * 1024,
        metavar="SIZE",
        help="plaintext bytes per frame, e.g. 4096, 64KiB, 1MiB (default: 256KiB)",
    )
    encrypt.set_defaults(run=_cmd_encrypt)

    decrypt = sub.add_parser("decrypt", parents=[kms], help="decrypt a message")
    decrypt.add_argument("input", metavar="IN", help="the message, or - for stdin")
    decrypt.add_argument("-o", "--output", required=True, metavar="OUT", help="- for stdout")
    decrypt.add_argument(
        "--context", action="append", metavar="KEY=VALUE", help="a pair the message must carry"
    )
    decrypt.add_argument(
        "--key-id", action="append", metavar="K", help="only use these KMS keys (repeatable)"
    )
    decrypt.add_argument(
        "--require-commitment",
        action="store_true",
        help="refuse version 1 messages (no key commitment)",
    )
    decrypt.set_defaults(run=_cmd_decrypt)

    rewrap = sub.add_parser(
        "rewrap", parents=[kms], help="move a message to another KMS key; the body is not touched"
    )
    rewrap.add_argument("input", metavar="IN", help="the message, or - for stdin")
    rewrap.add_argument("-o", "--output", required=True, metavar="OUT", help="- for stdout")
    rewrap.add_argument(
        "--key-id", action="append", required=True, metavar="K", help="the new KMS key(s)"
    )
    rewrap.add_argument(
        "--context", action="append", metavar="KEY=VALUE", help="a pair the message must carry"
    )
    rewrap.add_argument(
        "--source-key-id", action="append", metavar="K", help="only unwrap with these KMS keys"
    )
    rewrap.set_defaults(run=_cmd_rewrap)

    inspect = sub.add_parser("inspect", help="map every byte of a message (no KMS call)")
    inspect.add_argument("input", metavar="FILE", help="the message, or - for stdin")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument(
        "--frames",
        type=int,
        default=16,
        metavar="N",
        help="list the first N frames in detail (default: 16)",
    )
    inspect.set_defaults(run=_cmd_inspect)

    bench = sub.add_parser("bench", help="network versus local: direct KMS vs envelope, measured")
    bench.set_defaults(run=_cmd_bench)
    if bench_options:
        from .bench.command import add_arguments as bench_arguments

        bench_arguments(bench)
    return parser


def _one_line(exc: BaseException) -> str:
    """A one-line description of an expected failure, or None for a bug."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return text or type(exc).__name__


def _expected(exc: BaseException) -> bool:
    from .envelope import EnvelopeError

    if isinstance(exc, (CommandError, EnvelopeError, OSError)):
        return True
    # botocore errors (a ClientError from create-key, no connection to --endpoint-url)
    return type(exc).__module__.startswith("botocore")


def main(argv: list[str] | None = None) -> int:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    parser = _parser(bench_options=not words or words[0] == "bench")
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        print("kmslab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our standard output went away (e.g. `| head`); not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        return 1
    except Exception as exc:
        if not _expected(exc):
            raise
        print(f"kmslab: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
