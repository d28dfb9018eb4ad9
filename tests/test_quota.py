"""The simulated request quota: a token bucket per account, Region and quota class.

Observed through genuine boto3 clients (in-process and over HTTP): throttled calls arrive as
AWS's ThrottlingException, other classes and Regions keep their own buckets, the lab clock
refills them, and botocore's retries get through.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab import LocalKms, ManualClock
from kmslab.bench.probe import ClientProbe
from kmslab.quota import (
    SYMMETRIC_CRYPTOGRAPHIC,
    THROTTLING_MESSAGE,
    RequestQuota,
    TokenBucket,
    quota_class,
)

NO_RETRIES = Config(retries={"total_max_attempts": 1})
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def lab() -> Iterator[LocalKms]:
    with LocalKms(seed=3, clock=ManualClock(START)) as made:
        yield made


def throttled(call: object, **kwargs: object) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**kwargs)  # type: ignore[operator]
    return info.value


# -- the bucket ----------------------------------------------------------------------------------


def test_bucket_starts_full_empties_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2, capacity=3)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time(10.0) == pytest.approx(0.5)
    assert not bucket.take(10.4)  # 0.8 tokens
    assert bucket.take(10.5)  # 1.0 token
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]  # capped at 3


def test_bucket_ignores_a_clock_that_goes_back() -> None:
    bucket = TokenBucket(rate=1, capacity=1)
    assert bucket.take(5.0)
    assert not bucket.take(4.0)
    assert not bucket.take(5.5)
    assert bucket.take(6.0)


@pytest.mark.parametrize(
    ("rate", "capacity"), [(0, 1), (-1, 1), (math.inf, 1), (1, 0.5), (1, math.nan)]
)
def test_bucket_rejects_nonsense(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, capacity=capacity)


def test_symmetric_cryptographic_operations_share_one_class() -> None:
    shared = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"}
    shared |= {"ReEncrypt", "GenerateMac", "VerifyMac", "GenerateRandom"}
    assert {quota_class(op) for op in shared} == {SYMMETRIC_CRYPTOGRAPHIC}
    assert quota_class("CreateKey") == "CreateKey"
    assert quota_class("DescribeKey") == "DescribeKey"


# -- through boto3 -------------------------------------------------------------------------------


def test_quota_is_off_by_default(lab: LocalKms) -> None:
    kms = lab.client(config=NO_RETRIES)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(25):
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert lab.set_quota(None) is None


def test_throttles_with_the_aws_error_and_recovers_when_the_clock_moves(lab: LocalKms) -> None:
    kms = lab.client(config=NO_RETRIES)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    quota = lab.set_quota(2, burst=2)
    blob = kms.encrypt(KeyId=key, Plaintext=b"one")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)  # the same shared bucket: now empty
    error = throttled(kms.generate_data_key, KeyId=key, KeySpec="AES_256")
    assert error.response["Error"] == {"Code": "ThrottlingException", "Message": THROTTLING_MESSAGE}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert lab.trail[-1]["errorCode"] == "ThrottlingException"
    # Another quota class has its own bucket.
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
    lab.clock.advance(seconds=0.5)  # one token at 2 per second
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"one"
    throttled(kms.encrypt, KeyId=key, Plaintext=b"two")
    assert quota.throttled[SYMMETRIC_CRYPTOGRAPHIC] == 2
    lab.set_quota(None)
    kms.encrypt(KeyId=key, Plaintext=b"three")


def test_each_region_and_account_has_its_own_bucket(lab: LocalKms) -> None:
    east = lab.client(config=NO_RETRIES)
    west = lab.client(region_name="eu-west-1", config=NO_RETRIES)
    east_key = east.create_key()["KeyMetadata"]["KeyId"]
    west_key = west.create_key()["KeyMetadata"]["KeyId"]
    lab.set_quota(1, burst=1)
    east.encrypt(KeyId=east_key, Plaintext=b"x")
    throttled(east.encrypt, KeyId=east_key, Plaintext=b"x")
    west.encrypt(KeyId=west_key, Plaintext=b"x")
    quota = RequestQuota(1, burst=1)
    quota.take("111122223333", "us-east-1", "Encrypt", START)
    quota.take("444455556666", "us-east-1", "Encrypt", START)  # another account: its own


def test_per_class_rates(lab: LocalKms) -> None:
    kms = lab.client(config=NO_RETRIES)
    lab.set_quota(100, burst=1, per_class={"CreateKey": 0.1})
    kms.create_key()
    throttled(kms.create_key)
    lab.clock.advance(seconds=9)
    throttled(kms.create_key)
    lab.clock.advance(seconds=1)
    kms.create_key()


def test_throttled_over_http_too(lab: LocalKms) -> None:
    import boto3

    from kmslab import server
    from kmslab.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY

    with server.running(lab) as running:
        kms = boto3.session.Session().client(
            "kms",
            region_name="us-east-1",
            endpoint_url=running.endpoint,
            aws_access_key_id=ADMIN_ACCESS_KEY_ID,
            aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
            config=NO_RETRIES,
        )
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        lab.set_quota(1, burst=1)
        kms.encrypt(KeyId=key, Plaintext=b"x")
        error = throttled(kms.encrypt, KeyId=key, Plaintext=b"x")
        assert error.response["Error"] == {
            "Code": "ThrottlingException",
            "Message": THROTTLING_MESSAGE,
        }
        kms.close()


def test_botocore_retries_get_through_a_real_time_quota() -> None:
    with LocalKms(seed=4) as lab:  # the default clock: buckets refill in real time
        kms = lab.client(config=Config(retries={"mode": "standard", "max_attempts": 10}))
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        probe = ClientProbe(kms)
        lab.set_quota(50, burst=1)
        for _ in range(3):
            kms.encrypt(KeyId=key, Plaintext=b"retried until admitted")
        counts = probe.counts()
        assert counts.throttled >= 1
        assert counts.requests == 3 + counts.throttled
