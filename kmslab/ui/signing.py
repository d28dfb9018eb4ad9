"""Sign and verify, MAC and verify: a widget over KMS's signing and HMAC keys.

:class:`SigningModel` takes a boto3 KMS client and the ids of some ``SIGN_VERIFY`` and
``GENERATE_VERIFY_MAC`` keys. :meth:`SigningModel.run` signs (or MACs) a message with a key,
optionally changes the message, then asks KMS to verify, and reports each call as a
:class:`Step`: ``OK`` or the AWS error code and message. With ``message_type="DIGEST"`` the
model hashes the message itself (hashlib) and sends the digest, as a caller of ``Sign`` with a
large document does.

:class:`SigningView` binds it to a key chooser, a message box, RAW/DIGEST buttons, a "tamper"
checkbox and one button: calls reach KMS only when the button is pressed.

:func:`check_digest` is the notebook exercise's check: is this the digest KMS expects for a
DIGEST signature of that message?
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from . import Panel, pre_html

__all__ = [
    "KeyChoice",
    "SigningModel",
    "SigningView",
    "Step",
    "check_digest",
    "hash_name",
    "tampered",
    "verdict",
]


def hash_name(algorithm: str) -> str:
    """The hashlib name behind a KMS signing or MAC algorithm: ECDSA_SHA_256 -> sha256."""
    suffix = algorithm.rsplit("SHA_", 1)
    if len(suffix) != 2 or not suffix[1].isdigit():
        raise ValueError(f"{algorithm} does not name a SHA-2 hash")
    return "sha" + suffix[1]


def check_digest(message: bytes, digest: Any, algorithm: str = "ECDSA_SHA_256") -> str:
    """The exercise check: "correct" when ``digest`` is what a DIGEST-type ``Sign`` of
    ``message`` with ``algorithm`` needs, else "not yet" with a hint."""
    name = hash_name(algorithm)
    expected = hashlib.new(name, message).digest()
    if isinstance(digest, str):
        return (
            "not yet: that is text (a hex digest?); KMS takes the raw digest bytes: "
            f"hashlib.{name}(message).digest()"
        )
    if not isinstance(digest, bytes | bytearray):
        return f"not yet: give bytes, e.g. hashlib.{name}(message).digest()"
    if len(digest) != len(expected):
        return (
            f"not yet: {algorithm} signs a {name.upper()} digest of {len(expected)} bytes; "
            f"yours has {len(digest)} (KMS would answer: Digest is invalid length for "
            f"algorithm {algorithm}.)"
        )
    if bytes(digest) != expected:
        return f"not yet: the right length, but not the {name.upper()} of this message"
    return f"correct: {len(expected)} bytes, the {name.upper()} of the message"


@dataclass(frozen=True)
class Step:
    """One call and what came of it."""

    name: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{self.name}: {self.text}"


def verdict(steps: list[Step]) -> tuple[bool, str, str]:
    """The outcome of one run in words, for the result line under the steps: (ok, word, text).

    The steps list every call; the verdict says what they add up to, without repeating the
    last step: "Verified", "Rejected" (a verification that says no: the lesson of the tamper
    checkbox, not a failure of the widget) or "Error" (a call KMS refused)."""
    last = steps[-1]
    call, code = last.name.split(" (")[0], last.text.split(":")[0]
    what = "MAC" if call == "VerifyMac" else "signature"
    message = "the changed message" if "changed" in last.name else "the message"
    if last.ok:
        return True, "Verified", f"the {what} is valid for {message}"
    if code in ("KMSInvalidSignatureException", "KMSInvalidMacException"):
        return False, "Rejected", f"the {what} does not match {message} ({code})"
    if call in ("Verify", "VerifyMac"):
        return False, "Error", f"{call} failed with {code}: see the steps above"
    return False, "Error", f"{call} failed with {code}, so nothing was verified"


@dataclass(frozen=True)
class KeyChoice:
    key_id: str
    key_spec: str
    usage: str  # SIGN_VERIFY or GENERATE_VERIFY_MAC
    algorithm: str

    @property
    def label(self) -> str:
        return f"{self.key_spec} · {self.algorithm}"


def _error(exc: ClientError) -> str:
    err = exc.response["Error"]
    message = err.get("Message", "")
    return f"{err.get('Code', '')}: {message}" if message else str(err.get("Code", ""))


def tampered(message: bytes) -> bytes:
    """The message with its last bit flipped (one bit is enough)."""
    if not message:
        return b"\x01"
    return message[:-1] + bytes([message[-1] ^ 1])


class SigningModel:
    """Sign/verify and MAC/verify with real KMS calls; keeps every run's steps."""

    def __init__(self, kms: Any, keys: Iterable[str | tuple[str, str]]) -> None:
        """``keys``: key ids (their first algorithm is used) or (key id, algorithm) pairs."""
        self.kms = kms
        self.choices: list[KeyChoice] = []
        for entry in keys:
            key_id, wanted = (entry, None) if isinstance(entry, str) else entry
            md = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            usage = md["KeyUsage"]
            algorithms = md.get("SigningAlgorithms") or md.get("MacAlgorithms") or []
            if usage == "GENERATE_VERIFY_MAC" and not algorithms:  # moto omits MacAlgorithms
                algorithms = ["HMAC_SHA_" + md["KeySpec"].removeprefix("HMAC_")]
            if usage not in ("SIGN_VERIFY", "GENERATE_VERIFY_MAC") or not algorithms:
                raise ValueError(f"{key_id} is not a signing or HMAC key")
            if wanted is not None and wanted not in algorithms:
                raise ValueError(f"{key_id} does not support {wanted}")
            algorithm = wanted or algorithms[0]
            self.choices.append(KeyChoice(key_id, md["KeySpec"], usage, algorithm))
        self.history: list[list[Step]] = []

    @property
    def last(self) -> list[Step] | None:
        return self.history[-1] if self.history else None

    def choice(self, label: str) -> KeyChoice:
        for choice in self.choices:
            if choice.label == label:
                return choice
        raise KeyError(label)

    def run(
        self, label: str, message: bytes, message_type: str = "RAW", tamper: bool = False
    ) -> list[Step]:
        choice = self.choice(label)
        if choice.usage == "GENERATE_VERIFY_MAC":
            steps = self._mac(choice, message, message_type, tamper)
        else:
            steps = self._sign(choice, message, message_type, tamper)
        self.history.append(steps)
        return steps

    def _payload(self, choice: KeyChoice, message: bytes, message_type: str) -> bytes:
        if message_type == "DIGEST":
            return hashlib.new(hash_name(choice.algorithm), message).digest()
        return message

    def _sign(
        self, choice: KeyChoice, message: bytes, message_type: str, tamper: bool
    ) -> list[Step]:
        sent = self._payload(choice, message, message_type)
        what = f"{message_type}, {len(sent)} bytes"
        try:
            signature = self.kms.sign(
                KeyId=choice.key_id,
                Message=sent,
                MessageType=message_type,
                SigningAlgorithm=choice.algorithm,
            )["Signature"]
        except ClientError as exc:
            return [Step(f"Sign ({what})", False, _error(exc))]
        steps = [Step(f"Sign ({what})", True, f"OK, a {len(signature)}-byte signature")]
        checked = tampered(message) if tamper else message
        note = "the changed message" if tamper else "the same message"
        try:
            out = self.kms.verify(
                KeyId=choice.key_id,
                Message=self._payload(choice, checked, message_type),
                MessageType=message_type,
                Signature=signature,
                SigningAlgorithm=choice.algorithm,
            )
            valid = bool(out["SignatureValid"])
            steps.append(Step(f"Verify ({note})", valid, f"SignatureValid {valid}"))
        except ClientError as exc:
            steps.append(Step(f"Verify ({note})", False, _error(exc)))
        return steps

    def _mac(
        self, choice: KeyChoice, message: bytes, message_type: str, tamper: bool
    ) -> list[Step]:
        steps = []
        if message_type == "DIGEST":
            steps.append(
                Step("Note", True, "HMAC keys take the message itself: MessageType is for Sign")
            )
        try:
            mac = self.kms.generate_mac(
                KeyId=choice.key_id, Message=message, MacAlgorithm=choice.algorithm
            )["Mac"]
        except ClientError as exc:
            return [*steps, Step(f"GenerateMac ({len(message)} bytes)", False, _error(exc))]
        steps.append(
            Step(f"GenerateMac ({len(message)} bytes)", True, f"OK, a {len(mac)}-byte MAC")
        )
        checked = tampered(message) if tamper else message
        note = "the changed message" if tamper else "the same message"
        try:
            out = self.kms.verify_mac(
                KeyId=choice.key_id, Message=checked, Mac=mac, MacAlgorithm=choice.algorithm
            )
            valid = bool(out["MacValid"])
            steps.append(Step(f"VerifyMac ({note})", valid, f"MacValid {valid}"))
        except ClientError as exc:
            steps.append(Step(f"VerifyMac ({note})", False, _error(exc)))
        return steps


class SigningView:
    def __init__(self, model: SigningModel, message: str = "Pay Alice 100 EUR") -> None:
        self.model = model
        self.key = widgets.Dropdown(
            options=[c.label for c in model.choices],
            description="Key",
            tooltip="Which KMS key signs (or MACs) the message",
            style={"description_width": "initial"},
        )
        self.message = widgets.Text(
            value=message,
            description="Message",
            continuous_update=False,
            layout=widgets.Layout(width="480px"),
            style={"description_width": "initial"},
        )
        self.message_type = widgets.ToggleButtons(
            options=["RAW", "DIGEST"],
            value="RAW",
            description="MessageType",
            tooltips=["KMS hashes the message", "You hash the message and send the digest"],
            style={"description_width": "initial"},
        )
        self.tamper = widgets.Checkbox(
            value=False,
            description="Change one bit of the message before verifying",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.button = widgets.Button(
            description="Sign and verify",
            tooltip="Call Sign then Verify (or GenerateMac then VerifyMac) in KMS",
            icon="pencil",
            layout=widgets.Layout(width="180px"),
        )
        self.panel = Panel()
        self.steps_html = widgets.HTML(description="")
        self.button.on_click(self.panel.guard(self._run))

    def _run(self, _button: Any = None) -> None:
        steps = self.model.run(
            self.key.value,
            self.message.value.encode("utf-8"),
            self.message_type.value,
            self.tamper.value,
        )
        ok, word, text = verdict(steps)
        lines = [f"{i}. {'✔' if s.ok else '✘'} {s.line()}" for i, s in enumerate(steps, 1)]
        self.steps_html.value = pre_html("\n".join(lines), wrap=True)
        self.panel.show(ok, text, word)

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                self.key,
                self.message,
                self.message_type,
                self.tamper,
                self.button,
                self.steps_html,
                self.panel.html,
            ]
        )
