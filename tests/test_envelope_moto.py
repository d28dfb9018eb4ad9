"""kmslab.envelope over moto's KMS, both directions with the aws-encryption-sdk.

In its own module because moto's ``mock_aws`` answers every botocore request of the process while
it is active; here it is active only for these tests.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from kmslab import envelope
from kmslab.envelope import Suite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import aws_encryption_sdk
    import boto3
    import botocore.session
    from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider
    from moto import mock_aws

SUITES = [
    pytest.param(Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, id="0x0478"),
    pytest.param(Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, id="0x0578"),
]


@pytest.fixture(scope="module")
def moto_session() -> Iterator[Any]:
    with mock_aws():
        session = botocore.session.Session()
        session.set_credentials("testing", "testing")
        session.set_config_variable("region", "us-east-1")
        yield session


@pytest.fixture(scope="module")
def kms(moto_session: Any) -> Any:
    return boto3.session.Session(botocore_session=moto_session).client("kms")


@pytest.fixture(scope="module")
def arns(kms: Any) -> tuple[str, str]:
    return kms.create_key()["KeyMetadata"]["Arn"], kms.create_key()["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def sdk() -> Any:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def provider(session: Any, *key_arns: str) -> Any:
    return StrictAwsKmsMasterKeyProvider(key_ids=list(key_arns), botocore_session=session)


@pytest.mark.parametrize("suite", SUITES)
def test_sdk_decrypts_kmslab_messages_on_moto(
    moto_session: Any, kms: Any, arns: tuple[str, str], sdk: Any, suite: Suite
) -> None:
    for size, frame in ((0, 4096), (8192, 4096), (70_000, 65536)):
        plain = bytes(size)
        message = envelope.encrypt(
            kms,
            plain,
            key_id=list(arns),
            suite=suite,
            frame_length=frame,
            encryption_context={"on": "moto"},
        )
        decrypted, _ = sdk.decrypt(source=message, key_provider=provider(moto_session, arns[1]))
        assert decrypted == plain


@pytest.mark.parametrize("frame", [0, 4096])
def test_kmslab_decrypts_sdk_messages_on_moto(
    moto_session: Any, kms: Any, arns: tuple[str, str], sdk: Any, frame: int
) -> None:
    message, _ = sdk.encrypt(
        source=b"m" * 10_000,
        key_provider=provider(moto_session, *arns),
        frame_length=frame,
        encryption_context={"on": "moto"},
    )
    assert envelope.decrypt(kms, message, encryption_context={"on": "moto"}) == b"m" * 10_000
    moved = envelope.rewrap(kms, message, key_id=arns[1])
    decrypted, _ = sdk.decrypt(source=moved, key_provider=provider(moto_session, arns[1]))
    assert decrypted == b"m" * 10_000
