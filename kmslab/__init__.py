"""kmslab: an offline teaching lab for AWS Key Management Service.

A faithful local KMS behind a real boto3 client::

    import kmslab
    lab = kmslab.LocalKms(seed=7)
    kms = lab.client()                       # genuine boto3: the same code runs against AWS
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"secret")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)["Plaintext"]
    lab.clock.advance(days=8); lab.trail

``import kmslab`` never imports moto, matplotlib or ipywidgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import Clock, ManualClock
from .errors import KmsError

if TYPE_CHECKING:
    from .backend import connect, stop
    from .check import check
    from .lab import LocalKms

__version__ = "0.1.0"

#: Submodules reachable as attributes (``kmslab.course.start()``), imported on first use.
_SUBMODULES = frozenset(
    {"backend", "bench", "course", "envelope", "policy", "quiz", "server", "ui", "viz"}
)

__all__ = [
    "Clock",
    "KmsError",
    "LocalKms",
    "ManualClock",
    "__version__",
    "check",
    "connect",
    "stop",
]


def __getattr__(name: str) -> Any:
    # The service, the wire protocols and botocore load when first used, not at
    # `import kmslab`: the CLI, `kmslab check` and a notebook's first cell start fast.
    if name == "LocalKms":
        from .lab import LocalKms

        return LocalKms
    if name in ("connect", "stop"):
        from . import backend

        return getattr(backend, name)
    if name == "check":
        from .check import check

        return check
    if name in _SUBMODULES:  # kmslab.course, kmslab.envelope, ... without importing them eagerly
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'kmslab' has no attribute {name!r}")
