"""The aws command checker and its widget, driven without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

import kmslab.course
import kmslab.shell
from kmslab.ui.cli import CommandModel, CommandView, check_command, check_fix

SEED_COMMANDS = [
    "aws kms encrypt --key-id K --plaintext fileb://secret.txt --output text"
    " --query CiphertextBlob | base64 --decode > encryptedsecret.txt",
    "aws kms decrypt --ciphertext-blob fileb://encryptedsecret.txt --output text"
    " --query Plaintext | base64 --decode",
    "aws kms re-encrypt --ciphertext-blob fileb://encryptedsecret.txt --destination-key-id K2",
    "aws kms enable-key-rotation --key-id K",
    "aws kms get-key-rotation-status --key-id K",
    "aws kms generate-data-key --key-id K --key-spec AES_256",
    "aws kms create-key --description 'my key' --no-multi-region",
    "aws kms list-keys --output json --endpoint-url http://127.0.0.1:4599",
]
BROKEN = (
    "aws kms decrypt --ciphertext-blob fileb//encryptedsecret.txt --output text"
    " --query Plaintext | base64 --deocde"
)


@pytest.mark.parametrize("command", SEED_COMMANDS)
def test_the_seed_commands_written_right_pass(command: str) -> None:
    assert check_command(command) == []


def test_the_seed_typos_are_found_and_explained() -> None:
    findings = check_command(BROKEN)
    assert [f.level for f in findings] == ["error", "error"]
    assert "fileb://encryptedsecret.txt" in findings[0].text
    assert "'fileb//encryptedsecret.txt' itself" in findings[0].text
    assert findings[1].text == "base64 has no option --deocde; did you mean --decode?"
    assert check_fix(BROKEN).startswith("not yet: fileb//")
    assert check_fix(SEED_COMMANDS[1]).startswith("correct")
    assert check_fix(SEED_COMMANDS[0]).startswith("not yet: the seed's line runs aws kms decrypt")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("aws kms encrpyt --key-id K --plaintext fileb://x", "did you mean encrypt?"),
        ("aws kms encrypt --key-id K --plain-text fileb://x", "did you mean --plaintext?"),
        ("aws kms encrypt --key-id K", "aws kms encrypt needs --plaintext"),
        ("aws kms encrypt --key-id K --plaintext file://x.bin", "needs fileb://"),
        ("aws kms encrypt --key-id K --plaintext hello", "typed text is sent as-is"),
        ("aws kms decrypt --ciphertext-blob fileb://e | base64 -d", "needs --output text"),
        ("aws kms decrypt --ciphertext-blob fileb://e --output text | base64 -d", "needs --query"),
        ("aws kms encrypt --key-id", "--key-id needs a value"),
        ("aws s3 ls", "starts with: aws kms"),
        ("aws kms", "which command?"),
        ("aws kms encrypt 'unbalanced", "the shell cannot read this line"),
        ("aws kms list-keys | ", "a pipe | with no command after it"),
    ],
)
def test_mistakes_are_named(command: str, expected: str) -> None:
    assert any(expected in f.text for f in check_command(command)), check_command(command)


def test_check_button_shows_findings_in_words() -> None:
    view = CommandView(CommandModel(), BROKEN)
    assert view.run_button.disabled  # no shell to run in
    view.check_button.click()
    assert "2 error(s), 0 warning(s)" in view.panel.html.value
    assert "Error" in view.panel.html.value and "--deocde" in view.findings_html.value
    view.text.value = SEED_COMMANDS[1]
    view.check_button.click()
    assert "no problem found" in view.panel.html.value and view.findings_html.value == ""
    view.run_button.click()
    assert view.panel.last_error is not None and "no shell" in view.panel.last_error


def test_run_button_runs_the_command_in_the_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    course = kmslab.course.start(seed=4, backend="local")
    key_id = course.kms.create_key()["KeyMetadata"]["KeyId"]
    with kmslab.shell.start(course) as shell:
        view = CommandView(CommandModel(shell))
        view.text.value = "echo not aws"
        view.run_button.click()
        assert view.panel.last_error is not None and "only aws" in view.panel.last_error
        view.text.value = (
            f"aws kms get-key-rotation-status --key-id {key_id} --output text"
            " --query KeyRotationEnabled"
        )
        view.run_button.click()
        assert view.panel.last_error is None
        assert view.output.value == "False"
        assert "exit status 0" in view.panel.html.value
    course.close()


def test_run_after_the_server_stopped_says_so_instead_of_failing() -> None:
    import kmslab.course
    import kmslab.shell
    from kmslab.ui.cli import CommandModel

    course = kmslab.course.start(seed=3)
    shell = kmslab.shell.start(course)
    shell.stop()
    status, output = CommandModel(shell).run("aws kms list-keys")
    assert status == 1 and "stopped" in output
    course.close()
