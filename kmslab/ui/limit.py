"""The 4 KB limit: a size slider and an Encrypt button.

``LimitModel.try_size(n)`` encrypts ``n`` bytes with the real client and reports "OK" or the
error code and AWS's message; ``LimitView`` binds it to a slider (no call per tick) and a
button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from . import Panel

ENCRYPT_LIMIT = 4096


@dataclass(frozen=True)
class Attempt:
    size: int
    ok: bool
    code: str  # "OK" or the AWS error code
    message: str
    ciphertext_bytes: int = 0

    def line(self) -> str:
        """The attempt as one plain line (what nbval checks)."""
        if self.ok:
            return f"{self.size} bytes: OK ({self.ciphertext_bytes} bytes of ciphertext)"
        return f"{self.size} bytes: {self.code}: {self.message}"


class LimitModel:
    """Encrypt ``n`` bytes under ``key_id`` and say what happened."""

    def __init__(self, kms: Any, key_id: str, algorithm: str | None = None) -> None:
        self.kms = kms
        self.key_id = key_id
        self.algorithm = algorithm  # EncryptionAlgorithm, required for RSA keys
        self.history: list[Attempt] = []

    @property
    def last(self) -> Attempt | None:
        return self.history[-1] if self.history else None

    def try_size(self, size: int) -> Attempt:
        try:
            params: dict[str, Any] = {"KeyId": self.key_id, "Plaintext": b"x" * size}
            if self.algorithm is not None:
                params["EncryptionAlgorithm"] = self.algorithm
            out = self.kms.encrypt(**params)
            attempt = Attempt(size, True, "OK", "", len(out["CiphertextBlob"]))
        except ClientError as exc:
            err = exc.response["Error"]
            attempt = Attempt(size, False, err.get("Code", ""), err.get("Message", ""))
        self.history.append(attempt)
        return attempt


class LimitView:
    def __init__(
        self, model: LimitModel, start: int = ENCRYPT_LIMIT, maximum: int = 2 * ENCRYPT_LIMIT
    ) -> None:
        self.model = model
        self.slider = widgets.IntSlider(
            value=start,
            min=1,
            max=maximum,
            step=1,
            description="Plaintext bytes",
            continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="480px"),
        )
        self.button = widgets.Button(
            description="Encrypt", tooltip="Call KMS Encrypt with this many bytes", icon="lock"
        )
        self.panel = Panel()
        self.button.on_click(self.panel.guard(self._encrypt))

    def _encrypt(self, _button: Any = None) -> None:
        attempt = self.model.try_size(self.slider.value)
        self.panel.show(attempt.ok, attempt.line())

    def widget(self) -> widgets.Widget:
        return widgets.VBox([widgets.HBox([self.slider, self.button]), self.panel.html])
