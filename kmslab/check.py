"""``kmslab check``: is this machine ready for the lab, and will anything reach real AWS?

:func:`check` gathers the versions the lab depends on, whether botocore's KMS model knows every
operation kmslab serves, which backend is chosen, and whether real AWS credentials could be used.
It prints one line per finding, each starting with ``OK``, ``WARN`` or ``FAIL``, and returns the
findings as a dict. Secrets are never printed: for credentials it reports only *where* some were
found (variable names, file names), never their values.

Run it as ``python -m kmslab.check [BACKEND]``; the exit status is 1 when a line says FAIL.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import sys
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Literal, TextIO, TypeAlias, TypedDict

from kmslab.backend import BACKENDS, REAL_AWS_ENV

__all__ = ["KMS_OPERATIONS", "CheckReport", "check", "main"]

Status = Literal["OK", "WARN", "FAIL"]
_Say: TypeAlias = Callable[[Status, str], None]
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^>]*(?:>=\s*([0-9][0-9.]*))?")

KMS_OPERATIONS = frozenset(
    {
        "CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore",
        "CreateGrant", "CreateKey", "Decapsulate", "Decrypt", "DeleteAlias",
        "DeleteCustomKeyStore", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
        "DescribeCustomKeyStores", "DescribeKey", "DisableKey", "DisableKeyRotation",
        "DisconnectCustomKeyStore", "EnableKey", "EnableKeyRotation", "Encapsulate", "Encrypt",
        "GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom", "GetKeyLastUsage",
        "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey",
        "ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations",
        "ListKeys", "ListResourceTags", "ListRetirableGrants", "PutKeyPolicy", "ReEncrypt",
        "ReplicateKey", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion",
        "Sign", "TagResource", "UntagResource", "UpdateAlias", "UpdateCustomKeyStore",
        "UpdateKeyDescription", "UpdatePrimaryRegion", "Verify", "VerifyMac",
    }
)  # fmt: skip
"""The 56 KMS operations of API version 2014-11-01 that the lab's wire layer serves."""

MINIMUM_PYTHON = (3, 11)
REQUIRED_PACKAGES = ("boto3", "botocore", "cryptography")
"""Reported always; their lower bounds, like those of kmslab's other requirements, are read from
kmslab's installed metadata (that is, from pyproject.toml), so they are written down only there."""

AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
)
"""Environment variables through which boto3 would find credentials or a real endpoint."""


class CheckReport(TypedDict):
    """What :func:`check` found; ``lines`` is the printed report, ``ok`` is "no FAIL line"."""

    python: str
    versions: dict[str, str | None]
    kms_operations: int
    kms_operations_missing: list[str]
    backend: str
    backend_valid: bool
    real_aws_enabled: bool
    real_aws_would_be_used: bool
    aws_env_credentials: list[str]
    aws_config_files: list[str]
    moto_mock_active: bool
    lines: list[str]
    ok: bool


def check(backend: str = "local", *, file: TextIO | None = None) -> CheckReport:
    """Print a readiness report for ``backend`` to ``file`` (default stdout) and return it."""
    lines: list[str] = []

    def say(status: Status, message: str) -> None:
        lines.append(f"{status:<4}  {message}")

    python = platform.python_version()
    if sys.version_info[:2] >= MINIMUM_PYTHON:
        say("OK", f"python {python}")
    else:
        say("FAIL", f"python {python}: kmslab needs Python {_dotted(MINIMUM_PYTHON)} or newer")

    floors = _requirement_floors()
    required = list(dict.fromkeys([*REQUIRED_PACKAGES, *floors]))
    versions = {name: _version(name) for name in ["kmslab", *required, "moto"]}
    _report_versions(versions, required, floors, say)

    operations = _kms_operations()
    missing = sorted(KMS_OPERATIONS - operations)
    if not operations:
        say("FAIL", "botocore has no KMS service model")
    elif missing:
        say(
            "FAIL",
            f"botocore's KMS model lacks {len(missing)} of {len(KMS_OPERATIONS)} operations "
            f"({', '.join(missing)}): upgrade botocore",
        )
    else:
        extra = len(operations - KMS_OPERATIONS)
        more = f" (and {extra} newer ones kmslab does not serve)" if extra else ""
        say("OK", f"botocore's KMS model has all {len(KMS_OPERATIONS)} operations{more}")

    real_aws_flag = os.environ.get(REAL_AWS_ENV)
    real_aws_enabled = real_aws_flag == "1"
    backend_valid = _report_backend(backend, real_aws_enabled, versions["moto"], say)

    if real_aws_enabled:
        say("WARN", f"real AWS: on ({REAL_AWS_ENV}=1); connect('aws') uses your AWS credentials")
    elif real_aws_flag is not None:
        say("WARN", f"real AWS: off ({REAL_AWS_ENV} is set, but only the value 1 turns it on)")
    else:
        say("OK", f"real AWS: off ({REAL_AWS_ENV} is not set); connect('aws') refuses")

    env_credentials = [name for name in AWS_CREDENTIAL_VARIABLES if os.environ.get(name)]
    config_files = _aws_config_files()
    _report_credentials(env_credentials, config_files, real_aws_enabled, say)

    moto_mock_active = _moto_mock_active()
    if moto_mock_active:
        say("OK", "moto mock: active (moto answers every *.amazonaws.com request here)")
    else:
        say("OK", "moto mock: not active")

    report = CheckReport(
        python=python,
        versions=versions,
        kms_operations=len(operations),
        kms_operations_missing=missing,
        backend=backend,
        backend_valid=backend_valid,
        real_aws_enabled=real_aws_enabled,
        real_aws_would_be_used=backend == "aws" and real_aws_enabled,
        aws_env_credentials=env_credentials,
        aws_config_files=config_files,
        moto_mock_active=moto_mock_active,
        lines=lines,
        ok=not any(line.startswith("FAIL") for line in lines),
    )
    out = sys.stdout if file is None else file
    print("kmslab check", file=out)
    for line in lines:
        print(line, file=out)
    return report


def _report_versions(
    versions: dict[str, str | None],
    required: list[str],
    floors: dict[str, tuple[int, ...]],
    say: _Say,
) -> None:
    kmslab_version = versions["kmslab"]
    if kmslab_version is None:
        say("WARN", "kmslab is not installed (running from a source tree): pip install -e .")
    else:
        say("OK", f"kmslab {kmslab_version}")
    for name in required:
        version = versions[name]
        floor = floors.get(name, ())
        if version is None:
            say("FAIL", f"{name} is not installed: pip install -e .")
        elif _version_tuple(version)[: len(floor)] < floor:
            say("FAIL", f"{name} {version}: kmslab needs {_dotted(floor)} or newer")
        else:
            say("OK", f"{name} {version}")


def _report_backend(
    backend: str, real_aws_enabled: bool, moto_version: str | None, say: _Say
) -> bool:
    if backend == "local":
        if importlib.util.find_spec("kmslab.lab") is None:
            say("FAIL", "backend local: kmslab.lab is missing from this installation")
        else:
            say("OK", "backend local: kmslab's own KMS, in this process; no network, no account")
    elif backend in ("moto", "moto-server"):
        if moto_version is None:
            say("FAIL", f"backend {backend}: moto is not installed: pip install -e '.[lab]'")
        else:
            where = "in-process mock" if backend == "moto" else "server on 127.0.0.1"
            say("OK", f"backend {backend}: moto {moto_version}, {where}; no AWS account")
    elif backend == "aws":
        if real_aws_enabled:
            say("WARN", "backend aws: real AWS KMS; real keys, real charges")
        else:
            say("FAIL", f"backend aws: refused until you set {REAL_AWS_ENV}=1")
    elif backend.startswith(("http://", "https://")):
        say("OK", f"backend {backend}: an endpoint URL, with the lab's fixed credentials")
    else:
        choices = ", ".join(BACKENDS)
        say("FAIL", f"backend {backend!r} is unknown: choose {choices} or an http(s):// URL")
        return False
    return True


def _report_credentials(
    env_credentials: list[str], config_files: list[str], real_aws_enabled: bool, say: _Say
) -> None:
    places = [f"environment: {', '.join(env_credentials)}"] if env_credentials else []
    if config_files:
        places.append(f"files: {', '.join(config_files)}")
    if not places:
        say("OK", "AWS credentials: none found in the environment or ~/.aws")
    elif real_aws_enabled:
        say("WARN", f"AWS credentials found ({'; '.join(places)}): connect('aws') will use them")
    else:
        say("OK", f"AWS credentials found ({'; '.join(places)}), unused while real AWS is off")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _requirement_floors() -> dict[str, tuple[int, ...]]:
    """``{"boto3": (1, 44), ...}`` from kmslab's installed requirements, extras left out."""
    try:
        requirements = metadata.requires("kmslab") or []
    except metadata.PackageNotFoundError:
        return {}
    floors: dict[str, tuple[int, ...]] = {}
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        found = _REQUIREMENT.match(spec)
        if found and "extra" not in marker and _marker_holds(marker):
            floors[found.group(1).lower()] = _version_tuple(found.group(2) or "")
    return floors


def _marker_holds(marker: str) -> bool:
    """Does an environment marker hold here? (kmslab's own markers only name the platform, as
    in ``sys_platform != 'win32'``; anything else counts as holding.)"""
    found = re.fullmatch(r"\s*sys_platform\s*(==|!=)\s*['\"]([^'\"]+)['\"]\s*", marker)
    if not found:
        return True
    return (sys.platform == found.group(2)) == (found.group(1) == "==")


def _version_tuple(version: str) -> tuple[int, ...]:
    """The leading numeric release of a version string: "1.44.8rc1" -> (1, 44, 8)."""
    release = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(n) for n in release.group().split(".")) if release else ()


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in version)


def _kms_operations() -> frozenset[str]:
    try:
        import botocore.session

        model = botocore.session.get_session().get_service_model("kms")
    except Exception:
        return frozenset()
    return frozenset(model.operation_names)


def _aws_config_files() -> list[str]:
    """The AWS shared files that exist, as the user would name them (never their contents)."""
    found: list[str] = []
    for variable, default in (
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ("AWS_CONFIG_FILE", "~/.aws/config"),
    ):
        override = os.environ.get(variable)
        if override and Path(override).expanduser().is_file():
            found.append(f"${variable}")
        elif not override and Path(default).expanduser().is_file():
            found.append(default)
    return found


def _moto_mock_active() -> bool:
    # Look without importing: if moto was never imported, no mock can be active.
    models = sys.modules.get("moto.core.models")
    mock_class = getattr(models, "MockAWS", None)
    return bool(getattr(mock_class, "_nested_count", 0))


def main(argv: list[str] | None = None) -> int:
    """``python -m kmslab.check [BACKEND]``: print the report; 1 if any line says FAIL."""
    parser = argparse.ArgumentParser(
        prog="python -m kmslab.check",
        description="Check that this machine is ready for kmslab and stays off real AWS.",
    )
    parser.add_argument(
        "backend",
        nargs="?",
        default="local",
        help="local, moto, moto-server, aws or an http(s):// URL (default: local)",
    )
    args = parser.parse_args(argv)
    return 0 if check(args.backend)["ok"] else 1


class _CallableModule(types.ModuleType):
    """Lets ``kmslab.check(...)`` work even where ``kmslab.check`` names this module.

    Importing the submodule ``kmslab.check`` binds it as the package attribute ``check``, over the
    function of the same name that ``kmslab`` exports; calling the module calls the function.
    """

    def __call__(self, backend: str = "local", *, file: TextIO | None = None) -> CheckReport:
        return check(backend, file=file)


sys.modules[__name__].__class__ = _CallableModule


if __name__ == "__main__":
    sys.exit(main())
