"""The permissions explorer: real calls as each principal, explained; its view driven without a
browser."""

from __future__ import annotations

import json
from typing import Any

import pytest

import kmslab
import kmslab.course
from kmslab.ui.permissions import (
    ACTIONS,
    ROOT,
    Attempt,
    PermissionsExplorer,
    PermissionsView,
    check_predictions,
)
from kmslab.ui.wizard import KeyWizard

ACCOUNT = "111122223333"

#: The console policy's answer for every action (rows) and principal (columns).
EXPECTED = {
    "Encrypt": ("ALLOWED", "DENIED", "ALLOWED"),
    "Decrypt": ("ALLOWED", "DENIED", "ALLOWED"),
    "GenerateDataKey": ("ALLOWED", "DENIED", "ALLOWED"),
    "DescribeKey": ("ALLOWED", "ALLOWED", "ALLOWED"),
    "CreateGrant": ("ALLOWED", "ALLOWED", "DENIED"),
    "GetKeyPolicy": ("ALLOWED", "ALLOWED", "DENIED"),
    "PutKeyPolicy": ("ALLOWED", "ALLOWED", "DENIED"),
    "DisableKey": ("ALLOWED", "ALLOWED", "DENIED"),
    "ScheduleKeyDeletion": ("ALLOWED", "ALLOWED", "DENIED"),
}


@pytest.fixture
def setup() -> Any:
    course = kmslab.course.start(seed=5)
    created = KeyWizard(account=ACCOUNT).create(course.client)
    clients = {
        ROOT: course.kms,
        "myKeyManager": course.client(principal="myKeyManager"),
        "myKeyUser": course.client(principal="myKeyUser"),
    }
    assert course.lab is not None
    explorer = PermissionsExplorer(
        clients, created.key_id, admin=course.kms, explain=course.lab.explain
    )
    yield course, created.key_id, explorer
    course.close()


def test_the_grid_of_real_calls_matches_the_console_policy(setup: Any) -> None:
    _course, _key_id, explorer = setup
    grid = explorer.grid()
    assert grid.principals == (ROOT, "myKeyManager", "myKeyUser")
    for action, verdicts in EXPECTED.items():
        for principal, verdict in zip(grid.principals, verdicts, strict=True):
            assert grid.cells[(principal, action)] == verdict, (principal, action)
    lines = grid.table().splitlines()
    assert lines[0].split() == ["action", "account", "root", "myKeyManager", "myKeyUser"]
    assert lines[1].split() == ["Encrypt", "ALLOWED", "DENIED", "ALLOWED"]
    assert "✘ DENIED" in grid.html() and "✔ ALLOWED" in grid.html()
    assert str(grid) == grid.table()


def test_tries_leave_the_key_as_it_was(setup: Any) -> None:
    course, key_id, explorer = setup
    kms = course.kms
    before = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    for action in ("DisableKey", "ScheduleKeyDeletion", "CreateGrant", "PutKeyPolicy"):
        assert explorer.try_action("myKeyManager", action).ok
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == before


def test_a_denial_carries_awss_message_and_the_explanation(setup: Any) -> None:
    _course, key_id, explorer = setup
    attempt = explorer.try_action("myKeyManager", "Encrypt")
    assert not attempt.ok and attempt.verdict == "DENIED"
    assert attempt.code == "AccessDeniedException"
    assert attempt.message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/myKeyManager is not authorized to perform: "
        f"kms:Encrypt on resource: arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id} because no "
        "identity-based policy allows the kms:Encrypt action"
    )
    assert attempt.explanation is not None and attempt.explanation.startswith("DENIED")
    assert "no identity policy of the caller allows it" in attempt.explanation
    assert attempt.line().startswith("myKeyManager Encrypt: DENIED (AccessDeniedException: User:")
    assert explorer.last is attempt
    root = explorer.try_action(ROOT, "Encrypt", {"dept": "x"})
    assert root.ok and root.line() == "account root Encrypt with context {'dept': 'x'}: ALLOWED"
    assert root.explanation is not None and root.explanation.startswith("ALLOWED")


def test_a_context_condition_is_honoured(setup: Any) -> None:
    course, key_id, explorer = setup
    kms = course.kms
    doc = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    doc["Statement"].append(
        {
            "Sid": "DenySecretContext",
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/myKeyUser"},
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:dept": "secret"}},
        }
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(doc))
    for action in ("Encrypt", "Decrypt", "GenerateDataKey"):
        assert explorer.try_action("myKeyUser", action, {"dept": "public"}).ok
        denied = explorer.try_action("myKeyUser", action, {"dept": "secret"})
        assert denied.verdict == "DENIED" and "DenySecretContext" in (denied.explanation or "")


def test_other_errors_are_named_not_called_denials(setup: Any) -> None:
    course, key_id, explorer = setup
    course.kms.disable_key(KeyId=key_id)
    attempt = explorer.try_action("myKeyUser", "Encrypt")
    assert attempt.verdict == "DisabledException"
    course.kms.enable_key(KeyId=key_id)


def test_bad_names_are_refused(setup: Any) -> None:
    _course, _key_id, explorer = setup
    with pytest.raises(ValueError):
        explorer.try_action("nobody", "Encrypt")
    with pytest.raises(ValueError):
        explorer.try_action(ROOT, "Fly")


def test_without_an_explainer_the_call_still_answers() -> None:
    lab = kmslab.LocalKms(seed=2)
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    explorer = PermissionsExplorer({ROOT: kms}, key_id, admin=kms)
    attempt = explorer.try_action(ROOT, "Decrypt")
    assert attempt.ok and attempt.explanation is None
    assert "cannot explain" in explorer.why(ROOT, "Decrypt")


def test_check_predictions() -> None:
    from kmslab.ui.permissions import Grid

    grid = Grid(
        ("a", "b"),
        ("Encrypt",),
        {("a", "Encrypt"): "ALLOWED", ("b", "Encrypt"): "DENIED"},
    )
    right = check_predictions({"a": {"Encrypt": "allowed"}, "b": {"Encrypt": "DENIED"}}, grid)
    assert right.correct and str(right) == "correct: all 2 predictions match the real calls."
    wrong = check_predictions({"a": {"Encrypt": "DENIED"}}, grid)
    assert not wrong.correct and "a Encrypt" in wrong.text and str(wrong).startswith("not yet")
    assert not check_predictions({}, grid).correct
    with pytest.raises(ValueError):
        check_predictions({"c": {"Encrypt": "DENIED"}}, grid)


def test_attempt_verdicts() -> None:
    assert Attempt("p", "Encrypt", {}, True, "OK", "").verdict == "ALLOWED"
    assert Attempt("p", "Encrypt", {}, False, "NotFoundException", "m").verdict == (
        "NotFoundException"
    )


# == the view ======================================================================================


def test_the_view_tries_as_the_chosen_principal(setup: Any) -> None:
    _course, _key_id, explorer = setup
    view = PermissionsView(explorer)
    assert view.principal.description and view.action.description and view.context.description
    assert len(view.action.options) == len(ACTIONS)
    view.principal.value = "myKeyManager"
    view.action.value = "DisableKey"
    assert "enables it again" in view.action_note.value
    assert explorer.history == []  # choosing calls nothing
    view.try_button.click()
    assert view.panel.last_error is None
    assert "OK" in view.panel.html.value and "ALLOWED" in view.panel.html.value
    view.action.value = "Encrypt"
    view.try_button.click()
    assert "Error" in view.panel.html.value and "AccessDeniedException" in view.panel.html.value
    assert "Why" in view.explanation.value and "DENIED" in view.explanation.value
    view.principal.value = "myKeyUser"
    view.context.value = "dept=public"
    view.try_button.click()
    last = explorer.last
    assert last is not None and last.ok and dict(last.context) == {"dept": "public"}
    view.grid_button.click()
    assert "<table" in view.grid_html.value and "27 real calls" in view.panel.html.value


def test_a_bad_context_is_shown_not_swallowed(setup: Any) -> None:
    _course, _key_id, explorer = setup
    view = PermissionsView(explorer)
    view.context.value = "oops"
    view.try_button.click()
    assert view.panel.last_error is not None and "not key=value" in view.panel.last_error


def test_a_principal_added_later_is_tried_and_explained(setup: Any) -> None:
    course, _key_id, explorer = setup
    course.client("iam").create_user(UserName="outsider")
    explorer.add_principal("outsider", course.client(principal="outsider"))
    assert "outsider" in explorer.principals
    attempt = explorer.try_action("outsider", "DescribeKey")
    assert attempt.verdict == "DENIED"
    assert attempt.explanation is not None and "outsider" in attempt.explanation
