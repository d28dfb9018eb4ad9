"""The plaintext limits of Encrypt, found with real calls; their plot and table twin."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.figure import Figure

import kmslab
from kmslab import limits
from kmslab.keys import RSA_PLAINTEXT_LIMITS
from kmslab.ui.limit import LimitModel, LimitView
from kmslab.viz.limits import plaintext_limits_table, plot_plaintext_limits


def test_the_formula_matches_the_service_table() -> None:
    for (spec, algorithm), limit in RSA_PLAINTEXT_LIMITS.items():
        assert limits.oaep_limit(spec.value, algorithm) == limit
    assert limits.expected_limit("SYMMETRIC_DEFAULT", None) == 4096


def test_the_search_finds_the_symmetric_limit() -> None:
    kms = kmslab.LocalKms(seed=1).client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    found = limits.find_plaintext_limit(kms, key_id)
    assert (found.limit, found.code, found.calls) == (4096, "ValidationException", 13)
    assert found.message.endswith("Member must have length less than or equal to 4096")
    assert found.expected == 4096 and found.label == "SYMMETRIC_DEFAULT"
    assert found.line() == (
        "SYMMETRIC_DEFAULT: 4096 bytes OK, 4097 bytes ValidationException (13 Encrypt calls)"
    )


def test_the_search_finds_an_rsa_limit_and_the_limit_widget_takes_an_algorithm() -> None:
    kms = kmslab.LocalKms(seed=1).client()
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    found = limits.find_plaintext_limit(
        kms, key_id, key_spec="RSA_2048", algorithm="RSAES_OAEP_SHA_256"
    )
    assert (found.limit, found.expected, found.code) == (190, 190, "ValidationException")
    assert found.label == "RSA_2048 OAEP_SHA_256"
    view = LimitView(LimitModel(kms, key_id, "RSAES_OAEP_SHA_256"), start=190, maximum=512)
    assert view.slider.max == 512
    view.button.click()
    assert view.model.last is not None and view.model.last.ok
    view.slider.value = 191
    view.button.click()
    assert view.model.last is not None and view.model.last.code == "ValidationException"


def test_other_exceptions_are_not_mistaken_for_a_limit() -> None:
    class Broken:
        def encrypt(self, **_kw: Any) -> dict[str, bytes]:
            raise RuntimeError("network down")

    with pytest.raises(RuntimeError):
        limits.find_plaintext_limit(Broken(), "k")


def test_direct_calls_and_the_exercise() -> None:
    assert limits.direct_encrypt_calls(1024 * 1024) == 256
    assert limits.direct_encrypt_calls(4097) == 2
    assert limits.direct_encrypt_calls(0) == 1
    assert limits.check_direct_calls(256, 1024 * 1024).startswith("correct: 1,048,576 bytes")
    hint = limits.check_direct_calls(250, 1024 * 1024)
    assert hint.startswith("not yet") and "round up" in hint
    with pytest.raises(ValueError):
        limits.direct_encrypt_calls(-1)


def test_plot_and_table_twin_hold_the_same_numbers() -> None:
    found = [
        limits.PlaintextLimit("SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", 4096, 13),
        limits.PlaintextLimit("RSA_2048", "RSAES_OAEP_SHA_1", 214, 13),
        limits.PlaintextLimit("RSA_4096", "RSAES_OAEP_SHA_256", 400, 13),
    ]
    rows = plaintext_limits_table(found)
    assert [r["limit found (bytes)"] for r in rows] == ["4096", "214", "400"]
    assert [r["agrees"] for r in rows] == ["yes", "yes", "NO"]
    ax = Figure().add_subplot()
    artists = plot_plaintext_limits(ax, found)
    texts = [a.get_text() for a in artists if hasattr(a, "get_text")]
    assert {"4,096 bytes", "214 bytes", "400 bytes"} <= set(texts)
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    assert [t.get_text() for t in ticks] == [  # the first limit at the top
        "SYMMETRIC_DEFAULT",
        "RSA_2048 OAEP_SHA_1",
        "RSA_4096 OAEP_SHA_256",
    ]
