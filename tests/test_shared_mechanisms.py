"""Mechanisms that serve several operations at once, pinned through genuine boto3 clients.

* IAM's per-kind operations (``Put{User,Group,Role}Policy``, ``ListAttached...Policies``,
  ``List{Users,Groups,Roles}``, ...) are one method each in :mod:`kmslab.iamservice`, named per
  kind: every kind answers every one of them, and authorizes on its own entity's ARN.
* The validation texts of both protocols come from :mod:`kmslab.shapes`: KMS (JSON) shows the
  value and matches a pattern even against an empty string; IAM (query) shows no value and does
  not match an empty string against a pattern.
* Custom key stores refuse the other store type's members in the request's order.
* ``...WithoutPlaintext`` answers are the full answers less the plaintext.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab import LocalKms
from kmslab.protocol import service_model

ACCOUNT = "111122223333"
RAW = Config(parameter_validation=False, retries={"total_max_attempts": 1})
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
DOC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}],
    }
)
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
KINDS = ("User", "Group", "Role")


@pytest.fixture
def lab() -> Iterator[LocalKms]:
    yield LocalKms(seed=11)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def _create(iam: Any, kind: str, name: str, path: str = "/") -> None:
    extra = {"AssumeRolePolicyDocument": TRUST} if kind == "Role" else {}
    getattr(iam, f"create_{kind.lower()}")(**{f"{kind}Name": name}, Path=path, **extra)


# == IAM: one operation, three kinds of entity ==================================================


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_answers_every_per_kind_operation(lab: LocalKms, kind: str) -> None:
    iam = lab.client("iam")
    k, key = kind.lower(), f"{kind}Name"
    for name, path in (("alpha", "/team/"), ("beta", "/")):
        _create(iam, kind, name, path)

    def op(template: str) -> Any:
        return getattr(iam, template.format(k))

    for policy in ("First", "Second"):
        op("put_{}_policy")(**{key: "alpha"}, PolicyName=policy, PolicyDocument=DOC)
    got = op("get_{}_policy")(**{key: "ALPHA"}, PolicyName="first")
    assert (got[key], got["PolicyName"], got["PolicyDocument"]) == (
        "alpha",
        "First",
        json.loads(DOC),
    )
    page = op("list_{}_policies")(**{key: "alpha"}, MaxItems=1)
    assert page["PolicyNames"] == ["First"] and page["IsTruncated"] is True
    rest = op("list_{}_policies")(**{key: "alpha"}, Marker=page["Marker"])
    assert rest["PolicyNames"] == ["Second"] and rest["IsTruncated"] is False
    op("delete_{}_policy")(**{key: "alpha"}, PolicyName="First")
    assert op("list_{}_policies")(**{key: "alpha"})["PolicyNames"] == ["Second"]

    custom = iam.create_policy(PolicyName="Mine", PolicyDocument=DOC, Path="/own/")["Policy"]
    for arn in (READ_ONLY, custom["Arn"]):
        op("attach_{}_policy")(**{key: "alpha"}, PolicyArn=arn)
    attached = op("list_attached_{}_policies")(**{key: "alpha"})["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {READ_ONLY, custom["Arn"]}
    own = op("list_attached_{}_policies")(**{key: "alpha"}, PathPrefix="/own/")
    assert [p["PolicyName"] for p in own["AttachedPolicies"]] == ["Mine"]
    op("detach_{}_policy")(**{key: "alpha"}, PolicyArn=READ_ONLY)
    left = op("list_attached_{}_policies")(**{key: "alpha"})["AttachedPolicies"]
    assert [p["PolicyArn"] for p in left] == [custom["Arn"]]

    listed = getattr(iam, f"list_{k}s")
    assert [e[key] for e in listed()[f"{kind}s"]] == ["alpha", "beta"]
    assert [e[key] for e in listed(PathPrefix="/team/")[f"{kind}s"]] == ["alpha"]
    first = listed(MaxItems=1)
    assert first["IsTruncated"] is True and len(first[f"{kind}s"]) == 1

    code, message = _error(op("get_{}_policy"), **{key: "ghost"}, PolicyName="x")
    assert code == "NoSuchEntity" and "ghost" in message


@pytest.mark.parametrize("kind", KINDS)
def test_per_kind_operations_authorize_on_the_entitys_own_arn(lab: LocalKms, kind: str) -> None:
    iam = lab.client("iam")
    k, key = kind.lower(), f"{kind}Name"
    _create(iam, kind, "alpha", "/team/")
    iam.create_user(UserName="nobody")  # no identity policy: may do nothing
    theirs = lab.client("iam", principal="nobody")
    who = f"User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: "

    cases = [
        ("put_{}_policy", {key: "alpha", "PolicyName": "p", "PolicyDocument": DOC}, "alpha"),
        ("list_attached_{}_policies", {key: "alpha"}, "alpha"),
        ("detach_{}_policy", {key: "ghost", "PolicyArn": READ_ONLY}, "ghost"),
    ]
    for template, kwargs, name in cases:
        action = "".join(w.capitalize() for w in template.format(k).split("_"))
        path = "/team/" if name == "alpha" else "/"
        code, message = _error(getattr(theirs, template.format(k)), **kwargs)
        assert code == "AccessDenied"
        assert message == (
            f"{who}iam:{action} on resource: arn:aws:iam::{ACCOUNT}:{k}{path}{name} because no "
            f"identity-based policy allows the iam:{action} action"
        )
    code, message = _error(getattr(theirs, f"list_{k}s"))
    assert code == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:{k}/ because" in message


def test_the_iam_model_s_per_kind_operations_are_all_served(lab: LocalKms) -> None:
    model = service_model("iam")
    templates = [
        "Put{}Policy",
        "Get{}Policy",
        "List{}Policies",
        "Delete{}Policy",
        "Attach{}Policy",
        "Detach{}Policy",
        "ListAttached{}Policies",
        "List{}s",
    ]
    served = lab.iam.operations  # the query protocol: operation name -> its method
    missing = [
        t.format(kind)
        for t in templates
        for kind in KINDS
        if t.format(kind) not in model.operation_names or served[t.format(kind)].method is None
    ]
    assert missing == []


# == validation texts, shared by both protocols ================================================


def test_kms_shows_the_value_and_matches_patterns_even_when_empty(lab: LocalKms) -> None:
    kms = lab.client(config=RAW)
    code, message = _error(kms.create_alias, AliasName="", TargetKeyId="k" * 2049)
    assert code == "ValidationException"
    assert message == (
        "3 validation errors detected: "
        "Value '' at 'aliasName' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1; "
        "Value '' at 'aliasName' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: ^[a-zA-Z0-9:/_-]+$; "
        f"Value '{'k' * 2049}' at 'targetKeyId' failed to satisfy constraint: Member must have "
        "length less than or equal to 2048"
    )
    code, message = _error(kms.generate_random, NumberOfBytes=1025)
    assert message == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )


def test_iam_hides_the_value_and_skips_patterns_on_empty_strings(lab: LocalKms) -> None:
    iam = lab.client("iam", config=RAW)
    code, message = _error(iam.list_users, PathPrefix="")
    assert code == "ValidationError"
    assert message == (
        "1 validation error detected: Value at 'pathPrefix' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    code, message = _error(iam.create_user, UserName="u" * 65, Path="no-slashes")
    pattern = service_model("iam").shape_for("pathType").metadata["pattern"]
    assert message == (
        "2 validation errors detected: "
        f"Value at 'path' failed to satisfy constraint: Member must satisfy regular expression "
        f"pattern: {pattern}; "
        "Value at 'userName' failed to satisfy constraint: Member must have length less than "
        "or equal to 64"
    )
    code, message = _error(iam.list_users, MaxItems="many")
    assert message == (
        "1 validation error detected: Value 'many' at 'maxItems' failed to satisfy constraint: "
        "Member must be a number"
    )


# == custom key stores: the other type's members, in the request's order =======================

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
HSM = {"CloudHsmClusterId": "cluster-234abcdefgh", "TrustAnchorCertificate": CERT}
XKS = {
    "XksProxyUriEndpoint": "https://proxy.example.com",
    "XksProxyUriPath": "/kms/xks/v1",
    "XksProxyAuthenticationCredential": {
        "AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
        "RawSecretAccessKey": "s3cr3t/XKS+proxy=credential0123456789abcdefgh",
    },
    "XksProxyConnectivity": "PUBLIC_ENDPOINT",
}


def _not_valid(member: str, kind: str) -> str:
    return f"{member} is not valid for a custom key store with CustomKeyStoreType {kind}."


def test_a_key_store_refuses_the_other_types_first_member(lab: LocalKms) -> None:
    kms = lab.client()
    create = kms.create_custom_key_store
    code, message = _error(
        create,
        CustomKeyStoreName="hsm",
        KeyStorePassword="kmsuser-Passw0rd",
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriPath="/kms/xks/v1",
        **HSM,
    )
    assert (code, message) == ("ValidationException", _not_valid("XksProxyUriPath", "AWS_CLOUDHSM"))
    code, message = _error(
        create,
        CustomKeyStoreName="xks",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        KeyStorePassword="kmsuser-Passw0rd",
        **HSM,
        **XKS,
    )
    assert message == _not_valid("CloudHsmClusterId", "EXTERNAL_KEY_STORE")

    store = create(CustomKeyStoreName="xks", CustomKeyStoreType="EXTERNAL_KEY_STORE", **XKS)
    store_id = store["CustomKeyStoreId"]
    code, message = _error(
        kms.update_custom_key_store,
        CustomKeyStoreId=store_id,
        CloudHsmClusterId="cluster-234abcdefgh",
        KeyStorePassword="kmsuser-Passw0rd",
    )
    assert message == _not_valid("KeyStorePassword", "EXTERNAL_KEY_STORE")
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed")
    found = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert found[0]["CustomKeyStoreName"] == "renamed"


# == without plaintext ===========================================================================


def test_without_plaintext_is_the_full_answer_less_the_plaintext() -> None:
    # Two labs with one seed draw the same keys and the same random bytes.
    full_lab, lean_lab = LocalKms(seed=5), LocalKms(seed=5)
    full_kms, lean_kms = full_lab.client(), lean_lab.client()
    key_id = full_kms.create_key()["KeyMetadata"]["KeyId"]
    assert lean_kms.create_key()["KeyMetadata"]["KeyId"] == key_id
    context = {"purpose": "test"}
    full = full_kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    lean = lean_kms.generate_data_key_without_plaintext(
        KeyId=key_id, KeySpec="AES_256", EncryptionContext=context
    )
    full.pop("ResponseMetadata")
    lean.pop("ResponseMetadata")
    plaintext = full.pop("Plaintext")
    assert lean == full and len(plaintext) == 32
    opened = lean_kms.decrypt(CiphertextBlob=lean["CiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == plaintext

    pair = full_kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    lean_pair = full_kms.generate_data_key_pair_without_plaintext(
        KeyId=key_id, KeyPairSpec="ECC_NIST_P256"
    )
    assert set(pair) - set(lean_pair) == {"PrivateKeyPlaintext"}
    assert set(lean_pair) <= set(pair)
