"""Multi-Region keys through genuine boto3 clients of two Regions of one lab.

Every effect is observed through another operation or outside kmslab: a ciphertext made in one
Region decrypts with the related key in another, a replica's signature verifies with the
primary's public key in `cryptography`, rotation of the primary shows in the replica's
ListKeyRotations, and the waiting period of a primary starts only when its last replica is gone.

Messages: the refusals specific to multi-Region keys (kmslab/ops/multiregion.py: not a
multi-Region key, a replica where the primary is required, a Region that already has a related
key, UpdatePrimaryRegion to the current primary's Region) are unverified: no recorded AWS text
was found (API Reference, Developer Guide, moto, LocalStack, public issue threads searched),
so these tests assert only their codes. The messages asserted in full are AWS-recorded:
"Key '<arn>' does not exist" (NotFoundException, LocalStack's AWS snapshot
test_get_key_in_different_region) and the key-state texts ("<arn> is disabled.", "<arn> is
pending import.") of kms-rules.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, RAW, START, fails, key_arn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

from kmslab import LocalKms

EAST, WEST, SOUTH = "us-east-1", "eu-west-1", "ap-southeast-2"
MRK_ID = re.compile(r"^mrk-[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def west(lab: LocalKms) -> Any:
    """A client of the shared lab in eu-west-1."""
    return lab.client(region_name=WEST, config=RAW)


@pytest.fixture(scope="module")
def east(lab: LocalKms) -> Any:
    return lab.client(region_name=EAST, config=RAW)


def mrk(kms: Any, **kwargs: Any) -> str:
    key_id: str = kms.create_key(MultiRegion=True, **kwargs)["KeyMetadata"]["KeyId"]
    return key_id


def config(kms: Any, key_id: str) -> dict[str, Any]:
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["MultiRegion"] is True
    mrc: dict[str, Any] = metadata["MultiRegionConfiguration"]
    return mrc


def regions(mrc: dict[str, Any]) -> list[str]:
    return [r["Region"] for r in mrc["ReplicaKeys"]]


# == CreateKey and DescribeKey =====================================================================


def test_a_multi_region_key_has_an_mrk_id_and_is_its_own_primary(east: Any) -> None:
    metadata = east.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    assert MRK_ID.match(metadata["KeyId"])
    assert metadata["Arn"] == key_arn(metadata["KeyId"])
    assert metadata["MultiRegion"] is True
    assert metadata["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": metadata["Arn"], "Region": EAST},
        "ReplicaKeys": [],
    }
    single = east.create_key()["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in single
    assert not single["KeyId"].startswith("mrk-")


# == ReplicateKey ==================================================================================


def test_a_replica_decrypts_what_the_primary_encrypted_in_another_region(
    east: Any, west: Any
) -> None:
    key_id = mrk(east, Description="primary", Tags=[{"TagKey": "team", "TagValue": "east"}])
    before = east.encrypt(KeyId=key_id, Plaintext=b"written before the replica existed")
    answer = east.replicate_key(
        KeyId=key_id,
        ReplicaRegion=WEST,
        Description="replica",
        Tags=[{"TagKey": "team", "TagValue": "west"}],
    )
    replica = answer["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key_id
    assert replica["Arn"] == key_arn(key_id, WEST)
    assert replica["KeyState"] == "Enabled"
    assert replica["Description"] == "replica"
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["MultiRegionConfiguration"]["PrimaryKey"] == {
        "Arn": key_arn(key_id),
        "Region": EAST,
    }
    assert answer["ReplicaTags"] == [{"TagKey": "team", "TagValue": "west"}]
    assert f'"arn:aws:iam::{ACCOUNT}:root"' in answer["ReplicaPolicy"]

    # Both sides see the set; independent properties stay independent.
    assert regions(config(east, key_id)) == [WEST]
    assert config(west, key_id)["MultiRegionKeyType"] == "REPLICA"
    assert regions(config(west, key_id)) == [WEST]
    assert west.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "west"}]
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "primary"
    assert key_id in [k["KeyId"] for k in west.list_keys()["Keys"]]

    # Old and new ciphertexts cross Regions in both directions, with or without KeyId.
    assert west.decrypt(CiphertextBlob=before["CiphertextBlob"])["Plaintext"] == (
        b"written before the replica existed"
    )
    made_east = east.encrypt(KeyId=key_id, Plaintext=b"east", EncryptionContext={"a": "b"})
    opened = west.decrypt(
        CiphertextBlob=made_east["CiphertextBlob"],
        KeyId=key_arn(key_id, WEST),
        EncryptionContext={"a": "b"},
    )
    assert opened["Plaintext"] == b"east"
    assert opened["KeyId"] == key_arn(key_id, WEST)
    data_key = west.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    again = east.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
    assert again["Plaintext"] == data_key["Plaintext"]
    assert again["KeyMaterialId"] == data_key["KeyMaterialId"]


def test_a_disabled_replica_refuses_while_its_primary_still_works(east: Any, west: Any) -> None:
    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    blob = east.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    west.disable_key(KeyId=key_id)
    code, message = fails(west.decrypt, CiphertextBlob=blob)
    assert (code, message) == ("DisabledException", f"{key_arn(key_id, WEST)} is disabled.")
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_replicate_key_refusals(east: Any, west: Any) -> None:
    single = east.create_key()["KeyMetadata"]["KeyId"]
    code, _ = fails(east.replicate_key, KeyId=single, ReplicaRegion=WEST)
    assert code == "UnsupportedOperationException"

    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    code, message = fails(east.replicate_key, KeyId=key_id, ReplicaRegion=WEST)
    assert code == "AlreadyExistsException"
    assert key_arn(key_id, WEST) in message
    code, _ = fails(east.replicate_key, KeyId=key_id, ReplicaRegion=EAST)
    assert code == "AlreadyExistsException"
    # A replica cannot be replicated: only the primary is the source of a set.
    code, message = fails(west.replicate_key, KeyId=key_id, ReplicaRegion=SOUTH)
    assert code == "UnsupportedOperationException"
    assert "replica" in message
    # The Region must look like one (model pattern), the key must exist, aliases are refused.
    code, message = fails(east.replicate_key, KeyId=key_id, ReplicaRegion="Mars")
    assert code == "ValidationException"
    assert "replicaRegion" in message
    code, _ = fails(east.replicate_key, KeyId="mrk-" + "0" * 32, ReplicaRegion=SOUTH)
    assert code == "NotFoundException"
    east.create_alias(AliasName="alias/mrk-replicate", TargetKeyId=key_id)
    code, _ = fails(east.replicate_key, KeyId="alias/mrk-replicate", ReplicaRegion=SOUTH)
    assert code == "NotFoundException"

    disabled = mrk(east)
    east.disable_key(KeyId=disabled)
    code, message = fails(east.replicate_key, KeyId=disabled, ReplicaRegion=WEST)
    assert (code, message) == ("DisabledException", f"{key_arn(disabled)} is disabled.")
    code, _ = fails(
        east.replicate_key,
        KeyId=mrk(east),
        ReplicaRegion=WEST,
        Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}],
    )
    assert code == "TagException"


def test_an_asymmetric_replica_signs_what_the_primarys_public_key_verifies(
    east: Any, west: Any
) -> None:
    key_id = mrk(east, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    message = b"signed in eu-west-1"
    signature = west.sign(KeyId=key_id, Message=message, SigningAlgorithm="ECDSA_SHA_256")[
        "Signature"
    ]
    public_der = east.get_public_key(KeyId=key_id)["PublicKey"]
    assert west.get_public_key(KeyId=key_id)["PublicKey"] == public_der
    public = load_der_public_key(public_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))  # raises if invalid
    assert east.verify(
        KeyId=key_id, Message=message, Signature=signature, SigningAlgorithm="ECDSA_SHA_256"
    )["SignatureValid"]


def test_an_rsa_replica_decrypts_what_was_encrypted_with_the_primarys_public_key(
    east: Any, west: Any
) -> None:
    key_id = mrk(east, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    public = load_der_public_key(east.get_public_key(KeyId=key_id)["PublicKey"])
    ciphertext = public.encrypt(  # type: ignore[union-attr]
        b"sealed outside kmslab",
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    answer = west.decrypt(
        KeyId=key_id, CiphertextBlob=ciphertext, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert answer["Plaintext"] == b"sealed outside kmslab"


def test_an_hmac_replica_verifies_the_primarys_mac(east: Any, west: Any) -> None:
    key_id = mrk(east, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    mac = east.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert west.verify_mac(KeyId=key_id, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")[
        "MacValid"
    ]
    assert west.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"] == mac


def test_a_replica_of_an_imported_key_waits_for_its_own_import(east: Any, west: Any) -> None:
    key_id = mrk(east, Origin="EXTERNAL")
    replica = east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)["ReplicaKeyMetadata"]
    assert replica["Origin"] == "EXTERNAL"
    assert replica["KeyState"] == "PendingImport"
    code, message = fails(west.encrypt, KeyId=key_id, Plaintext=b"x")
    assert (code, message) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id, WEST)} is pending import.",
    )


# == rotation ======================================================================================


def test_rotating_the_primary_rotates_every_replica(east: Any, west: Any) -> None:
    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    old = east.encrypt(KeyId=key_id, Plaintext=b"old")

    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = west.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    code, message = fails(west.enable_key_rotation, KeyId=key_id)
    assert code == "UnsupportedOperationException"
    assert "replica" in message
    code, _ = fails(west.disable_key_rotation, KeyId=key_id)
    assert code == "UnsupportedOperationException"
    code, _ = fails(west.rotate_key_on_demand, KeyId=key_id)
    assert code == "UnsupportedOperationException"

    east.rotate_key_on_demand(KeyId=key_id)
    rotations = west.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    current = east.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert west.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == current
    new = west.encrypt(KeyId=key_id, Plaintext=b"new")
    answer = east.decrypt(CiphertextBlob=new["CiphertextBlob"])
    assert answer["Plaintext"] == b"new"
    assert answer["KeyMaterialId"] == current
    assert west.decrypt(CiphertextBlob=old["CiphertextBlob"])["Plaintext"] == b"old"

    east.disable_key_rotation(KeyId=key_id)
    assert west.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_automatic_rotation_of_the_primary_reaches_the_replica(
    make_lab: Callable[..., LocalKms],
) -> None:
    own = make_lab()
    east, west = own.client(config=RAW), own.client(region_name=WEST, config=RAW)
    key_id = mrk(east)
    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    own.clock.advance(days=91)
    for client in (east, west):
        rotations = client.list_key_rotations(KeyId=key_id)["Rotations"]
        assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    blob = east.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    answer = west.decrypt(CiphertextBlob=blob)
    assert answer["Plaintext"] == b"after"
    assert answer["KeyMaterialId"] == rotations[0]["KeyMaterialId"]
    assert (
        west.get_key_rotation_status(KeyId=key_id)["NextRotationDate"]
        == (east.get_key_rotation_status(KeyId=key_id)["NextRotationDate"])
    )


# == UpdatePrimaryRegion ===========================================================================


def test_update_primary_region_swaps_the_roles(lab: LocalKms, east: Any, west: Any) -> None:
    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    east.replicate_key(KeyId=key_id, ReplicaRegion=SOUTH)
    assert east.update_primary_region(KeyId=key_id, PrimaryRegion=WEST)["ResponseMetadata"]

    new_primary = config(west, key_id)
    assert new_primary["MultiRegionKeyType"] == "PRIMARY"
    assert new_primary["PrimaryKey"] == {"Arn": key_arn(key_id, WEST), "Region": WEST}
    assert regions(new_primary) == [SOUTH, EAST]
    assert config(east, key_id)["MultiRegionKeyType"] == "REPLICA"
    assert config(east, key_id)["PrimaryKey"]["Region"] == WEST
    # The old primary can no longer replicate or manage rotation; the new one can.
    code, _ = fails(east.replicate_key, KeyId=key_id, ReplicaRegion="us-west-2")
    assert code == "UnsupportedOperationException"
    code, _ = fails(east.enable_key_rotation, KeyId=key_id)
    assert code == "UnsupportedOperationException"
    west.enable_key_rotation(KeyId=key_id)
    assert east.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    west.rotate_key_on_demand(KeyId=key_id)
    assert [r["RotationType"] for r in east.list_key_rotations(KeyId=key_id)["Rotations"]] == [
        "ON_DEMAND"
    ]
    blob = west.encrypt(KeyId=key_id, Plaintext=b"swap")["CiphertextBlob"]
    south = lab.client(region_name=SOUTH, config=RAW)
    assert south.decrypt(CiphertextBlob=blob)["Plaintext"] == b"swap"
    assert config(south, key_id)["PrimaryKey"]["Region"] == WEST


def test_update_primary_region_refusals(east: Any, west: Any) -> None:
    single = east.create_key()["KeyMetadata"]["KeyId"]
    code, _ = fails(east.update_primary_region, KeyId=single, PrimaryRegion=WEST)
    assert code == "UnsupportedOperationException"

    key_id = mrk(east)
    code, message = fails(east.update_primary_region, KeyId=key_id, PrimaryRegion=WEST)
    assert (code, message) == ("NotFoundException", f"Key '{key_arn(key_id, WEST)}' does not exist")
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    code, _ = fails(west.update_primary_region, KeyId=key_id, PrimaryRegion=EAST)
    assert code == "UnsupportedOperationException"  # KeyId must name the current primary
    code, _ = fails(east.update_primary_region, KeyId=key_id, PrimaryRegion=EAST)
    assert code == "ValidationException"
    # Both keys must be Enabled when the update starts.
    west.disable_key(KeyId=key_id)
    code, message = fails(east.update_primary_region, KeyId=key_id, PrimaryRegion=WEST)
    assert (code, message) == ("DisabledException", f"{key_arn(key_id, WEST)} is disabled.")
    west.enable_key(KeyId=key_id)
    east.disable_key(KeyId=key_id)
    code, message = fails(east.update_primary_region, KeyId=key_id, PrimaryRegion=WEST)
    assert (code, message) == ("DisabledException", f"{key_arn(key_id)} is disabled.")
    assert config(east, key_id)["MultiRegionKeyType"] == "PRIMARY"


# == deletion ======================================================================================


def test_a_primary_waits_in_pending_replica_deletion_until_its_replicas_are_gone(
    make_lab: Callable[..., LocalKms],
) -> None:
    own = make_lab()
    east, west = own.client(config=RAW), own.client(region_name=WEST, config=RAW)
    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    blob = east.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]

    scheduled = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingReplicaDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    assert "DeletionDate" not in scheduled
    metadata = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingReplicaDeletion"
    assert metadata["PendingDeletionWindowInDays"] == 7
    assert "DeletionDate" not in metadata
    code, message = fails(east.encrypt, KeyId=key_id, Plaintext=b"x")
    assert (code, message) == (
        "KMSInvalidStateException",
        f"{key_arn(key_id)} is pending replica deletion.",
    )
    code, _ = fails(east.replicate_key, KeyId=key_id, ReplicaRegion=SOUTH)
    assert code == "KMSInvalidStateException"
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # the replica still works

    own.clock.advance(days=60)  # nothing happens while a replica exists
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingReplicaDeletion"

    replica = west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    assert replica["KeyState"] == "PendingDeletion"
    replica_deleted = replica["DeletionDate"]
    own.clock.advance(days=10)
    code, _ = fails(west.describe_key, KeyId=key_id)
    assert code == "NotFoundException"
    metadata = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
    assert metadata["DeletionDate"] == replica_deleted + timedelta(days=7)
    assert metadata["MultiRegionConfiguration"]["ReplicaKeys"] == []
    own.clock.advance(days=7)
    code, _ = fails(east.describe_key, KeyId=key_id)
    assert code == "NotFoundException"


def test_canceling_pending_replica_deletion_disables_the_primary(east: Any) -> None:
    key_id = mrk(east)
    east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    east.schedule_key_deletion(KeyId=key_id)
    assert east.cancel_key_deletion(KeyId=key_id)["KeyId"] == key_arn(key_id)
    metadata = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Disabled"
    assert "PendingDeletionWindowInDays" not in metadata


def test_a_primary_without_replicas_is_deleted_like_any_key(east: Any) -> None:
    key_id = mrk(east)
    scheduled = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["DeletionDate"] == START + timedelta(days=7)


# == persistence ===================================================================================


def test_replicas_survive_a_reopen(tmp_path: Path) -> None:
    state = tmp_path / "lab.db"
    with LocalKms(state=state, seed=3) as first:
        east = first.client()
        key_id = mrk(east)
        east.replicate_key(KeyId=key_id, ReplicaRegion=WEST, Description="kept")
        east.rotate_key_on_demand(KeyId=key_id)
        blob = east.encrypt(KeyId=key_id, Plaintext=b"persisted")["CiphertextBlob"]
    with LocalKms(state=state) as second:
        west = second.client(region_name=WEST)
        metadata = west.describe_key(KeyId=key_id)["KeyMetadata"]
        assert metadata["Description"] == "kept"
        assert metadata["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
        assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"persisted"
        assert len(west.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
        east = second.client()
        assert regions(config(east, key_id)) == [WEST]
