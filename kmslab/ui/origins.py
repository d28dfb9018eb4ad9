"""Key material origins side by side: a board of keys, a clock and a key store switch.

:class:`OriginsModel` holds a few keys of different origins (``AWS_KMS``, ``EXTERNAL``,
``AWS_CLOUDHSM`` ...), a lab clock and, optionally, the custom key store that holds some of them.
:meth:`OriginsModel.rows` describes every key (its origin, its state, when imported material
expires) and tries ``Encrypt`` with it, reporting ``OK`` or the AWS error code; the model can
move the clock forward (imported material expires on it) and disconnect or connect the store
(its keys become ``Unavailable`` and come back).

:class:`OriginsView` binds that to a days slider, three buttons and a table. The table shows the
board as it is when the view is made (one DescribeKey and one Encrypt per key); after that,
calls reach KMS only when a button is pressed.

:func:`check_states` is the notebook exercise's check: the key state after each event.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from . import Panel

__all__ = ["EXPECTED_STATES", "OriginsModel", "OriginsView", "Row", "check_states"]

#: The key state after each event of the notebook's story (AWS's key-state documentation).
EXPECTED_STATES: dict[str, str] = {
    "CreateKey with Origin EXTERNAL": "PendingImport",
    "ImportKeyMaterial": "Enabled",
    "the ValidTo date passes": "PendingImport",
    "ImportKeyMaterial with the same material": "Enabled",
    "DisconnectCustomKeyStore": "Unavailable",
    "ConnectCustomKeyStore": "Enabled",
}
_HINTS = {
    "CreateKey with Origin EXTERNAL": "a key with no material cannot be used yet",
    "ImportKeyMaterial": "imported material makes the key usable at once",
    "the ValidTo date passes": "KMS deletes expired material; the key waits for an import again",
    "ImportKeyMaterial with the same material": "the same material restores the key",
    "DisconnectCustomKeyStore": "the keys of a disconnected store cannot be reached",
    "ConnectCustomKeyStore": "reconnecting puts each key back in its previous state",
}


def check_states(predicted: Mapping[str, str]) -> str:
    """'correct' when every event's predicted key state is right, else 'not yet' and hints."""
    wrong = [event for event, state in EXPECTED_STATES.items() if predicted.get(event) != state]
    if not wrong:
        return f"correct: all {len(EXPECTED_STATES)} states right"
    lines = [f"not yet: {len(EXPECTED_STATES) - len(wrong)} of {len(EXPECTED_STATES)} right"]
    lines += [f"  {event}: hint: {_HINTS[event]}" for event in wrong]
    return "\n".join(lines)


@dataclass(frozen=True)
class Row:
    label: str
    origin: str
    state: str
    expires: str  # "" when the material does not expire
    encrypt: str  # "OK" or the AWS error code

    def line(self) -> str:
        expiry = f", material valid to {self.expires}" if self.expires else ""
        return f"{self.label} ({self.origin}): {self.state}{expiry}; Encrypt: {self.encrypt}"


class OriginsModel:
    """Keys of several origins, the lab clock, and the custom key store holding some of them."""

    def __init__(
        self,
        kms: Any,
        keys: Mapping[str, str],
        *,
        clock: Any = None,
        custom_key_store_id: str | None = None,
    ) -> None:
        self.kms = kms
        self.keys = dict(keys)  # label -> key id
        self.clock = clock
        self.store_id = custom_key_store_id
        self.log: list[str] = []

    def today(self) -> str:
        return self.clock.now().date().isoformat() if self.clock is not None else "(no lab clock)"

    def rows(self) -> list[Row]:
        out = []
        for label, key_id in self.keys.items():
            md = self.kms.describe_key(KeyId=key_id)["KeyMetadata"]
            valid_to = md.get("ValidTo")
            try:
                self.kms.encrypt(KeyId=key_id, Plaintext=b"board")
                result = "OK"
            except ClientError as exc:
                result = str(exc.response["Error"].get("Code", ""))
            out.append(
                Row(
                    label,
                    md.get("Origin", ""),
                    md.get("KeyState", ""),
                    valid_to.date().isoformat() if valid_to is not None else "",
                    result,
                )
            )
        return out

    def advance(self, days: int) -> str:
        if self.clock is None:
            raise RuntimeError("this backend has no lab clock to move")
        self.clock.advance(days=days)
        self.log.append(f"clock +{days} days -> {self.today()}")
        return self.log[-1]

    def store_state(self) -> str:
        if self.store_id is None:
            return ""
        stores = self.kms.describe_custom_key_stores(CustomKeyStoreId=self.store_id)
        return str(stores["CustomKeyStores"][0]["ConnectionState"])

    def set_connected(self, connected: bool) -> str:
        """Connect or disconnect the store (nothing to do when it already is)."""
        if self.store_id is None:
            raise RuntimeError("no custom key store on this board")
        current = self.store_state()
        if connected and current != "CONNECTED":
            self.kms.connect_custom_key_store(CustomKeyStoreId=self.store_id)
        elif not connected and current != "DISCONNECTED":
            self.kms.disconnect_custom_key_store(CustomKeyStoreId=self.store_id)
        self.log.append(f"key store {self.store_state()}")
        return self.log[-1]


class OriginsView:
    def __init__(self, model: OriginsModel) -> None:
        self.model = model
        self.days = widgets.IntSlider(
            value=7,
            min=1,
            max=400,
            description="Days",
            tooltip="How far to move the lab clock",
            continuous_update=False,
        )
        self.advance_button = widgets.Button(
            description="Advance the clock",
            tooltip="Move the lab clock forward by this many days",
            icon="clock-o",
            disabled=model.clock is None,
            layout=widgets.Layout(width="180px"),
        )
        connected = model.store_id is None or model.store_state() == "CONNECTED"
        self.store_button = widgets.ToggleButton(
            value=connected,
            description="Key store connected" if connected else "Key store disconnected",
            tooltip="Connect or disconnect the custom key store",
            icon="plug",
            disabled=model.store_id is None,
            layout=widgets.Layout(width="240px"),  # room for "Key store disconnected"
        )
        self.refresh_button = widgets.Button(
            description="Try Encrypt",
            tooltip="Describe every key and try Encrypt with it",
            icon="lock",
        )
        self.panel = Panel()
        self.table = widgets.HTML(description="")
        self.advance_button.on_click(self.panel.guard(self._advance))
        self.refresh_button.on_click(self.panel.guard(self._refresh))
        self.store_button.observe(self.panel.guard(self._toggle_store), names="value")
        self.panel.guard(self._first_look)()

    def _first_look(self) -> None:
        """The board as it is now, drawn once at construction (no button needed)."""
        self._refresh()
        count = len(self.model.keys)
        self.panel.show(
            True,
            f"{count} key{'' if count == 1 else 's'} on the board: advance the clock, switch the "
            "key store, or press Try Encrypt again",
        )

    def _advance(self, _button: Any = None) -> None:
        self.panel.show(True, self.model.advance(self.days.value))
        self._refresh()

    def _toggle_store(self, change: Any = None) -> None:
        connected = bool(change["new"]) if change is not None else self.store_button.value
        self.store_button.description = (
            "Key store connected" if connected else "Key store disconnected"
        )
        self.panel.show(True, self.model.set_connected(connected))
        self._refresh()

    def _refresh(self, _button: Any = None) -> None:
        rows = self.model.rows()
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(cell)}</td>"
                for cell in (r.label, r.origin, r.state, r.expires or "-", r.encrypt)
            )
            + "</tr>"
            for r in rows
        )
        self.table.value = (
            f"<p>Lab date: <b>{html.escape(self.model.today())}</b></p>"
            "<table><thead><tr><th>key</th><th>origin</th><th>state</th>"
            "<th>material valid to</th><th>Encrypt</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox([self.days, self.advance_button]),
                widgets.HBox([self.store_button, self.refresh_button]),
                self.panel.html,
                self.table,
            ]
        )
