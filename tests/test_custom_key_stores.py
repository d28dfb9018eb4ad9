"""Custom key stores (simulated CloudHSM clusters and external key store proxies) through a
genuine boto3 client.

Each effect is observed through another operation: a store's settings through
DescribeCustomKeyStores, its connection through the state of the keys it holds (Unavailable
while disconnected, back to what they were on reconnect), a key's home through DescribeKey.

Messages: every refusal message of the custom key store operations (kmslab/ops/keystores.py)
is unverified: the API Reference documents each error code but not its text, and no recorded
AWS response was found (AWS API Reference and Developer Guide, botocore's model, moto,
LocalStack and public issue threads searched). So these tests assert the codes, and a message
only where it names the parameter at fault; the key-state messages they assert
("<arn> is unavailable." and the like) are the AWS-recorded ones of kms-rules.md.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, RAW, START, fails, key_arn

from kmslab import LocalKms

STORE_ID = re.compile(r"^cks-[0-9a-f]{17}$")
TRUST_ANCHOR = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG...\n-----END CERTIFICATE-----\n"
PASSWORD = "kmsuser-Passw0rd"
ACCESS_KEY_ID = "ABCDEFGHIJKLMNOPQRST2345"
SECRET = "s3cr3t/XKS+proxy=credential0123456789abcdefgh"
_serial = itertools.count(1)


def _unique() -> str:
    """A fresh lowercase-letter suffix (cluster ids allow only [2-7a-zA-Z])."""
    n, letters = next(_serial), ""
    while n:
        n, r = divmod(n, 26)
        letters = chr(ord("a") + r) + letters
    return letters.rjust(11, "a")


def cloudhsm(kms: Any, *, connect: bool = False, **overrides: Any) -> str:
    params: dict[str, Any] = {
        "CustomKeyStoreName": "hsm-" + _unique(),
        "CloudHsmClusterId": "cluster-" + _unique(),
        "TrustAnchorCertificate": TRUST_ANCHOR,
        "KeyStorePassword": PASSWORD,
    }
    params.update(overrides)
    store_id: str = kms.create_custom_key_store(**params)["CustomKeyStoreId"]
    if connect:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    return store_id


def external(kms: Any, *, connect: bool = False, vpc: bool = False, **overrides: Any) -> str:
    name = _unique()
    params: dict[str, Any] = {
        "CustomKeyStoreName": "xks-" + name,
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": f"https://xks-{name}.example.com",
        "XksProxyUriPath": "/kms/xks/v1",
        "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE" if vpc else "PUBLIC_ENDPOINT",
        "XksProxyAuthenticationCredential": {
            "AccessKeyId": ACCESS_KEY_ID,
            "RawSecretAccessKey": SECRET,
        },
    }
    if vpc:
        params["XksProxyVpcEndpointServiceName"] = f"com.amazonaws.vpce.us-east-1.vpce-svc-{name}"
    params.update(overrides)
    store_id: str = kms.create_custom_key_store(**params)["CustomKeyStoreId"]
    if connect:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    return store_id


def describe(kms: Any, store_id: str) -> dict[str, Any]:
    stores = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert len(stores) == 1
    entry: dict[str, Any] = stores[0]
    return entry


def state_of(kms: Any, key_id: str) -> str:
    state: str = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    return state


def hsm_key(kms: Any, store_id: str) -> str:
    key_id: str = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"][
        "KeyId"
    ]
    return key_id


@pytest.fixture
def kms(raw_kms: Any) -> Iterator[Any]:
    """The shared lab's client; stores a test leaves without keys are deleted afterwards (the
    quota is 10 stores per account and Region)."""
    before = {
        s["CustomKeyStoreId"] for s in raw_kms.describe_custom_key_stores()["CustomKeyStores"]
    }
    yield raw_kms
    for entry in raw_kms.describe_custom_key_stores()["CustomKeyStores"]:
        store_id = entry["CustomKeyStoreId"]
        if store_id in before:
            continue
        if entry["ConnectionState"] != "DISCONNECTED":
            raw_kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
        with contextlib.suppress(raw_kms.exceptions.CustomKeyStoreHasCMKsException):
            raw_kms.delete_custom_key_store(CustomKeyStoreId=store_id)


@pytest.fixture(scope="module")
def hsm(raw_kms: Any) -> str:
    """A connected CloudHSM key store of the shared lab."""
    return cloudhsm(raw_kms, connect=True)


# == the store's life ==============================================================================


def test_a_cloudhsm_key_store_lifecycle(kms: Any) -> None:
    name, cluster = "lifecycle-" + _unique(), "cluster-" + _unique()
    store_id = cloudhsm(kms, CustomKeyStoreName=name, CloudHsmClusterId=cluster)
    assert STORE_ID.match(store_id)
    entry = describe(kms, store_id)
    assert entry == {
        "CustomKeyStoreId": store_id,
        "CustomKeyStoreName": name,
        "CloudHsmClusterId": cluster,
        "TrustAnchorCertificate": TRUST_ANCHOR,
        "ConnectionState": "DISCONNECTED",
        "CreationDate": START,
        "CustomKeyStoreType": "AWS_CLOUDHSM",
    }
    by_name = kms.describe_custom_key_stores(CustomKeyStoreName=name)["CustomKeyStores"]
    assert [s["CustomKeyStoreId"] for s in by_name] == [store_id]

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)  # connecting again is harmless
    # While connected only the name may change.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName=name + "-2")
    assert describe(kms, store_id)["CustomKeyStoreName"] == name + "-2"
    for change in ({"KeyStorePassword": "another-password"}, {"CloudHsmClusterId": cluster + "b"}):
        code, _ = fails(kms.update_custom_key_store, CustomKeyStoreId=store_id, **change)
        assert code == "CustomKeyStoreInvalidStateException"
    code, _ = fails(kms.delete_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "DISCONNECTED"
    code, _ = fails(kms.disconnect_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    kms.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=cluster + "b")
    assert describe(kms, store_id)["CloudHsmClusterId"] == cluster + "b"

    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    for operation in (
        kms.describe_custom_key_stores,
        kms.connect_custom_key_store,
        kms.delete_custom_key_store,
    ):
        code, message = fails(operation, CustomKeyStoreId=store_id)
        assert code == "CustomKeyStoreNotFoundException"
        assert store_id in message
    listed = kms.describe_custom_key_stores()["CustomKeyStores"]
    assert store_id not in [s["CustomKeyStoreId"] for s in listed]


def test_an_external_key_store_is_described_without_its_secret(kms: Any) -> None:
    store_id = external(kms, vpc=True)
    entry = describe(kms, store_id)
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert "CloudHsmClusterId" not in entry
    assert "TrustAnchorCertificate" not in entry
    proxy = entry["XksProxyConfiguration"]
    assert proxy["Connectivity"] == "VPC_ENDPOINT_SERVICE"
    assert proxy["AccessKeyId"] == ACCESS_KEY_ID
    assert proxy["UriPath"] == "/kms/xks/v1"
    assert proxy["UriEndpoint"].startswith("https://xks-")
    assert proxy["VpcEndpointServiceName"].startswith("com.amazonaws.vpce.us-east-1.vpce-svc-")
    assert proxy["VpcEndpointServiceOwner"] == ACCOUNT
    assert SECRET not in repr(entry)


def test_describe_custom_key_stores_filters_and_pages(kms: Any) -> None:
    first, second = cloudhsm(kms), external(kms)
    ids, marker = [], None
    while True:
        page = kms.describe_custom_key_stores(Limit=1, **({"Marker": marker} if marker else {}))
        ids += [s["CustomKeyStoreId"] for s in page["CustomKeyStores"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert ids.index(first) < ids.index(second)
    code, _ = fails(kms.describe_custom_key_stores, CustomKeyStoreId=first, CustomKeyStoreName="x")
    assert code == "ValidationException"
    code, message = fails(kms.describe_custom_key_stores, CustomKeyStoreName="no-such-store")
    assert code == "CustomKeyStoreNotFoundException"
    assert "no-such-store" in message
    code, _ = fails(kms.describe_custom_key_stores, CustomKeyStoreId="cks-0123456789abcdef0")
    assert code == "CustomKeyStoreNotFoundException"
    # Stores belong to one Region.
    code, _ = fails(kms.connect_custom_key_store, CustomKeyStoreId="cks-0123456789abcdef0")
    assert code == "CustomKeyStoreNotFoundException"


def test_create_custom_key_store_checks_its_parameters(kms: Any) -> None:
    base = {
        "CustomKeyStoreName": "bad-" + _unique(),
        "CloudHsmClusterId": "cluster-" + _unique(),
        "TrustAnchorCertificate": TRUST_ANCHOR,
        "KeyStorePassword": PASSWORD,
    }
    for missing in ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword"):
        params = {k: v for k, v in base.items() if k != missing}
        code, message = fails(kms.create_custom_key_store, **params)
        assert (code, missing in message) == ("ValidationException", True)
    code, message = fails(kms.create_custom_key_store, **base, XksProxyUriPath="/kms/xks/v1")
    assert (code, "XksProxyUriPath" in message) == ("ValidationException", True)
    # The model's constraints, worded by AWS; a password is never echoed.
    code, message = fails(kms.create_custom_key_store, **{**base, "KeyStorePassword": "short"})
    assert code == "ValidationException"
    assert "'keyStorePassword' failed to satisfy constraint" in message
    assert "short" not in message
    code, message = fails(kms.create_custom_key_store, **{**base, "CloudHsmClusterId": "c-1"})
    assert code == "ValidationException"
    assert "cloudHsmClusterId" in message
    code, _ = fails(
        kms.create_custom_key_store, **{**base, "TrustAnchorCertificate": "not a certificate"}
    )
    assert code == "IncorrectTrustAnchorException"

    xks = {
        "CustomKeyStoreName": "bad-" + _unique(),
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": "https://bad.example.com",
        "XksProxyUriPath": "/kms/xks/v1",
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
        "XksProxyAuthenticationCredential": {
            "AccessKeyId": ACCESS_KEY_ID,
            "RawSecretAccessKey": SECRET,
        },
    }
    code, message = fails(
        kms.create_custom_key_store,
        **{k: v for k, v in xks.items() if k != "XksProxyAuthenticationCredential"},
    )
    assert (code, "XksProxyAuthenticationCredential" in message) == ("ValidationException", True)
    code, _ = fails(kms.create_custom_key_store, **xks, KeyStorePassword=PASSWORD)
    assert code == "ValidationException"
    code, _ = fails(
        kms.create_custom_key_store,
        **xks,
        XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-abc",
    )
    assert code == "ValidationException"
    code, _ = fails(
        kms.create_custom_key_store, **{**xks, "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE"}
    )
    assert code == "ValidationException"
    code, message = fails(kms.create_custom_key_store, **{**xks, "XksProxyUriPath": "/v1"})
    assert (code, "xksProxyUriPath" in message) == ("ValidationException", True)
    code, _ = fails(kms.describe_custom_key_stores, CustomKeyStoreName=xks["CustomKeyStoreName"])
    assert code == "CustomKeyStoreNotFoundException"  # nothing was created


def test_names_clusters_and_proxy_addresses_are_unique(kms: Any) -> None:
    name, cluster = "unique-" + _unique(), "cluster-" + _unique()
    cloudhsm(kms, CustomKeyStoreName=name, CloudHsmClusterId=cluster)
    code, _ = fails(kms.create_custom_key_store, **_hsm_params(CustomKeyStoreName=name))
    assert code == "CustomKeyStoreNameInUseException"
    code, _ = fails(kms.create_custom_key_store, **_hsm_params(CloudHsmClusterId=cluster))
    assert code == "CloudHsmClusterInUseException"

    vpc = external(kms, vpc=True)
    proxy = describe(kms, vpc)["XksProxyConfiguration"]
    code, _ = fails(
        kms.create_custom_key_store,
        **_xks_params(XksProxyUriEndpoint=proxy["UriEndpoint"], XksProxyUriPath=proxy["UriPath"]),
    )
    assert code == "XksProxyUriInUseException"
    code, _ = fails(
        kms.create_custom_key_store,
        **_xks_params(XksProxyUriEndpoint=proxy["UriEndpoint"], XksProxyUriPath="/a/kms/xks/v1"),
    )
    assert code == "XksProxyUriEndpointInUseException"
    code, _ = fails(
        kms.create_custom_key_store,
        **_xks_params(
            XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
            XksProxyVpcEndpointServiceName=proxy["VpcEndpointServiceName"],
        ),
    )
    assert code == "XksProxyVpcEndpointServiceInUseException"
    other = external(kms)
    code, _ = fails(kms.update_custom_key_store, CustomKeyStoreId=other, NewCustomKeyStoreName=name)
    assert code == "CustomKeyStoreNameInUseException"


def _hsm_params(**overrides: Any) -> dict[str, Any]:
    params = {
        "CustomKeyStoreName": "hsm-" + _unique(),
        "CloudHsmClusterId": "cluster-" + _unique(),
        "TrustAnchorCertificate": TRUST_ANCHOR,
        "KeyStorePassword": PASSWORD,
    }
    return {**params, **overrides}


def _xks_params(**overrides: Any) -> dict[str, Any]:
    name = _unique()
    params = {
        "CustomKeyStoreName": "xks-" + name,
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": f"https://xks-{name}.example.com",
        "XksProxyUriPath": "/kms/xks/v1",
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
        "XksProxyAuthenticationCredential": {
            "AccessKeyId": ACCESS_KEY_ID,
            "RawSecretAccessKey": SECRET,
        },
    }
    return {**params, **overrides}


def test_an_account_and_region_holds_at_most_ten_stores(lab: LocalKms) -> None:
    kms = lab.client(region_name="sa-east-1", config=RAW)
    for _ in range(10):
        cloudhsm(kms)
    code, _ = fails(kms.create_custom_key_store, **_hsm_params())
    assert code == "LimitExceededException"


def test_a_wrong_password_leaves_the_store_failed_until_corrected(kms: Any) -> None:
    store_id = cloudhsm(kms)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword="not-kmsusers")
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = describe(kms, store_id)
    assert entry["ConnectionState"] == "FAILED"
    assert entry["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    code, _ = fails(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    code, _ = fails(kms.connect_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    code, _ = fails(
        kms.update_custom_key_store, CustomKeyStoreId=store_id, KeyStorePassword="x" * 8
    )
    assert code == "CustomKeyStoreInvalidStateException"

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert "ConnectionErrorCode" not in describe(kms, store_id)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=PASSWORD)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"


def test_an_external_key_store_changes_its_proxy_settings_by_the_rules(kms: Any) -> None:
    store_id = external(kms, connect=True)
    # Path and credential may change while connected; the endpoint may not.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyUriPath="/tenant/kms/xks/v2")
    kms.update_custom_key_store(
        CustomKeyStoreId=store_id,
        XksProxyAuthenticationCredential={
            "AccessKeyId": "ZYXWVUTSRQPONMLKJIHG",
            "RawSecretAccessKey": SECRET,
        },
    )
    proxy = describe(kms, store_id)["XksProxyConfiguration"]
    assert (proxy["UriPath"], proxy["AccessKeyId"]) == (
        "/tenant/kms/xks/v2",
        "ZYXWVUTSRQPONMLKJIHG",
    )
    code, _ = fails(
        kms.update_custom_key_store,
        CustomKeyStoreId=store_id,
        XksProxyUriEndpoint="https://moved.example.com",
    )
    assert code == "CustomKeyStoreInvalidStateException"
    code, _ = fails(
        kms.update_custom_key_store, CustomKeyStoreId=store_id, KeyStorePassword=PASSWORD
    )
    assert code == "ValidationException"

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    code, _ = fails(
        kms.update_custom_key_store,
        CustomKeyStoreId=store_id,
        XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
        XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-moved",
    )
    assert code == "ValidationException"  # a new connectivity needs a new endpoint
    kms.update_custom_key_store(
        CustomKeyStoreId=store_id,
        XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
        XksProxyUriEndpoint="https://private.example.com",
        XksProxyVpcEndpointServiceName="com.amazonaws.vpce.us-east-1.vpce-svc-moved",
    )
    proxy = describe(kms, store_id)["XksProxyConfiguration"]
    assert proxy["Connectivity"] == "VPC_ENDPOINT_SERVICE"
    assert proxy["VpcEndpointServiceOwner"] == ACCOUNT
    kms.update_custom_key_store(
        CustomKeyStoreId=store_id,
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint="https://public.example.com",
    )
    proxy = describe(kms, store_id)["XksProxyConfiguration"]
    assert proxy["Connectivity"] == "PUBLIC_ENDPOINT"
    assert "VpcEndpointServiceName" not in proxy


# == keys in a store ===============================================================================


def test_a_key_in_a_cloudhsm_key_store(kms: Any, hsm: str) -> None:
    metadata = kms.create_key(
        Origin="AWS_CLOUDHSM", CustomKeyStoreId=hsm, Description="in the HSM"
    )["KeyMetadata"]
    assert metadata["Origin"] == "AWS_CLOUDHSM"
    assert metadata["CustomKeyStoreId"] == hsm
    assert metadata["CloudHsmClusterId"] == describe(kms, hsm)["CloudHsmClusterId"]
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert "CurrentKeyMaterialId" not in metadata
    assert "XksKeyConfiguration" not in metadata
    key_id = metadata["KeyId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"] == metadata
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"in the HSM")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the HSM"

    # Keys in custom key stores do not rotate.
    for operation in (
        kms.enable_key_rotation,
        kms.get_key_rotation_status,
        kms.rotate_key_on_demand,
    ):
        code, message = fails(operation, KeyId=key_id)
        assert (code, message) == (
            "UnsupportedOperationException",
            f"{key_arn(key_id)} origin is AWS_CLOUDHSM which is not valid for this operation.",
        )

    random = kms.generate_random(NumberOfBytes=32, CustomKeyStoreId=hsm)["Plaintext"]
    assert len(random) == 32
    assert random != kms.generate_random(NumberOfBytes=32, CustomKeyStoreId=hsm)["Plaintext"]


def test_create_key_refuses_what_a_custom_key_store_cannot_hold(kms: Any, hsm: str) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, "UnsupportedOperationException"),
        ({"MultiRegion": True}, "UnsupportedOperationException"),
        ({"XksKeyId": "ext-1"}, "ValidationException"),
        ({"Origin": "AWS_KMS"}, "ValidationException"),
        ({"Origin": "EXTERNAL_KEY_STORE", "XksKeyId": "ext-1"}, "UnsupportedOperationException"),
    ]
    for extra, expected in cases:
        params = {"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": hsm, **extra}
        code, _ = fails(kms.create_key, **params)
        assert code == expected, extra
    code, _ = fails(kms.create_key, Origin="AWS_CLOUDHSM")
    assert code == "ValidationException"
    code, _ = fails(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-0000000000000000a")
    assert code == "CustomKeyStoreNotFoundException"


def test_a_key_in_an_external_key_store_names_its_external_key(kms: Any) -> None:
    store_id = external(kms, connect=True)
    metadata = kms.create_key(
        Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId="external-key-1"
    )["KeyMetadata"]
    assert metadata["Origin"] == "EXTERNAL_KEY_STORE"
    assert metadata["CustomKeyStoreId"] == store_id
    assert metadata["XksKeyConfiguration"] == {"Id": "external-key-1"}
    assert "CloudHsmClusterId" not in metadata
    key_id = metadata["KeyId"]
    blob = kms.generate_data_key(KeyId=key_id, NumberOfBytes=16)
    assert kms.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == blob["Plaintext"]
    code, message = fails(
        kms.create_key,
        Origin="EXTERNAL_KEY_STORE",
        CustomKeyStoreId=store_id,
        XksKeyId="external-key-1",
    )
    assert code == "XksKeyAlreadyInUseException"
    assert key_arn(key_id) in message
    code, _ = fails(kms.create_key, Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id)
    assert code == "ValidationException"
    code, _ = fails(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    assert code == "UnsupportedOperationException"
    code, _ = fails(kms.generate_random, NumberOfBytes=8, CustomKeyStoreId=store_id)
    assert code == "UnsupportedOperationException"
    code, _ = fails(kms.delete_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"


def test_disconnecting_makes_keys_unavailable_and_reconnecting_restores_them(kms: Any) -> None:
    store_id = cloudhsm(kms, connect=True)
    on, off = hsm_key(kms, store_id), hsm_key(kms, store_id)
    kms.disable_key(KeyId=off)
    blob = kms.encrypt(KeyId=on, Plaintext=b"before")["CiphertextBlob"]

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    for key_id in (on, off):
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert (metadata["KeyState"], metadata["Enabled"]) == ("Unavailable", False)
    unavailable = ("KMSInvalidStateException", f"{key_arn(on)} is unavailable.")
    assert fails(kms.encrypt, KeyId=on, Plaintext=b"x") == unavailable
    assert fails(kms.decrypt, CiphertextBlob=blob) == unavailable
    assert fails(kms.generate_data_key, KeyId=on, KeySpec="AES_256") == unavailable
    code, _ = fails(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    code, _ = fails(kms.generate_random, NumberOfBytes=8, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    # Management goes on; EnableKey and DisableKey take effect when the key is available again.
    kms.update_key_description(KeyId=on, Description="managed while unavailable")
    kms.tag_resource(KeyId=on, Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms.disable_key(KeyId=on)
    kms.enable_key(KeyId=off)
    assert (state_of(kms, on), state_of(kms, off)) == ("Unavailable", "Unavailable")

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert (state_of(kms, on), state_of(kms, off)) == ("Disabled", "Enabled")
    kms.enable_key(KeyId=on)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    code, _ = fails(kms.delete_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreInvalidStateException"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    code, message = fails(kms.delete_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreHasCMKsException"
    assert store_id in message


def test_a_key_pending_deletion_stays_pending_while_its_store_is_disconnected(
    kms: Any,
) -> None:
    store_id = cloudhsm(kms, connect=True)
    key_id = hsm_key(kms, store_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert state_of(kms, key_id) == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key_id)  # Disabled, but not until the store is back
    assert state_of(kms, key_id) == "Unavailable"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert state_of(kms, key_id) == "Disabled"


def test_a_store_can_be_deleted_once_its_keys_are_deleted(
    make_lab: Callable[..., LocalKms],
) -> None:
    own = make_lab()
    kms = own.client(config=RAW)
    store_id = cloudhsm(kms, connect=True)
    key_id = hsm_key(kms, store_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    code, _ = fails(kms.delete_custom_key_store, CustomKeyStoreId=store_id)
    assert code == "CustomKeyStoreHasCMKsException"  # pending deletion still counts
    own.clock.advance(days=7)
    code, _ = fails(kms.describe_key, KeyId=key_id)
    assert code == "NotFoundException"
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []


# == persistence ===================================================================================


def test_stores_and_their_keys_survive_a_reopen(tmp_path: Path) -> None:
    state = tmp_path / "lab.db"
    with LocalKms(state=state, seed=5) as first:
        kms = first.client()
        hsm_id = cloudhsm(kms, connect=True, CustomKeyStoreName="kept-hsm")
        xks_id = external(kms, vpc=True, CustomKeyStoreName="kept-xks")
        key_id = hsm_key(kms, hsm_id)
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
        kms.disconnect_custom_key_store(CustomKeyStoreId=hsm_id)
        described = {s: describe(kms, s) for s in (hsm_id, xks_id)}
    with sqlite3.connect(state) as db:  # only digests of the secrets reach the store's documents
        docs = " ".join(doc for (doc,) in db.execute("SELECT doc FROM docs"))
    assert "cks-" in docs
    assert PASSWORD not in docs
    assert SECRET not in docs
    with LocalKms(state=state) as second:
        kms = second.client()
        assert {s: describe(kms, s) for s in (hsm_id, xks_id)} == described
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert metadata["KeyState"] == "Unavailable"
        assert metadata["CloudHsmClusterId"] == described[hsm_id]["CloudHsmClusterId"]
        kms.connect_custom_key_store(CustomKeyStoreId=hsm_id)  # the password digest survived
        assert state_of(kms, key_id) == "Enabled"
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
        code, _ = fails(kms.create_custom_key_store, **_hsm_params(CustomKeyStoreName="kept-xks"))
        assert code == "CustomKeyStoreNameInUseException"


def test_the_trail_never_records_a_key_store_secret(make_lab: Callable[..., LocalKms]) -> None:
    own = make_lab()
    kms = own.client(config=RAW)
    cloudhsm(kms)
    external(kms)
    assert PASSWORD not in repr(own.trail)
    assert SECRET not in repr(own.trail)
