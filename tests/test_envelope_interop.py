"""kmslab.envelope and the official aws-encryption-sdk decrypt each other's messages (kmslab KMS).

The SDK makes its own KMS clients from a botocore session; ``lab.botocore_session()`` gives it one
whose KMS clients the lab answers in-process, so both sides use the same keys and nothing leaves
the process. The SDK's 4.x keyrings need the Material Providers Library, which is not installed;
its legacy master-key providers (``StrictAwsKmsMasterKeyProvider``) are what it still ships.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from kmslab import LocalKms, envelope
from kmslab.envelope import Suite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import aws_encryption_sdk
    from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider
    from aws_encryption_sdk.identifiers import Algorithm

UNSIGNED = Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
SIGNED = Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
SUITES = [pytest.param(UNSIGNED, id="0x0478"), pytest.param(SIGNED, id="0x0578")]
CONTEXT = {"purpose": "interop", "team": "kmslab"}


@pytest.fixture(scope="module")
def interop_lab() -> Iterator[LocalKms]:
    with LocalKms(seed=9) as lab:
        yield lab


@pytest.fixture(scope="module")
def kms(interop_lab: LocalKms) -> Any:
    return interop_lab.client()


@pytest.fixture(scope="module")
def arns(kms: Any) -> tuple[str, str]:
    return (
        kms.create_key()["KeyMetadata"]["Arn"],
        kms.create_key()["KeyMetadata"]["Arn"],
    )


@pytest.fixture(scope="module")
def provider(interop_lab: LocalKms) -> Any:
    """provider(*arns): an SDK master-key provider for those keys, through the lab."""
    session = interop_lab.botocore_session()

    def make(*key_arns: str) -> Any:
        return StrictAwsKmsMasterKeyProvider(key_ids=list(key_arns), botocore_session=session)

    return make


@pytest.fixture(scope="module")
def sdk() -> Any:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


@pytest.fixture(scope="module")
def legacy_sdk() -> Any:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )


def data(n: int) -> bytes:
    return (bytes(range(253)) * (n // 253 + 1))[:n]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("frame", [4096, 65536])
def test_sdk_decrypts_kmslab_messages(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any, suite: Suite, frame: int
) -> None:
    for size in (0, 1, frame, 2 * frame, 2 * frame + 1):
        message = envelope.encrypt(
            kms,
            data(size),
            key_id=arns[0],
            suite=suite,
            frame_length=frame,
            encryption_context=CONTEXT,
        )
        plaintext, header = sdk.decrypt(source=message, key_provider=provider(arns[0]))
        assert plaintext == data(size)
        assert header.algorithm.algorithm_id == suite.value
        assert header.frame_length == frame
        assert {k: header.encryption_context[k] for k in CONTEXT} == CONTEXT


@pytest.mark.parametrize("suite", SUITES)
def test_sdk_decrypts_with_any_of_several_kms_keys(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any, suite: Suite
) -> None:
    message = envelope.encrypt(kms, data(10_000), key_id=list(arns), suite=suite)
    for arn in arns:
        plaintext, _ = sdk.decrypt(source=message, key_provider=provider(arn))
        assert plaintext == data(10_000)


@pytest.mark.parametrize("suite", SUITES)
def test_large_messages_both_ways(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any, suite: Suite
) -> None:
    """Past 1 MiB, kmslab batches frames into chunks and writes from a thread: still the format."""
    plain = data(3 * 1024 * 1024 + 7)
    for frame in (4096, envelope.DEFAULT_FRAME_LENGTH):
        message = envelope.encrypt(kms, plain, key_id=arns[0], suite=suite, frame_length=frame)
        assert sdk.decrypt(source=message, key_provider=provider(arns[0]))[0] == plain
    options = {"algorithm": Algorithm.get_by_id(suite.value)}
    message, _ = sdk.encrypt(source=plain, key_provider=provider(arns[0]), **options)
    assert envelope.decrypt(kms, message) == plain


def test_sdk_streams_a_kmslab_message(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any
) -> None:
    message = envelope.encrypt(kms, data(300_000), key_id=arns[0], suite=SIGNED)
    import io

    with sdk.stream(mode="d", source=io.BytesIO(message), key_provider=provider(arns[0])) as dec:
        assert b"".join(dec) == data(300_000)


SDK_CASES = [
    pytest.param(None, 4096, id="sdk-defaults"),
    pytest.param(Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 1024, id="0x0478-1KiB"),
    pytest.param(Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 65536, id="0x0478-64KiB"),
    pytest.param(Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, 0, id="0x0578-nonframed"),
]


@pytest.mark.parametrize(("algorithm", "frame"), SDK_CASES)
def test_kmslab_decrypts_sdk_messages(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any, algorithm: Any, frame: int
) -> None:
    options = {} if algorithm is None else {"algorithm": algorithm}
    for size in (0, 4096, 10_000):
        message, _ = sdk.encrypt(
            source=data(size),
            key_provider=provider(arns[0]),
            encryption_context=CONTEXT,
            frame_length=frame,
            **options,
        )
        assert envelope.decrypt(kms, message, encryption_context=CONTEXT) == data(size)
        mapped = envelope.inspect(message)
        assert mapped.plaintext_length == size
        expected = SIGNED if algorithm is None else Suite(algorithm.algorithm_id)
        assert mapped.header.suite is expected


LEGACY = [
    Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,  # the SDK's 1.x default
    Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256,
    Algorithm.AES_256_GCM_IV12_TAG16,
    Algorithm.AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
    Algorithm.AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
]


@pytest.mark.parametrize("algorithm", LEGACY, ids=lambda a: f"0x{a.algorithm_id:04X}")
@pytest.mark.parametrize("frame", [0, 4096])
def test_kmslab_reads_version_1_messages(
    kms: Any, arns: tuple[str, str], provider: Any, legacy_sdk: Any, algorithm: Any, frame: int
) -> None:
    message, _ = legacy_sdk.encrypt(
        source=data(9000), key_provider=provider(arns[0]), algorithm=algorithm, frame_length=frame
    )
    assert message[0] == 1
    assert envelope.decrypt(kms, message) == data(9000)
    with pytest.raises(envelope.UnsupportedMessageError, match="key commitment"):
        envelope.decrypt(kms, message, require_commitment=True)


def test_kmslab_decrypts_an_sdk_message_with_several_keys(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any
) -> None:
    message, _ = sdk.encrypt(source=b"two keys", key_provider=provider(*arns))
    assert sorted(envelope.inspect(message).header.key_arns) == sorted(arns)
    assert envelope.decrypt(kms, message, key_ids=[arns[1]]) == b"two keys"


@pytest.mark.parametrize(
    "algorithm",
    [None, Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384],
    ids=["0x0578", "0x0378"],
)
def test_rewrapped_sdk_messages_still_decrypt_with_the_sdk(
    kms: Any, arns: tuple[str, str], provider: Any, sdk: Any, legacy_sdk: Any, algorithm: Any
) -> None:
    client = sdk if algorithm is None else legacy_sdk
    options = {} if algorithm is None else {"algorithm": algorithm}
    message, _ = client.encrypt(
        source=data(20_000), key_provider=provider(arns[0]), encryption_context=CONTEXT, **options
    )
    moved = envelope.rewrap(kms, message, key_id=arns[1])
    before, after = envelope.inspect(message), envelope.inspect(moved)
    assert message[slice(*before.section("body"))] == moved[slice(*after.section("body"))]
    plaintext, _ = client.decrypt(source=moved, key_provider=provider(arns[1]))
    assert plaintext == data(20_000)
