"""Envelope encryption one step at a time: a view-model, its Next/Reset view, two exercise checks.

:class:`EnvelopeSteps` walks the five steps the seed teaches, with a real boto3 KMS client (kmslab,
moto or AWS) and AES-256-GCM on this machine::

    1 generate  GenerateDataKey: KMS makes a data key, returns it in plaintext and encrypted
    2 encrypt   AES-256-GCM with the plaintext data key, locally: no KMS request
    3 store     keep the encrypted data key (CiphertextBlob) beside the ciphertext and nonce
    4 wipe      overwrite the plaintext data key (a bytearray copy; best effort, see below)
    5 decrypt   Decrypt the encrypted data key (KMS), then AES-GCM decrypt the data (locally)

Each step returns a :class:`Step` whose lines say what happened: sizes, which KMS requests were
made and how many bytes their bodies carried (seen on the client's own ``before-send`` event, so
it is evidence, not a claim), and what stayed local. The lines hold no ids, keys or timings, so
a notebook can print them as checked facts.

Wiping is best effort and the lines say so: boto3 hands the plaintext data key over as an
immutable ``bytes`` object, which Python cannot overwrite. The model pops it out of the response
at once, copies it into a ``bytearray`` (which it zeroes) and drops the ``bytes``; the AES-GCM
object keeps a copy of its own inside OpenSSL until it is freed.

:class:`EnvelopeStepsView` binds the model to a size chooser, Next and Reset buttons, a step list
with text markers and the lines so far. :func:`check_decrypt_order` and :func:`check_frame_count`
are the notebook's exercise checks.
"""

from __future__ import annotations

import html
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from kmslab.suite import AESGCM, InvalidTag

from . import Panel, status_html

__all__ = [
    "DECRYPT_STEPS",
    "SIZES",
    "STEPS",
    "EnvelopeSteps",
    "EnvelopeStepsView",
    "Step",
    "check_decrypt_order",
    "check_frame_count",
]

#: (name, title) of the five steps, in order.
STEPS: tuple[tuple[str, str], ...] = (
    ("generate", "Generate a data key (KMS GenerateDataKey)"),
    ("encrypt", "Encrypt the data locally (AES-256-GCM)"),
    ("store", "Store the encrypted data key with the data"),
    ("wipe", "Wipe the plaintext data key from memory"),
    ("decrypt", "Decrypt: KMS decrypts the data key, AES-GCM the data"),
)

#: The sizes the view offers: (label, bytes).
SIZES: tuple[tuple[str, int], ...] = (
    ("1 KiB", 1024),
    ("64 KiB", 64 * 1024),
    ("1 MiB", 1024 * 1024),
    ("16 MiB", 16 * 1024 * 1024),
)

NONCE_BYTES = 12
TAG_BYTES = 16


def _n(value: int) -> str:
    return f"{value:,}"


@dataclass(frozen=True)
class Step:
    """One step: what happened, what went to KMS, what stayed on this machine."""

    number: int
    name: str
    title: str
    happened: tuple[str, ...]
    kms_requests: tuple[str, ...]  # operation names, in order ("GenerateDataKey", ...)
    request_body_bytes: int  # bytes of the request bodies sent to KMS in this step
    stayed_local: str

    @property
    def to_kms(self) -> str:
        if not self.kms_requests:
            return "nothing: no KMS request in this step"
        calls = ", ".join(self.kms_requests)
        plural = "s" if len(self.kms_requests) > 1 else ""
        return (
            f"{len(self.kms_requests)} request{plural} ({calls}); "
            f"request body {_n(self.request_body_bytes)} bytes"
        )

    def lines(self) -> list[str]:
        """The step as plain lines (what a notebook prints and nbval checks)."""
        return [
            f"Step {self.number}: {self.title}",
            *(f"  {line}" for line in self.happened),
            f"  sent to KMS:  {self.to_kms}",
            f"  stayed local: {self.stayed_local}",
        ]

    def text(self) -> str:
        return "\n".join(self.lines())


class _Requests:
    """Records the KMS requests one client sends: operation name and body size."""

    def __init__(self, kms: Any) -> None:
        self.kms = kms
        self.seen: list[tuple[str, int]] = []
        self._id = f"kmslab-envelope-steps-{id(self)}"
        kms.meta.events.register("before-send.kms", self._on_send, unique_id=self._id)

    def _on_send(self, request: Any, **_kwargs: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode("ascii", "replace")
        body = request.body or b""
        self.seen.append((str(target).rsplit(".", 1)[-1], len(body)))

    def since(self, mark: int) -> tuple[tuple[str, ...], int]:
        new = self.seen[mark:]
        return tuple(name for name, _ in new), sum(size for _, size in new)

    def close(self) -> None:
        self.kms.meta.events.unregister("before-send.kms", unique_id=self._id)


class EnvelopeSteps:
    """Envelope-encrypt ``size`` bytes under ``key_id`` through ``kms``, one step per call.

    ``data`` defaults to ``size`` seeded pseudo-random bytes (the same on every run).
    :meth:`next` runs the next step and returns it; :meth:`reset` starts again (no KMS call).
    """

    def __init__(
        self,
        kms: Any,
        key_id: str,
        size: int = 1024 * 1024,
        *,
        data: bytes | None = None,
        encryption_context: Mapping[str, str] | None = None,
    ) -> None:
        if data is None:
            if size < 0:
                raise ValueError("size cannot be negative")
            data = random.Random(size).randbytes(size)
        self.kms = kms
        self.key_id = key_id
        self.data = data
        self.encryption_context = dict(encryption_context or {})
        self.history: list[Step] = []
        self.record: dict[str, bytes] = {}
        self._requests = _Requests(kms)
        self._key = bytearray()
        self._aead: AESGCM | None = None
        self._ciphertext = b""
        self._nonce = b""
        self._encrypted_key = b""

    # -- state -------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def done(self) -> bool:
        return len(self.history) == len(STEPS)

    @property
    def next_name(self) -> str | None:
        return None if self.done else STEPS[len(self.history)][0]

    @property
    def last(self) -> Step | None:
        return self.history[-1] if self.history else None

    @property
    def key_is_wiped(self) -> bool:
        """True when the model holds no plaintext data key (all zeros, or none)."""
        return not any(self._key)

    def reset(self) -> None:
        """Start again from step 1: forget everything (the key is zeroed first)."""
        self._wipe()
        self.history.clear()
        self.record = {}
        self._ciphertext = self._nonce = self._encrypted_key = b""

    def close(self) -> None:
        """Zero the key and stop watching the client's requests."""
        self._wipe()
        self._requests.close()

    def run_all(self) -> list[Step]:
        """Every remaining step; returns the whole history."""
        while not self.done:
            self.next()
        return list(self.history)

    def next(self) -> Step:
        """Run the next step.

        Raises:
            RuntimeError: all five steps are done (call :meth:`reset`).
            botocore ClientError: KMS refused (the view shows the AWS error code).
        """
        name = self.next_name
        if name is None:
            raise RuntimeError("all five steps are done; press Reset to start again")
        mark = len(self._requests.seen)
        run = {
            "generate": self._generate,
            "encrypt": self._encrypt,
            "store": self._store,
            "wipe": self._wipe_step,
            "decrypt": self._decrypt,
        }[name]
        happened, local = run()
        requests, body = self._requests.since(mark)
        number = len(self.history) + 1
        step = Step(number, name, STEPS[number - 1][1], tuple(happened), requests, body, local)
        self.history.append(step)
        return step

    # -- the five steps ------------------------------------------------------------------------

    def _context(self) -> dict[str, Any]:
        return {"EncryptionContext": self.encryption_context} if self.encryption_context else {}

    def _wipe(self) -> None:
        self._key[:] = bytes(len(self._key))
        self._aead = None

    def _generate(self) -> tuple[list[str], str]:
        response = self.kms.generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", **self._context()
        )
        # Copy the plaintext key out of the response at once; the bytes object is dropped.
        self._key = bytearray(response.pop("Plaintext"))
        self._encrypted_key = bytes(response["CiphertextBlob"])
        return (
            [
                "KMS made a fresh 256-bit data key and returned it twice:",
                f"  Plaintext:      {len(self._key)} bytes (the data key itself, to use now)",
                f"  CiphertextBlob: {len(self._encrypted_key)} bytes (the same key encrypted under"
                " your KMS key, for you to keep)",
            ],
            f"your {_n(self.size)} bytes of data (KMS never sees them)",
        )

    def _encrypt(self) -> tuple[list[str], str]:
        self._aead = AESGCM(self._key)  # a bytearray works: no extra immutable copy here
        self._nonce = os.urandom(NONCE_BYTES)
        self._ciphertext = self._aead.encrypt(self._nonce, self.data, None)
        return (
            [
                f"AES-256-GCM with the plaintext data key and a fresh {NONCE_BYTES}-byte nonce:",
                f"  {_n(self.size)} bytes of data -> {_n(len(self._ciphertext))} bytes of"
                f" ciphertext (with the {TAG_BYTES}-byte tag)",
            ],
            "the data, the plaintext data key and the ciphertext: all on this machine",
        )

    def _store(self) -> tuple[list[str], str]:
        self.record = {
            "encrypted_data_key": self._encrypted_key,
            "nonce": self._nonce,
            "ciphertext": self._ciphertext,
        }
        total = sum(len(v) for v in self.record.values())
        holds_key = any(bytes(self._key) in value for value in self.record.values())
        return (
            [
                "The stored record holds three fields:",
                *(f"  {name}: {_n(len(value))} bytes" for name, value in self.record.items()),
                f"  total {_n(total)} bytes for {_n(self.size)} bytes of data"
                f" (+{_n(total - self.size)} bytes)",
                f"the plaintext data key is in the record: {holds_key}",
            ],
            "the record, written wherever you keep data (a file, S3, a database row)",
        )

    def _wipe_step(self) -> tuple[list[str], str]:
        had = len(self._key)
        self._wipe()
        return (
            [
                f"The bytearray copy of the data key is overwritten: all {had} bytes are zero:"
                f" {self.key_is_wiped}",
                "Best effort: boto3 returned the key as immutable bytes, which Python cannot",
                "overwrite; the model dropped that object right after GenerateDataKey, and the",
                "AES-GCM object's own copy of the key goes when that object is freed.",
                "From now on only the encrypted data key can bring the data back.",
            ],
            "the record; no usable key anywhere on this machine",
        )

    def _decrypt(self) -> tuple[list[str], str]:
        response = self.kms.decrypt(
            CiphertextBlob=self.record["encrypted_data_key"], KeyId=self.key_id, **self._context()
        )
        self._key = bytearray(response.pop("Plaintext"))
        try:
            aead = AESGCM(self._key)
            try:
                plain = aead.decrypt(self.record["nonce"], self.record["ciphertext"], None)
            except InvalidTag:
                raise ValueError("the stored ciphertext does not verify (modified)") from None
        finally:
            self._wipe()
        return (
            [
                f"KMS decrypted the {_n(len(self.record['encrypted_data_key']))}-byte encrypted"
                " data key and returned the 32-byte data key.",
                f"AES-GCM checked the tag and decrypted {_n(len(self.record['ciphertext']))} ->"
                f" {_n(len(plain))} bytes locally.",
                f"the data came back intact: {plain == self.data}",
                f"the data key was wiped again: {self.key_is_wiped}",
            ],
            "the ciphertext and the decrypted data (only the encrypted data key went to KMS)",
        )


# -- exercise checks -------------------------------------------------------------------------

#: Short name -> what the step does, for the decryption-order exercise (in the right order).
DECRYPT_STEPS: dict[str, str] = {
    "read": "read the encrypted data key and the nonce from the stored record",
    "kms-decrypt": "send the encrypted data key to KMS Decrypt; get the plaintext data key back",
    "aes-decrypt": "AES-GCM decrypt the data on this machine with the plaintext data key",
    "wipe": "wipe the plaintext data key",
}

_ORDER_HINTS = {
    "read": "KMS can only decrypt what you send it: where does the encrypted data key come from?",
    "kms-decrypt": "only KMS can turn the encrypted data key back into the data key.",
    "aes-decrypt": "AES-GCM needs the plaintext data key, which only KMS Decrypt gives you.",
    "wipe": "wipe the key once you have used it, not before.",
}


def check_decrypt_order(answer: Sequence[str]) -> str:
    """The ordering exercise: ``answer`` lists the names of :data:`DECRYPT_STEPS` in the order
    envelope decryption runs them. Returns "correct: ..." or "not yet: ..." with a hint."""
    expected = list(DECRYPT_STEPS)
    given = [str(a).strip().lower() for a in answer] if not isinstance(answer, str) else []
    if sorted(given) != sorted(expected):
        return "not yet: give each of these names exactly once, as a list: " + ", ".join(
            repr(name) for name in expected
        )
    if given == expected:
        steps = "; ".join(f"{i}. {DECRYPT_STEPS[name]}" for i, name in enumerate(expected, 1))
        return f"correct: {steps}. One KMS request (Decrypt), whatever the size of the data."
    wrong = next(i for i, (g, e) in enumerate(zip(given, expected, strict=True)) if g != e)
    return (
        f"not yet: step {wrong + 1} is not {given[wrong]!r}. Hint: {_ORDER_HINTS[expected[wrong]]}"
    )


def check_frame_count(kms: Any, key_id: str, answer: Any, size: int, frame_length: int) -> str:
    """The framing exercise: encrypt ``size`` bytes with ``frame_length``-byte frames through
    :mod:`kmslab.envelope`, map the real message, and compare its frame count with ``answer``."""
    from kmslab import envelope

    message = envelope.encrypt(kms, bytes(size), key_id=key_id, frame_length=frame_length)
    mapped = envelope.inspect(message, max_frames=None)
    frames = mapped.frame_count
    final = mapped.plaintext_length - (frames - 1) * frame_length
    if not isinstance(answer, int) or isinstance(answer, bool):
        return f"not yet: give a whole number of frames, not {answer!r}"
    if answer == frames:
        full = frames - 1
        return (
            f"correct: a real {_n(size)}-byte message with {_n(frame_length)}-byte frames has"
            f" {frames} frame{'s' * (frames != 1)}: {full} full frame{'s' * (full != 1)} and a"
            f" final frame of {_n(final)} bytes ({_n(mapped.length)} bytes in all)."
        )
    return (
        f"not yet: the real message does not have {answer} frames. Hint: each frame carries at"
        f" most {_n(frame_length)} bytes of plaintext and the final frame carries the rest, so"
        " divide and round up (an exact multiple ends with a full final frame)."
    )


# -- the view --------------------------------------------------------------------------------


def _pre(text: str) -> str:
    return f'<pre style="font-size:12px;line-height:1.35">{html.escape(text)}</pre>'


class EnvelopeStepsView:
    """A size chooser, Next and Reset buttons, the step list and what each step did."""

    def __init__(self, kms: Any, key_id: str, size: int = 1024 * 1024) -> None:
        self.kms = kms
        self.key_id = key_id
        self.size = widgets.Dropdown(
            options=list(SIZES),
            value=size,
            description="Data size",
            tooltip="How much data to envelope-encrypt (changing it starts again; no KMS call)",
            style={"description_width": "initial"},
        )
        self.next_button = widgets.Button(
            description="Next step",
            tooltip="Run the next step (steps 1 and 5 send a request to KMS)",
            icon="forward",
        )
        self.reset_button = widgets.Button(
            description="Reset", tooltip="Start again from step 1 (no KMS call)", icon="undo"
        )
        self.steps_html = widgets.HTML()
        self.log = widgets.HTML()
        self.panel = Panel()
        self.model = EnvelopeSteps(kms, key_id, size)
        self.next_button.on_click(self.panel.guard(self._next))
        self.reset_button.on_click(self.panel.guard(self._reset))
        self.size.observe(self.panel.guard(self._resize), names="value")
        self._render()

    def _next(self, _button: Any = None) -> None:
        step = self.model.next()
        self._render()
        self.panel.show(True, f"step {step.number} done: {step.title}")

    def _reset(self, _button: Any = None) -> None:
        self.model.reset()
        self._render()
        self.panel.show(True, "reset: press Next step to begin")

    def _resize(self, change: Any = None) -> None:
        self.model.close()
        self.model = EnvelopeSteps(self.kms, self.key_id, int(self.size.value))
        self._render()
        self.panel.show(True, f"{_n(self.model.size)} bytes of data: press Next step to begin")

    def step_list(self) -> str:
        """The five steps with a word for each one's status (done / next / to do)."""
        lines = []
        for i, (name, title) in enumerate(STEPS):
            if i < len(self.model.history):
                mark = "✔ done "
            elif name == self.model.next_name:
                mark = "▶ next "
            else:
                mark = "· to do"
            lines.append(f"{mark}  {i + 1}. {title}")
        return "\n".join(lines)

    def _render(self) -> None:
        self.steps_html.value = _pre(self.step_list())
        self.log.value = _pre("\n\n".join(s.text() for s in self.model.history))
        self.next_button.disabled = self.model.done
        if not self.model.history:
            self.panel.html.value = status_html(True, "press Next step to begin")

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox([self.size, self.next_button, self.reset_button]),
                self.steps_html,
                self.panel.html,
                self.log,
            ]
        )
