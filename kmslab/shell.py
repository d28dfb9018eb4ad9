"""The aws CLI from a notebook: a KMS endpoint served in the background, and an environment
that never reads the learner's own AWS setup.

::

    import kmslab.course, kmslab.shell
    course = kmslab.course.start(seed=9)
    shell = kmslab.shell.start(course)     # `kmslab serve` for course.lab, in a thread
    !aws kms list-keys                      # `!` cells inherit what start() put in os.environ
    shell.stop()                            # server stopped; environment, folder restored

:func:`start` serves the course's lab over HTTP (:func:`kmslab.server.start`: a free port, quiet
logs), or, on the moto backend, starts moto's own server (``connect("moto-server")``), so the same
notebook runs either way. Then, in ``os.environ`` (which IPython's ``!`` cells inherit) it

- removes every ``AWS_*`` variable the kernel had (a learner's profile, session token or endpoint
  can never leak into a lab command) and keeps them to put back on :meth:`Shell.stop`;
- sets the lab's credentials, the Region, ``AWS_ENDPOINT_URL_KMS`` (so the seed's commands work
  exactly as typed, without ``--endpoint-url``), ``AWS_PAGER=""``, and ``AWS_CONFIG_FILE`` and
  ``AWS_SHARED_CREDENTIALS_FILE`` pointing at empty files, so ``~/.aws`` is never read;
- puts the folder of the running interpreter first on ``PATH``, so ``!aws`` is the aws CLI
  installed beside the kernel's Python (the awscli package), whatever PATH JupyterLab was
  started with;

and changes the working directory to a scratch folder (files such as ``secret.txt`` land there,
not in the repository), removed again by :meth:`Shell.stop`. Stopping twice is harmless.

One shell at a time: starting a shell stops the one started before (a notebook's start cell
may be run again), and a shell still running when Python exits is stopped then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Shell", "start"]

#: Global aws CLI settings that would otherwise come from the learner's environment.
_QUIET = {"AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"}

_active: Shell | None = None


@dataclass
class Shell:
    """A served KMS endpoint and the environment ``!aws`` cells run in."""

    backend: str
    endpoint: str
    region: str
    folder: Path
    env: dict[str, str]
    _close: Callable[[], None] = field(repr=False)
    _saved_env: dict[str, str] = field(default_factory=dict, repr=False)
    _saved_cwd: str | None = field(default=None, repr=False)
    stopped: bool = False

    @property
    def aws_installed(self) -> bool:
        """Is the aws CLI installed beside this interpreter (``!aws`` finds it)?"""
        return shutil.which("aws", path=str(Path(sys.executable).parent)) is not None

    def run(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a shell command line in :attr:`folder` with :attr:`env` (what a ``!`` cell does,
        for tests and widgets). Output is text; undecodable bytes are replaced."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        full.update(self.env)
        return subprocess.run(
            command,
            shell=True,
            cwd=self.folder,
            env=full,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def enter(self) -> None:
        """Put :attr:`env` into ``os.environ`` and move into :attr:`folder` (done by start)."""
        if self._saved_cwd is not None:
            return
        self._saved_env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        self._saved_env["PATH"] = os.environ.get("PATH", "")
        for name in list(os.environ):
            if name.startswith("AWS_"):
                del os.environ[name]
        os.environ.update(self.env)
        self._saved_cwd = os.getcwd()
        os.chdir(self.folder)

    def stop(self) -> None:
        """Stop the server, put the environment and working directory back, remove the folder."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self._close()
        finally:
            if self._saved_cwd is not None:
                for name in list(os.environ):
                    if name.startswith("AWS_"):
                        del os.environ[name]
                os.environ.update(self._saved_env)
                os.chdir(self._saved_cwd)
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Shell:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start(course: Any = None, *, lab: Any = None, region: str | None = None) -> Shell:
    """Serve ``course.lab`` (or ``lab``) over HTTP, or moto's server when there is no lab, and
    make ``!aws`` cells talk to it (see the module docstring).

    ``course`` is a :class:`kmslab.course.Course`; without one, ``lab`` (a
    :class:`~kmslab.lab.LocalKms`) is served, and without either, moto's server is started.
    """
    global _active
    if _active is not None:
        _active.stop()
        _active = None
    region = region or getattr(course, "region", None) or "us-east-1"
    lab = lab if lab is not None else getattr(course, "lab", None)
    if lab is not None:
        from .iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
        from .server import start as serve

        server = serve(lab, region=region)
        backend, endpoint, close = "local", server.endpoint, server.stop
        key_id, secret = ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    else:
        from . import backend as backends

        client = backends.connect("moto-server", region_name=region)
        backend, endpoint = "moto-server", str(client.meta.endpoint_url)

        def close() -> None:
            backends.stop(client)

        key_id, secret = backends.MOTO_ACCESS_KEY_ID, backends.MOTO_SECRET_ACCESS_KEY
    folder = Path(tempfile.mkdtemp(prefix="kmslab-cli-"))
    empty = folder / ".aws-empty"
    empty.mkdir()
    (empty / "config").touch()
    (empty / "credentials").touch()
    path = os.environ.get("PATH", "")
    env = {
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL_KMS": endpoint,
        "AWS_CONFIG_FILE": str(empty / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty / "credentials"),
        **_QUIET,
        "PATH": str(Path(sys.executable).parent) + (os.pathsep + path if path else ""),
    }
    shell = Shell(backend, endpoint, region, folder, env, close)
    try:
        shell.enter()
    except BaseException:
        shell.stop()
        raise
    _active = shell
    return shell


def _stop_at_exit() -> None:
    if _active is not None:
        with contextlib.suppress(Exception):
            _active.stop()


atexit.register(_stop_at_exit)
