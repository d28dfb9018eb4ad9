"""The key-creation wizard: its view-model against a real lab, and its view driven without a
browser (set values, click buttons, read the model)."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets
import pytest
from botocore.exceptions import ClientError

import kmslab
from kmslab.course import Course
from kmslab.ui import clipped_labels
from kmslab.ui.wizard import (
    KEY_TYPES,
    STEPS,
    KeyWizard,
    KeyWizardView,
    check_key_choice,
    parse_pairs,
)

ACCOUNT = "111122223333"


@pytest.fixture
def course() -> Any:
    c = kmslab.course.start(seed=3)
    yield c
    c.close()


def test_the_iam_step_shows_the_calls_in_python_and_cli() -> None:
    wizard = KeyWizard(account=ACCOUNT)
    assert wizard.python("iam").splitlines() == [
        'iam.create_group(GroupName="myKMSGroup")',
        'iam.create_user(UserName="myKeyManager")',
        'iam.create_user(UserName="myKeyUser")',
        'iam.add_user_to_group(GroupName="myKMSGroup", UserName="myKeyManager")',
        'iam.add_user_to_group(GroupName="myKMSGroup", UserName="myKeyUser")',
    ]
    assert wizard.cli("iam").splitlines()[0] == "aws iam create-group --group-name myKMSGroup"
    assert "--region" not in wizard.cli("iam")  # IAM is global


def test_each_step_marks_the_parameters_it_sets() -> None:
    wizard = KeyWizard(account=ACCOUNT)
    wizard.choose_key_spec("ECC_NIST_P256")
    code = wizard.python("key_type")
    assert 'KeySpec="ECC_NIST_P256",  # <- this step' in code
    assert 'KeyUsage="SIGN_VERIFY",  # <- this step' in code
    assert 'Origin="AWS_KMS",  # <- this step' not in code
    assert 'Origin="AWS_KMS",  # <- this step' in wizard.python("origin")
    cli = wizard.cli("key_type")
    assert cli.startswith("# this step sets --key-spec, --key-usage")
    assert "KEY_ID=$(aws kms create-key" in cli
    assert "--key-spec ECC_NIST_P256" in cli and "--query KeyMetadata.KeyId --output text" in cli


def test_the_whole_program_runs_the_calls_in_an_order_that_works() -> None:
    wizard = KeyWizard(account=ACCOUNT, multi_region=True, replica_regions=["eu-west-1"])
    names = [call.name for call in wizard.calls()]
    assert names == [
        "CreateGroup",
        "CreateUser",
        "CreateUser",
        "AddUserToGroup",
        "AddUserToGroup",
        "CreateKey",
        "CreateAlias",
        "ReplicateKey",
    ]
    program = wizard.python()
    assert program.startswith("import boto3")
    assert 'kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1", Policy=policy)' in program
    assert "--multi-region" in wizard.cli()
    assert wizard.calls("create") == wizard.calls()
    with pytest.raises(ValueError):
        wizard.calls("nonsense")


def test_tags_and_quoting_in_the_cli() -> None:
    wizard = KeyWizard(account=ACCOUNT, description="my key", tags={"team": "sec"})
    cli = wizard.cli("labels")
    assert "--description 'my key'" in cli
    assert "--tags TagKey=team,TagValue=sec" in cli
    assert '[{"TagKey": "team", "TagValue": "sec"}]' in wizard.python("labels")


def test_the_policy_is_the_consoles() -> None:
    wizard = KeyWizard(account=ACCOUNT)
    assert wizard.statement_sids() == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    doc = json.loads(wizard.policy)
    assert doc["Statement"][1]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:user/myKeyManager"}
    wizard.admins = []
    wizard.key_users = []
    assert wizard.statement_sids() == ["Enable IAM User Permissions"]
    assert any("No key administrators" in a for a in wizard.advice())


def test_choosing_a_type_or_spec_keeps_usage_valid() -> None:
    wizard = KeyWizard(account=ACCOUNT)
    wizard.choose_key_type("hmac")
    assert (wizard.key_spec, wizard.key_usage) == ("HMAC_224", "GENERATE_VERIFY_MAC")
    wizard.choose_key_spec("RSA_2048")
    assert (wizard.key_type, wizard.key_usage) == ("asymmetric", "ENCRYPT_DECRYPT")
    wizard.key_usage = "SIGN_VERIFY"
    wizard.choose_key_spec("RSA_4096")
    assert wizard.key_usage == "SIGN_VERIFY"  # still valid: kept
    wizard.choose_key_spec("ECC_SECG_P256K1")
    assert wizard.key_usage == "SIGN_VERIFY"
    assert wizard.usages_for("ECC_NIST_P384") == ("SIGN_VERIFY", "KEY_AGREEMENT")
    with pytest.raises(ValueError):
        wizard.choose_key_type("quantum")
    with pytest.raises(ValueError):
        wizard.choose_key_spec("AES_512")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"group": ""}, "the group needs a name"),
        ({"users": ["a", "a"]}, "each user name must be different"),
        ({"key_usage": "SIGN_VERIFY"}, "not compatible with KeySpec SYMMETRIC_DEFAULT"),
        ({"replica_regions": ["eu-west-1"]}, "only a multi-Region key can have replicas"),
        (
            {"multi_region": True, "replica_regions": ["us-east-1"]},
            "a replica must be in another Region",
        ),
        ({"origin": "AWS_CLOUDHSM"}, "name the custom key store"),
        (
            {"origin": "EXTERNAL_KEY_STORE", "custom_key_store_id": "cks-1"},
            "needs the external key's id",
        ),
        (
            {"origin": "AWS_CLOUDHSM", "custom_key_store_id": "cks-1", "multi_region": True},
            "cannot be multi-Region",
        ),
        ({"alias": "alias/aws/mine"}, "reserved for AWS managed keys"),
        ({"alias": "myKMSKey"}, "must start with alias/"),
        ({"tags": {"aws:team": "x"}}, "reserved"),
        ({"admins": ["nobody"]}, "nobody is not one of the IAM users"),
    ],
)
def test_problems_are_found_before_any_call(changes: dict[str, Any], problem: str) -> None:
    wizard = KeyWizard(account=ACCOUNT)
    for name, value in changes.items():
        setattr(wizard, name, value)
    found = wizard.problems()
    assert any(problem in p for p in found), found
    with pytest.raises(ValueError, match="fix these first"):
        wizard.create(lambda *_a, **_k: None)


def test_an_asymmetric_key_in_a_custom_key_store_is_a_problem() -> None:
    wizard = KeyWizard(account=ACCOUNT, origin="AWS_CLOUDHSM", custom_key_store_id="cks-1")
    wizard.choose_key_spec("RSA_2048")
    assert any("symmetric encryption keys only" in p for p in wizard.problems())


def test_create_makes_the_calls_it_shows(course: Course) -> None:
    wizard = KeyWizard(account=ACCOUNT, tags={"project": "kmslab"})
    created = wizard.create(course.client)
    assert created.log == (
        "iam CreateGroup myKMSGroup: OK",
        "iam CreateUser myKeyManager: OK",
        "iam CreateUser myKeyUser: OK",
        "iam AddUserToGroup myKMSGroup myKeyManager: OK",
        "iam AddUserToGroup myKMSGroup myKeyUser: OK",
        "kms CreateKey: OK",
        "kms CreateAlias alias/myKMSKey: OK",
    )
    kms = course.kms
    meta = kms.describe_key(KeyId="alias/myKMSKey")["KeyMetadata"]
    assert meta["Arn"] == created.arn and meta["KeyId"] == created.key_id
    assert (meta["KeySpec"], meta["KeyUsage"], meta["Origin"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
    )
    policy = kms.get_key_policy(KeyId=created.key_id, PolicyName="default")["Policy"]
    assert json.loads(policy) == json.loads(wizard.policy)
    assert kms.list_resource_tags(KeyId=created.key_id)["Tags"] == [
        {"TagKey": "project", "TagValue": "kmslab"}
    ]
    members = course.client("iam").get_group(GroupName="myKMSGroup")["Users"]
    assert sorted(u["UserName"] for u in members) == ["myKeyManager", "myKeyUser"]
    # The policy works: the key user encrypts, the key manager may not.
    user = course.client(principal="myKeyUser")
    user.encrypt(KeyId=created.key_id, Plaintext=b"x")
    with pytest.raises(ClientError):
        course.client(principal="myKeyManager").encrypt(KeyId=created.key_id, Plaintext=b"x")


def test_a_second_run_keeps_existing_users_and_reports_a_taken_alias(course: Course) -> None:
    KeyWizard(account=ACCOUNT).create(course.client)
    again = KeyWizard(account=ACCOUNT)
    with pytest.raises(ClientError) as info:
        again.create(course.client)
    assert info.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert again.log[:3] == [
        "iam CreateGroup myKMSGroup: already exists, kept",
        "iam CreateUser myKeyManager: already exists, kept",
        "iam CreateUser myKeyUser: already exists, kept",
    ]
    assert again.log[-1] == "kms CreateAlias alias/myKMSKey: AlreadyExistsException"
    assert again.created is None


def test_a_multi_region_key_is_replicated_with_the_same_policy(course: Course) -> None:
    wizard = KeyWizard(account=ACCOUNT, multi_region=True, replica_regions=["eu-west-1"])
    created = wizard.create(course.client)
    assert created.key_id.startswith("mrk-") and created.replica_regions == ("eu-west-1",)
    west = course.client(region="eu-west-1")
    meta = west.describe_key(KeyId=created.key_id)["KeyMetadata"]
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    policy = west.get_key_policy(KeyId=created.key_id, PolicyName="default")["Policy"]
    assert json.loads(policy) == json.loads(wizard.policy)
    blob = course.kms.encrypt(KeyId=created.key_id, Plaintext=b"east")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"east"


def test_an_external_origin_key_waits_for_its_material(course: Course) -> None:
    wizard = KeyWizard(account=ACCOUNT, origin="EXTERNAL", alias="")
    created = wizard.create(course.client)
    meta = course.kms.describe_key(KeyId=created.key_id)["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"]) == ("EXTERNAL", "PendingImport")
    assert created.alias is None and "kms CreateAlias" not in " ".join(created.log)


def test_check_key_choice() -> None:
    case = "partners outside AWS verify our signatures"
    assert check_key_choice(case, "ECC_NIST_P256", "SIGN_VERIFY").correct
    assert str(check_key_choice(case, "RSA_2048", "SIGN_VERIFY")).startswith("correct: ")
    wrong = check_key_choice(case, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert not wrong.correct and str(wrong).startswith("not yet: ")
    refused = check_key_choice(case, "HMAC_256", "SIGN_VERIFY")
    assert "CreateKey refuses" in refused.text
    assert check_key_choice(
        "encrypt S3 objects and EBS volumes", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"
    ).correct
    with pytest.raises(ValueError):
        check_key_choice("something else", "HMAC_256", "GENERATE_VERIFY_MAC")


def test_parse_pairs() -> None:
    assert parse_pairs(" team=sec, env = prod ,") == {"team": "sec", "env": "prod"}
    assert parse_pairs("") == {}
    with pytest.raises(ValueError):
        parse_pairs("team")


# == the view ======================================================================================


def test_back_and_next_walk_the_steps() -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT))
    assert view.step.name == "iam" and view.back.disabled and not view.next.disabled
    assert "Step 1 of 9" in view.header.value
    assert view.group in view.page.children
    for _ in STEPS:
        view.next.click()
    assert view.step.name == "create" and view.next.disabled
    assert view.create_button in view.page.children
    view.back.click()
    assert view.step.name == "review"
    assert "Enable IAM User Permissions" in view.policy_html.value
    assert view.panel.last_error is None


def test_every_control_has_a_description() -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT))
    for name, controls in view.pages.items():
        for control in controls:
            if hasattr(control, "description") and not isinstance(control, type(view.key_note)):
                assert control.description, (name, control)


def test_the_controls_drive_the_model_and_the_code_beside_them() -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT))
    model = view.model
    view.go(1)
    view.key_type.value = "asymmetric"
    assert model.key_spec == "RSA_2048" and view.key_spec.options[0] == "RSA_2048"
    view.key_spec.value = "ECC_NIST_P384"
    assert model.key_usage == "SIGN_VERIFY"
    assert list(view.key_usage.options) == ["SIGN_VERIFY", "KEY_AGREEMENT"]
    view.key_usage.value = "KEY_AGREEMENT"
    assert model.key_usage == "KEY_AGREEMENT"
    assert "KEY_AGREEMENT" in view.code.value and "this step" in view.code.value
    assert "public key" in view.key_note.value
    view.go(2)
    view.replicas.value = ("eu-west-1",)
    assert model.multi_region and view.multi_region.value
    view.region.value = "eu-west-1"
    assert model.replica_regions == [] and "eu-west-1" not in view.replicas.options
    view.multi_region.value = False
    assert not model.multi_region
    view.go(3)
    view.origin.value = "AWS_CLOUDHSM"
    assert view.store_id.layout.display is None
    assert "name the custom key store" in view.problems.value
    view.origin.value = "AWS_KMS"
    assert view.store_id.layout.display == "none"
    view.go(4)
    view.tags.value = "team=sec, env=prod"
    assert model.tags == {"team": "sec", "env": "prod"}
    view.alias.value = "alias/aws/x"
    assert "reserved" in view.problems.value and view.create_button.disabled
    view.alias.value = "alias/ok"
    view.go(0)
    view.users.value = "alice, bob"
    assert model.users == ["alice", "bob"] and model.admins == [] and model.key_users == []
    assert list(view.admins.options) == ["alice", "bob"]
    view.admins.value = ("alice",)
    view.key_users.value = ("alice", "bob")
    assert model.admins == ["alice"] and model.key_users == ["alice", "bob"]
    assert "separation of duties" in view.problems.value
    view.go(5)
    assert "user/alice" in view.code.value


def test_a_bad_tag_is_shown_not_swallowed() -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT))
    view.tags.value = "no-equals-sign"
    assert view.panel.last_error is not None and "not key=value" in view.panel.last_error


def test_the_create_button_creates_the_key(course: Course) -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT, alias="alias/fromTheView"), course.client)
    view.go(len(STEPS) - 1)
    assert not view.create_button.disabled
    view.create_button.click()
    assert view.panel.last_error is None
    assert view.model.created is not None
    assert "OK" in view.panel.html.value and "alias/fromTheView" in view.panel.html.value
    course.kms.describe_key(KeyId="alias/fromTheView")
    view.create_button.click()  # the alias is taken now: the error is shown
    assert "AlreadyExistsException" in view.panel.html.value


def test_the_two_columns_share_the_width_and_long_lines_wrap_inside_them(
    course: Course,
) -> None:
    """The left column (the step) must never run under the code column: both may shrink
    (min-width 0) and wrap under each other; the policy and the long result line after Create
    wrap inside their own column."""
    view = KeyWizardView(KeyWizard(account=ACCOUNT, alias="alias/columns"), course.client)
    frame = view.widget()
    columns = frame.children[1]
    assert isinstance(columns, widgets.HBox) and columns.layout.flex_flow == "row wrap"
    left, code = columns.children
    for column in (left, code):
        assert column.layout.min_width == "0" and column.layout.flex == "1 1 420px"
        assert column.layout.width is None  # no fixed width that the other column overlaps
    view.go([step.name for step in STEPS].index("review"))
    assert "white-space:pre-wrap" in view.policy_html.value
    assert "overflow-wrap:anywhere" in view.code.value
    view.go(len(STEPS) - 1)
    view.create_button.click()
    result = view.panel.html.value
    assert "created" in result and len(result) > 300 and "white-space:pre-wrap" in result
    assert clipped_labels(frame) == []
    assert [c for page in view.pages.values() for w in page for c in clipped_labels(w)] == []


def test_without_clients_there_is_nothing_to_create_with() -> None:
    view = KeyWizardView(KeyWizard(account=ACCOUNT))
    assert view.create_button.disabled
    view._create()
    assert "no clients" in view.panel.html.value


def test_every_key_type_offers_only_specs_createkey_accepts() -> None:
    for specs, _about in KEY_TYPES.values():
        for spec in specs:
            assert KeyWizard.usages_for(spec), spec
