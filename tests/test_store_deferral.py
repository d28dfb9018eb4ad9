"""The HTTP server's deferred commits: light writes (trail events, last-usage stamps) may wait a
few milliseconds for their COMMIT; anything else commits before its answer.

Another SQLite connection to the same file stands for "what a restart after SIGKILL would find".
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from kmslab import LocalKms
from kmslab.server import running
from kmslab.store import DEFER_SECONDS


def committed(state: Path, sql: str) -> Any:
    with sqlite3.connect(state, timeout=30) as db:
        return db.execute(sql).fetchone()[0]


def trail_rows(state: Path) -> int:
    return int(committed(state, "SELECT count(*) FROM trail"))


def key_rows(state: Path) -> int:
    return int(committed(state, "SELECT count(*) FROM keys"))


@pytest.fixture
def deferring(tmp_path: Path) -> Any:
    state = tmp_path / "lab.db"
    lab = LocalKms(state=state)
    key_id = lab.client().create_key()["KeyMetadata"]["KeyId"]
    lab.store.defer_light_commits = True
    yield lab, state, key_id
    lab.close()


def test_light_writes_wait_for_a_flush(deferring: Any) -> None:
    lab, state, key_id = deferring
    kms = lab.client()
    before = trail_rows(state)
    kms.encrypt(KeyId=key_id, Plaintext=b"light")
    assert lab.store.pending
    assert trail_rows(state) == before  # not committed yet
    lab.store.flush()
    assert not lab.store.pending
    assert trail_rows(state) == before + 1


def test_a_durable_write_commits_at_once_with_the_light_ones_before_it(deferring: Any) -> None:
    lab, state, key_id = deferring
    kms = lab.client()
    before_trail, before_keys = trail_rows(state), key_rows(state)
    kms.encrypt(KeyId=key_id, Plaintext=b"light")
    kms.create_key(Description="durable")
    assert not lab.store.pending
    assert key_rows(state) == before_keys + 1
    assert trail_rows(state) == before_trail + 2


def test_a_failed_request_rolls_back_only_itself(deferring: Any) -> None:
    lab, state, key_id = deferring
    kms = lab.client()
    before = trail_rows(state)
    kms.encrypt(KeyId=key_id, Plaintext=b"light")
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.encrypt(KeyId="alias/none", Plaintext=b"x")
    lab.store.flush()
    names = [e["eventName"] for e in lab.trail][-2:]
    assert names == ["Encrypt", "Encrypt"]
    assert trail_rows(state) == before + 2  # the success and the recorded failure


def test_an_old_deferred_transaction_commits_at_the_next_request(deferring: Any) -> None:
    lab, state, key_id = deferring
    kms = lab.client()
    before = trail_rows(state)
    kms.encrypt(KeyId=key_id, Plaintext=b"first")
    time.sleep(DEFER_SECONDS * 2)
    kms.encrypt(KeyId=key_id, Plaintext=b"second")
    assert not lab.store.pending
    assert trail_rows(state) == before + 2


def test_closing_the_lab_commits_what_waits(tmp_path: Path) -> None:
    state = tmp_path / "lab.db"
    lab = LocalKms(state=state)
    key_id = lab.client().create_key()["KeyMetadata"]["KeyId"]
    lab.store.defer_light_commits = True
    lab.client().encrypt(KeyId=key_id, Plaintext=b"x")
    before = trail_rows(state)
    lab.close()
    assert trail_rows(state) == before + 1


def test_in_process_labs_never_defer(tmp_path: Path) -> None:
    state = tmp_path / "lab.db"
    lab = LocalKms(state=state)
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    before = trail_rows(state)
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert not lab.store.pending
    assert trail_rows(state) == before + 1
    lab.close()


def test_the_server_defers_and_flushes_on_its_own(tmp_path: Path) -> None:
    state = tmp_path / "lab.db"
    lab = LocalKms(state=state)
    with running(lab) as server:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        assert key_rows(state) == 1  # committed before the answer
        assert lab.store.defer_light_commits
        before = trail_rows(state)
        for _ in range(5):
            kms.encrypt(KeyId=key_id, Plaintext=b"x")
        deadline = time.monotonic() + 10
        while trail_rows(state) < before + 5 and time.monotonic() < deadline:
            time.sleep(DEFER_SECONDS)
        assert trail_rows(state) == before + 5
    assert not lab.store.defer_light_commits  # a stopped server leaves the lab as it was
    assert not lab.store.pending
    lab.close()
