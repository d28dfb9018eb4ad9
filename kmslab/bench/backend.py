"""The backends a benchmark runs against, every one reached through :func:`kmslab.connect`.

==================  ===========================================================================
``"local"``         kmslab in-process: ``connect("local", lab=lab)``, answered at botocore's
                    ``before-send`` (no socket)
``"local-http"``    kmslab over HTTP on loopback: ``kmslab.server.start(lab)`` (what ``kmslab
                    serve`` runs), then ``connect(server.endpoint)``
``"moto"``          moto in-process: ``connect("moto")`` (``mock_aws``)
``"moto-server"``   moto's werkzeug server on loopback, in a thread: ``connect("moto-server")``
``"http://..."``    any KMS endpoint you started yourself (``kmslab serve``, LocalStack)
==================  ===========================================================================

The kmslab backends keep a handle on their lab so that the "where the time goes" breakdown can
time the lab's own request handling; the lab is never called directly otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmslab.lab import LocalKms

__all__ = ["BACKENDS", "BACKEND_LABELS", "Backend", "backend_label", "open_backend"]

BACKENDS = ("local", "local-http", "moto", "moto-server")
"""The named backends, fastest set-up first."""

BACKEND_LABELS = {
    "local": "kmslab in-process",
    "local-http": "kmslab over HTTP (loopback)",
    "moto": "moto in-process",
    "moto-server": "moto server (loopback)",
}

IN_PROCESS = frozenset({"local", "moto"})
"""Backends answered inside botocore, with no socket between client and server."""


def backend_label(name: str) -> str:
    return BACKEND_LABELS.get(name, name)


@dataclass(eq=False)
class Backend:
    """An open backend: a boto3 KMS client, a symmetric key, and how to close both."""

    name: str
    client: Any
    key_arn: str
    lab: LocalKms | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return backend_label(self.name)

    @property
    def in_process(self) -> bool:
        return self.name in IN_PROCESS

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_backend(name: str, *, region_name: str = "us-east-1", seed: int | None = 7) -> Backend:
    """Start ``name`` (see the module docstring), make a client and one symmetric key."""
    from kmslab import backend as connector

    closers: list[Callable[[], None]] = []
    lab: LocalKms | None = None
    try:
        if name in ("local", "local-http"):
            from kmslab.lab import LocalKms

            lab = LocalKms(seed=seed)
            closers.append(lab.close)
            if name == "local":
                client = connector.connect("local", region_name=region_name, lab=lab)
            else:
                from kmslab import server

                running = server.start(lab, region=region_name)
                closers.append(running.stop)
                client = connector.connect(running.endpoint, region_name=region_name)
        elif name in ("moto", "moto-server") or name.startswith(("http://", "https://")):
            client = connector.connect(name, region_name=region_name)

            def stop_started() -> None:
                connector.stop(client)

            closers.append(stop_started)
        else:
            choices = ", ".join(BACKENDS)
            raise ValueError(f"unknown benchmark backend {name!r}: choose from {choices} or a URL")
        closers.append(client.close)
        key = client.create_key(Description="kmslab bench: network versus local")
        arn = str(key["KeyMetadata"]["Arn"])
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return Backend(name, client, arn, lab, closers)
