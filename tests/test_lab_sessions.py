"""Every lab client has a botocore session of its own: one request is answered once, by its lab.

A regression test: when one botocore session was shared by every lab client, each new client
added another ``before-send`` handler to it, so one request was handled once per client made so
far (a CreateKey made several keys, a request quota lost several tokens a call) and the newest
lab answered the clients of every other lab.
"""

from __future__ import annotations

import kmslab


def test_one_request_is_one_call_on_its_own_lab() -> None:
    first, second = kmslab.LocalKms(seed=1), kmslab.LocalKms(seed=2)
    a1, a2 = first.client(), first.client()
    b = second.client()
    key = a1.create_key()["KeyMetadata"]["KeyId"]
    a2.encrypt(KeyId=key, Plaintext=b"x")
    assert [e["eventName"] for e in first.trail] == ["CreateKey", "Encrypt"]
    assert len(first.service.keys) == 1 and len(second.service.keys) == 0
    assert len(b.list_keys()["Keys"]) == 0
    assert [e["eventName"] for e in second.trail] == ["ListKeys"]


def test_a_request_quota_takes_one_token_a_call() -> None:
    lab = kmslab.LocalKms(seed=1, clock=kmslab.ManualClock())
    key = lab.client().create_key()["KeyMetadata"]["KeyId"]
    kms = lab.client()
    quota = lab.set_quota(10, burst=4)
    for _ in range(4):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert sum(quota.allowed.values()) == 4 and sum(quota.throttled.values()) == 0
