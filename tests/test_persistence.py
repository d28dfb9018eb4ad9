"""LocalKms(state=PATH): the lab survives its process, and its secrets stay sealed on disk."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import new_key

from kmslab import LocalKms
from kmslab import blob as blob_format
from kmslab.context import encode_context
from kmslab.crypto import AeadError, aes_gcm_decrypt
from kmslab.store import StateFileError

#: Runs in a fresh interpreter: reopen the lab and report what it sees, as JSON on stdout.
CHILD = r"""
import base64, json, sys
from datetime import datetime, UTC
from kmslab import LocalKms
from kmslab import blob as blob_format

state, spec = sys.argv[1], json.loads(sys.argv[2])
lab = LocalKms(state=state)
trail_length = len(lab.trail)
kms = lab.client()
out = {"trail": trail_length, "plaintexts": [], "aliases": {}, "materials": {}, "tags": {},
       "states": {}, "offset_days": (lab.clock.now() - datetime.now(UTC)).total_seconds() / 86400}
for item in spec["ciphertexts"]:
    answer = kms.decrypt(CiphertextBlob=base64.b64decode(item["blob"]),
                         EncryptionContext=item["context"])
    out["plaintexts"].append(base64.b64encode(answer["Plaintext"]).decode())
for alias in kms.list_aliases()["Aliases"]:
    if not alias["AliasName"].startswith("alias/aws/"):
        out["aliases"][alias["AliasName"]] = alias["TargetKeyId"]
for key_id in spec["keys"]:
    rotations = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    out["materials"][key_id] = [r["KeyMaterialId"] for r in rotations["Rotations"]]
    out["tags"][key_id] = {t["TagKey"]: t["TagValue"]
                           for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    out["states"][key_id] = [metadata["KeyState"], str(metadata.get("DeletionDate"))]
lab.close()
print(json.dumps(out))
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _materials(kms: Any, key_id: str) -> list[str]:
    rotations = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    return [r["KeyMaterialId"] for r in rotations["Rotations"]]


def _disk_bytes(directory: Path, name: str) -> bytes:
    """Everything SQLite keeps for the lab (the database and any journal), not the root key."""
    return b"".join(
        p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.name.startswith(name) and not p.name.endswith(".root-key")
    )


def test_a_new_process_sees_the_same_lab(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    lab = LocalKms(state=db)
    kms = lab.client()
    k1 = new_key(kms, Description="rotated on demand", Tags=[{"TagKey": "team", "TagValue": "a"}])
    k2 = new_key(kms, Description="rotates automatically")
    k3 = new_key(kms, Description="disabled")
    k4 = new_key(kms, Description="pending deletion")
    kms.create_alias(AliasName="alias/app", TargetKeyId=k1)
    kms.create_alias(AliasName="alias/logs", TargetKeyId=k2)
    kms.tag_resource(KeyId=k2, Tags=[{"TagKey": "env", "TagValue": "prod"}])

    ciphertexts: list[dict[str, Any]] = []
    plaintexts: list[bytes] = []

    def remember(key: str, plaintext: bytes, context: dict[str, str]) -> None:
        blob = kms.encrypt(KeyId=key, Plaintext=plaintext, EncryptionContext=context)
        ciphertexts.append({"blob": _b64(blob["CiphertextBlob"]), "context": context})
        plaintexts.append(plaintext)

    remember(k1, b"before rotation", {})
    kms.rotate_key_on_demand(KeyId=k1)
    remember("alias/app", b"after rotation", {"stage": "2"})
    kms.enable_key_rotation(KeyId=k2, RotationPeriodInDays=90)
    remember(k2, b"first material", {})
    lab.clock.advance(days=91)  # an automatic rotation, and a clock offset to persist
    remember(k2, b"second material", {"stage": "auto"})
    data_key = kms.generate_data_key(KeyId=k1, KeySpec="AES_256")
    ciphertexts.append({"blob": _b64(data_key["CiphertextBlob"]), "context": {}})
    plaintexts.append(data_key["Plaintext"])
    kms.disable_key(KeyId=k3)
    deletion = kms.schedule_key_deletion(KeyId=k4)["DeletionDate"]

    keys = [k1, k2, k3, k4]
    expected: dict[str, Any] = {
        "materials": {k: _materials(kms, k) for k in keys},
        "aliases": {"alias/app": k1, "alias/logs": k2},
    }
    assert len(expected["materials"][k1]) == len(expected["materials"][k2]) == 2
    expected["trail"] = len(lab.trail)
    assert expected["trail"] > 15
    lab.close()

    # Secrets on disk: the data key and the plaintexts are nowhere in the SQLite files.
    disk = _disk_bytes(tmp_path, "lab.db")
    assert disk
    for secret in [*plaintexts, data_key["Plaintext"]]:
        for form in (secret, secret.hex().encode(), _b64(secret).encode()):
            assert form not in disk
    root_key = tmp_path / "lab.db.root-key"
    assert stat.S_IMODE(root_key.stat().st_mode) == 0o600
    assert root_key.read_bytes() not in disk

    spec = json.dumps({"ciphertexts": ciphertexts, "keys": keys})
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), spec],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert seen["trail"] == expected["trail"]
    assert [base64.b64decode(p) for p in seen["plaintexts"]] == plaintexts
    assert seen["aliases"] == expected["aliases"]
    assert seen["materials"] == expected["materials"]
    assert seen["tags"] == {k1: {"team": "a"}, k2: {"env": "prod"}, k3: {}, k4: {}}
    assert seen["states"][k3] == ["Disabled", "None"]
    assert seen["states"][k4] == ["PendingDeletion", str(deletion)]
    assert 90.9 < seen["offset_days"] < 91.1


def test_scheduled_work_survives_a_reopen(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with LocalKms(state=db) as lab:
        kms = lab.client()
        key_id = new_key(kms)
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with LocalKms(state=db) as lab:
        kms = lab.client()
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
        lab.clock.advance(days=7, minutes=1)
        assert kms.list_keys()["Keys"] == []
        assert [e["eventName"] for e in lab.trail][-1:] == ["ListKeys"]
        assert "DeleteKey" in [e["eventName"] for e in lab.trail]
    with LocalKms(state=db) as lab:
        assert lab.client().list_keys()["Keys"] == []


@pytest.fixture(scope="module")
def saved_lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file holding one key, made once; tests copy it before damaging it."""
    directory = tmp_path_factory.mktemp("saved")
    with LocalKms(state=directory / "lab.db") as lab:
        new_key(lab.client())
    return directory


def _copy(saved: Path, into: Path) -> Path:
    for item in saved.iterdir():
        target = into / item.name
        target.write_bytes(item.read_bytes())
        os.chmod(target, stat.S_IMODE(item.stat().st_mode))
    return into / "lab.db"


def test_a_copied_state_file_opens(saved_lab: Path, tmp_path: Path) -> None:
    with LocalKms(state=_copy(saved_lab, tmp_path)) as lab:
        assert len(lab.client().list_keys()["Keys"]) == 1


def test_the_root_key_file_is_required(saved_lab: Path, tmp_path: Path) -> None:
    db = _copy(saved_lab, tmp_path)
    (tmp_path / "lab.db.root-key").rename(tmp_path / "elsewhere")
    with pytest.raises(StateFileError, match=r"root key file lab\.db\.root-key is missing"):
        LocalKms(state=db)


def test_a_wrong_root_key_is_refused(saved_lab: Path, tmp_path: Path) -> None:
    db = _copy(saved_lab, tmp_path)
    (tmp_path / "lab.db.root-key").write_bytes(bytes(32))
    with pytest.raises(StateFileError, match="root-key"):
        LocalKms(state=db)


def test_a_readable_root_key_is_refused(saved_lab: Path, tmp_path: Path) -> None:
    db = _copy(saved_lab, tmp_path)
    os.chmod(tmp_path / "lab.db.root-key", 0o644)
    with pytest.raises(StateFileError, match="0600"):
        LocalKms(state=db)


def test_a_short_root_key_is_refused(saved_lab: Path, tmp_path: Path) -> None:
    db = _copy(saved_lab, tmp_path)
    (tmp_path / "lab.db.root-key").write_bytes(b"short")
    with pytest.raises(StateFileError, match="32 bytes"):
        LocalKms(state=db)


def test_a_seeded_persisted_lab_continues_its_random_stream(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with LocalKms(state=db, seed=5) as lab:
        first = new_key(lab.client())
    with LocalKms(state=db, seed=5) as lab:
        second = new_key(lab.client())
    assert second != first


def test_a_reopened_seeded_lab_never_replays_key_material(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with LocalKms(state=db, seed=3) as lab:
        kms = lab.client()
        key_id = new_key(kms)
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
        lab.clock.advance(days=91)  # rotates; then the process "ends"
    with LocalKms(state=db, seed=3) as lab:
        kms = lab.client()
        material_id = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        draws = [kms.generate_random(NumberOfBytes=32)["Plaintext"] for _ in range(4)]
        sealed = kms.encrypt(KeyId=key_id, Plaintext=b"top secret")["CiphertextBlob"]
    # A draw that is the key's current material opens a fresh ciphertext outside KMS.
    stolen = []
    for draw in draws:
        try:
            parsed = blob_format.unpack(sealed)
            aad = parsed.header + encode_context({})
            stolen.append(aes_gcm_decrypt(draw, parsed.nonce, parsed.body, aad))
        except AeadError:
            pass
    assert stolen == [], "GenerateRandom returned the key's material"
    assert material_id not in [draw.hex() for draw in draws]


def test_the_memory_lab_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with LocalKms(seed=1) as lab:
        new_key(lab.client())
    assert list(tmp_path.iterdir()) == []
