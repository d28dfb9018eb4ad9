"""Key agreement (DeriveSharedSecret, ECDH) and ML-KEM (Encapsulate, Decapsulate), through a
real boto3 client, checked against `cryptography` (and, for ML-KEM-512, kyber-py) outside
kmslab.

- The peer of a KEY_AGREEMENT key computes the same raw ECDH secret outside kmslab from the
  public key GetPublicKey returns; two KMS keys agree with each other.
- A secret encapsulated outside kmslab to GetPublicKey's public key is what Decapsulate returns
  inside; and the other way round, Encapsulate inside kmslab with a key whose private half the
  test holds (imported with ImportKeyMaterial) is decapsulated outside.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from conftest import fails, key_arn, new_key
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, padding, x25519

CURVES: dict[str, Any] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
}
SECRET_BYTES = {"ECC_NIST_P256": 32, "ECC_NIST_P384": 48, "ECC_NIST_P521": 66}
CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}
PYCA_KEM: dict[str, Any] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
#: SubjectPublicKeyInfo of an ML-KEM-512 key up to the 800-byte encapsulation key:
#: SEQUENCE { SEQUENCE { OID 2.16.840.1.101.3.4.4.1 (id-alg-ml-kem-512) }, BIT STRING { 0, ek } }
ML_KEM_512_SPKI_PREFIX = bytes.fromhex("30820332300b0609608648016503040401" + "0382032100")


def spki(public: Any) -> bytes:
    der: bytes = public.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    return der


def pkcs8(private: Any) -> bytes:
    der: bytes = private.private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    return der


def public_key_of(kms: Any, key_id: str) -> bytes:
    public: bytes = kms.get_public_key(KeyId=key_id)["PublicKey"]
    return public


def import_private_key(kms: Any, spec: str, usage: str, private: Any) -> str:
    """A KMS key holding ``private`` (Origin EXTERNAL), wrapped exactly as the AWS guide says:
    RSA_AES_KEY_WRAP_SHA_256 = OAEP-SHA-256 of a fresh AES key, then AES key wrap with padding."""
    key_id = new_key(kms, KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    wrapping = ser.load_der_public_key(params["PublicKey"])
    aes = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = wrapping.encrypt(aes, oaep) + keywrap.aes_key_wrap_with_padding(aes, pkcs8(private))
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    return key_id


# == DeriveSharedSecret ============================================================================


@pytest.mark.parametrize("spec", list(CURVES))
def test_the_peer_computes_the_same_raw_secret_outside_kmslab(kms: Any, spec: str) -> None:
    key_id = new_key(kms, KeySpec=spec, KeyUsage="KEY_AGREEMENT")
    peer = ec.generate_private_key(CURVES[spec]())
    out = kms.derive_shared_secret(
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=spki(peer.public_key())
    )
    ours = ser.load_der_public_key(public_key_of(kms, key_id))
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), ours)  # raw Z, no KDF
    assert len(out["SharedSecret"]) == SECRET_BYTES[spec]
    assert out["KeyId"] == key_arn(key_id)
    assert out["KeyAgreementAlgorithm"] == "ECDH"
    assert out["KeyOrigin"] == "AWS_KMS"


def test_two_kms_keys_agree(kms: Any) -> None:
    alice = new_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    bob = new_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    ab = kms.derive_shared_secret(
        KeyId=alice, KeyAgreementAlgorithm="ECDH", PublicKey=public_key_of(kms, bob)
    )["SharedSecret"]
    ba = kms.derive_shared_secret(
        KeyId=bob, KeyAgreementAlgorithm="ECDH", PublicKey=public_key_of(kms, alice)
    )["SharedSecret"]
    assert ab == ba


def test_an_imported_agreement_key_agrees_with_its_private_half_outside(kms: Any) -> None:
    mine = ec.generate_private_key(ec.SECP256R1())
    key_id = import_private_key(kms, "ECC_NIST_P256", "KEY_AGREEMENT", mine)
    peer = ec.generate_private_key(ec.SECP256R1())
    out = kms.derive_shared_secret(
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=spki(peer.public_key())
    )
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), peer.public_key())
    assert out["KeyOrigin"] == "EXTERNAL"


def test_derive_shared_secret_accepts_an_alias(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    kms.create_alias(AliasName=f"alias/agree-{key_id}", TargetKeyId=key_id)
    peer = ec.generate_private_key(ec.SECP256R1())
    out = kms.derive_shared_secret(
        KeyId=f"alias/agree-{key_id}",
        KeyAgreementAlgorithm="ECDH",
        PublicKey=spki(peer.public_key()),
    )
    assert out["KeyId"] == key_arn(key_id)


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
    ],
)
def test_derive_shared_secret_needs_a_key_agreement_key(kms: Any, spec: str, usage: str) -> None:
    key_id = (
        new_key(kms) if spec == "SYMMETRIC_DEFAULT" else new_key(kms, KeySpec=spec, KeyUsage=usage)
    )
    peer = spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert fails(
        kms.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer
    ) == (
        "InvalidKeyUsageException",
        f"{key_arn(key_id)} key usage is {usage} which is not valid for DeriveSharedSecret.",
    )


@pytest.mark.parametrize(
    "public",
    [
        pytest.param(lambda: spki(ec.generate_private_key(ec.SECP384R1()).public_key()), id="P384"),
        pytest.param(lambda: spki(x25519.X25519PrivateKey.generate().public_key()), id="X25519"),
        pytest.param(lambda: b"\x30\x03\x02\x01\x00", id="not-a-key"),
    ],
)
def test_a_peer_key_not_on_the_keys_curve_is_a_validation_error(
    kms: Any, public: Callable[[], bytes]
) -> None:
    key_id = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    code, message = fails(
        kms.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=public()
    )
    assert code == "ValidationException"
    assert "ECC_NIST_P256" in message


def test_derive_shared_secret_key_state_dry_run_and_recipient(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ECC_NIST_P521", KeyUsage="KEY_AGREEMENT")
    peer = spki(ec.generate_private_key(ec.SECP521R1()).public_key())
    args = {"KeyId": key_id, "KeyAgreementAlgorithm": "ECDH", "PublicKey": peer}
    assert fails(kms.derive_shared_secret, DryRun=True, **args) == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
    code, _ = fails(
        kms.derive_shared_secret,
        Recipient={"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"},
        **args,
    )
    assert code == "UnsupportedOperationException"
    kms.disable_key(KeyId=key_id)
    assert fails(kms.derive_shared_secret, **args) == (
        "DisabledException",
        f"{key_arn(key_id)} is disabled.",
    )


def test_key_agreement_keys_describe_their_algorithm(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyAgreementAlgorithms"] == ["ECDH"]
    assert kms.get_public_key(KeyId=key_id)["KeyAgreementAlgorithms"] == ["ECDH"]


# == Encapsulate and Decapsulate ===================================================================


@pytest.mark.parametrize("spec", list(PYCA_KEM))
def test_encapsulated_outside_decapsulated_inside(kms: Any, spec: str) -> None:
    key_id = new_key(kms, KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
    public = ser.load_der_public_key(public_key_of(kms, key_id))
    secret, ciphertext = public.encapsulate()
    assert len(ciphertext) == CIPHERTEXT_BYTES[spec]
    out = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert out["SharedSecret"] == secret
    assert out["KeyId"] == key_arn(key_id)
    assert out["EncapsulationAlgorithm"] == "ML_KEM"


@pytest.mark.parametrize("spec", list(PYCA_KEM))
def test_encapsulated_inside_decapsulated_outside(kms: Any, spec: str) -> None:
    private = PYCA_KEM[spec].generate()
    key_id = import_private_key(kms, spec, "ENCAPSULATE_DECAPSULATE", private)
    assert public_key_of(kms, key_id) == spki(private.public_key())
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert len(out["SharedSecret"]) == 32
    assert len(out["SharedSecretCiphertextBlob"]) == CIPHERTEXT_BYTES[spec]
    assert private.decapsulate(out["SharedSecretCiphertextBlob"]) == out["SharedSecret"]
    assert out["KeyId"] == key_arn(key_id) and out["EncapsulationAlgorithm"] == "ML_KEM"


def test_ml_kem_512_both_ways_with_kyber_py_outside(kms: Any) -> None:
    """pyca/cryptography has no ML-KEM-512; kyber-py (the library kmslab uses for it) is the
    outside party here, and the public key must be the standard SubjectPublicKeyInfo."""
    from kyber_py.ml_kem import ML_KEM_512, ML_KEM_768

    key_id = new_key(kms, KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")
    der = public_key_of(kms, key_id)
    assert der.startswith(ML_KEM_512_SPKI_PREFIX) and len(der) == len(ML_KEM_512_SPKI_PREFIX) + 800
    ek = der[len(ML_KEM_512_SPKI_PREFIX) :]
    secret, ciphertext = ML_KEM_512.encaps(ek)
    assert len(ciphertext) == 768
    got = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert got["SharedSecret"] == secret
    inside = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    back = kms.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=inside["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert back["SharedSecret"] == inside["SharedSecret"] and len(inside["SharedSecret"]) == 32
    # kyber-py agrees with pyca/cryptography where both exist (FIPS 203, ML-KEM-768).
    pyca = mlkem.MLKEM768PrivateKey.generate()
    seed = pyca.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    ek768, _dk = ML_KEM_768.key_derive(seed)
    assert ek768 == pyca.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    k, c = ML_KEM_768.encaps(ek768)
    assert pyca.decapsulate(c) == k


def test_ml_kem_512_data_key_pairs(kms: Any, key_id: str) -> None:
    from kyber_py.ml_kem import ML_KEM_512

    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ML_KEM_512")
    assert pair["PublicKey"].startswith(ML_KEM_512_SPKI_PREFIX)
    private = pair["PrivateKeyPlaintext"]
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == private
    seed = private[-64:]  # PKCS#8 OCTET STRING { [0] seed }: the 64-byte seed ends the DER
    ek, _dk = ML_KEM_512.key_derive(seed)
    assert pair["PublicKey"] == ML_KEM_512_SPKI_PREFIX + ek


def test_decapsulate_implicit_rejection_and_wrong_length(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    other = new_key(kms, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    blob = out["SharedSecretCiphertextBlob"]
    altered = bytes([blob[0] ^ 1]) + blob[1:]
    for kid, ct in ((key_id, altered), (other, blob)):
        wrong = kms.decapsulate(
            KeyId=kid, SharedSecretCiphertextBlob=ct, EncapsulationAlgorithm="ML_KEM"
        )["SharedSecret"]
        assert len(wrong) == 32 and wrong != out["SharedSecret"]
    assert fails(
        kms.decapsulate,
        KeyId=key_id,
        SharedSecretCiphertextBlob=blob[:-1],
        EncapsulationAlgorithm="ML_KEM",
    ) == ("InvalidCiphertextException", "")


@pytest.mark.parametrize("operation", ["Encapsulate", "Decapsulate"])
@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "KEY_AGREEMENT"),
        ("ML_DSA_44", "SIGN_VERIFY"),
    ],
)
def test_kem_operations_need_an_ml_kem_key(kms: Any, operation: str, spec: str, usage: str) -> None:
    key_id = (
        new_key(kms) if spec == "SYMMETRIC_DEFAULT" else new_key(kms, KeySpec=spec, KeyUsage=usage)
    )
    args: dict[str, Any] = {"KeyId": key_id, "EncapsulationAlgorithm": "ML_KEM"}
    call = kms.encapsulate
    if operation == "Decapsulate":
        call, args["SharedSecretCiphertextBlob"] = kms.decapsulate, b"\x00" * 1088
    assert fails(call, **args) == (
        "InvalidKeyUsageException",
        f"{key_arn(key_id)} key usage is {usage} which is not valid for {operation}.",
    )


def test_kem_key_state_and_dry_run(kms: Any) -> None:
    key_id = new_key(kms, KeySpec="ML_KEM_1024", KeyUsage="ENCAPSULATE_DECAPSULATE")
    dry = (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
    assert fails(kms.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM", DryRun=True) == dry
    blob = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")[
        "SharedSecretCiphertextBlob"
    ]
    assert (
        fails(
            kms.decapsulate,
            KeyId=key_id,
            SharedSecretCiphertextBlob=blob,
            EncapsulationAlgorithm="ML_KEM",
            DryRun=True,
        )
        == dry
    )
    kms.disable_key(KeyId=key_id)
    disabled = ("DisabledException", f"{key_arn(key_id)} is disabled.")
    assert fails(kms.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM") == disabled
    assert (
        fails(
            kms.decapsulate,
            KeyId=key_id,
            SharedSecretCiphertextBlob=blob,
            EncapsulationAlgorithm="ML_KEM",
        )
        == disabled
    )


@pytest.mark.parametrize("spec", list(CIPHERTEXT_BYTES))
def test_ml_kem_keys_describe_their_algorithm(kms: Any, spec: str) -> None:
    key_id = new_key(kms, KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = kms.get_public_key(KeyId=key_id)
    assert public["EncapsulationAlgorithms"] == ["ML_KEM"] and public["KeySpec"] == spec
