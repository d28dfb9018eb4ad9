"""Persistence of the lab's state: nothing (in memory) or one SQLite file.

With ``LocalKms(state=PATH)`` every request that changes state is one SQLite transaction
(WAL journal), committed before the response is returned, so a process killed at any moment
keeps every key and alias whose request was answered. Key material is stored encrypted
(AES-256-GCM, the key id and material id as AAD) under a 32-byte root key kept in a separate
file, ``PATH.root-key``, created with mode 0600: the lab's stand-in for the HSM boundary.

Tables (all documents are JSON)::

    meta(name PRIMARY KEY, value)                 schema, clock, random-source counter
    keys(arn PRIMARY KEY, doc)                    Key with materials' secrets encrypted
    aliases(account, region, name, doc)           PRIMARY KEY (account, region, name)
    trail(seq INTEGER PRIMARY KEY, doc)           one Event per call
    docs(kind, id, doc)                           anything else: grants, key stores, ...

Documents are the objects' dataclass fields (enums as their AWS strings, datetimes as ISO 8601),
so a field added to Key or Material is persisted without touching this module.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import stat
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from .crypto import AeadError, aes_gcm_decrypt, aes_gcm_encrypt
from .keys import Alias, Key, Material
from .trail import MEMORY_WINDOW, Event

SCHEMA_VERSION = 1
T = TypeVar("T")


class StateFileError(RuntimeError):
    """The state file or its root key is missing, unreadable, or does not match."""


@dataclass
class Snapshot:
    keys: list[Key] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


class MemoryStore:
    """Keeps nothing beyond the process: every method is a no-op."""

    path: Path | None = None
    defer_light_commits = False
    pending = False

    def load(self) -> Snapshot:
        return Snapshot()

    def load_events(self) -> list[Event]:
        return []

    def flush(self) -> None:
        pass

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def save_key(self, key: Key) -> None:
        pass

    def delete_key(self, arn: str) -> None:
        pass

    def save_alias(self, alias: Alias) -> None:
        pass

    def delete_alias(self, alias: Alias) -> None:
        pass

    def append_event(self, event: Event) -> None:
        pass

    def set_meta(self, name: str, value: str) -> None:
        pass

    def save_doc(self, kind: str, ident: str, doc: dict[str, Any]) -> None:
        pass

    def delete_doc(self, kind: str, ident: str) -> None:
        pass

    def close(self) -> None:
        pass


def to_doc(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict (nested dataclass lists are the caller's business)."""
    doc: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        doc[f.name] = value
    return doc


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _revive(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    for t in typing.get_args(hint) or (hint,):
        if t is datetime:
            return datetime.fromisoformat(value)
        if isinstance(t, type) and issubclass(t, Enum):
            return t(value)
        if t is tuple or typing.get_origin(t) is tuple:
            return tuple(value)
    return value


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """Inverse of :func:`to_doc` for the fields ``cls`` has (unknown keys are ignored)."""
    hints = _hints(typing.cast(type, cls))
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: _revive(hints[k], v) for k, v in doc.items() if k in names}
    return cls(**kwargs)


def _read_or_create_root_key(path: Path, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise StateFileError(f"the root key file {path.name} is missing")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(32))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StateFileError(f"the root key file {path.name} must have mode 0600, not {mode:o}")
    data = path.read_bytes()
    if len(data) != 32:
        raise StateFileError(f"the root key file {path.name} is not 32 bytes")
    return data


#: Documents whose loss in a crash costs no key and no ciphertext: a key's last usage.
LIGHT_DOCS = frozenset({"last_usage"})
#: The longest a deferred transaction waits for its commit (see SqliteStore.transaction).
DEFER_SECONDS = 0.05

#: One encoder for every trail event (``json.dumps(..., default=str)`` builds a new one per call).
_EVENT_JSON = json.JSONEncoder(default=str)


class SqliteStore:
    """One SQLite file plus its root key file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        new = not self.path.exists()
        self.root_key_path = self.path.with_name(self.path.name + ".root-key")
        self._root_key = _read_or_create_root_key(self.root_key_path, create=new)
        import sqlite3  # only a persisted lab needs it

        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS keys(arn TEXT PRIMARY KEY, doc TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS aliases(account TEXT, region TEXT, name TEXT,
                doc TEXT NOT NULL, PRIMARY KEY(account, region, name));
            CREATE TABLE IF NOT EXISTS trail(seq INTEGER PRIMARY KEY, doc TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS docs(kind TEXT, id TEXT, doc TEXT NOT NULL,
                PRIMARY KEY(kind, id));
            """
        )
        if new:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),)
            )
        self._depth = 0
        self._durable = False
        self._deferred_since: float | None = None
        #: Set by the HTTP server: see :meth:`transaction`.
        self.defer_light_commits = False

    # -- transactions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One request's writes, all or nothing.

        Committed when the request ends, except in ``defer_light_commits`` mode (the HTTP
        server's) for a request that wrote only *light* rows (its trail event and a key's last
        usage, nothing else): that one stays in an open SQLite transaction, together with the
        light requests after it, until a request writes anything else, :meth:`flush` runs (the
        server calls it within :data:`DEFER_SECONDS`) or the store closes. A SIGKILL can then
        lose the newest few milliseconds of trail events of Encrypt-like calls, never a key, an
        alias, a policy, a grant or anything a ciphertext depends on; a COMMIT costs more than
        the rest of such a request's writes together.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        deferred = self._deferred_since is not None
        self._db.execute("SAVEPOINT request" if deferred else "BEGIN IMMEDIATE")
        self._depth = 1
        self._durable = False
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO request" if deferred else "ROLLBACK")
            if deferred:
                self._db.execute("RELEASE request")
            raise
        else:
            if deferred:
                self._db.execute("RELEASE request")
            if self._durable or not self.defer_light_commits:
                self._commit()
            elif not deferred:
                self._deferred_since = time.monotonic()
            elif time.monotonic() - self._deferred_since > DEFER_SECONDS:  # type: ignore[operator]
                self._commit()
        finally:
            self._depth = 0

    def _commit(self) -> None:
        self._db.execute("COMMIT")
        self._deferred_since = None

    def flush(self) -> None:
        """Commit the light writes a deferred transaction holds (callers hold the lab's lock)."""
        if self._deferred_since is not None and not self._depth:
            self._commit()

    @property
    def pending(self) -> bool:
        """Does an open transaction hold light writes that :meth:`flush` would commit?"""
        return self._deferred_since is not None

    def _write(self, sql: str, params: tuple[Any, ...], *, light: bool = False) -> None:
        self._db.execute(sql, params)
        if not light:
            self._durable = True
            if self._deferred_since is not None and not self._depth:
                self._commit()  # a write outside any request joined the open transaction

    # -- writes --------------------------------------------------------------------------------

    def _seal(self, arn: str, m: Material) -> str:
        nonce = os.urandom(12)
        aad = f"{arn}/{m.material_id}".encode()
        sealed = nonce + aes_gcm_encrypt(self._root_key, nonce, m.secret, aad)
        return base64.b64encode(sealed).decode()

    def _unseal(self, arn: str, material_id: str, sealed: str) -> bytes:
        raw = base64.b64decode(sealed)
        aad = f"{arn}/{material_id}".encode()
        try:
            return aes_gcm_decrypt(self._root_key, raw[:12], raw[12:], aad)
        except AeadError:
            raise StateFileError(
                "key material does not decrypt under this root key (wrong root-key file?)"
            ) from None

    def save_key(self, key: Key) -> None:
        doc = to_doc(key)
        doc["materials"] = []
        for m in key.materials:
            md = to_doc(m)
            md["secret"] = self._seal(key.arn, m)
            doc["materials"].append(md)
        self._write("INSERT OR REPLACE INTO keys VALUES(?, ?)", (key.arn, json.dumps(doc)))

    def delete_key(self, arn: str) -> None:
        self._write("DELETE FROM keys WHERE arn = ?", (arn,))

    def save_alias(self, alias: Alias) -> None:
        self._write(
            "INSERT OR REPLACE INTO aliases VALUES(?, ?, ?, ?)",
            (alias.account, alias.region, alias.name, json.dumps(to_doc(alias))),
        )

    def delete_alias(self, alias: Alias) -> None:
        self._write(
            "DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?",
            (alias.account, alias.region, alias.name),
        )

    def append_event(self, event: Event) -> None:
        self._write(
            "INSERT INTO trail(doc) VALUES(?)", (_EVENT_JSON.encode(to_doc(event)),), light=True
        )

    def set_meta(self, name: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES(?, ?)", (name, value))

    def save_doc(self, kind: str, ident: str, doc: dict[str, Any]) -> None:
        """Persist any other object (grants, custom key stores, ...) as a JSON document."""
        self._write(
            "INSERT OR REPLACE INTO docs VALUES(?, ?, ?)",
            (kind, ident, json.dumps(doc)),
            light=kind in LIGHT_DOCS,
        )

    def delete_doc(self, kind: str, ident: str) -> None:
        self._write("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, ident))

    # -- reads ---------------------------------------------------------------------------------

    def load(self) -> Snapshot:
        """Everything persisted but the trail, which :meth:`load_events` reads when it is first
        wanted (parsing it is most of the time of opening a long-used lab)."""
        snap = Snapshot()
        snap.meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        for arn, text in self._db.execute("SELECT arn, doc FROM keys"):
            d = json.loads(text)
            materials = d.pop("materials")
            key = from_doc(Key, d)
            for md in materials:
                md["secret"] = self._unseal(arn, md["material_id"], md["secret"])
                key.materials.append(from_doc(Material, md))
            snap.keys.append(key)
        for (text,) in self._db.execute("SELECT doc FROM aliases"):
            snap.aliases.append(from_doc(Alias, json.loads(text)))
        for kind, ident, text in self._db.execute("SELECT kind, id, doc FROM docs"):
            snap.docs.setdefault(kind, {})[ident] = json.loads(text)
        return snap

    def load_events(self) -> list[Event]:
        """The newest ``MEMORY_WINDOW`` trail events, oldest first."""
        newest = "SELECT seq, doc FROM trail ORDER BY seq DESC LIMIT ?"
        rows = self._db.execute(f"SELECT doc FROM ({newest}) ORDER BY seq", (MEMORY_WINDOW,))
        return [from_doc(Event, json.loads(text)) for (text,) in rows]

    def close(self) -> None:
        self.flush()
        self._db.close()
