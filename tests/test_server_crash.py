"""`kmslab serve --state FILE`: state survives restarts, kill -9 under load loses nothing that was
acknowledged, and many clients at once neither lose nor duplicate keys.

"Acknowledged" means the client received the response. A request cut off by a kill may or may
not have happened (as with AWS); a request whose response arrived must be durable.
"""

from __future__ import annotations

import json
import random
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from server_fixtures import (
    HOST,
    ServeProcess,
    kms_client,
    list_all_key_ids,
    server_log_problems,
    sign,
)

from kmslab.lab import LocalKms

KILLS = 20
#: A hard stop for a machine far busier than expected; on an idle laptop the 20 kills take
#: about 30 s (each restart is an interpreter start, about 0.8 s).
CRASH_SECONDS_LIMIT = 240.0


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path / "logs", state=tmp_path / "lab.db") as running:
        yield running


# == restart ======================================================================================


def test_restart_keeps_every_key_and_every_ciphertext(server: ServeProcess) -> None:
    server.start()
    kms = kms_client(server.endpoint)
    context = {"purpose": "restart test"}
    plain = kms.create_key(Description="plain", Tags=[{"TagKey": "team", "TagValue": "blue"}])[
        "KeyMetadata"
    ]
    rotating = kms.create_key(Description="rotating")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
    disabled = kms.create_key(Description="disabled")["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    doomed = kms.create_key(Description="doomed")["KeyMetadata"]
    deletion = kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    kms.create_alias(AliasName="alias/restart-test", TargetKeyId=plain["KeyId"])
    kms_eu = kms_client(server.endpoint, region="eu-west-1")
    eu = kms_eu.create_key(Description="eu")["KeyMetadata"]

    rng = random.Random(5)
    secrets = {}
    for key, client in ((plain, kms), (rotating, kms), (eu, kms_eu)):
        for n in (1, 100, 4096):
            data = rng.randbytes(n)
            blob = client.encrypt(KeyId=key["KeyId"], Plaintext=data, EncryptionContext=context)
            secrets[blob["CiphertextBlob"]] = (client, data)
    data_key = kms.generate_data_key(KeyId="alias/restart-test", KeySpec="AES_256")
    policy = kms.get_key_policy(KeyId=plain["KeyId"], PolicyName="default")["Policy"]
    before = {
        k: kms.describe_key(KeyId=k)["KeyMetadata"]
        for k in (plain["KeyId"], rotating["KeyId"], disabled["KeyId"], doomed["KeyId"])
    }

    # Ctrl-C, then the same state again; then kill -9, and again.
    assert server.interrupt() == 0
    for stop in ("kill", None):
        server.start()
        kms = kms_client(server.endpoint)
        kms_eu = kms_client(server.endpoint, region="eu-west-1")
        for key_id, meta in before.items():
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"] == meta
        assert kms_eu.describe_key(KeyId=eu["KeyId"])["KeyMetadata"]["Arn"] == eu["Arn"]
        assert kms.list_resource_tags(KeyId=plain["KeyId"])["Tags"] == [
            {"TagKey": "team", "TagValue": "blue"}
        ]
        status = kms.get_key_rotation_status(KeyId=rotating["KeyId"])
        assert status["KeyRotationEnabled"] is True
        assert status["RotationPeriodInDays"] == 90
        assert kms.get_key_policy(KeyId=plain["KeyId"], PolicyName="default")["Policy"] == policy
        doomed_now = kms.describe_key(KeyId=doomed["KeyId"])["KeyMetadata"]
        assert doomed_now["KeyState"] == "PendingDeletion"
        assert doomed_now["DeletionDate"] == deletion["DeletionDate"]
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        assert aliases["alias/restart-test"] == plain["KeyId"]
        for blob, (client, data) in secrets.items():
            answer = client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
            assert answer["Plaintext"] == data
        unwrapped = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
        assert unwrapped["Plaintext"] == data_key["Plaintext"]
        with pytest.raises(ClientError) as err:
            kms.encrypt(KeyId=disabled["KeyId"], Plaintext=b"x")
        assert err.value.response["Error"]["Code"] == "DisabledException"
        if stop == "kill":
            server.kill()
        else:
            assert server.interrupt() == 0

    assert server.state is not None
    assert integrity(server.state) == "ok"
    root_key = server.state.with_name(server.state.name + ".root-key")
    assert stat.S_IMODE(root_key.stat().st_mode) == 0o600
    # The trail survived too: every CreateKey is on it.
    with LocalKms(state=server.state) as lab:
        names = [e["eventName"] for e in lab.trail]
    assert names.count("CreateKey") == 5
    assert "ScheduleKeyDeletion" in names


# == kill -9 under load ===========================================================================


@dataclass
class Ledger:
    """What the server acknowledged, and what went wrong on the client side."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    rotations: set[str] = field(default_factory=set)
    ciphertexts: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    calls: int = 0
    cut_off: int = 0  # connections closed mid-request: the kill landed during a call
    refused: int = 0  # connection refused: the server was down
    server_errors: list[str] = field(default_factory=list)


def load_worker(kms: Any, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        with ledger.lock:
            keys = list(ledger.keys)
        roll = rng.random()
        try:
            if not keys or roll < 0.25:
                key_id = kms.create_key(Description=f"crash {seed}/{n}")["KeyMetadata"]["KeyId"]
                with ledger.lock:
                    ledger.keys.append(key_id)
            elif roll < 0.30:
                name = f"alias/crash-{seed}-{n}"
                target = rng.choice(keys)
                kms.create_alias(AliasName=name, TargetKeyId=target)
                with ledger.lock:
                    ledger.aliases[name] = target
            elif roll < 0.35:
                target = rng.choice(keys)
                kms.enable_key_rotation(KeyId=target)
                with ledger.lock:
                    ledger.rotations.add(target)
            else:
                key_id = rng.choice(keys)
                data = rng.randbytes(rng.randint(1, 4096))
                blob = kms.encrypt(KeyId=key_id, Plaintext=data)["CiphertextBlob"]
                with ledger.lock:
                    ledger.ciphertexts.append((key_id, data, blob))
            with ledger.lock:
                ledger.calls += 1
        except (ConnectionClosedError, ReadTimeoutError, KeyError):
            # KeyError: killed between the answer's head and its body. botocore parses a 200
            # whose body was cut short as an empty result instead of failing, so the call shows
            # as one without its output member; it was never acknowledged.
            with ledger.lock:
                ledger.cut_off += 1
        except EndpointConnectionError:
            with ledger.lock:
                ledger.refused += 1
            time.sleep(0.05)  # the server is down: leave the CPU to its restart
        except ClientError as exc:
            # An alias or rotation whose first attempt was cut off may have happened; anything
            # else is a server bug.
            code = exc.response["Error"]["Code"]
            if code != "AlreadyExistsException":
                with ledger.lock:
                    ledger.server_errors.append(f"{code}: {exc}")


def send_without_waiting(server: ServeProcess, seed: int) -> None:
    """Write a signed CreateKey on a fresh connection and return at once, unanswered."""
    body = json.dumps({"Description": f"mid-write {seed}"}).encode()
    headers = sign(server.endpoint, "TrentService.CreateKey", body)
    head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((HOST, server.port), timeout=5) as s:
        s.sendall(head.encode() + body)


@pytest.mark.slow
def test_kill_minus_nine_under_load_loses_nothing_acknowledged(server: ServeProcess) -> None:
    """At least 20 kills: half at random instants under load, half a moment (0-3 ms) after
    a CreateKey was written to the server, so that they land mid-write."""
    assert server.state is not None
    rng = random.Random(6)
    began = time.monotonic()
    server.start()
    ledger = Ledger()
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=load_worker,
            args=(kms_client(server.endpoint, timeout=5), ledger, stop, seed),
            daemon=True,
        )
        for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    kills = 0
    kills_cutting_off = 0
    checks: list[str] = []
    try:
        while kills < KILLS:
            assert time.monotonic() - began < CRASH_SECONDS_LIMIT, f"only {kills} kills"
            calls_before, cut_before = ledger.calls, ledger.cut_off
            time.sleep(rng.uniform(0.05, 0.3))
            if ledger.calls == calls_before:  # the load had not reached this server yet
                time.sleep(0.2)
            if kills % 2:
                send_without_waiting(server, kills)
                time.sleep(rng.uniform(0, 0.003))
            server.kill()
            kills += 1
            if kills % 5 == 0:
                checks.append(integrity(server.state))
            server.start()
            time.sleep(0.05)  # let clients notice their cut-off calls before counting
            kills_cutting_off += ledger.cut_off > cut_before
        time.sleep(0.3)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    print(
        f"\ncrash: {kills} kills in {time.monotonic() - began:.1f} s; {ledger.calls} calls "
        f"acknowledged ({len(ledger.keys)} keys, {len(ledger.ciphertexts)} ciphertexts, "
        f"{len(ledger.aliases)} aliases, {len(ledger.rotations)} rotations); "
        f"{ledger.cut_off} calls cut off mid-request ({kills_cutting_off} kills cut off a "
        f"client's call), {ledger.refused} refused while down; "
        f"restarts took {min(server.start_seconds):.2f}-{max(server.start_seconds):.2f} s"
    )
    assert not ledger.server_errors, ledger.server_errors[:10]
    assert ledger.cut_off > 0, "no kill landed during a request"
    assert checks and all(c == "ok" for c in checks), checks
    assert len(ledger.keys) >= KILLS and len(ledger.ciphertexts) >= KILLS

    kms = kms_client(server.endpoint, timeout=30)
    present = set(list_all_key_ids(kms))
    missing = [k for k in ledger.keys if k not in present]
    assert not missing, f"{len(missing)} acknowledged keys lost: {missing[:5]}"

    aliases = {}
    for page in kms.get_paginator("list_aliases").paginate():
        aliases.update({a["AliasName"]: a.get("TargetKeyId") for a in page["Aliases"]})
    lost_aliases = {n: t for n, t in ledger.aliases.items() if aliases.get(n) != t}
    assert not lost_aliases, lost_aliases

    for key_id in ledger.rotations:
        assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True

    def decrypts(item: tuple[str, bytes, bytes]) -> bool:
        key_id, data, blob = item
        client = clients[threading.get_ident() % len(clients)]
        answer = client.decrypt(CiphertextBlob=blob)
        return bool(answer["Plaintext"] == data and answer["KeyId"].endswith(key_id))

    clients = [kms_client(server.endpoint, timeout=30) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(decrypts, ledger.ciphertexts))
    assert all(results), f"{results.count(False)} acknowledged ciphertexts do not decrypt"

    assert server.interrupt() == 0
    assert integrity(server.state) == "ok"
    problems = [line for n in range(1, server.starts + 1) for line in _stderr_problems(server, n)]
    assert not problems, problems[:20]


def _stderr_problems(server: ServeProcess, start: int) -> list[str]:
    path = server.logs / f"serve-{start}.err"
    return server_log_problems(path.read_text(errors="replace")) if path.exists() else []


# == many clients at once =========================================================================


def test_many_clients_at_once_lose_and_duplicate_nothing(server: ServeProcess) -> None:
    server.start()
    threads, per_thread = 16, 12

    clients = [kms_client(server.endpoint, timeout=30) for _ in range(threads)]

    def work(n: int) -> list[str]:
        kms = clients[n]
        made = []
        for i in range(per_thread):
            key_id = kms.create_key(Description=f"c{n}-{i}")["KeyMetadata"]["KeyId"]
            blob = kms.encrypt(KeyId=key_id, Plaintext=f"{n}/{i}".encode())["CiphertextBlob"]
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == f"{n}/{i}".encode()
            made.append(key_id)
        return made

    with ThreadPoolExecutor(threads) as pool:
        created = [k for batch in pool.map(work, range(threads)) for k in batch]
    assert len(created) == threads * per_thread
    assert len(set(created)) == len(created), "a key id was handed out twice"
    listed = list_all_key_ids(kms_client(server.endpoint))
    assert len(listed) == len(created)
    assert sorted(listed) == sorted(created)

    # The same after a restart.
    assert server.interrupt() == 0
    server.start()
    assert sorted(list_all_key_ids(kms_client(server.endpoint))) == sorted(created)
    assert server.interrupt() == 0
    assert server.state is not None and integrity(server.state) == "ok"


def test_racing_for_one_alias_name_exactly_one_wins(server: ServeProcess) -> None:
    server.start()
    kms = kms_client(server.endpoint)
    targets = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(12)]
    barrier = threading.Barrier(len(targets))
    clients = {t: kms_client(server.endpoint, timeout=30) for t in targets}

    def claim(target: str) -> str:
        client = clients[target]
        barrier.wait()
        try:
            client.create_alias(AliasName="alias/contested", TargetKeyId=target)
            return "won"
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])

    with ThreadPoolExecutor(len(targets)) as pool:
        outcomes = list(pool.map(claim, targets))
    assert outcomes.count("won") == 1, outcomes
    assert set(outcomes) == {"won", "AlreadyExistsException"}
    winner = targets[outcomes.index("won")]
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/contested"] == winner


def test_concurrent_load_logs_no_internal_errors(server: ServeProcess) -> None:
    server.start()
    kms_client(server.endpoint).create_key()

    clients = [kms_client(server.endpoint, timeout=30) for _ in range(8)]

    def call(n: int) -> Any:
        return [clients[n].list_keys(Limit=5) for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(8)))
    assert server_log_problems(server.stderr()) == []
