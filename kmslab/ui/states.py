"""The key-state explorer: buttons that move a real key between states, the diagram lit.

``KeyStateModel`` calls a real boto3 KMS client (kmslab, moto or AWS) and reports each step as
plain data: the operation, whether it worked, the AWS error code and message if not, and the
key's state afterwards (read back with DescribeKey; ``"Deleted"`` once the key is gone)::

    model = KeyStateModel.new_key(kms)
    model.disable().line()   # 'DisableKey: OK | state Disabled'
    model.encrypt().line()   # 'Encrypt: DisabledException: arn:...:key/... is disabled. | ...'

``KeyStateView`` binds it to buttons (Enable, Disable, Schedule deletion, Cancel deletion, Try
Encrypt and, when the lab has a clock, Let the waiting period pass), the diagram of
:mod:`kmslab.viz.states` and its text twin. :func:`check_final_state` checks an exercise answer
against what the lab really does.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError, ParamValidationError

from kmslab.viz.states import DELETED, key_states_png, key_states_text

from . import Panel

__all__ = ["ACTIONS", "KeyStateModel", "KeyStateView", "Step", "check_final_state"]

#: Short action names (what :meth:`KeyStateModel.run` and the exercise take) -> what they call.
ACTIONS: dict[str, str] = {
    "enable": "EnableKey",
    "disable": "DisableKey",
    "schedule": "ScheduleKeyDeletion",
    "cancel": "CancelKeyDeletion",
    "encrypt": "Encrypt",
    "wait": "let the waiting period pass",
}


@dataclass(frozen=True)
class Step:
    """One click: what was called, what AWS answered, the key's state afterwards."""

    action: str
    ok: bool
    state: str
    code: str = "OK"  # "OK" or the AWS error code ("ParamValidationError": refused by the SDK)
    message: str = ""

    def line(self) -> str:
        """The step as one plain line (what nbval checks)."""
        if self.ok:
            return f"{self.action}: OK | state {self.state}"
        return f"{self.action}: {self.code}: {self.message} | state {self.state}"


class KeyStateModel:
    """Change one key's state through ``kms`` and say what happened.

    ``clock`` (the lab clock: ``course.clock``) enables :meth:`wait`; moto has none.
    """

    def __init__(self, kms: Any, key_id: str, clock: Any = None) -> None:
        self.kms = kms
        self.key_id = key_id
        self.clock = clock
        self.history: list[Step] = []

    @classmethod
    def new_key(
        cls, kms: Any, description: str = "kmslab: key-state explorer", clock: Any = None
    ) -> KeyStateModel:
        """A model over a fresh symmetric key (Enabled)."""
        key_id = kms.create_key(Description=description)["KeyMetadata"]["KeyId"]
        return cls(kms, key_id, clock)

    @property
    def last(self) -> Step | None:
        return self.history[-1] if self.history else None

    def state(self) -> str:
        """The key's state from DescribeKey, or ``"Deleted"`` when KMS no longer knows it."""
        try:
            state: str = self.kms.describe_key(KeyId=self.key_id)["KeyMetadata"]["KeyState"]
        except ClientError as exc:
            if exc.response["Error"].get("Code") == "NotFoundException":
                return DELETED
            raise
        return state

    def _call(self, action: str, call: Callable[[], Any]) -> Step:
        try:
            call()
            step = Step(action, True, self.state())
        except ClientError as exc:
            err = exc.response["Error"]
            step = Step(action, False, self.state(), err.get("Code", ""), err.get("Message", ""))
        except ParamValidationError as exc:  # botocore refused before sending anything
            message = str(exc).replace("\n", " ")
            step = Step(action, False, self.state(), "ParamValidationError", message)
        self.history.append(step)
        return step

    def enable(self) -> Step:
        return self._call("EnableKey", lambda: self.kms.enable_key(KeyId=self.key_id))

    def disable(self) -> Step:
        return self._call("DisableKey", lambda: self.kms.disable_key(KeyId=self.key_id))

    def schedule_deletion(self, days: int = 7) -> Step:
        return self._call(
            f"ScheduleKeyDeletion({days} days)",
            lambda: self.kms.schedule_key_deletion(KeyId=self.key_id, PendingWindowInDays=days),
        )

    def cancel_deletion(self) -> Step:
        return self._call(
            "CancelKeyDeletion", lambda: self.kms.cancel_key_deletion(KeyId=self.key_id)
        )

    def encrypt(self, plaintext: bytes = b"a small secret") -> Step:
        return self._call(
            "Encrypt", lambda: self.kms.encrypt(KeyId=self.key_id, Plaintext=plaintext)
        )

    def wait(self, days: int | None = None) -> Step:
        """Move the lab clock past the waiting period (or ``days``): scheduled deletion runs.

        Raises RuntimeError without a lab clock (moto has none)."""
        if self.clock is None:
            raise RuntimeError("this backend has no lab clock to move forward")
        if days is None:
            days = 30
            try:
                meta = self.kms.describe_key(KeyId=self.key_id)["KeyMetadata"]
                days = int(meta.get("PendingDeletionWindowInDays") or days)
            except ClientError:
                pass
        self.clock.advance(days=days)
        step = Step(f"wait {days} days", True, self.state())
        self.history.append(step)
        return step

    def do(self, action: str) -> Step:
        """Run one action by its short name (see :data:`ACTIONS`)."""
        methods: dict[str, Callable[[], Step]] = {
            "enable": self.enable,
            "disable": self.disable,
            "schedule": self.schedule_deletion,
            "cancel": self.cancel_deletion,
            "encrypt": self.encrypt,
            "wait": self.wait,
        }
        if action not in methods:
            raise ValueError(f"unknown action {action!r}; choose from {sorted(methods)}")
        return methods[action]()

    def run(self, actions: Sequence[str]) -> list[Step]:
        return [self.do(a) for a in actions]


def check_final_state(kms: Any, actions: Sequence[str], answer: str, clock: Any = None) -> str:
    """Exercise check: run ``actions`` on a fresh key through ``kms`` and compare its final
    state with ``answer``. Returns "correct: ..." or "not yet: ..." with a hint."""
    model = KeyStateModel.new_key(kms, "kmslab: exercise key", clock)
    steps = model.run(actions)
    actual = model.state()
    path = " -> ".join(["CreateKey", *(s.action for s in steps)])
    given = str(answer).strip().replace(" ", "").lower()
    if given == actual.lower():
        return f"correct: after {path} the key is {actual}."
    return (
        f"not yet: the key is not {answer!r}. Hint: start at Enabled in the diagram and follow "
        f"the arrows {path}; which box do you end in? (No arrow ever leads back to Enabled "
        "except EnableKey.)"
    )


def _pre(text: str) -> str:
    return f'<pre style="font-size:12px;line-height:1.3">{html.escape(text)}</pre>'


class KeyStateView:
    """Buttons over a :class:`KeyStateModel`, the state diagram and its text twin."""

    def __init__(self, model: KeyStateModel, days: int = 7) -> None:
        self.model = model
        self.days = widgets.BoundedIntText(
            value=days,
            min=1,
            max=365,
            description="Waiting period (days)",
            tooltip="PendingWindowInDays for ScheduleKeyDeletion (AWS accepts 7 to 30)",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="220px"),
        )
        self.panel = Panel()
        self.buttons: dict[str, widgets.Button] = {}
        specs = [
            ("enable", "Enable", "EnableKey", "check"),
            ("disable", "Disable", "DisableKey", "ban"),
            ("schedule", "Schedule deletion", "ScheduleKeyDeletion, this waiting period", "clock"),
            ("cancel", "Cancel deletion", "CancelKeyDeletion", "undo"),
            ("encrypt", "Try Encrypt", "Encrypt a small secret with this key", "lock"),
        ]
        if model.clock is not None:
            specs.append(
                ("wait", "Let the waiting period pass", "Advance the lab clock", "forward")
            )
        for name, label, tip, icon in specs:
            button = widgets.Button(
                description=label, tooltip=tip, icon=icon, layout=widgets.Layout(width="auto")
            )
            button.on_click(self.panel.guard(self._handler(name)))
            self.buttons[name] = button
        state = model.state()
        self.image = widgets.Image(value=key_states_png(state), format="png", width=640)
        self.text = widgets.HTML(value=_pre(key_states_text(state)))
        self.log = widgets.HTML(value="")

    def _handler(self, name: str) -> Callable[..., None]:
        def run(_button: Any = None) -> None:
            if name == "schedule":
                step = self.model.schedule_deletion(self.days.value)
            else:
                step = self.model.do(name)
            self._show(step)

        return run

    def _show(self, step: Step) -> None:
        self.panel.show(step.ok, step.line())
        self.image.value = key_states_png(step.state)
        self.text.value = _pre(key_states_text(step.state))
        recent = [s.line() for s in self.model.history[-6:]]
        self.log.value = _pre("Your last steps:\n" + "\n".join(recent))

    def widget(self) -> widgets.Widget:
        rows = [
            widgets.HBox([self.buttons[n] for n in ("enable", "disable", "encrypt")]),
            widgets.HBox([self.days, self.buttons["schedule"], self.buttons["cancel"]]),
        ]
        if "wait" in self.buttons:
            rows.append(widgets.HBox([self.buttons["wait"]]))
        return widgets.VBox([*rows, self.panel.html, self.image, self.text, self.log])
