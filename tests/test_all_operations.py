"""Every operation of botocore's KMS model (56) is answered by a kmslab client with a real result,
and AWS's refusals of key spec x operation pairs are kmslab's refusals.

Part one has one case per operation. Each sends a valid request and then observes the
operation's *effect* through another operation or outside kmslab with `cryptography`: a tag
appears in ListResourceTags, a signature verifies outside, a replica in another Region decrypts
the primary's ciphertext. A canned reply cannot pass: the effect would be missing. The test also
finds the call on the lab's trail without an error code, so an operation that is refused (for
instance "kmslab does not implement X yet") fails its case.

Part two is a table: key spec x operation pairs AWS refuses, with the code and message expected,
written out. The comment above ``REFUSALS`` says which messages are real AWS responses
(kms-rules.md) and which follow AWS's pattern for the same refusal without a recorded response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, START, fails, key_arn, new_key
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, padding
from cryptography.x509.oid import NameOID

from kmslab import LocalKms
from kmslab.protocol import service_model

WEST = "eu-west-1"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
DRY_RUN = "The request would have succeeded, but the DryRun option is set."


@dataclass
class Ctx:
    lab: LocalKms
    kms: Any
    west: Any
    notes: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def west(lab: LocalKms) -> Any:
    return lab.client(region_name=WEST)


@pytest.fixture
def ctx(lab: LocalKms, kms: Any, west: Any) -> Ctx:
    return Ctx(lab, kms, west)


CASES: dict[str, Callable[[Ctx], None]] = {}


def case(operation: str) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def register(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        assert operation not in CASES, operation
        CASES[operation] = fn
        return fn

    return register


# -- helpers ---------------------------------------------------------------------------------------


def spki(public: Any) -> bytes:
    der: bytes = public.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    return der


def pkcs8(private: Any) -> bytes:
    der: bytes = private.private_bytes(
        ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption()
    )
    return der


def state(kms: Any, key_id: str) -> str:
    value: str = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    return value


def tags(kms: Any, key_id: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}


def oaep_wrap(public_der: bytes, material: bytes, algorithm: str) -> bytes:
    """Wrap key material for ImportKeyMaterial as the AWS guide does it with OpenSSL."""
    public = ser.load_der_public_key(public_der)
    digest: Any = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        aes = os.urandom(32)
        wrapped: bytes = public.encrypt(aes, oaep) + keywrap.aes_key_wrap_with_padding(
            aes, material
        )
        return wrapped
    out: bytes = public.encrypt(material, oaep)
    return out


def import_material(
    kms: Any, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256"
) -> dict[str, Any]:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=oaep_wrap(params["PublicKey"], material, algorithm),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    out: dict[str, Any] = params
    return out


def trust_anchor() -> str:
    """A self-signed PEM certificate, as a CloudHSM cluster's trust anchor would be."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kmslab test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    return cert.public_bytes(ser.Encoding.PEM).decode()


def cloudhsm_store(kms: Any, *, connect: bool = False) -> tuple[str, str]:
    """A new CloudHSM key store (CreateCustomKeyStore API reference): (id, name)."""
    name = "lab-store-" + secrets.token_hex(4)
    cluster = "cluster-" + "".join(
        secrets.choice("234567abcdefghijklmnopqrstuvwxyz") for _ in range(11)
    )
    store_id: str = kms.create_custom_key_store(
        CustomKeyStoreName=name,
        CloudHsmClusterId=cluster,
        TrustAnchorCertificate=trust_anchor(),
        KeyStorePassword="kmsuser-Passw0rd",
    )["CustomKeyStoreId"]
    if connect:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    return store_id, name


def store_info(kms: Any, store_id: str) -> dict[str, Any]:
    (info,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    out: dict[str, Any] = info
    return out


def multi_region_pair(ctx: Ctx) -> tuple[str, bytes]:
    """A multi-Region primary in us-east-1 with a replica in eu-west-1, and a ciphertext made by
    the primary: (mrk key id, ciphertext)."""
    key_id = new_key(ctx.kms, MultiRegion=True, Description="mrk")
    assert key_id.startswith("mrk-")
    blob: bytes = ctx.kms.encrypt(KeyId=key_id, Plaintext=b"made in us-east-1")["CiphertextBlob"]
    ctx.kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    return key_id, blob


def signing_key(kms: Any) -> str:
    return new_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")


def hmac_key(kms: Any) -> str:
    return new_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")


# == part one: every operation =====================================================================


@case("CancelKeyDeletion")
def _cancel_key_deletion(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert c.kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == key_arn(key_id)
    meta = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    assert fails(c.kms.encrypt, KeyId=key_id, Plaintext=b"x")[0] == "DisabledException"


@case("ConnectCustomKeyStore")
def _connect_custom_key_store(c: Ctx) -> None:
    store_id, _ = cloudhsm_store(c.kms)
    assert store_info(c.kms, store_id)["ConnectionState"] == "DISCONNECTED"
    c.kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert store_info(c.kms, store_id)["ConnectionState"] == "CONNECTED"
    key_id = new_key(c.kms, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    meta = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Origin"], meta["CustomKeyStoreId"], meta["KeyState"]) == (
        "AWS_CLOUDHSM",
        store_id,
        "Enabled",
    )
    blob = c.kms.encrypt(KeyId=key_id, Plaintext=b"in the HSM")["CiphertextBlob"]
    assert c.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the HSM"


@case("CreateAlias")
def _create_alias(c: Ctx) -> None:
    key_id = new_key(c.kms)
    name = f"alias/all-ops-{key_id}"
    c.kms.create_alias(AliasName=name, TargetKeyId=key_id)
    listed = c.kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    blob = c.kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
    assert c.kms.decrypt(CiphertextBlob=blob)["KeyId"] == key_arn(key_id)


@case("CreateCustomKeyStore")
def _create_custom_key_store(c: Ctx) -> None:
    anchor = trust_anchor()
    name = "created-" + secrets.token_hex(4)
    store_id = c.kms.create_custom_key_store(
        CustomKeyStoreName=name,
        CloudHsmClusterId="cluster-234567abcdef",
        TrustAnchorCertificate=anchor,
        KeyStorePassword="kmsuser-Passw0rd",
    )["CustomKeyStoreId"]
    assert store_id.startswith("cks-")
    (info,) = c.kms.describe_custom_key_stores(CustomKeyStoreName=name)["CustomKeyStores"]
    assert info["CustomKeyStoreId"] == store_id
    assert info["CloudHsmClusterId"] == "cluster-234567abcdef"
    assert info["TrustAnchorCertificate"] == anchor
    assert info["ConnectionState"] == "DISCONNECTED"
    assert info.get("CustomKeyStoreType", "AWS_CLOUDHSM") == "AWS_CLOUDHSM"


@case("CreateGrant")
def _create_grant(c: Ctx) -> None:
    key_id = new_key(c.kms)
    grant_id = c.kms.create_grant(KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"])[
        "GrantId"
    ]
    (entry,) = c.kms.list_grants(KeyId=key_id)["Grants"]
    assert (entry["GrantId"], entry["GranteePrincipal"], entry["Operations"]) == (
        grant_id,
        USER,
        ["Decrypt"],
    )


@case("CreateKey")
def _create_key(c: Ctx) -> None:
    created = c.kms.create_key(
        Description="made by CreateKey", Tags=[{"TagKey": "t", "TagValue": "v"}]
    )
    meta = created["KeyMetadata"]
    assert c.kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"] == meta
    listed = {k["KeyId"]: k["KeyArn"] for k in c.kms.list_keys(Limit=1000)["Keys"]}
    assert listed[meta["KeyId"]] == meta["Arn"] == key_arn(meta["KeyId"])
    assert tags(c.kms, meta["KeyId"]) == {"t": "v"}


@case("Decapsulate")
def _decapsulate(c: Ctx) -> None:
    key_id = new_key(c.kms, KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    public = ser.load_der_public_key(c.kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, mlkem.MLKEM768PublicKey)
    secret, ciphertext = public.encapsulate()  # outside kmslab
    out = c.kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert out["SharedSecret"] == secret


@case("Decrypt")
def _decrypt(c: Ctx) -> None:
    key_id = new_key(c.kms)
    blob = c.kms.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext={"a": "b"})[
        "CiphertextBlob"
    ]
    out = c.kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert (out["Plaintext"], out["KeyId"]) == (b"secret", key_arn(key_id))
    assert fails(c.kms.decrypt, CiphertextBlob=blob)[0] == "InvalidCiphertextException"


@case("DeleteAlias")
def _delete_alias(c: Ctx) -> None:
    key_id = new_key(c.kms)
    name = f"alias/deleted-{key_id}"
    c.kms.create_alias(AliasName=name, TargetKeyId=key_id)
    c.kms.delete_alias(AliasName=name)
    assert c.kms.list_aliases(KeyId=key_id)["Aliases"] == []
    assert fails(c.kms.encrypt, KeyId=name, Plaintext=b"x")[0] == "NotFoundException"
    assert state(c.kms, key_id) == "Enabled"


@case("DeleteCustomKeyStore")
def _delete_custom_key_store(c: Ctx) -> None:
    store_id, name = cloudhsm_store(c.kms)
    c.kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    code, _ = fails(c.kms.describe_custom_key_stores, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreNotFoundException"
    names = [s["CustomKeyStoreName"] for s in c.kms.describe_custom_key_stores()["CustomKeyStores"]]
    assert name not in names


@case("DeleteImportedKeyMaterial")
def _delete_imported_key_material(c: Ctx) -> None:
    key_id = new_key(c.kms, Origin="EXTERNAL")
    import_material(c.kms, key_id, os.urandom(32))
    assert state(c.kms, key_id) == "Enabled"
    c.kms.delete_imported_key_material(KeyId=key_id)
    assert state(c.kms, key_id) == "PendingImport"
    assert fails(c.kms.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending import.",
    )


@case("DeriveSharedSecret")
def _derive_shared_secret(c: Ctx) -> None:
    key_id = new_key(c.kms, KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")
    peer = ec.generate_private_key(ec.SECP384R1())
    out = c.kms.derive_shared_secret(
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=spki(peer.public_key())
    )
    ours = ser.load_der_public_key(c.kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), ours)


@case("DescribeCustomKeyStores")
def _describe_custom_key_stores(c: Ctx) -> None:
    store_id, name = cloudhsm_store(c.kms)
    every = c.kms.describe_custom_key_stores()["CustomKeyStores"]
    assert {s["CustomKeyStoreId"]: s["CustomKeyStoreName"] for s in every}[store_id] == name
    assert store_info(c.kms, store_id)["CustomKeyStoreName"] == name


@case("DescribeKey")
def _describe_key(c: Ctx) -> None:
    key_id = new_key(
        c.kms, Description="describe me", KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY"
    )
    meta = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyId"], meta["Arn"], meta["Description"]) == (
        key_id,
        key_arn(key_id),
        "describe me",
    )
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"]) == (
        "ECC_NIST_P384",
        "SIGN_VERIFY",
        "Enabled",
    )
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_384"]
    public = ser.load_der_public_key(c.kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp384r1"


@case("DisableKey")
def _disable_key(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.disable_key(KeyId=key_id)
    assert state(c.kms, key_id) == "Disabled"
    assert fails(c.kms.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "DisabledException",
        f"{key_arn(key_id)} is disabled.",
    )


@case("DisableKeyRotation")
def _disable_key_rotation(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.enable_key_rotation(KeyId=key_id)
    c.kms.disable_key_rotation(KeyId=key_id)
    status = c.kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status


@case("DisconnectCustomKeyStore")
def _disconnect_custom_key_store(c: Ctx) -> None:
    store_id, _ = cloudhsm_store(c.kms, connect=True)
    key_id = new_key(c.kms, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    blob = c.kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    c.kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert store_info(c.kms, store_id)["ConnectionState"] == "DISCONNECTED"
    assert state(c.kms, key_id) == "Unavailable"
    assert fails(c.kms.decrypt, CiphertextBlob=blob) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is unavailable.",
    )
    c.kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert c.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


@case("EnableKey")
def _enable_key(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.disable_key(KeyId=key_id)
    c.kms.enable_key(KeyId=key_id)
    assert state(c.kms, key_id) == "Enabled"
    c.kms.encrypt(KeyId=key_id, Plaintext=b"works again")


@case("EnableKeyRotation")
def _enable_key_rotation(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    status = c.kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    assert status["NextRotationDate"] == START + timedelta(days=180)


@case("Encapsulate")
def _encapsulate(c: Ctx) -> None:
    key_id = new_key(c.kms, KeySpec="ML_KEM_1024", KeyUsage="ENCAPSULATE_DECAPSULATE")
    out = c.kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert len(out["SharedSecret"]) == 32 and len(out["SharedSecretCiphertextBlob"]) == 1568
    back = c.kms.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert back["SharedSecret"] == out["SharedSecret"]


@case("Encrypt")
def _encrypt(c: Ctx) -> None:
    key_id = new_key(c.kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    out = c.kms.encrypt(KeyId=key_id, Plaintext=b"to RSA", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    back = c.kms.decrypt(
        KeyId=key_id, CiphertextBlob=out["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert back["Plaintext"] == b"to RSA"
    # ... and the public key encrypts outside kmslab to what Decrypt opens inside.
    public = ser.load_der_public_key(c.kms.get_public_key(KeyId=key_id)["PublicKey"])
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    outside = public.encrypt(b"from outside", oaep)
    assert (
        c.kms.decrypt(
            KeyId=key_id, CiphertextBlob=outside, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        )["Plaintext"]
        == b"from outside"
    )


@case("GenerateDataKey")
def _generate_data_key(c: Ctx) -> None:
    key_id = new_key(c.kms)
    out = c.kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"f": "1"})
    assert len(out["Plaintext"]) == 32
    opened = c.kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"f": "1"})
    assert opened["Plaintext"] == out["Plaintext"]


@case("GenerateDataKeyPair")
def _generate_data_key_pair(c: Ctx) -> None:
    key_id = new_key(c.kms)
    out = c.kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    private = ser.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    assert spki(private.public_key()) == out["PublicKey"]
    opened = c.kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])
    assert opened["Plaintext"] == out["PrivateKeyPlaintext"]


@case("GenerateDataKeyPairWithoutPlaintext")
def _generate_data_key_pair_without_plaintext(c: Ctx) -> None:
    key_id = new_key(c.kms)
    out = c.kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in out
    private_der = c.kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    private = ser.load_der_private_key(private_der, password=None)
    assert spki(private.public_key()) == out["PublicKey"]


@case("GenerateDataKeyWithoutPlaintext")
def _generate_data_key_without_plaintext(c: Ctx) -> None:
    key_id = new_key(c.kms)
    out = c.kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=24)
    assert "Plaintext" not in out
    assert len(c.kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 24


@case("GenerateMac")
def _generate_mac(c: Ctx) -> None:
    key_id = hmac_key(c.kms)
    mac = c.kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert c.kms.verify_mac(KeyId=key_id, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")[
        "MacValid"
    ]
    other = hmac_key(c.kms)
    assert c.kms.generate_mac(KeyId=other, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"] != mac


@case("GenerateRandom")
def _generate_random(c: Ctx) -> None:
    a = c.kms.generate_random(NumberOfBytes=64)["Plaintext"]
    b = c.kms.generate_random(NumberOfBytes=64)["Plaintext"]
    assert len(a) == len(b) == 64 and a != b


@case("GetKeyLastUsage")
def _get_key_last_usage(c: Ctx) -> None:
    key_id = new_key(c.kms)
    assert c.kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"] == {}
    sealed = c.kms.encrypt(KeyId=key_id, Plaintext=b"x")
    usage = c.kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == sealed["ResponseMetadata"]["RequestId"]


@case("GetKeyPolicy")
def _get_key_policy(c: Ctx) -> None:
    key_id = new_key(c.kms)
    got = c.kms.get_key_policy(KeyId=key_id, PolicyName="default")
    policy = json.loads(got["Policy"])
    principals = [s["Principal"]["AWS"] for s in policy["Statement"]]
    assert f"arn:aws:iam::{ACCOUNT}:root" in principals
    assert got.get("PolicyName", "default") == "default"


@case("GetKeyRotationStatus")
def _get_key_rotation_status(c: Ctx) -> None:
    key_id = new_key(c.kms)
    assert c.kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    c.kms.enable_key_rotation(KeyId=key_id)
    status = c.kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["NextRotationDate"] == START + timedelta(days=365)


@case("GetParametersForImport")
def _get_parameters_for_import(c: Ctx) -> None:
    key_id = new_key(c.kms, Origin="EXTERNAL")
    material = os.urandom(32)
    params = import_material(c.kms, key_id, material, "RSA_AES_KEY_WRAP_SHA_256")
    assert params["KeyId"] == key_arn(key_id)
    assert params["ParametersValidTo"] == START + timedelta(hours=24)
    wrapping = ser.load_der_public_key(params["PublicKey"])
    assert wrapping.key_size == 2048
    assert state(c.kms, key_id) == "Enabled"  # the wrapped material was accepted


@case("GetPublicKey")
def _get_public_key(c: Ctx) -> None:
    key_id = signing_key(c.kms)
    out = c.kms.get_public_key(KeyId=key_id)
    assert (out["KeySpec"], out["KeyUsage"], out["SigningAlgorithms"]) == (
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        ["ECDSA_SHA_256"],
    )
    signature = c.kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    public = ser.load_der_public_key(out["PublicKey"])
    public.verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


@case("ImportKeyMaterial")
def _import_key_material(c: Ctx) -> None:
    ours = ec.generate_private_key(ec.SECP256R1())
    key_id = new_key(c.kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")
    assert state(c.kms, key_id) == "PendingImport"
    import_material(c.kms, key_id, pkcs8(ours), "RSA_AES_KEY_WRAP_SHA_256")
    assert state(c.kms, key_id) == "Enabled"
    assert c.kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(ours.public_key())
    signature = c.kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    ours.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))  # the key we imported


@case("ListAliases")
def _list_aliases(c: Ctx) -> None:
    key_id = new_key(c.kms)
    name = f"alias/listed-{key_id}"
    c.kms.create_alias(AliasName=name, TargetKeyId=key_id)
    every = {a["AliasName"]: a for a in c.kms.list_aliases(Limit=100)["Aliases"]}
    every.update({a["AliasName"]: a for a in c.kms.list_aliases(KeyId=key_id)["Aliases"]})
    assert every[name]["TargetKeyId"] == key_id
    assert every[name]["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"


@case("ListGrants")
def _list_grants(c: Ctx) -> None:
    key_id = new_key(c.kms)
    made = [
        c.kms.create_grant(KeyId=key_id, GranteePrincipal=USER, Operations=[op])["GrantId"]
        for op in ("Encrypt", "Decrypt")
    ]
    listed = c.kms.list_grants(KeyId=key_id)["Grants"]
    assert sorted(g["GrantId"] for g in listed) == sorted(made)


@case("ListKeyPolicies")
def _list_key_policies(c: Ctx) -> None:
    key_id = new_key(c.kms)
    assert c.kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    c.kms.get_key_policy(KeyId=key_id, PolicyName="default")


@case("ListKeyRotations")
def _list_key_rotations(c: Ctx) -> None:
    key_id = new_key(c.kms)
    assert c.kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    c.kms.rotate_key_on_demand(KeyId=key_id)
    (rotation,) = c.kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["RotationType"] == "ON_DEMAND"
    current = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert rotation["KeyMaterialId"] == current


@case("ListKeys")
def _list_keys(c: Ctx) -> None:
    key_id = new_key(c.kms)
    seen: dict[str, str] = {}
    marker: dict[str, str] = {}
    while True:
        page = c.kms.list_keys(Limit=50, **marker)
        seen.update({k["KeyId"]: k["KeyArn"] for k in page["Keys"]})
        if not page["Truncated"]:
            break
        marker = {"Marker": page["NextMarker"]}
    assert seen[key_id] == key_arn(key_id)
    assert key_id not in {k["KeyId"] for k in c.west.list_keys()["Keys"]}


@case("ListResourceTags")
def _list_resource_tags(c: Ctx) -> None:
    key_id = new_key(c.kms, Tags=[{"TagKey": "team", "TagValue": "lab"}])
    assert c.kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "lab"}]


@case("ListRetirableGrants")
def _list_retirable_grants(c: Ctx) -> None:
    retiree = f"arn:aws:iam::{ACCOUNT}:role/retiree-{secrets.token_hex(4)}"
    key_id = new_key(c.kms)
    grant_id = c.kms.create_grant(
        KeyId=key_id, GranteePrincipal=USER, RetiringPrincipal=retiree, Operations=["Decrypt"]
    )["GrantId"]
    found = c.kms.list_retirable_grants(RetiringPrincipal=retiree)["Grants"]
    assert [(g["GrantId"], g["KeyId"]) for g in found] == [(grant_id, key_arn(key_id))]


@case("PutKeyPolicy")
def _put_key_policy(c: Ctx) -> None:
    key_id = new_key(c.kms)
    policy = json.loads(c.kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "Allow use by alice",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
        }
    )
    text = json.dumps(policy)
    c.kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=text)
    assert json.loads(c.kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy


@case("ReEncrypt")
def _re_encrypt(c: Ctx) -> None:
    source, destination = new_key(c.kms), new_key(c.kms)
    blob = c.kms.encrypt(KeyId=source, Plaintext=b"moving", EncryptionContext={"v": "1"})[
        "CiphertextBlob"
    ]
    moved = c.kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=destination,
        DestinationEncryptionContext={"v": "2"},
    )
    assert (moved["SourceKeyId"], moved["KeyId"]) == (key_arn(source), key_arn(destination))
    opened = c.kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"v": "2"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"moving", key_arn(destination))


@case("ReplicateKey")
def _replicate_key(c: Ctx) -> None:
    key_id = new_key(c.kms, MultiRegion=True)
    blob = c.kms.encrypt(KeyId=key_id, Plaintext=b"made in us-east-1")["CiphertextBlob"]
    out = c.kms.replicate_key(KeyId=key_id, ReplicaRegion=WEST, Description="replica")
    assert out["ReplicaKeyMetadata"]["Arn"] == key_arn(key_id, WEST)
    opened = c.west.decrypt(CiphertextBlob=blob)
    assert (opened["Plaintext"], opened["KeyId"]) == (b"made in us-east-1", key_arn(key_id, WEST))
    config = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "PRIMARY"
    assert [r["Region"] for r in config["ReplicaKeys"]] == [WEST]


@case("RetireGrant")
def _retire_grant(c: Ctx) -> None:
    key_id = new_key(c.kms)
    token = c.kms.create_grant(KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"])[
        "GrantToken"
    ]
    c.kms.retire_grant(GrantToken=token)
    assert c.kms.list_grants(KeyId=key_id)["Grants"] == []


@case("RevokeGrant")
def _revoke_grant(c: Ctx) -> None:
    key_id = new_key(c.kms)
    grant_id = c.kms.create_grant(KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"])[
        "GrantId"
    ]
    c.kms.revoke_grant(KeyId=key_id, GrantId=grant_id)
    assert c.kms.list_grants(KeyId=key_id)["Grants"] == []


@case("RotateKeyOnDemand")
def _rotate_key_on_demand(c: Ctx) -> None:
    key_id = new_key(c.kms)
    before = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    old = c.kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    assert c.kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    after = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert after != before
    assert c.kms.decrypt(CiphertextBlob=old)["KeyMaterialId"] == before
    new = c.kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert c.kms.decrypt(CiphertextBlob=new)["KeyMaterialId"] == after


@case("ScheduleKeyDeletion")
def _schedule_key_deletion(c: Ctx) -> None:
    key_id = new_key(c.kms)
    out = c.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    assert (out["KeyId"], out["KeyState"], out["PendingWindowInDays"]) == (
        key_arn(key_id),
        "PendingDeletion",
        10,
    )
    assert out["DeletionDate"] == START + timedelta(days=10)
    assert fails(c.kms.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending deletion.",
    )


@case("Sign")
def _sign(c: Ctx) -> None:
    key_id = new_key(c.kms, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    digest = hashlib.sha256(b"message").digest()
    signature = c.kms.sign(
        KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="RSASSA_PSS_SHA_256"
    )["Signature"]
    public = ser.load_der_public_key(c.kms.get_public_key(KeyId=key_id)["PublicKey"])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public.verify(signature, b"message", pss, hashes.SHA256())


@case("TagResource")
def _tag_resource(c: Ctx) -> None:
    key_id = new_key(c.kms)
    c.kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "lab"}])
    c.kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "test"}])
    assert tags(c.kms, key_id) == {"env": "test"}


@case("UntagResource")
def _untag_resource(c: Ctx) -> None:
    key_id = new_key(
        c.kms, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}]
    )
    c.kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert tags(c.kms, key_id) == {"b": "2"}


@case("UpdateAlias")
def _update_alias(c: Ctx) -> None:
    first, second = new_key(c.kms), new_key(c.kms)
    name = f"alias/moving-{first}"
    c.kms.create_alias(AliasName=name, TargetKeyId=first)
    c.kms.update_alias(AliasName=name, TargetKeyId=second)
    blob = c.kms.encrypt(KeyId=name, Plaintext=b"x")["CiphertextBlob"]
    assert c.kms.decrypt(CiphertextBlob=blob)["KeyId"] == key_arn(second)
    assert c.kms.list_aliases(KeyId=first)["Aliases"] == []


@case("UpdateCustomKeyStore")
def _update_custom_key_store(c: Ctx) -> None:
    store_id, _ = cloudhsm_store(c.kms)
    new_name = "renamed-" + secrets.token_hex(4)
    c.kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName=new_name)
    assert store_info(c.kms, store_id)["CustomKeyStoreName"] == new_name


@case("UpdateKeyDescription")
def _update_key_description(c: Ctx) -> None:
    key_id = new_key(c.kms, Description="before")
    c.kms.update_key_description(KeyId=key_id, Description="after")
    assert c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "after"


@case("UpdatePrimaryRegion")
def _update_primary_region(c: Ctx) -> None:
    key_id, blob = multi_region_pair(c)
    c.kms.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
    west = c.west.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    east = c.kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert (west["MultiRegionKeyType"], east["MultiRegionKeyType"]) == ("PRIMARY", "REPLICA")
    assert west["PrimaryKey"] == {"Arn": key_arn(key_id, WEST), "Region": WEST}
    assert c.west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"made in us-east-1"


@case("Verify")
def _verify(c: Ctx) -> None:
    key_id = signing_key(c.kms)
    signature = c.kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    args = {"KeyId": key_id, "Signature": signature, "SigningAlgorithm": "ECDSA_SHA_256"}
    assert c.kms.verify(Message=b"m", **args)["SignatureValid"] is True
    assert fails(c.kms.verify, Message=b"tampered", **args) == ("KMSInvalidSignatureException", "")
    # A signature made outside with another key does not verify either.
    stranger = ec.generate_private_key(ec.SECP256R1()).sign(b"m", ec.ECDSA(hashes.SHA256()))
    assert (
        fails(
            c.kms.verify,
            KeyId=key_id,
            Message=b"m",
            Signature=stranger,
            SigningAlgorithm="ECDSA_SHA_256",
        )[0]
        == "KMSInvalidSignatureException"
    )


@case("VerifyMac")
def _verify_mac(c: Ctx) -> None:
    key_id = hmac_key(c.kms)
    mac = c.kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    args = {"KeyId": key_id, "MacAlgorithm": "HMAC_SHA_256"}
    assert c.kms.verify_mac(Message=b"m", Mac=mac, **args)["MacValid"] is True
    assert fails(c.kms.verify_mac, Message=b"n", Mac=mac, **args) == ("KMSInvalidMacException", "")


def model_operations() -> list[str]:
    names: list[str] = list(service_model().operation_names)
    return names


def test_there_is_one_case_for_each_of_the_56_operations() -> None:
    assert len(model_operations()) == 56
    assert sorted(CASES) == sorted(model_operations())


@pytest.mark.parametrize("operation", sorted(model_operations()))
def test_the_operation_is_answered_with_a_real_result(ctx: Ctx, operation: str) -> None:
    before = len(ctx.lab.trail)
    CASES[operation](ctx)
    calls = [e for e in ctx.lab.trail[before:] if e["eventName"] == operation]
    assert calls, f"the case for {operation} never called it"
    assert any("errorCode" not in e for e in calls), calls


# == part two: key spec x operation pairs AWS refuses =============================================

#: label -> (KeySpec, KeyUsage)
KEYS = {
    "SYMMETRIC": ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    "RSA_ENCRYPT": ("RSA_2048", "ENCRYPT_DECRYPT"),
    "RSA_SIGN": ("RSA_2048", "SIGN_VERIFY"),
    "ECC_SIGN": ("ECC_NIST_P256", "SIGN_VERIFY"),
    "ECC_AGREE": ("ECC_NIST_P256", "KEY_AGREEMENT"),
    "HMAC": ("HMAC_256", "GENERATE_VERIFY_MAC"),
    "ML_KEM": ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
    "ML_DSA": ("ML_DSA_44", "SIGN_VERIFY"),
}


@pytest.fixture(scope="module")
def refusal_keys(kms: Any) -> dict[str, str]:
    made = {}
    for label, (spec, usage) in KEYS.items():
        made[label] = (
            new_key(kms)
            if spec == "SYMMETRIC_DEFAULT"
            else new_key(kms, KeySpec=spec, KeyUsage=usage)
        )
    return made


def _peer_p256() -> bytes:
    return spki(ec.generate_private_key(ec.SECP256R1()).public_key())


#: operation -> (client method, arguments besides KeyId)
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Encrypt": ("encrypt", {"Plaintext": b"x"}),
    "Decrypt": (
        "decrypt",
        {"CiphertextBlob": b"\x00" * 256, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
    ),
    "GenerateDataKey": ("generate_data_key", {"KeySpec": "AES_256"}),
    "GenerateDataKeyWithoutPlaintext": (
        "generate_data_key_without_plaintext",
        {"NumberOfBytes": 32},
    ),
    "GenerateDataKeyPair": ("generate_data_key_pair", {"KeyPairSpec": "ECC_NIST_P256"}),
    "GenerateDataKeyPairWithoutPlaintext": (
        "generate_data_key_pair_without_plaintext",
        {"KeyPairSpec": "RSA_2048"},
    ),
    "Sign": ("sign", {"Message": b"m", "SigningAlgorithm": "ECDSA_SHA_256"}),
    "Verify": (
        "verify",
        {"Message": b"m", "Signature": b"s" * 64, "SigningAlgorithm": "ECDSA_SHA_256"},
    ),
    "GenerateMac": ("generate_mac", {"Message": b"m", "MacAlgorithm": "HMAC_SHA_256"}),
    "VerifyMac": (
        "verify_mac",
        {"Message": b"m", "Mac": b"m" * 32, "MacAlgorithm": "HMAC_SHA_256"},
    ),
    "GetPublicKey": ("get_public_key", {}),
    "DeriveSharedSecret": ("derive_shared_secret", {"KeyAgreementAlgorithm": "ECDH"}),
    "Encapsulate": ("encapsulate", {"EncapsulationAlgorithm": "ML_KEM"}),
    "Decapsulate": (
        "decapsulate",
        {"EncapsulationAlgorithm": "ML_KEM", "SharedSecretCiphertextBlob": b"\x00" * 1088},
    ),
    "EnableKeyRotation": ("enable_key_rotation", {}),
    "DisableKeyRotation": ("disable_key_rotation", {}),
    "RotateKeyOnDemand": ("rotate_key_on_demand", {}),
    "GetParametersForImport": (
        "get_parameters_for_import",
        {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"},
    ),
}

USAGE = "InvalidKeyUsageException", "{arn} key usage is {usage} which is not valid for {op}."
NOT_FOR_OPERATION = (
    "UnsupportedOperationException",
    "{arn} key spec is {spec} which is not valid for this operation.",
)

#: (key label, operation, error code, message); {arn}, {usage}, {spec}, {op} are filled in.
#: AWS-recorded (kms-rules R13, LocalStack's AWS snapshots): the "key usage is X which is not
#: valid for Y." pattern (Encrypt with SIGN_VERIFY, GenerateMac/Verify with ENCRYPT_DECRYPT, Sign
#: with GENERATE_VERIFY_MAC; DeriveSharedSecret named in R13) and the GetParametersForImport
#: origin text. The GetPublicKey, rotation and data-key key-spec texts follow the same pattern
#: but are unverified against AWS.
REFUSALS: list[tuple[str, str, str, str]] = [
    # Encrypt / Decrypt: only ENCRYPT_DECRYPT keys
    ("RSA_SIGN", "Encrypt", *USAGE),
    ("ECC_SIGN", "Encrypt", *USAGE),
    ("ECC_AGREE", "Encrypt", *USAGE),
    ("HMAC", "Encrypt", *USAGE),
    ("ML_KEM", "Encrypt", *USAGE),
    ("ML_DSA", "Encrypt", *USAGE),
    ("RSA_SIGN", "Decrypt", *USAGE),
    ("HMAC", "Decrypt", *USAGE),
    # data keys: only symmetric encryption keys
    ("RSA_ENCRYPT", "GenerateDataKey", "InvalidKeyUsageException",
     "{arn} key spec is RSA_2048 which is not valid for GenerateDataKey."),
    ("RSA_ENCRYPT", "GenerateDataKeyWithoutPlaintext", "InvalidKeyUsageException",
     "{arn} key spec is RSA_2048 which is not valid for GenerateDataKeyWithoutPlaintext."),
    ("RSA_ENCRYPT", "GenerateDataKeyPair", "InvalidKeyUsageException",
     "{arn} key spec is RSA_2048 which is not valid for GenerateDataKeyPair."),
    ("ECC_SIGN", "GenerateDataKey", *USAGE),
    ("HMAC", "GenerateDataKey", *USAGE),
    ("ML_KEM", "GenerateDataKeyWithoutPlaintext", *USAGE),
    ("ECC_AGREE", "GenerateDataKeyPair", *USAGE),
    ("RSA_SIGN", "GenerateDataKeyPairWithoutPlaintext", *USAGE),
    # Sign / Verify: only SIGN_VERIFY keys
    ("SYMMETRIC", "Sign", *USAGE),
    ("RSA_ENCRYPT", "Sign", *USAGE),
    ("HMAC", "Sign", *USAGE),
    ("ECC_AGREE", "Sign", *USAGE),
    ("ML_KEM", "Sign", *USAGE),
    ("SYMMETRIC", "Verify", *USAGE),
    ("HMAC", "Verify", *USAGE),
    # MACs: only HMAC keys
    ("SYMMETRIC", "GenerateMac", *USAGE),
    ("RSA_ENCRYPT", "GenerateMac", *USAGE),
    ("RSA_SIGN", "GenerateMac", *USAGE),
    ("ECC_AGREE", "GenerateMac", *USAGE),
    ("SYMMETRIC", "VerifyMac", *USAGE),
    ("ML_DSA", "VerifyMac", *USAGE),
    # GetPublicKey: no public key in symmetric and HMAC keys
    ("SYMMETRIC", "GetPublicKey", "UnsupportedOperationException",
     "{arn} key spec is SYMMETRIC_DEFAULT which is not valid for GetPublicKey."),
    ("HMAC", "GetPublicKey", "UnsupportedOperationException",
     "{arn} key spec is HMAC_256 which is not valid for GetPublicKey."),
    # key agreement: only KEY_AGREEMENT keys
    ("SYMMETRIC", "DeriveSharedSecret", *USAGE),
    ("RSA_ENCRYPT", "DeriveSharedSecret", *USAGE),
    ("ECC_SIGN", "DeriveSharedSecret", *USAGE),
    ("HMAC", "DeriveSharedSecret", *USAGE),
    ("ML_KEM", "DeriveSharedSecret", *USAGE),
    # ML-KEM: only ENCAPSULATE_DECAPSULATE keys
    ("SYMMETRIC", "Encapsulate", *USAGE),
    ("ECC_AGREE", "Encapsulate", *USAGE),
    ("ML_DSA", "Encapsulate", *USAGE),
    ("RSA_ENCRYPT", "Decapsulate", *USAGE),
    ("HMAC", "Decapsulate", *USAGE),
    # rotation: only symmetric encryption keys
    ("RSA_ENCRYPT", "EnableKeyRotation", *NOT_FOR_OPERATION),
    ("ECC_SIGN", "EnableKeyRotation", *NOT_FOR_OPERATION),
    ("HMAC", "EnableKeyRotation", *NOT_FOR_OPERATION),
    ("ML_KEM", "EnableKeyRotation", *NOT_FOR_OPERATION),
    ("RSA_SIGN", "DisableKeyRotation", *NOT_FOR_OPERATION),
    ("ECC_AGREE", "RotateKeyOnDemand", *NOT_FOR_OPERATION),
    ("HMAC", "RotateKeyOnDemand", *NOT_FOR_OPERATION),
    # import: only keys with Origin EXTERNAL (AWS-recorded)
    ("SYMMETRIC", "GetParametersForImport", "UnsupportedOperationException",
     "{arn} origin is AWS_KMS which is not valid for this operation."),
    ("RSA_SIGN", "GetParametersForImport", "UnsupportedOperationException",
     "{arn} origin is AWS_KMS which is not valid for this operation."),
]  # fmt: skip


def _request(op: str, key_id: str) -> tuple[str, dict[str, Any]]:
    method, args = REQUESTS[op]
    args = {"KeyId": key_id, **args}
    if op == "DeriveSharedSecret":
        args["PublicKey"] = _peer_p256()
    return method, args


@pytest.mark.parametrize(
    ("label", "operation", "code", "message"),
    REFUSALS,
    ids=[f"{label}-{op}" for label, op, *_ in REFUSALS],
)
def test_aws_refuses_this_key_for_this_operation(
    kms: Any, refusal_keys: dict[str, str], label: str, operation: str, code: str, message: str
) -> None:
    key_id = refusal_keys[label]
    spec, usage = KEYS[label]
    method, args = _request(operation, key_id)
    expected = message.format(arn=key_arn(key_id), usage=usage, spec=spec, op=operation)
    assert fails(getattr(kms, method), **args) == (code, expected)


def test_the_refusal_table_covers_every_key_type_and_the_cryptographic_operations() -> None:
    assert {label for label, *_ in REFUSALS} == set(KEYS)
    assert {op for _, op, *_ in REFUSALS} == set(REQUESTS)


# The same refusals hold for algorithms that do not belong to the key spec (AWS-recorded for
# HMAC: "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.").
ALGORITHM_REFUSALS = [
    ("HMAC", "generate_mac", {"Message": b"m", "MacAlgorithm": "HMAC_SHA_512"},
     "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256."),
    ("ECC_SIGN", "sign", {"Message": b"m", "SigningAlgorithm": "RSASSA_PSS_SHA_256"},
     "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256."),
    ("RSA_SIGN", "sign", {"Message": b"m", "SigningAlgorithm": "ECDSA_SHA_256"},
     "Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048."),
]  # fmt: skip


@pytest.mark.parametrize(("label", "method", "args", "message"), ALGORITHM_REFUSALS)
def test_an_algorithm_of_another_key_spec_is_refused(
    kms: Any,
    refusal_keys: dict[str, str],
    label: str,
    method: str,
    args: dict[str, Any],
    message: str,
) -> None:
    assert fails(getattr(kms, method), KeyId=refusal_keys[label], **args) == (
        "InvalidKeyUsageException",
        message,
    )
