"""Who may do what, through boto3 clients only: the seed's myKMSGroup scenario, the lockout
safety check, grants, context conditions and cross-account use (issue: IAM principals, key
policies, grants, and the admin-versus-usage split)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

import kmslab
from kmslab.policy import console_policy

ACCT = "111122223333"
OTHER = "444455556666"
MANAGER = f"arn:aws:iam::{ACCT}:user/myKeyManager"
USER = f"arn:aws:iam::{ACCT}:user/myKeyUser"


def code_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err.get("Message", "")


@pytest.fixture
def scenario() -> Any:
    """The seed's walkthrough, typed as against AWS: a group, two users, a console-style key."""
    lab = kmslab.LocalKms(seed=11)
    iam = lab.client("iam")
    iam.create_group(GroupName="myKMSGroup")
    for name in ("myKeyManager", "myKeyUser", "outsider"):
        iam.create_user(UserName=name)
    iam.add_user_to_group(GroupName="myKMSGroup", UserName="myKeyManager")
    iam.add_user_to_group(GroupName="myKMSGroup", UserName="myKeyUser")
    admin = lab.client()
    key_id = admin.create_key(
        Description="myKMSKey", Policy=console_policy(ACCT, admins=[MANAGER], users=[USER])
    )["KeyMetadata"]["KeyId"]
    admin.create_alias(AliasName="alias/myKMSKey", TargetKeyId=key_id)
    return lab, key_id


def test_the_key_manager_administers_but_cannot_use(scenario: Any) -> None:
    lab, key_id = scenario
    mgr = lab.client(principal="myKeyManager")
    assert mgr.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "myKMSKey"
    mgr.disable_key(KeyId=key_id)
    mgr.enable_key(KeyId=key_id)
    mgr.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "sec"}])
    assert mgr.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "sec"}]
    mgr.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    mgr.cancel_key_deletion(KeyId=key_id)
    mgr.enable_key(KeyId=key_id)
    arn = f"arn:aws:kms:us-east-1:{ACCT}:key/{key_id}"
    code, message = code_of(mgr.encrypt, KeyId=key_id, Plaintext=b"secret")
    assert code == "AccessDeniedException"
    assert message == (
        f"User: {MANAGER} is not authorized to perform: kms:Encrypt on resource: {arn} "
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_the_key_user_uses_but_cannot_manage(scenario: Any) -> None:
    lab, key_id = scenario
    usr = lab.client(principal="myKeyUser")
    blob = usr.encrypt(KeyId="alias/myKMSKey", Plaintext=b"secret")["CiphertextBlob"]
    assert usr.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert usr.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)["KeyId"].endswith(key_id)
    assert len(usr.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]) == 32
    assert usr.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    for call, kwargs in (
        (usr.schedule_key_deletion, {"KeyId": key_id}),
        (usr.put_key_policy, {"KeyId": key_id, "PolicyName": "default", "Policy": "{}"}),
        (usr.disable_key, {"KeyId": key_id}),
    ):
        assert code_of(call, **kwargs)[0] == "AccessDeniedException"


def test_a_user_in_neither_list_can_do_nothing(scenario: Any) -> None:
    lab, key_id = scenario
    out = lab.client(principal="outsider")
    for call, kwargs in (
        (out.encrypt, {"KeyId": key_id, "Plaintext": b"x"}),
        (out.describe_key, {"KeyId": key_id}),
        (out.disable_key, {"KeyId": key_id}),
        (out.list_keys, {}),
        (out.create_key, {}),
    ):
        assert code_of(call, **kwargs)[0] == "AccessDeniedException"


def test_an_iam_policy_opens_what_the_root_statement_delegates(scenario: Any) -> None:
    lab, key_id = scenario
    out = lab.client(principal="outsider")
    assert code_of(out.encrypt, KeyId=key_id, Plaintext=b"x")[0] == "AccessDeniedException"
    arn = f"arn:aws:kms:us-east-1:{ACCT}:key/{key_id}"
    lab.client("iam").put_user_policy(
        UserName="outsider",
        PolicyName="UseOneKey",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": arn}],
            }
        ),
    )
    assert out.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == arn
    assert code_of(out.decrypt, CiphertextBlob=b"\x01" * 90)[0] in (
        "AccessDeniedException",
        "InvalidCiphertextException",
    )


def test_a_deny_on_a_context_blocks_only_that_context(scenario: Any) -> None:
    lab, key_id = scenario
    admin = lab.client()
    policy = json.loads(admin.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "No secrets for the key user",
            "Effect": "Deny",
            "Principal": {"AWS": USER},
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:dept": "secret"}},
        }
    )
    admin.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    usr = lab.client(principal="myKeyUser")
    usr.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"dept": "public"})
    code, message = code_of(
        usr.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"dept": "secret"}
    )
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in a resource-based policy")
    denied = lab.explain("myKeyUser", "kms:Encrypt", key_id, context={"dept": "secret"})
    assert not denied and "No secrets for the key user" in str(denied)
    assert lab.explain("myKeyUser", "kms:Encrypt", key_id, context={"dept": "public"})


def test_the_trail_records_the_principal_and_the_denial(scenario: Any) -> None:
    lab, key_id = scenario
    mgr = lab.client(principal="myKeyManager")
    code_of(mgr.encrypt, KeyId=key_id, Plaintext=b"secret")
    event = lab.trail[-1]
    assert event["eventName"] == "Encrypt"
    assert event["errorCode"] == "AccessDeniedException"
    assert event["userIdentity"]["arn"] == MANAGER
    assert event["userIdentity"]["type"] == "IAMUser"


def test_the_lockout_safety_check(scenario: Any) -> None:
    lab, key_id = scenario
    mgr = lab.client(principal="myKeyManager")
    only_user = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"}
            ],
        }
    )
    code, message = code_of(
        mgr.put_key_policy, KeyId=key_id, PolicyName="default", Policy=only_user
    )
    assert code == "MalformedPolicyDocumentException"
    assert message == (
        "The new key policy will not allow you to update the key policy in the future."
    )
    mgr.put_key_policy(
        KeyId=key_id, PolicyName="default", Policy=only_user, BypassPolicyLockoutSafetyCheck=True
    )
    # Locked out, as AWS warns: not even a read of the policy is allowed any more.
    assert code_of(mgr.get_key_policy, KeyId=key_id, PolicyName="default")[0] == (
        "AccessDeniedException"
    )
    usr = lab.client(principal="myKeyUser")
    assert json.loads(usr.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])


def test_a_policy_naming_an_unknown_principal_is_malformed(scenario: Any) -> None:
    lab, key_id = scenario
    admin = lab.client()
    ghost = console_policy(ACCT, admins=[f"arn:aws:iam::{ACCT}:user/ghost"])
    code, message = code_of(admin.put_key_policy, KeyId=key_id, PolicyName="default", Policy=ghost)
    assert (code, message) == (
        "MalformedPolicyDocumentException",
        "Policy contains a statement with one or more invalid principals.",
    )


def test_aws_managed_keys_cannot_be_used_directly() -> None:
    lab = kmslab.LocalKms(seed=2)
    kms = lab.client()
    arn = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    code, message = code_of(kms.encrypt, KeyId="alias/aws/s3", Plaintext=b"x")
    assert code == "AccessDeniedException"
    assert message.endswith(
        f"on resource: {arn} because no resource-based policy allows the kms:Encrypt action"
    )


def test_cross_account_use_needs_both_sides() -> None:
    lab = kmslab.LocalKms(seed=5)
    lab.directory.account(OTHER)
    owner = lab.client()
    key = owner.create_key()["KeyMetadata"]
    arn = key["Arn"]
    other_root = lab.client(principal=f"arn:aws:iam::{OTHER}:root")
    # The key policy (default: this account only) does not allow the other account.
    assert code_of(other_root.encrypt, KeyId=arn, Plaintext=b"x")[0] == "AccessDeniedException"
    policy = json.loads(owner.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "Allow use by the other account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:DisableKey"],
            "Resource": "*",
        }
    )
    owner.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    blob = other_root.encrypt(KeyId=arn, Plaintext=b"shared")["CiphertextBlob"]
    assert owner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert other_root.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    # A key id alone is looked up in the caller's own account.
    assert code_of(other_root.describe_key, KeyId=key["KeyId"])[0] == "NotFoundException"
    # Management operations are never allowed across accounts, whatever the policy says.
    assert code_of(other_root.disable_key, KeyId=arn)[0] == "AccessDeniedException"
    # A user of the other account also needs its own account's IAM policy.
    other_iam = lab.client("iam", principal=f"arn:aws:iam::{OTHER}:root")
    other_iam.create_user(UserName="carol")
    carol = lab.client(principal=f"arn:aws:iam::{OTHER}:user/carol")
    assert code_of(carol.encrypt, KeyId=arn, Plaintext=b"x")[0] == "AccessDeniedException"
    other_iam.put_user_policy(
        UserName="carol",
        PolicyName="UseTheSharedKey",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": arn}],
            }
        ),
    )
    assert carol.encrypt(KeyId=arn, Plaintext=b"x")["KeyId"] == arn


def test_only_the_grant_or_the_policies_let_someone_retire_a_grant(scenario: Any) -> None:
    lab, key_id = scenario
    admin = lab.client()
    grant = admin.create_grant(KeyId=key_id, GranteePrincipal=USER, Operations=["Decrypt"])
    mallory = lab.client(principal="outsider")  # same account, no policy mentions it
    code, _ = code_of(mallory.retire_grant, KeyId=key_id, GrantId=grant["GrantId"])
    assert code == "AccessDeniedException"
    assert len(admin.list_grants(KeyId=key_id)["Grants"]) == 1
    admin.retire_grant(KeyId=key_id, GrantId=grant["GrantId"])  # the account's root user
    assert admin.list_grants(KeyId=key_id)["Grants"] == []


def test_explain_agrees_with_the_service_across_accounts() -> None:
    lab = kmslab.LocalKms(seed=6)
    lab.directory.account(OTHER)
    owner = lab.client()
    arn = owner.create_key()["KeyMetadata"]["Arn"]
    policy = json.loads(owner.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    owner.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    other = f"arn:aws:iam::{OTHER}:root"
    assert lab.explain(other, "kms:Encrypt", arn)
    verdict = lab.explain(other, "kms:DisableKey", arn)
    assert not verdict and "never allowed on a key of another account" in str(verdict)
    assert code_of(lab.client(principal=other).disable_key, KeyId=arn)[0] == (
        "AccessDeniedException"
    )
