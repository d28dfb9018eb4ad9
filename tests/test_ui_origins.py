"""The key-origins board, driven without a browser."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from conftest import START
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmslab import LocalKms, ManualClock
from kmslab.ui import clipped_labels
from kmslab.ui.origins import EXPECTED_STATES, OriginsModel, OriginsView, check_states

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def imported_key(kms: Any, valid_days: int) -> str:
    key_id: str = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=public.encrypt(os.urandom(32), OAEP),
        ValidTo=START + timedelta(days=valid_days),
    )
    return key_id


def hsm_store(kms: Any) -> tuple[str, str]:
    store_id: str = kms.create_custom_key_store(
        CustomKeyStoreName="board-hsm",
        CloudHsmClusterId="cluster-boardaaaaaa",
        TrustAnchorCertificate="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        KeyStorePassword="kmsuser-Passw0rd",
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    key_id: str = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)["KeyMetadata"][
        "KeyId"
    ]
    return store_id, key_id


def test_the_board_shows_expiry_and_a_disconnected_store() -> None:
    with LocalKms(seed=2, clock=ManualClock(START)) as lab:
        kms = lab.client()
        store_id, hsm_key = hsm_store(kms)
        keys = {
            "kms": kms.create_key()["KeyMetadata"]["KeyId"],
            "byok": imported_key(kms, valid_days=30),
            "hsm": hsm_key,
        }
        view = OriginsView(OriginsModel(kms, keys, clock=lab.clock, custom_key_store_id=store_id))
        assert view.store_button.value is True and not view.advance_button.disabled
        # The board is drawn at construction, before any button is pressed.
        assert view.panel.last_error is None and "3 keys on the board" in view.panel.html.value
        assert "<table>" in view.table.value and "AWS_CLOUDHSM" in view.table.value
        assert clipped_labels(view.widget()) == []
        view.store_button.value = False
        assert view.store_button.description == "Key store disconnected"
        assert clipped_labels(view.widget()) == []
        view.store_button.value = True
        view.refresh_button.click()
        rows = view.model.rows()
        assert [(r.origin, r.state, r.encrypt) for r in rows] == [
            ("AWS_KMS", "Enabled", "OK"),
            ("EXTERNAL", "Enabled", "OK"),
            ("AWS_CLOUDHSM", "Enabled", "OK"),
        ]
        assert rows[1].expires == "2026-01-31" and rows[0].expires == ""
        assert "2026-01-01" in view.table.value and "EXTERNAL" in view.table.value

        view.days.value = 31
        view.advance_button.click()
        assert view.panel.last_error is None
        assert "clock +31 days -&gt; 2026-02-01" in view.panel.html.value
        byok = view.model.rows()[1]
        assert (byok.state, byok.encrypt) == ("PendingImport", "KMSInvalidStateException")
        assert "PendingImport" in view.table.value

        view.store_button.value = False
        assert view.panel.last_error is None
        assert view.store_button.description == "Key store disconnected"
        assert "DISCONNECTED" in view.panel.html.value
        hsm = view.model.rows()[2]
        assert (hsm.state, hsm.encrypt) == ("Unavailable", "KMSInvalidStateException")
        assert view.model.rows()[0].encrypt == "OK"

        view.store_button.value = True
        assert view.model.rows()[2].state == "Enabled"
        assert view.model.log == [
            "key store DISCONNECTED",
            "key store CONNECTED",
            "clock +31 days -> 2026-02-01",
            "key store DISCONNECTED",
            "key store CONNECTED",
        ]
        assert "Row" not in repr(view.model.rows()[0].line())
        assert view.model.rows()[0].line().endswith("Encrypt: OK")


def test_without_clock_or_store_the_controls_are_off() -> None:
    with LocalKms(seed=2) as lab:
        kms = lab.client()
        view = OriginsView(OriginsModel(kms, {"kms": kms.create_key()["KeyMetadata"]["KeyId"]}))
        assert view.advance_button.disabled and view.store_button.disabled
        assert "1 key on the board" in view.panel.html.value and "Enabled" in view.table.value
        assert view.model.today() == "(no lab clock)" and view.model.store_state() == ""
        view.advance_button.click()  # a disabled button still runs in tests: shown, not raised
        assert view.panel.last_error is not None and "no lab clock" in view.panel.last_error
        for control in (view.days, view.advance_button, view.store_button, view.refresh_button):
            assert control.description


def test_check_states() -> None:
    assert check_states(EXPECTED_STATES) == "correct: all 6 states right"
    guess = dict(EXPECTED_STATES, DisconnectCustomKeyStore="Disabled")
    verdict = check_states(guess)
    assert verdict.startswith("not yet: 5 of 6 right")
    assert "DisconnectCustomKeyStore: hint" in verdict
    assert check_states({}).startswith("not yet: 0 of 6 right")
