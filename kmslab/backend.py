"""Client factory: one boto3 KMS client, whichever KMS answers it.

The learner only ever holds a real boto3 client; :func:`connect` decides who answers:

============================  ===========================================================
``"local"``                   kmslab's own KMS, in-process (:class:`kmslab.lab.LocalKms`)
``"moto"``                    moto's in-process mock (``moto.mock_aws``)
``"moto-server"``             moto's werkzeug server on 127.0.0.1, in a thread of this process
``"aws"``                     real AWS KMS, only when ``KMSLAB_REAL_AWS=1`` is set
``"http://host:port"``        any KMS-compatible endpoint (``kmslab serve``, moto, LocalStack)
============================  ===========================================================

Whatever :func:`connect` starts (a lab it created, a moto mock, a moto server) is remembered with
the client it belongs to; :func:`stop` ends it, and an ``atexit`` hook ends anything left over.
Stopping twice is harmless.

moto is imported here lazily, inside :func:`connect`, so that ``import kmslab`` stays light and
never pulls moto in. So are boto3 and kmslab.lab.

Two moto facts worth knowing: the in-process mock and the moto server share one moto state per
process (a key created through one is visible through the other), and while a moto mock is active
it answers *every* botocore request to an ``*.amazonaws.com`` address in this process, whichever
client sends it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kmslab.lab import LocalKms

__all__ = [
    "BACKENDS",
    "LAB_ACCESS_KEY_ID",
    "LAB_SECRET_ACCESS_KEY",
    "MOTO_ACCESS_KEY_ID",
    "MOTO_SECRET_ACCESS_KEY",
    "REAL_AWS_ENV",
    "RealAwsNotEnabled",
    "connect",
    "running",
    "stop",
]

BACKENDS = ("local", "moto", "moto-server", "aws")
"""The named backends; an ``http://`` or ``https://`` URL is accepted as well."""

REAL_AWS_ENV = "KMSLAB_REAL_AWS"
"""The environment variable that must be ``"1"`` before :func:`connect` talks to real AWS."""

LAB_ACCESS_KEY_ID = "AKIAKMSLABADMIN00001"
"""The lab administrator's access key id, used against a kmslab (or other) endpoint URL."""

LAB_SECRET_ACCESS_KEY = "kmslab/admin/secret/do-not-use-in-aws"
"""Its secret key: a public value of the lab, worthless anywhere else."""

MOTO_ACCESS_KEY_ID = "testing"
"""moto's documented dummy credentials, passed to the client explicitly."""

MOTO_SECRET_ACCESS_KEY = "testing"


class RealAwsNotEnabled(RuntimeError):
    """``connect("aws")`` was asked for without the ``KMSLAB_REAL_AWS=1`` opt-in."""

    def __init__(self) -> None:
        super().__init__(
            "connect('aws') would call real AWS KMS with your own AWS credentials: real keys, "
            "real charges. kmslab stays offline unless you opt in. To opt in, set the "
            f"environment variable {REAL_AWS_ENV}=1 before starting Python "
            f"(for example: {REAL_AWS_ENV}=1 jupyter lab). To stay offline, use "
            "connect('local') or connect('moto')."
        )


@dataclass(eq=False)
class _Started:
    """Something :func:`connect` started, and the client it was started for."""

    client: Any
    backend: str
    close: Callable[[], None]


_lock = threading.Lock()
_moto_lock = threading.Lock()
_started: list[_Started] = []


def connect(
    backend: str = "local", *, region_name: str = "us-east-1", lab: LocalKms | None = None
) -> Any:
    """Return a boto3 KMS client answered by ``backend``.

    ``lab`` is used by the ``"local"`` backend only; without it a new :class:`LocalKms` is made
    and closed again by :func:`stop`. A lab that is passed in stays the caller's to close.

    Raises :class:`RealAwsNotEnabled` for ``"aws"`` without ``KMSLAB_REAL_AWS=1``, and
    ``ValueError`` for a name that is not a backend.
    """
    if backend == "local":
        return _connect_local(region_name, lab)
    if backend == "moto":
        return _connect_moto(region_name)
    if backend == "moto-server":
        return _connect_moto_server(region_name)
    if backend == "aws":
        return _connect_aws(region_name)
    if _is_endpoint_url(backend):
        return _client(
            region_name,
            endpoint_url=backend,
            access_key_id=LAB_ACCESS_KEY_ID,
            secret_access_key=LAB_SECRET_ACCESS_KEY,
        )
    choices = ", ".join(repr(name) for name in BACKENDS)
    raise ValueError(
        f"unknown backend {backend!r}: choose one of {choices}, "
        "or an endpoint URL such as 'http://127.0.0.1:4599'"
    )


def stop(client: Any = None) -> int:
    """Stop what :func:`connect` started for ``client``, or everything when ``client`` is None.

    Returns how many things were stopped (0 when there was nothing to stop, so calling it twice,
    or for a client that started nothing, is harmless). Things are stopped newest first; if one
    fails to stop, the others are still stopped and the first error is raised afterwards.
    """
    with _lock:
        chosen = [s for s in _started if client is None or s.client is client]
        for started in chosen:
            _started.remove(started)
    first_error: BaseException | None = None
    for started in reversed(chosen):
        try:
            started.close()
        except Exception as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return len(chosen)


def running() -> list[str]:
    """The backends of everything started and not yet stopped, oldest first."""
    with _lock:
        return [s.backend for s in _started]


def _remember(client: Any, backend: str, close: Callable[[], None]) -> None:
    with _lock:
        _started.append(_Started(client, backend, close))


def _is_endpoint_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _client(
    region_name: str,
    *,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    import boto3

    # A fresh session: nothing is read from, or left in, boto3's default session. (moto's
    # mock hooks into sessions made the usual way, so this one is not isolated from the
    # learner's AWS configuration as kmslab's own sessions are.)
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region_name,
    )
    return session.client("kms", region_name=region_name, endpoint_url=endpoint_url)


def _connect_local(region_name: str, lab: LocalKms | None) -> Any:
    from kmslab.lab import LocalKms

    if lab is not None:
        return lab.client(region_name=region_name)
    own_lab = LocalKms()
    client = own_lab.client(region_name=region_name)
    _remember(client, "local", own_lab.close)
    return client


def _connect_aws(region_name: str) -> Any:
    if os.environ.get(REAL_AWS_ENV) != "1":
        raise RealAwsNotEnabled()
    return _client(region_name)


def _moto_server_running() -> bool:
    with _lock:
        return any(s.backend == "moto-server" for s in _started)


def _connect_moto(region_name: str) -> Any:
    _start_moto_mock()
    try:
        # Created after the mock started, with moto's dummy credentials passed explicitly.
        client = _client(
            region_name,
            access_key_id=MOTO_ACCESS_KEY_ID,
            secret_access_key=MOTO_SECRET_ACCESS_KEY,
        )
    except BaseException:
        _stop_moto_mock()
        raise
    _remember(client, "moto", _stop_moto_mock)
    return client


# One moto mock serves every "moto" client, started by the first and stopped after the last.
# moto nests its own mocks too, but each saves and restores the AWS_* variables it fakes, so
# mocks stopped out of order leave the fake values behind in os.environ.
_moto_mock: Any = None
_moto_clients = 0


def _start_moto_mock() -> None:
    global _moto_mock, _moto_clients
    with _moto_lock:
        if _moto_clients == 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from moto import mock_aws

            # moto wipes its state when a mock starts; a moto server running in this process
            # shares that state, so keep it while one runs. While active, moto sets dummy AWS_*
            # variables, and puts the real ones back on stop.
            mock = mock_aws()
            mock.start(reset=not _moto_server_running())
            _moto_mock = mock
        _moto_clients += 1


def _stop_moto_mock() -> None:
    global _moto_mock, _moto_clients
    with _moto_lock:
        _moto_clients -= 1
        if _moto_clients == 0:
            mock, _moto_mock = _moto_mock, None
            mock.stop(remove_data=not _moto_server_running())


def _silence_werkzeug() -> None:
    # werkzeug logs every request at INFO and, when its logger has no handler, adds one that
    # writes to stderr (inside a notebook, into the cell). A NullHandler keeps it from doing so.
    logger = logging.getLogger("werkzeug")
    logger.setLevel(logging.ERROR)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _connect_moto_server(region_name: str) -> Any:
    _silence_werkzeug()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from moto.server import ThreadedMotoServer

    # Port 0: the operating system picks a free port when the server binds, so no race.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # server.stop() ends serve_forever(), after which werkzeug closes the listening socket; it
    # takes up to half a second, serve_forever()'s polling interval.
    try:
        host, port = server.get_host_and_port()
        client = _client(
            region_name,
            endpoint_url=f"http://{host}:{port}",
            access_key_id=MOTO_ACCESS_KEY_ID,
            secret_access_key=MOTO_SECRET_ACCESS_KEY,
        )
    except BaseException:
        server.stop()
        raise
    _remember(client, "moto-server", server.stop)
    return client


def _stop_at_exit() -> None:
    # At interpreter exit there is no one left to report a failed stop to.
    with contextlib.suppress(Exception):
        stop()


atexit.register(_stop_at_exit)
