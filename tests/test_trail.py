"""The CloudTrail-like trail: every call is there, and no secret is.

Each test uses a private lab, so the trail holds exactly the calls the test made.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from conftest import ACCOUNT, RAW, START, fails, key_arn, new_key

from kmslab import LocalKms


def api_calls(lab: LocalKms) -> list[dict[str, Any]]:
    return [e for e in lab.trail if e["eventType"] == "AwsApiCall"]


def test_every_call_is_recorded(make_lab: Any) -> None:
    lab = make_lab()
    kms = lab.client()
    eu = lab.client(region_name="eu-west-1")

    key_id = new_key(kms, Description="trail")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"logged call")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    fails(kms.describe_key, KeyId="fake-key-id")
    fails(eu.describe_key, KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    fails(kms.encrypt, KeyId=key_id, Plaintext=b"refused")
    fails(kms.encrypt, KeyId=key_id, Plaintext=b"x" * 4097)

    events = api_calls(lab)
    assert [(e["eventName"], e["awsRegion"]) for e in events] == [
        ("CreateKey", "us-east-1"),
        ("Encrypt", "us-east-1"),
        ("Decrypt", "us-east-1"),
        ("DescribeKey", "us-east-1"),
        ("DescribeKey", "eu-west-1"),
        ("DisableKey", "us-east-1"),
        ("Encrypt", "us-east-1"),
        ("Encrypt", "us-east-1"),
    ]
    for event in events:
        assert event["eventSource"] == "kms.amazonaws.com"
        assert event["eventTime"] == "2026-01-01T00:00:00Z"
        assert event["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
        assert event["userIdentity"]["accountId"] == ACCOUNT
        assert event["recipientAccountId"] == ACCOUNT
        assert event["requestID"]

    failures = {i: (events[i]["errorCode"], events[i]["errorMessage"]) for i in (3, 4, 6, 7)}
    assert failures == {
        3: ("NotFoundException", "Invalid keyId 'fake-key-id'"),
        4: (
            "NotFoundException",
            f"Key 'arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}' does not exist",
        ),
        6: ("DisabledException", f"{key_arn(key_id)} is disabled."),
        7: (
            "ValidationException",
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
            "Member must have length less than or equal to 4096",
        ),
    }
    for i in (0, 1, 2, 5):
        assert "errorCode" not in events[i] and "errorMessage" not in events[i]
    # The key a call touched is named in its resources.
    assert events[1]["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(key_id)}
    ]
    assert events[2]["resources"][0]["ARN"] == key_arn(key_id)
    assert events[1]["requestParameters"]["keyId"] == key_id
    assert events[0]["readOnly"] is False
    assert events[3]["readOnly"] is True


def test_the_trail_is_json_and_in_time_order(make_lab: Any) -> None:
    lab = make_lab()
    kms = lab.client()
    new_key(kms)
    lab.clock.advance(days=1)
    new_key(kms)
    text = json.dumps(lab.trail)
    times = [e["eventTime"] for e in json.loads(text)]
    assert times == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]


def _forms(secret: bytes) -> list[str]:
    """Every way a secret could show up in JSON text."""
    forms = [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
    ]
    latin = secret.decode("latin-1")
    forms += [latin, json.dumps(latin)[1:-1], json.dumps(latin, ensure_ascii=False)[1:-1]]
    return [f for f in forms if f]


CONTEXT = {"tenant": "visible-context-value"}


def test_no_plaintext_or_data_key_reaches_the_trail(make_lab: Any) -> None:
    lab = make_lab(seed=None)
    kms = lab.client()
    raw = lab.client(config=RAW)
    key_id = new_key(kms)
    other = new_key(kms)
    secrets: list[bytes] = []

    text_secret = b"correct horse battery staple"
    binary_secret = bytes(range(256))[::-1][:200]
    unicode_secret = "pässwörd-秘密-🔑".encode()
    for plaintext in (text_secret, binary_secret, unicode_secret):
        secrets.append(plaintext)
        out = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=CONTEXT)
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CONTEXT)
        assert back["Plaintext"] == plaintext
        kms.re_encrypt(
            CiphertextBlob=out["CiphertextBlob"],
            SourceEncryptionContext=CONTEXT,
            DestinationKeyId=other,
        )
    for spec in ("AES_256", "AES_128"):
        data_key = kms.generate_data_key(KeyId=key_id, KeySpec=spec)
        secrets.append(data_key["Plaintext"])
        assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == secrets[-1]
    wrapped = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=48)
    secrets.append(kms.decrypt(CiphertextBlob=wrapped["CiphertextBlob"])["Plaintext"])
    secrets.append(kms.generate_random(NumberOfBytes=64)["Plaintext"])
    # Failed calls carry plaintext too.
    refused = b"refused but secret " * 216
    secrets.append(refused)
    fails(raw.encrypt, KeyId=key_id, Plaintext=refused)
    kms.disable_key(KeyId=key_id)
    secrets.append(b"sent to a disabled key")
    fails(kms.encrypt, KeyId=key_id, Plaintext=secrets[-1])

    assert len(api_calls(lab)) == 21
    for dump in (json.dumps(lab.trail), json.dumps(lab.trail, ensure_ascii=False)):
        # The search works: what AWS does log (the encryption context) is found.
        assert "visible-context-value" in dump
        for secret in secrets:
            for form in _forms(secret):
                assert form not in dump, f"a secret reached the trail as {form[:20]!r}..."


def test_service_events_for_deletion(make_lab: Any) -> None:
    days = 7
    lab = make_lab()
    kms = lab.client()
    key_id = new_key(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    lab.clock.advance(days=days)
    (event,) = [e for e in lab.trail if e["eventType"] == "AwsServiceEvent"]
    assert event["eventName"] == "DeleteKey"
    assert event["eventTime"] == "2026-01-08T00:00:00Z"
    assert event["resources"][0]["ARN"] == key_arn(key_id)
    assert event["awsRegion"] == "us-east-1"
    assert event["userIdentity"]["accountId"] == ACCOUNT


def test_service_events_for_automatic_rotation(make_lab: Any) -> None:
    lab = make_lab()
    kms = lab.client()
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    lab.clock.advance(days=200)  # two rotations fall due in one step
    events = [e for e in lab.trail if e["eventType"] == "AwsServiceEvent"]
    assert [e["eventName"] for e in events] == ["RotateKey", "RotateKey"]
    assert [e["eventTime"] for e in events] == ["2026-04-01T00:00:00Z", "2026-06-30T00:00:00Z"]
    assert all(e["resources"][0]["ARN"] == key_arn(key_id) for e in events)
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 2


def test_catch_up_rotation_on_enable_is_recorded(make_lab: Any) -> None:
    lab = make_lab()
    kms = lab.client()
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    lab.clock.advance(days=100)
    kms.enable_key(KeyId=key_id)
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1  # it did rotate
    names = [e["eventName"] for e in lab.trail if e["eventType"] == "AwsServiceEvent"]
    assert names == ["RotateKey"]


def test_trail_times_follow_the_lab_clock(make_lab: Any) -> None:
    lab = make_lab()
    kms = lab.client()
    lab.clock.advance(days=3, hours=4)
    kms.generate_random(NumberOfBytes=1)
    assert lab.trail[-1]["eventTime"] == "2026-01-04T04:00:00Z"
    assert lab.clock.now() > START


def test_a_persisted_lab_reloads_only_the_newest_events(tmp_path: Any, monkeypatch: Any) -> None:
    """A server under load records a thousand calls a second: memory holds a window of the
    newest events (reloaded in order from the state file), the state file keeps every one."""
    import sqlite3

    import kmslab.store
    import kmslab.trail

    monkeypatch.setattr(kmslab.trail, "MEMORY_WINDOW", 5)
    monkeypatch.setattr(kmslab.store, "MEMORY_WINDOW", 5)
    monkeypatch.setattr(kmslab.trail.Trail.__init__, "__defaults__", (5,))
    state = tmp_path / "lab.db"
    lab = LocalKms(state=state)
    kms = lab.client()
    for n in range(8):
        kms.create_key(Description=f"key {n}")
    assert len(lab.trail) == 5
    assert [e["eventName"] for e in lab.trail] == ["CreateKey"] * 5
    lab.close()

    again = LocalKms(state=state)
    kms = again.client()
    kms.list_keys()
    seen = [(e["requestParameters"] or {}).get("description", e["eventName"]) for e in again.trail]
    assert seen == ["key 4", "key 5", "key 6", "key 7", "ListKeys"]
    again.close()
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM trail").fetchone()[0] == 9
