"""Imported key material (Origin EXTERNAL): kms-rules.md R11, through a genuine boto3 client.

Key material is made and wrapped OUTSIDE kmslab with `cryptography`, the way the AWS guide
("Step 3: Encrypt the key material") tells a user to with OpenSSL:

    RSAES_OAEP_SHA_256      openssl pkeyutl -encrypt -pubin -inkey WrappingPublicKey.bin
                              -keyform DER -pkeyopt rsa_padding_mode:oaep
                              -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
    RSA_AES_KEY_WRAP_SHA_256  openssl rand -out aes-key.bin 32
                            openssl enc -id-aes256-wrap-pad -K <aes key hex> -iv A65959A6
                              -in PlaintextKeyMaterial.der -out key-material-wrapped.bin
                            openssl pkeyutl -encrypt ... (aes-key.bin, as above)
                            cat aes-key-wrapped.bin key-material-wrapped.bin
                              > EncryptedKeyMaterial.bin

and every check that the imported material is really in use is made outside kmslab too: an
HMAC computed with `hmac`, a kmslab ciphertext opened with AES-GCM under the material (the blob
layout is kmslab's documented format, kmslab/blob.py), a signature verified with `cryptography`.

AWS-recorded messages asserted here: "<arn> origin is AWS_KMS which is not valid for this
operation.", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
"<arn> is pending import.", "No available key material pending rotation for the key: <arn>.".
Other messages of this family are kmslab's (unverified), so only their codes are asserted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import START, fails, key_arn
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab import LocalKms, ManualClock

OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"
NO_EXPIRY = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
EMPTY_CONTEXT = b"\x00\x00"  # kmslab/context.py: the canonical encoding of no context


# == outside kmslab: what a user does with `cryptography` =========================================


def wrap(public_key_der: bytes, algorithm: str, material: bytes) -> bytes:
    """Encrypt key material for import exactly as the AWS guide does (see the module doc)."""
    public = serialization.load_der_public_key(public_key_der)
    assert isinstance(public, rsa.RSAPublicKey)
    digest = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return public.encrypt(material, oaep)
    aes_key = os.urandom(32)  # the ephemeral AES key (openssl rand -out aes-key.bin 32)
    return public.encrypt(aes_key, oaep) + keywrap.aes_key_wrap_with_padding(aes_key, material)


def open_blob(blob: bytes, material: bytes) -> bytes:
    """Decrypt a kmslab symmetric ciphertext with raw key material (blob.py's layout)."""
    header, nonce, body = blob[:55], blob[55:67], blob[67:]
    return AESGCM(material).decrypt(nonce, body, header + EMPTY_CONTEXT)


def pkcs8(private_key: Any) -> bytes:
    der: bytes = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return der


# == through kmslab ===============================================================================


def external_key(kms: Any, **kwargs: Any) -> str:
    key_id: str = kms.create_key(Origin="EXTERNAL", **kwargs)["KeyMetadata"]["KeyId"]
    return key_id


def parameters(
    kms: Any, key_id: str, algorithm: str = OAEP_SHA_256, spec: str = "RSA_2048"
) -> dict[str, Any]:
    out: dict[str, Any] = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )
    return out


#: Parameters already fetched in this test, by (key id, algorithm, spec): an RSA key pair per
#: GetParametersForImport is slow to make, and a token serves for 24 hours.
_PARAMETERS: dict[tuple[str, str, str], dict[str, Any]] = {}


@pytest.fixture(autouse=True)
def _forget_parameters() -> None:
    _PARAMETERS.clear()


def import_material(
    kms: Any,
    key_id: str,
    material: bytes,
    algorithm: str = OAEP_SHA_256,
    spec: str = "RSA_2048",
    **kwargs: Any,
) -> dict[str, Any]:
    """GetParametersForImport (once per test, key and wrapping), wrap outside, import."""
    params = _PARAMETERS.get((key_id, algorithm, spec))
    if params is None:
        params = _PARAMETERS[key_id, algorithm, spec] = parameters(kms, key_id, algorithm, spec)
    if "ValidTo" not in kwargs:
        kwargs.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    out: dict[str, Any] = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        **kwargs,
    )
    return out


def metadata(kms: Any, key_id: str) -> dict[str, Any]:
    md: dict[str, Any] = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    return md


def encrypt(kms: Any, key_id: str, plaintext: bytes = b"imported") -> bytes:
    blob: bytes = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    return blob


def material_id(key_id: str, material: bytes) -> str:
    """The KeyMaterialId kmslab documents for imported material (kmslab/ops/importing.py)."""
    data = b"kmslab imported key material\x00" + key_id.encode() + b"\x00" + material
    return hashlib.sha256(data).hexdigest()


def rotations(kms: Any, key_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"
    )["Rotations"]
    return rows


@pytest.fixture
def clocked(make_lab: Callable[..., LocalKms]) -> tuple[LocalKms, Any]:
    """A private lab (its clock may move) and its client."""
    own = make_lab()
    return own, own.client()


# == CreateKey with Origin EXTERNAL ===============================================================


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    ],
    ids=["symmetric", "hmac", "rsa", "ecc"],
)
def test_an_external_key_waits_for_its_material(kms: Any, kwargs: dict[str, Any]) -> None:
    key_id = external_key(kms, **kwargs)
    md = metadata(kms, key_id)
    assert (md["Origin"], md["KeyState"], md["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    assert "ExpirationModel" not in md and "ValidTo" not in md
    # check_state refuses cryptography while PendingImport (AWS-recorded message)
    code, message = fails(kms.enable_key, KeyId=key_id)
    assert (code, message) == ("KMSInvalidStateException", f"{key_arn(key_id)} is pending import.")


def test_a_pending_import_key_refuses_to_encrypt(kms: Any) -> None:
    key_id = external_key(kms)
    code, message = fails(kms.encrypt, KeyId=key_id, Plaintext=b"x")
    assert (code, message) == ("KMSInvalidStateException", f"{key_arn(key_id)} is pending import.")
    assert "CurrentKeyMaterialId" not in metadata(kms, key_id)


# == GetParametersForImport =======================================================================


@pytest.mark.parametrize(
    ("spec", "bits"), [("RSA_2048", 2048), ("RSA_3072", 3072), ("RSA_4096", 4096)]
)
def test_parameters_carry_a_wrapping_public_key_valid_24_hours(
    kms: Any, spec: str, bits: int
) -> None:
    key_id = external_key(kms)
    params = parameters(kms, key_id, "RSA_AES_KEY_WRAP_SHA_1", spec)
    assert params["KeyId"] == key_arn(key_id)
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == bits
    assert params["ParametersValidTo"] == START + timedelta(hours=24)
    material = os.urandom(32)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], "RSA_AES_KEY_WRAP_SHA_1", material),
        **NO_EXPIRY,
    )
    assert open_blob(encrypt(kms, key_id), material) == b"imported"


def test_every_call_gives_a_fresh_wrapping_key(kms: Any) -> None:
    key_id = external_key(kms)
    assert parameters(kms, key_id)["PublicKey"] != parameters(kms, key_id)["PublicKey"]


def test_parameters_for_an_aws_kms_key_are_refused(kms: Any, key_id: str) -> None:
    code, message = fails(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm=OAEP_SHA_256,
        WrappingKeySpec="RSA_2048",
    )
    assert code == "UnsupportedOperationException"
    assert message == f"{key_arn(key_id)} origin is AWS_KMS which is not valid for this operation."


@pytest.mark.parametrize(
    ("algorithm", "spec", "code"),
    [
        ("RSAES_PKCS1_V1_5", "RSA_2048", "ValidationException"),
        ("SM2PKE", "SM2", "UnsupportedOperationException"),
        (OAEP_SHA_256, "SM2", "UnsupportedOperationException"),
    ],
)
def test_retired_and_china_only_wrapping_is_refused(
    kms: Any, algorithm: str, spec: str, code: str
) -> None:
    key_id = external_key(kms)
    got, message = fails(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm=algorithm,
        WrappingKeySpec=spec,
    )
    assert got == code and message


def test_parameters_need_a_key_id_not_an_alias(kms: Any) -> None:
    key_id = external_key(kms)
    kms.create_alias(AliasName="alias/byok-params", TargetKeyId=key_id)
    code, _ = fails(
        kms.get_parameters_for_import,
        KeyId="alias/byok-params",
        WrappingAlgorithm=OAEP_SHA_256,
        WrappingKeySpec="RSA_2048",
    )
    assert code == "NotFoundException"


def test_no_parameters_while_pending_deletion(kms: Any) -> None:
    key_id = external_key(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    code, message = fails(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm=OAEP_SHA_256,
        WrappingKeySpec="RSA_2048",
    )
    assert (code, message) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending deletion.",
    )


# == ImportKeyMaterial: the material really is the imported one ===================================


@pytest.mark.parametrize(
    "algorithm",
    ["RSAES_OAEP_SHA_1", OAEP_SHA_256, "RSA_AES_KEY_WRAP_SHA_1", KEY_WRAP_SHA_256],
)
def test_hmac_material_imported_with_every_algorithm_is_the_one_in_use(
    kms: Any, algorithm: str
) -> None:
    key_id = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    material = os.urandom(32)
    out = import_material(kms, key_id, material, algorithm)
    assert out["KeyId"] == key_arn(key_id)
    assert "KeyMaterialId" not in out  # only symmetric encryption keys expose it
    assert metadata(kms, key_id)["KeyState"] == "Enabled"
    mac = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == hmac.new(material, b"message", hashlib.sha256).digest()


def test_symmetric_material_encrypts_what_aes_gcm_opens_outside(kms: Any) -> None:
    key_id = external_key(kms, Description="BYOK")
    material = os.urandom(32)
    out = import_material(
        kms, key_id, material, KEY_WRAP_SHA_256, ValidTo=START + timedelta(days=30)
    )
    expected_id = material_id(key_id, material)
    assert out == {
        "KeyId": key_arn(key_id),
        "KeyMaterialId": expected_id,
        "ResponseMetadata": out["ResponseMetadata"],
    }
    md = metadata(kms, key_id)
    assert (md["KeyState"], md["Enabled"], md["Origin"]) == ("Enabled", True, "EXTERNAL")
    assert md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert md["ValidTo"] == START + timedelta(days=30)
    assert md["CurrentKeyMaterialId"] == expected_id
    blob = encrypt(kms, key_id, b"made with my own key")
    assert blob[23:55].hex() == expected_id  # the blob names the imported material
    assert open_blob(blob, material) == b"made with my own key"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"made with my own key"


def test_an_ecc_private_key_wrapped_with_aes_key_wrap_signs_for_its_public_key(kms: Any) -> None:
    key_id = external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    private = ec.generate_private_key(ec.SECP256R1())
    import_material(kms, key_id, pkcs8(private), KEY_WRAP_SHA_256)
    public_der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    assert public_der == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_an_rsa_private_key_imports_with_rsa_aes_key_wrap(kms: Any) -> None:
    key_id = external_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    private = rsa.generate_private_key(65537, 2048)
    import_material(kms, key_id, pkcs8(private), "RSA_AES_KEY_WRAP_SHA_1")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ciphertext = private.public_key().encrypt(b"to the imported key", oaep)
    out = kms.decrypt(
        KeyId=key_id, CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert out["Plaintext"] == b"to the imported key"


# == ImportKeyMaterial: the rules =================================================================


@pytest.fixture(scope="module")
def spare(kms: Any) -> tuple[str, dict[str, Any], bytes]:
    """An EXTERNAL key of the shared lab that never gets material, its parameters and material
    wrapped for them: for requests that must fail (making RSA wrapping keys is slow)."""
    key_id = external_key(kms, Description="spare")
    params = parameters(kms, key_id)
    return key_id, params, wrap(params["PublicKey"], OAEP_SHA_256, os.urandom(32))


def test_valid_to_is_required_by_default(kms: Any, spare: tuple[str, Any, bytes]) -> None:
    key_id, params, wrapped = spare
    code, message = fails(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
    )
    assert (code, message) == (
        "ValidationException",
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": START + timedelta(days=1)},
        {"ValidTo": START - timedelta(seconds=1)},
        {"ValidTo": START},
        {"ValidTo": START + timedelta(days=365, seconds=1)},
    ],
    ids=["valid-to-forbidden", "valid-to-past", "valid-to-now", "valid-to-beyond-365-days"],
)
def test_valid_to_rules(kms: Any, spare: tuple[str, Any, bytes], kwargs: dict[str, Any]) -> None:
    key_id, params, wrapped = spare
    code, _ = fails(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        **kwargs,
    )
    assert code == "ValidationException"
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"


def test_valid_to_of_exactly_365_days_is_accepted(kms: Any) -> None:
    key_id = external_key(kms)
    import_material(kms, key_id, os.urandom(32), ValidTo=START + timedelta(days=365))
    assert metadata(kms, key_id)["ValidTo"] == START + timedelta(days=365)


def test_import_into_an_aws_kms_key_is_refused(
    kms: Any, key_id: str, spare: tuple[str, Any, bytes]
) -> None:
    _, params, wrapped = spare
    code, message = fails(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        **NO_EXPIRY,
    )
    assert code == "UnsupportedOperationException"
    assert message == f"{key_arn(key_id)} origin is AWS_KMS which is not valid for this operation."


def test_a_token_of_another_key_or_garbage_is_an_invalid_import_token(
    kms: Any, spare: tuple[str, Any, bytes]
) -> None:
    key_id = external_key(kms)
    _, params, wrapped = spare  # the spare key's token
    for token in (params["ImportToken"], b"not a token", params["ImportToken"][:-1] + b"!"):
        code, _ = fails(
            kms.import_key_material,
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=wrapped,
            **NO_EXPIRY,
        )
        assert code == "InvalidImportTokenException"
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"


def test_material_wrapped_for_other_parameters_does_not_unwrap(kms: Any) -> None:
    key_id = external_key(kms)
    first, second = parameters(kms, key_id), parameters(kms, key_id, KEY_WRAP_SHA_256)
    material = os.urandom(32)
    for token, wrapped in (
        # the public key of the other parameters (each token is bound to its own)
        (first["ImportToken"], wrap(second["PublicKey"], OAEP_SHA_256, material)),
        (second["ImportToken"], wrap(first["PublicKey"], KEY_WRAP_SHA_256, material)),
        # the right public key, the wrong OAEP hash
        (first["ImportToken"], wrap(first["PublicKey"], "RSAES_OAEP_SHA_1", material)),
    ):
        code, _ = fails(
            kms.import_key_material,
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=wrapped,
            **NO_EXPIRY,
        )
        assert code == "InvalidCiphertextException"
    code, message = fails(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=first["ImportToken"],
        EncryptedKeyMaterial=os.urandom(100),
        **NO_EXPIRY,
    )
    assert (code, message) == ("ValidationException", "Invalid encrypted key size.")


@pytest.mark.parametrize(
    ("kwargs", "material"),
    [
        ({}, os.urandom(16)),
        ({"KeySpec": "HMAC_512", "KeyUsage": "GENERATE_VERIFY_MAC"}, os.urandom(32)),
        (
            {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
            pkcs8(ec.generate_private_key(ec.SECP384R1())),
        ),
        ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, os.urandom(138)),
    ],
    ids=["symmetric-128-bit", "hmac-512-short", "p384-into-p256", "not-der"],
)
def test_material_that_does_not_suit_the_key_spec_is_incorrect(
    kms: Any, kwargs: dict[str, Any], material: bytes
) -> None:
    key_id = external_key(kms, **kwargs)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, material, KEY_WRAP_SHA_256)
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"


def test_only_the_same_material_can_be_imported_again(kms: Any) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(32))
    # the same material again, with another wrapping, changes only the expiry
    out = import_material(
        kms, key_id, material, KEY_WRAP_SHA_256, ValidTo=START + timedelta(days=9)
    )
    assert out["KeyMaterialId"] == material_id(key_id, material)
    md = metadata(kms, key_id)
    assert (md["ExpirationModel"], md["ValidTo"]) == (
        "KEY_MATERIAL_EXPIRES",
        START + timedelta(days=9),
    )
    assert open_blob(encrypt(kms, key_id), material) == b"imported"


def test_asymmetric_and_hmac_keys_take_no_import_type(kms: Any) -> None:
    key_id = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    with pytest.raises(kms.exceptions.ClientError) as info:
        import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    material = os.urandom(32)
    import_material(kms, key_id, material)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(32))  # one material per HMAC key, for good


def test_a_key_material_id_must_match_the_material(kms: Any) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, material, KeyMaterialId="ab" * 32)
    out = import_material(kms, key_id, material, KeyMaterialId=material_id(key_id, material))
    assert out["KeyMaterialId"] == material_id(key_id, material)


def test_the_trail_never_records_the_wrapped_material_or_the_token(
    clocked: tuple[LocalKms, Any],
) -> None:
    lab, kms = clocked
    key_id = external_key(kms)
    import_material(kms, key_id, os.urandom(32))
    event = [e for e in lab.trail if e["eventName"] == "ImportKeyMaterial"][-1]
    assert event["requestParameters"] == {
        "keyId": key_id,
        "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }


# == the lab clock: the token's 24 hours and the material's ValidTo ===============================


def test_an_import_token_expires_after_24_hours(clocked: tuple[LocalKms, Any]) -> None:
    lab, kms = clocked
    key_id = external_key(kms)
    params = parameters(kms, key_id)
    wrapped = wrap(params["PublicKey"], OAEP_SHA_256, os.urandom(32))
    lab.clock.advance(hours=24, seconds=1)
    code, _ = fails(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        **NO_EXPIRY,
    )
    assert code == "ExpiredImportTokenException"


def test_a_token_is_good_until_its_last_second(clocked: tuple[LocalKms, Any]) -> None:
    lab, kms = clocked
    key_id = external_key(kms)
    params = parameters(kms, key_id)
    lab.clock.advance(hours=24)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], OAEP_SHA_256, os.urandom(32)),
        **NO_EXPIRY,
    )
    assert metadata(kms, key_id)["KeyState"] == "Enabled"


def test_material_expires_on_the_lab_clock_and_comes_back_by_reimport(
    clocked: tuple[LocalKms, Any],
) -> None:
    lab, kms = clocked
    key_id, arn = (k := external_key(kms)), key_arn(k)
    material = os.urandom(32)
    import_material(kms, key_id, material, ValidTo=START + timedelta(days=2))
    blob = encrypt(kms, key_id, b"before expiry")
    lab.clock.advance(days=2)
    md = metadata(kms, key_id)
    assert (md["KeyState"], md["Enabled"]) == ("PendingImport", False)
    assert "ValidTo" not in md and "ExpirationModel" not in md
    for call, kwargs in (
        (kms.decrypt, {"CiphertextBlob": blob}),
        (kms.encrypt, {"KeyId": key_id, "Plaintext": b"x"}),
    ):
        assert fails(call, **kwargs) == ("KMSInvalidStateException", f"{arn} is pending import.")
    assert [e["eventType"] for e in lab.trail if e["eventName"] == "DeleteExpiredKeyMaterial"] == [
        "AwsServiceEvent"
    ]
    _PARAMETERS.clear()  # the token fetched before the clock moved has expired
    (row,) = rotations(kms, key_id)
    assert (row["ImportState"], row["KeyMaterialState"]) == ("PENDING_IMPORT", "CURRENT")
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(32))
    import_material(kms, key_id, material)  # the same material, now without expiry
    assert metadata(kms, key_id)["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before expiry"
    lab.clock.advance(days=400)
    assert metadata(kms, key_id)["KeyState"] == "Enabled"


def test_expiry_while_pending_deletion_keeps_the_state_and_cancel_awaits_import(
    clocked: tuple[LocalKms, Any],
) -> None:
    lab, kms = clocked
    key_id = external_key(kms)
    import_material(kms, key_id, os.urandom(32), ValidTo=START + timedelta(days=1))
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    lab.clock.advance(days=2)
    assert metadata(kms, key_id)["KeyState"] == "PendingDeletion"
    assert rotations(kms, key_id)[0]["ImportState"] == "PENDING_IMPORT"
    kms.cancel_key_deletion(KeyId=key_id)
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"  # not Disabled: no material


# == DeleteImportedKeyMaterial ====================================================================


def test_deleted_material_comes_back_only_by_reimport(kms: Any) -> None:
    key_id, arn = (k := external_key(kms)), key_arn(k)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    blob = encrypt(kms, key_id, b"kept safe")
    out = kms.delete_imported_key_material(KeyId=key_id)
    assert (out["KeyId"], out["KeyMaterialId"]) == (arn, material_id(key_id, material))
    md = metadata(kms, key_id)
    assert (md["KeyState"], md["Enabled"]) == ("PendingImport", False)
    assert md["CurrentKeyMaterialId"] == material_id(key_id, material)  # still associated
    assert fails(kms.decrypt, CiphertextBlob=blob) == (
        "KMSInvalidStateException",
        f"{arn} is pending import.",
    )
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(32))
    import_material(kms, key_id, material, KEY_WRAP_SHA_256)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept safe"


def test_deleting_from_a_disabled_key_leaves_it_pending_import(kms: Any) -> None:
    key_id = external_key(kms)
    material = os.urandom(32)
    import_material(kms, key_id, material)
    kms.disable_key(KeyId=key_id)
    import_material(kms, key_id, material)  # a re-import does not enable a disabled key
    assert metadata(kms, key_id)["KeyState"] == "Disabled"
    kms.delete_imported_key_material(KeyId=key_id)
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"
    import_material(kms, key_id, material)
    assert metadata(kms, key_id)["KeyState"] == "Enabled"


def test_deleting_while_pending_deletion_keeps_the_state(kms: Any) -> None:
    key_id = external_key(kms, KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")
    import_material(kms, key_id, os.urandom(28))
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    out = kms.delete_imported_key_material(KeyId=key_id)
    assert out["KeyId"] == key_arn(key_id) and not out.get("KeyMaterialId")
    assert metadata(kms, key_id)["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key_id)
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"


def test_deleting_from_a_key_that_never_had_material_changes_nothing(kms: Any) -> None:
    key_id = external_key(kms)
    assert kms.delete_imported_key_material(KeyId=key_id)["KeyId"] == key_arn(key_id)
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"


def test_deleting_material_of_an_aws_kms_key_is_refused(kms: Any, key_id: str) -> None:
    code, message = fails(kms.delete_imported_key_material, KeyId=key_id)
    assert code == "UnsupportedOperationException"
    assert message == f"{key_arn(key_id)} origin is AWS_KMS which is not valid for this operation."


# == NEW_KEY_MATERIAL and on-demand rotation ======================================================


def test_new_key_material_waits_for_rotate_key_on_demand(kms: Any) -> None:
    key_id, arn = (k := external_key(kms)), key_arn(k)
    first, second = os.urandom(32), os.urandom(32)
    import_material(kms, key_id, first, KeyMaterialDescription="first generation")
    old_blob = encrypt(kms, key_id, b"old")
    assert fails(kms.rotate_key_on_demand, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"No available key material pending rotation for the key: {arn}.",
    )
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):  # already associated
        import_material(kms, key_id, first, ImportType="NEW_KEY_MATERIAL")
    out = import_material(
        kms, key_id, second, ImportType="NEW_KEY_MATERIAL", ValidTo=START + timedelta(days=90)
    )
    assert out["KeyMaterialId"] == material_id(key_id, second)
    assert metadata(kms, key_id)["CurrentKeyMaterialId"] == material_id(key_id, first)
    assert open_blob(encrypt(kms, key_id), first) == b"imported"  # not rotated yet
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    rows = {r["KeyMaterialId"]: r for r in rotations(kms, key_id)}
    assert rows[material_id(key_id, first)]["KeyMaterialState"] == "CURRENT"
    assert rows[material_id(key_id, first)]["KeyMaterialDescription"] == "first generation"
    pending = rows[material_id(key_id, second)]
    assert pending["KeyMaterialState"] == "PENDING_ROTATION"
    assert (pending["ImportState"], pending["ExpirationModel"]) == (
        "IMPORTED",
        "KEY_MATERIAL_EXPIRES",
    )
    assert pending["ValidTo"] == START + timedelta(days=90)
    assert "RotationDate" not in pending and "RotationType" not in pending

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    assert metadata(kms, key_id)["CurrentKeyMaterialId"] == material_id(key_id, second)
    new_blob = encrypt(kms, key_id, b"new")
    assert open_blob(new_blob, second) == b"new"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"
    (done,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (done["KeyMaterialId"], done["RotationType"]) == (
        material_id(key_id, second),
        "ON_DEMAND",
    )
    assert done["KeyMaterialState"] == "CURRENT" and done["ImportState"] == "IMPORTED"
    # the first material is still associated: deleting it makes the key PendingImport
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=material_id(key_id, first))
    assert metadata(kms, key_id)["KeyState"] == "PendingImport"
    import_material(kms, key_id, first)
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"


def test_material_pending_rotation_can_be_deleted_and_replaced(kms: Any) -> None:
    key_id = external_key(kms)
    first, unwanted, wanted = os.urandom(32), os.urandom(32), os.urandom(32)
    import_material(kms, key_id, first)
    import_material(kms, key_id, unwanted, ImportType="NEW_KEY_MATERIAL")
    with pytest.raises(kms.exceptions.KMSInvalidStateException):  # one pending at a time
        import_material(kms, key_id, wanted, ImportType="NEW_KEY_MATERIAL")
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=material_id(key_id, unwanted))
    assert metadata(kms, key_id)["KeyState"] == "Enabled"  # it was never associated
    import_material(kms, key_id, wanted, ImportType="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(KeyId=key_id)
    assert open_blob(encrypt(kms, key_id), wanted) == b"imported"
    assert {r["KeyMaterialId"] for r in rotations(kms, key_id)} == {
        material_id(key_id, first),
        material_id(key_id, wanted),
    }


def test_list_key_rotations_of_an_imported_asymmetric_key_is_refused(kms: Any) -> None:
    key_id = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    code, _ = fails(kms.list_key_rotations, KeyId=key_id)
    assert code == "UnsupportedOperationException"


# == persistence ==================================================================================


def test_tokens_and_imported_material_survive_a_restart(tmp_path: Any) -> None:
    state = tmp_path / "lab.db"
    material = os.urandom(32)
    with LocalKms(state=state, seed=5, clock=ManualClock(START)) as first:
        kms = first.client()
        key_id = external_key(kms)
        params = parameters(kms, key_id)
    with LocalKms(state=state, seed=5, clock=ManualClock(START)) as second:
        kms = second.client()
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrap(params["PublicKey"], OAEP_SHA_256, material),
            ValidTo=START + timedelta(days=3),
        )
        blob = encrypt(kms, key_id, b"persisted")
    with LocalKms(state=state, seed=5, clock=ManualClock(START + timedelta(days=1))) as third:
        kms = third.client()
        assert metadata(kms, key_id)["ValidTo"] == START + timedelta(days=3)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"persisted"
        third.clock.advance(days=2)
        assert metadata(kms, key_id)["KeyState"] == "PendingImport"
    assert open_blob(blob, material) == b"persisted"


def test_a_token_from_another_lab_is_invalid(make_lab: Callable[..., LocalKms]) -> None:
    one, two = make_lab(seed=1).client(), make_lab(seed=2).client()
    key_id = external_key(two)
    params = parameters(one, external_key(one))
    code, _ = fails(
        two.import_key_material,
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], OAEP_SHA_256, os.urandom(32)),
        **NO_EXPIRY,
    )
    assert code == "InvalidImportTokenException"
