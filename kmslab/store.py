"""Persistence of the lab's state: nothing (in memory) or one SQLite file.

With ``LocalKms(state=PATH)`` every request that changes state is one SQLite transaction
(WAL journal), committed before the response is returned, so a process killed at any moment
keeps every key and alias whose request was answered. Key material is stored encrypted
(AES-256-GCM, the key id and material id as AAD) under a 32-byte root key kept in a separate
file, ``PATH.root-key``, created with mode 0600: the lab's stand-in for the HSM boundary.

Tables (all documents are JSON)::

    meta(name PRIMARY KEY, value)                 schema, clock, random-source counter
    keys(key_id PRIMARY KEY, doc)                 Key with materials' secrets encrypted
    aliases(account, region, name, doc)           PRIMARY KEY (account, region, name)
    trail(seq INTEGER PRIMARY KEY, doc)           one Event per call
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .crypto import AeadError, aes_gcm_decrypt, aes_gcm_encrypt
from .keys import Alias, Key, Material
from .model import KeyManager, KeySpec, KeyState, KeyUsage, Origin, RotationType
from .trail import Event

SCHEMA_VERSION = 1


class StateFileError(RuntimeError):
    """The state file or its root key is missing, unreadable, or does not match."""


@dataclass
class Snapshot:
    keys: list[Key] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


class MemoryStore:
    """Keeps nothing beyond the process: every method is a no-op."""

    path: Path | None = None

    def load(self) -> Snapshot:
        return Snapshot()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def save_key(self, key: Key) -> None:
        pass

    def delete_key(self, key_id: str) -> None:
        pass

    def save_alias(self, alias: Alias) -> None:
        pass

    def delete_alias(self, alias: Alias) -> None:
        pass

    def append_event(self, event: Event) -> None:
        pass

    def set_meta(self, name: str, value: str) -> None:
        pass

    def close(self) -> None:
        pass


def _dt(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


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
            CREATE TABLE IF NOT EXISTS keys(key_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS aliases(account TEXT, region TEXT, name TEXT,
                doc TEXT NOT NULL, PRIMARY KEY(account, region, name));
            CREATE TABLE IF NOT EXISTS trail(seq INTEGER PRIMARY KEY, doc TEXT NOT NULL);
            """
        )
        if new:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES('schema', ?)", (str(SCHEMA_VERSION),)
            )
        self._depth = 0

    # -- transactions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._depth = 0

    # -- writes --------------------------------------------------------------------------------

    def _seal(self, key_id: str, m: Material) -> str:
        nonce = os.urandom(12)
        aad = f"{key_id}/{m.material_id}".encode()
        return base64.b64encode(
            nonce + aes_gcm_encrypt(self._root_key, nonce, m.secret, aad)
        ).decode()

    def _unseal(self, key_id: str, material_id: str, sealed: str) -> bytes:
        raw = base64.b64decode(sealed)
        aad = f"{key_id}/{material_id}".encode()
        try:
            return aes_gcm_decrypt(self._root_key, raw[:12], raw[12:], aad)
        except AeadError:
            raise StateFileError(
                "key material does not decrypt under this root key (wrong root-key file?)"
            ) from None

    def save_key(self, key: Key) -> None:
        doc = {
            "key_id": key.key_id,
            "account": key.account,
            "region": key.region,
            "arn": key.arn,
            "created": _dt(key.created),
            "description": key.description,
            "key_usage": key.key_usage.value,
            "key_spec": key.key_spec.value,
            "origin": key.origin.value,
            "key_manager": key.key_manager.value,
            "state": key.state.value,
            "deletion_date": _dt(key.deletion_date),
            "pending_window_days": key.pending_window_days,
            "rotation_enabled": key.rotation_enabled,
            "rotation_period_days": key.rotation_period_days,
            "next_rotation": _dt(key.next_rotation),
            "on_demand_rotations": key.on_demand_rotations,
            "policy": key.policy,
            "tags": key.tags,
            "materials": [
                {
                    "material_id": m.material_id,
                    "sealed": self._seal(key.key_id, m),
                    "created": _dt(m.created),
                    "rotation_type": m.rotation_type.value if m.rotation_type else None,
                }
                for m in key.materials
            ],
        }
        self._db.execute("INSERT OR REPLACE INTO keys VALUES(?, ?)", (key.key_id, json.dumps(doc)))

    def delete_key(self, key_id: str) -> None:
        self._db.execute("DELETE FROM keys WHERE key_id = ?", (key_id,))

    def save_alias(self, alias: Alias) -> None:
        doc = {
            "name": alias.name,
            "account": alias.account,
            "region": alias.region,
            "arn": alias.arn,
            "target_key_id": alias.target_key_id,
            "created": _dt(alias.created),
            "updated": _dt(alias.updated),
        }
        self._db.execute(
            "INSERT OR REPLACE INTO aliases VALUES(?, ?, ?, ?)",
            (alias.account, alias.region, alias.name, json.dumps(doc)),
        )

    def delete_alias(self, alias: Alias) -> None:
        self._db.execute(
            "DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?",
            (alias.account, alias.region, alias.name),
        )

    def append_event(self, event: Event) -> None:
        doc = {
            "time": _dt(event.time),
            "source": event.source,
            "name": event.name,
            "region": event.region,
            "user_identity": event.user_identity,
            "request_parameters": event.request_parameters,
            "response_elements": event.response_elements,
            "error_code": event.error_code,
            "error_message": event.error_message,
            "request_id": event.request_id,
            "resources": list(event.resources),
            "read_only": event.read_only,
            "event_type": event.event_type,
        }
        self._db.execute("INSERT INTO trail(doc) VALUES(?)", (json.dumps(doc, default=str),))

    def set_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES(?, ?)", (name, value))

    # -- reads ---------------------------------------------------------------------------------

    def load(self) -> Snapshot:
        snap = Snapshot()
        snap.meta = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        for (text,) in self._db.execute("SELECT doc FROM keys"):
            snap.keys.append(self._key_from(json.loads(text)))
        for (text,) in self._db.execute("SELECT doc FROM aliases"):
            d = json.loads(text)
            snap.aliases.append(
                Alias(
                    name=d["name"],
                    account=d["account"],
                    region=d["region"],
                    arn=d["arn"],
                    target_key_id=d["target_key_id"],
                    created=_from_dt(d["created"]),
                    updated=_from_dt(d["updated"]),
                )
            )
        for (text,) in self._db.execute("SELECT doc FROM trail ORDER BY seq"):
            d = json.loads(text)
            snap.events.append(
                Event(
                    time=datetime.fromisoformat(d["time"]),
                    source=d["source"],
                    name=d["name"],
                    region=d["region"],
                    user_identity=d["user_identity"],
                    request_parameters=d["request_parameters"],
                    response_elements=d["response_elements"],
                    error_code=d["error_code"],
                    error_message=d["error_message"],
                    request_id=d["request_id"],
                    resources=tuple(d["resources"]),
                    read_only=d["read_only"],
                    event_type=d["event_type"],
                )
            )
        return snap

    def _key_from(self, d: dict[str, Any]) -> Key:
        created = _from_dt(d["created"])
        assert created is not None
        return Key(
            key_id=d["key_id"],
            account=d["account"],
            region=d["region"],
            arn=d["arn"],
            created=created,
            description=d["description"],
            key_usage=KeyUsage(d["key_usage"]),
            key_spec=KeySpec(d["key_spec"]),
            origin=Origin(d["origin"]),
            key_manager=KeyManager(d["key_manager"]),
            state=KeyState(d["state"]),
            deletion_date=_from_dt(d["deletion_date"]),
            pending_window_days=d["pending_window_days"],
            rotation_enabled=d["rotation_enabled"],
            rotation_period_days=d["rotation_period_days"],
            next_rotation=_from_dt(d["next_rotation"]),
            on_demand_rotations=d["on_demand_rotations"],
            policy=d["policy"],
            tags=d["tags"],
            materials=[
                Material(
                    material_id=m["material_id"],
                    secret=self._unseal(d["key_id"], m["material_id"], m["sealed"]),
                    created=datetime.fromisoformat(m["created"]),
                    rotation_type=RotationType(m["rotation_type"]) if m["rotation_type"] else None,
                )
                for m in d["materials"]
            ],
        )

    def close(self) -> None:
        self._db.close()
