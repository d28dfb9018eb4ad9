"""The 4 KB widget, driven without a browser."""

from __future__ import annotations

import kmslab
from kmslab.ui.limit import LimitModel, LimitView


def test_the_slider_and_button_show_the_limit() -> None:
    lab = kmslab.LocalKms(seed=1)
    kms = lab.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    view = LimitView(LimitModel(kms, key_id))
    view.slider.value = 4096
    assert view.model.history == []  # moving the slider calls nothing
    view.button.click()
    assert view.model.last is not None and view.model.last.ok
    assert "OK" in view.panel.html.value
    view.slider.value = 4097
    view.button.click()
    last = view.model.last
    assert last is not None and not last.ok and last.code == "ValidationException"
    assert last.message.endswith("Member must have length less than or equal to 4096")
    assert "ValidationException" in view.panel.html.value and "Error" in view.panel.html.value


def test_a_failing_callback_is_shown_not_swallowed() -> None:
    class Broken:
        def encrypt(self, **_kw: object) -> dict[str, bytes]:
            raise RuntimeError("network down")

    view = LimitView(LimitModel(Broken(), "k"))
    view.button.click()
    assert view.panel.last_error is not None and "network down" in view.panel.last_error
    assert "RuntimeError" in view.panel.html.value
