"""Spot the bug in an ``aws kms`` command line: a checker and a widget.

:func:`check_command` reads a command line the way a careful colleague would and returns
:class:`Finding` s, checking it against botocore's own KMS model (the commands and options the
aws CLI derives from it) and the shell conventions the seed uses::

    aws kms decrypt --ciphertext-blob fileb//encryptedsecret.txt --output text \\
        --query Plaintext | base64 --deocde

gives two errors: ``fileb//`` lacks its colon (the CLI then takes the *text* "fileb//..." as the
value instead of reading the file) and ``base64`` has no option ``--deocde``. Other findings: an
unknown command or option (with the closest real one), a missing required option, ``file://``
for binary data, a pipe into ``base64`` without ``--output text`` and ``--query``.

:class:`CommandView` binds it to a text box, a *Check* button and, given a
:class:`kmslab.shell.Shell`, a *Run* button that runs the line in the shell's folder and
environment (commands that start with ``aws`` only). :func:`check_fix` is the notebook
exercise's check.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Any

import ipywidgets as widgets

from . import Panel, status_html

__all__ = ["CommandModel", "CommandView", "Finding", "check_command", "check_fix"]

#: The aws CLI's global options (awscli/data/cli.json) and the generic per-command ones.
GLOBAL_OPTIONS = frozenset(
    {
        "debug",
        "endpoint-url",
        "no-verify-ssl",
        "no-paginate",
        "output",
        "query",
        "profile",
        "region",
        "version",
        "color",
        "no-sign-request",
        "ca-bundle",
        "cli-read-timeout",
        "cli-connect-timeout",
        "cli-input-json",
        "generate-cli-skeleton",
        "starting-token",
        "page-size",
        "max-items",
    }
)
#: Options of the base64 tool (GNU coreutils and macOS).
BASE64_OPTIONS = frozenset({"-d", "--decode", "-D", "-i", "--ignore-garbage", "-w", "--wrap"})
FLAG_OPTIONS = frozenset({"debug", "no-verify-ssl", "no-paginate", "no-sign-request", "version"})


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    text: str

    def line(self) -> str:
        return f"{self.level}: {self.text}"


@cache
def _kms_model() -> Any:
    import botocore.session

    return botocore.session.Session().get_service_model("kms")


@cache
def _commands() -> dict[str, str]:
    """CLI command name -> operation name (``re-encrypt`` -> ``ReEncrypt``)."""
    from botocore import xform_name

    return {xform_name(op, "-"): op for op in _kms_model().operation_names}


def _options(operation: str) -> tuple[dict[str, str], set[str]]:
    """(option -> member type, required options) of an operation, as the CLI names them."""
    from botocore import xform_name

    shape = _kms_model().operation_model(operation).input_shape
    options: dict[str, str] = {}
    required: set[str] = set()
    if shape is None:
        return options, required
    for name, member in shape.members.items():
        option = xform_name(name, "-")
        options[option] = member.type_name
        if member.type_name == "boolean":
            options["no-" + option] = "boolean"
        if name in shape.required_members:
            required.add(option)
    return options, required


def _close(word: str, choices: Any, prefix: str = "") -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {prefix}{match[0]}?" if match else ""


def _split(command: str) -> list[list[str]]:
    """The pipeline's commands, each a list of words; a redirection ends its command."""
    lexer = shlex.shlex(command.replace("\\\n", " "), posix=True, punctuation_chars="|><&;")
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
            continue
        if token == "|":
            segments.append([])
        elif token in (">", ">>", "<"):
            skip_next = True  # the file name
        else:
            segments[-1].append(token)
    return segments


def _aws_options(words: list[str]) -> list[tuple[str, str | None]]:
    """(option, value) pairs of an aws command's words after the command name."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            name, eq, inline = word[2:].partition("=")
            if eq:
                pairs.append((name, inline))
            elif i + 1 < len(words) and not words[i + 1].startswith("--"):
                pairs.append((name, words[i + 1]))
                i += 1
            else:
                pairs.append((name, None))
        else:
            pairs.append(("", word))  # a stray word
        i += 1
    return pairs


def _check_blob(option: str, value: str) -> list[Finding]:
    for prefix in ("fileb", "file"):
        for typo in (prefix + "//", prefix + ":/", prefix + "/"):
            if value.startswith(typo) and not value.startswith(prefix + "://"):
                fixed = prefix + "://" + value[len(typo) :].lstrip("/")
                return [
                    Finding(
                        "error",
                        f"{value} lacks the :// of {prefix}://, so the CLI never reads the file: "
                        f"it sends the text {value!r} itself (CLI v1 silently; CLI v2 refuses it "
                        f"as invalid base64). Write {fixed}",
                    )
                ]
    if value.startswith("file://"):
        return [
            Finding(
                "warning",
                f"--{option} {value}: file:// reads the file as text; binary data (ciphertext, "
                "keys) needs fileb://",
            )
        ]
    if not value.startswith("fileb://"):
        return [
            Finding(
                "warning",
                f"--{option} is binary: give a file with fileb://... (typed text is sent as-is "
                "by CLI v1 and read as base64 by CLI v2)",
            )
        ]
    return []


def check_command(command: str) -> list[Finding]:
    """Everything wrong or risky in an ``aws kms ...`` command line (empty: nothing found)."""
    try:
        segments = _split(command)
    except ValueError as exc:  # unbalanced quotes
        return [Finding("error", f"the shell cannot read this line: {exc}")]
    first = segments[0]
    if first[:2] != ["aws", "kms"]:
        return [Finding("error", "an aws kms command starts with: aws kms <command>")]
    if len(first) < 3 or first[2].startswith("-"):
        return [Finding("error", "which command? e.g. aws kms encrypt")]
    findings: list[Finding] = []
    name = first[2]
    commands = _commands()
    if name not in commands:
        return [Finding("error", f"aws kms has no command {name!r}{_close(name, commands)}")]
    options, required = _options(commands[name])
    given: dict[str, str | None] = {}
    for option, value in _aws_options(first[3:]):
        if not option:
            findings.append(Finding("error", f"{value!r} is not an option (options start with --)"))
            continue
        given[option] = value
        if option not in options and option not in GLOBAL_OPTIONS:
            known = [*options, *GLOBAL_OPTIONS]
            findings.append(
                Finding(
                    "error", f"aws kms {name} has no option --{option}{_close(option, known, '--')}"
                )
            )
        elif value is None and options.get(option) != "boolean" and option not in FLAG_OPTIONS:
            findings.append(Finding("error", f"--{option} needs a value"))
        elif value is not None and options.get(option) == "blob":
            findings.extend(_check_blob(option, value))
    for option in sorted(required - set(given)):
        findings.append(Finding("error", f"aws kms {name} needs --{option}"))
    for segment in segments[1:]:
        if not segment:
            findings.append(Finding("error", "a pipe | with no command after it"))
            continue
        if segment[0] == "base64":
            findings.extend(_check_base64(segment, given))
    return findings


def _check_base64(segment: list[str], given: dict[str, str | None]) -> list[Finding]:
    findings = []
    for option in segment[1:]:
        if option.startswith("-") and option not in BASE64_OPTIONS:
            hint = _close(option, ["--decode"])
            findings.append(Finding("error", f"base64 has no option {option}{hint}"))
    if not findings and not any(o in ("-d", "--decode", "-D") for o in segment[1:]):
        findings.append(
            Finding("warning", "base64 without --decode encodes again; the CLI output is base64")
        )
    if given.get("output") != "text":
        findings.append(
            Finding(
                "error",
                "piping into base64 needs --output text: JSON output wraps the value in quotes "
                "and braces that base64 cannot decode",
            )
        )
    if not given.get("query"):
        findings.append(
            Finding(
                "error",
                "piping into base64 needs --query (e.g. CiphertextBlob or Plaintext) to print "
                "only that one field",
            )
        )
    return findings


def check_fix(command: str, operation: str = "decrypt") -> str:
    """The exercise check: does ``command`` run ``aws kms <operation>`` with no error found?"""
    findings = check_command(command)
    errors = [f for f in findings if f.level == "error"]
    if errors:
        return "not yet: " + errors[0].text
    words = _split(command)[0]
    if words[2] != operation:
        return f"not yet: the seed's line runs aws kms {operation}, not aws kms {words[2]}"
    warnings = [f for f in findings if f.level == "warning"]
    if warnings:
        return "not yet: " + warnings[0].text
    return "correct: the command reads the file, prints one field as text and decodes it"


# == the widget ===================================================================================


class CommandModel:
    """Check command lines and, given a shell, run them; keeps what happened."""

    def __init__(self, shell: Any = None) -> None:
        self.shell = shell
        self.findings: list[Finding] = []
        self.output = ""

    def check(self, command: str) -> list[Finding]:
        self.findings = check_command(command)
        return self.findings

    def run(self, command: str) -> tuple[int, str]:
        """Run an ``aws ...`` line in the shell; (exit status, stdout + stderr)."""
        if self.shell is None:
            raise RuntimeError("no shell to run in: pass kmslab.shell.start(course) to the view")
        if not command.strip().startswith("aws "):
            raise ValueError("only aws ... command lines are run here")
        if getattr(self.shell, "stopped", False):
            # The notebook's last cell stops the server; a click after it is not an error.
            self.output = (
                "The lab's server for this notebook has been stopped (by its last cell). "
                "Run the notebook from the top to start it again."
            )
            return 1, self.output
        done = self.shell.run(command)
        self.output = (done.stdout + done.stderr).strip()
        return done.returncode, self.output


class CommandView:
    def __init__(self, model: CommandModel, command: str = "") -> None:
        self.model = model
        self.text = widgets.Textarea(
            value=command,
            description="aws command",
            placeholder="aws kms encrypt --key-id alias/my-key --plaintext fileb://secret.txt",
            layout=widgets.Layout(width="95%", height="5em"),
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.check_button = widgets.Button(
            description="Check", tooltip="Look for typos and risky options", icon="search"
        )
        self.run_button = widgets.Button(
            description="Run",
            tooltip="Run the command against the lab's KMS endpoint"
            if model.shell is not None
            else "Needs a running shell: kmslab.shell.start(course)",
            icon="play",
            disabled=model.shell is None,
        )
        self.panel = Panel()
        self.findings_html = widgets.HTML(description="")
        self.output = widgets.Textarea(
            value="",
            description="Output",
            disabled=True,
            layout=widgets.Layout(width="95%", height="8em"),
            style={"description_width": "initial"},
        )
        self.check_button.on_click(self.panel.guard(self._check))
        self.run_button.on_click(self.panel.guard(self._run))

    def _check(self, _button: Any = None) -> None:
        findings = self.model.check(self.text.value)
        errors = sum(f.level == "error" for f in findings)
        if not findings:
            self.panel.show(True, "no problem found")
        else:
            self.panel.show(
                errors == 0, f"{errors} error(s), {len(findings) - errors} warning(s)"
            )
        self.findings_html.value = "".join(
            status_html(f.level != "error", f.line()) for f in findings
        )

    def _run(self, _button: Any = None) -> None:
        status, text = self.model.run(self.text.value)
        self.output.value = text
        self.panel.show(status == 0, f"exit status {status}")

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                self.text,
                widgets.HBox([self.check_button, self.run_button]),
                self.panel.html,
                self.findings_html,
                self.output,
            ]
        )
