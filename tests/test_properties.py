"""Property tests: round trips, the canonical context encoding, and tampering.

Round trips and tampering go through one boto3 client per module (a client is expensive to
build, a call is not); the encoding properties are pure unit tests of kmslab.context and
kmslab.blob.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import error_of, key_arn, new_key
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kmslab import blob
from kmslab.context import decode_context, encode_context
from kmslab.errors import ValidationException

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

texts = st.text(max_size=24)
contexts = st.dictionaries(texts, st.text(max_size=48), max_size=6)


@pytest.fixture(scope="module")
def module_key(kms: Any) -> str:
    return new_key(kms)


# == round trips through the client ================================================================


@FAST
@given(plaintext=st.binary(min_size=1, max_size=4096), context=contexts)
def test_round_trip(kms: Any, module_key: str, plaintext: bytes, context: dict[str, str]) -> None:
    out = kms.encrypt(KeyId=module_key, Plaintext=plaintext, EncryptionContext=context)
    assert plaintext not in out["CiphertextBlob"] or len(plaintext) < 8
    back = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"],
        EncryptionContext=dict(reversed(list(context.items()))),
    )
    assert back["Plaintext"] == plaintext
    assert back["KeyId"] == key_arn(module_key)


@FAST
@given(size=st.integers(min_value=1, max_value=1024), context=contexts)
def test_data_key_round_trip(kms: Any, module_key: str, size: int, context: dict[str, str]) -> None:
    out = kms.generate_data_key(KeyId=module_key, NumberOfBytes=size, EncryptionContext=context)
    assert len(out["Plaintext"]) == size
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context)
    assert back["Plaintext"] == out["Plaintext"]


@FAST
@given(
    context=st.dictionaries(
        st.text(alphabet="abcXYZ-_", min_size=1, max_size=8), texts, min_size=1, max_size=5
    ),
    data=st.data(),
)
def test_a_context_key_changed_in_case_fails(
    kms: Any, module_key: str, context: dict[str, str], data: st.DataObject
) -> None:
    cased = [k for k in context if k.swapcase() != k]
    assume(cased)
    victim = data.draw(st.sampled_from(cased))
    changed = {(k.swapcase() if k == victim else k): v for k, v in context.items()}
    ciphertext = kms.encrypt(KeyId=module_key, Plaintext=b"case", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as info:
        kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext=changed)
    assert error_of(info.value) == ("InvalidCiphertextException", "")


@FAST
@given(context=contexts, extra_key=texts, extra_value=texts)
def test_any_other_context_fails(
    kms: Any, module_key: str, context: dict[str, str], extra_key: str, extra_value: str
) -> None:
    other = dict(context)
    other[extra_key] = extra_value
    assume(other != context)
    ciphertext = kms.encrypt(KeyId=module_key, Plaintext=b"ctx", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext=other)


# == tampering =====================================================================================

#: What a decrypt of damaged bytes may answer: never plaintext.
REFUSALS = {"InvalidCiphertextException", "AccessDeniedException", "IncorrectKeyException"}


def test_every_single_bit_flip_is_refused(kms: Any, module_key: str) -> None:
    context = {"purpose": "tamper"}
    original = kms.encrypt(KeyId=module_key, Plaintext=b"secret!", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    seen: set[str] = set()
    for bit in range(len(original) * 8):
        damaged = bytearray(original)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            out = kms.decrypt(CiphertextBlob=bytes(damaged), EncryptionContext=context)
        except ClientError as exc:
            code, _message = error_of(exc)
            assert code in REFUSALS, (bit, code)
            seen.add(code)
        else:  # pragma: no cover - the failure being looked for
            pytest.fail(f"flipping bit {bit} still decrypted, to {out['Plaintext']!r}")
    # The key id bits send the lookup elsewhere; everything else fails authentication.
    assert seen == {"InvalidCiphertextException", "AccessDeniedException"}
    assert (
        kms.decrypt(CiphertextBlob=original, EncryptionContext=context)["Plaintext"] == b"secret!"
    )


def test_every_truncation_is_refused(kms: Any, module_key: str) -> None:
    original = kms.encrypt(KeyId=module_key, Plaintext=b"truncate me")["CiphertextBlob"]
    for length in range(1, len(original)):
        with pytest.raises(kms.exceptions.InvalidCiphertextException) as info:
            kms.decrypt(CiphertextBlob=original[:length])
        assert error_of(info.value) == ("InvalidCiphertextException", ""), length


def test_appended_bytes_are_refused(kms: Any, module_key: str) -> None:
    original = kms.encrypt(KeyId=module_key, Plaintext=b"exact length")["CiphertextBlob"]
    for tail in (b"\x00", b"\xff" * 16):
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=original + tail)


@FAST
@given(junk=st.binary(min_size=1, max_size=200))
def test_random_bytes_are_refused(kms: Any, junk: bytes) -> None:
    with pytest.raises(ClientError) as info:
        kms.decrypt(CiphertextBlob=junk)
    assert error_of(info.value)[0] in REFUSALS


def test_swapped_key_is_refused(kms: Any, module_key: str) -> None:
    other = new_key(kms)
    ciphertext = kms.encrypt(KeyId=module_key, Plaintext=b"mine")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=ciphertext, KeyId=other)


# == the canonical encryption-context encoding (pure) ==============================================


@settings(max_examples=100, deadline=None)
@given(context=contexts)
def test_decode_inverts_encode(context: dict[str, str]) -> None:
    assert decode_context(encode_context(context)) == context


@settings(max_examples=100, deadline=None)
@given(context=contexts, data=st.data())
def test_encoding_ignores_pair_order(context: dict[str, str], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(list(context.items())))
    assert encode_context(dict(shuffled)) == encode_context(context)


@settings(max_examples=100, deadline=None)
@given(one=contexts, two=contexts)
def test_encoding_is_injective(one: dict[str, str], two: dict[str, str]) -> None:
    assume(one != two)
    assert encode_context(one) != encode_context(two)


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ({"a": "bc"}, {"ab": "c"}),
        ({"a": ""}, {"": "a"}),
        ({"a": "b", "c": "d"}, {"a": "b\x00\x01c\x00\x01d"}),
        ({"k": "v"}, {"K": "v"}),
        ({"": ""}, {}),
    ],
)
def test_encoding_separates_lookalikes(one: dict[str, str], two: dict[str, str]) -> None:
    assert encode_context(one) != encode_context(two)


def test_encoding_layout() -> None:
    assert encode_context(None) == encode_context({}) == b"\x00\x00"
    assert encode_context({"b": "2", "a": "1"}) == (
        b"\x00\x02" + b"\x00\x01a\x00\x011" + b"\x00\x01b\x00\x012"
    )
    # Lengths count UTF-8 bytes, not characters.
    assert (
        encode_context({"é": "€"})
        == b"\x00\x01\x00\x02" + "é".encode() + b"\x00\x03" + "€".encode()
    )


def test_decode_rejects_non_canonical_bytes() -> None:
    good = encode_context({"a": "1", "b": "2"})
    unsorted = b"\x00\x02" + b"\x00\x01b\x00\x012" + b"\x00\x01a\x00\x011"
    for bad in (good + b"\x00", good[:-1], unsorted, b"\x00\x01\x00\x05ab"):
        with pytest.raises((ValueError, struct.error)):
            decode_context(bad)


def test_a_too_long_value_is_a_validation_error() -> None:
    with pytest.raises(ValidationException):
        encode_context({"k": "v" * 65536})


def test_more_pairs_than_the_count_holds_is_a_validation_error() -> None:
    with pytest.raises(ValidationException):
        encode_context({str(i): "" for i in range(65536)})


# == the blob layout (pure) ========================================================================


@pytest.mark.parametrize(
    "key_id", ["1234abcd-12ab-44cd-96ef-1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab"]
)
def test_blob_pack_unpack(key_id: str) -> None:
    material = "ab" * 32
    header = blob.make_header("111122223333", key_id, material)
    assert len(header) == blob.HEADER_BYTES
    assert header[0] == blob.VERSION
    data = blob.pack(header, b"n" * blob.NONCE_BYTES, b"body" + b"t" * blob.TAG_BYTES)
    parsed = blob.unpack(data)
    assert (parsed.account, parsed.key_id, parsed.key_material_id) == (
        "111122223333",
        key_id,
        material,
    )
    assert (parsed.nonce, parsed.body, parsed.header) == (
        b"n" * blob.NONCE_BYTES,
        b"body" + b"t" * blob.TAG_BYTES,
        header,
    )
    assert blob.OVERHEAD == blob.HEADER_BYTES + blob.NONCE_BYTES + blob.TAG_BYTES


def test_blob_docstring_states_the_overhead() -> None:
    doc = blob.__doc__ or ""
    assert f"Overhead is {blob.OVERHEAD} bytes" in doc
    assert f"a {4096 + blob.OVERHEAD}-byte blob" in doc
    assert f"AAD = bytes[0:{blob.HEADER_BYTES}]" in doc


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01" * blob.OVERHEAD,  # one byte short of the smallest blob
        b"\x02" + b"\x00" * 100,  # unknown version
        b"\x01\x07" + b"\x00" * 100,  # unknown key id form
    ],
)
def test_blob_unpack_refuses_non_blobs(data: bytes) -> None:
    with pytest.raises(blob.BlobFormatError):
        blob.unpack(data)
