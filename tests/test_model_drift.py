"""kmslab's enums and error classes against botocore's KMS service model.

A botocore upgrade that adds a key spec, a key state or an error code fails here first, instead of
turning into a silent gap (or a 500) in the lab.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Any

import botocore.session
import pytest

from kmslab import errors, model


@cache
def kms_model() -> Any:
    return botocore.session.get_session().get_service_model("kms")


ENUMS: list[tuple[type[StrEnum], str]] = [
    (model.KeyState, "KeyState"),
    (model.KeySpec, "KeySpec"),
    (model.KeyUsage, "KeyUsageType"),
    (model.Origin, "OriginType"),
    (model.KeyManager, "KeyManagerType"),
    (model.EncryptionAlgorithm, "EncryptionAlgorithmSpec"),
    (model.DataKeySpec, "DataKeySpec"),
    (model.ExpirationModel, "ExpirationModelType"),
    (model.RotationType, "RotationType"),
]


@pytest.mark.parametrize(("enum", "shape"), ENUMS, ids=[shape for _e, shape in ENUMS])
def test_enum_matches_the_model(enum: type[StrEnum], shape: str) -> None:
    aws = set(kms_model().shape_for(shape).enum)
    ours = {member.value for member in enum}
    assert ours == aws, f"only kmslab: {ours - aws}; only AWS: {aws - ours}"


def test_data_key_sizes_cover_every_data_key_spec() -> None:
    assert set(model.DATA_KEY_BYTES) == set(kms_model().shape_for("DataKeySpec").enum)
    assert model.DATA_KEY_BYTES == {"AES_256": 32, "AES_128": 16}


def _model_error_codes() -> set[str]:
    m = kms_model()
    return {
        shape.name for name in m.operation_names for shape in m.operation_model(name).error_shapes
    }


def test_modeled_error_classes_are_exactly_the_models_error_shapes() -> None:
    ours = {code for code, cls in errors.ERRORS_BY_CODE.items() if cls.modeled}
    aws = _model_error_codes()
    assert ours == aws, f"only kmslab: {ours - aws}; only AWS: {aws - ours}"


def test_unmodeled_error_classes_are_not_in_the_model() -> None:
    common = {code for code, cls in errors.ERRORS_BY_CODE.items() if not cls.modeled}
    assert "ValidationException" in common
    assert common.isdisjoint(_model_error_codes())
    assert "ValidationException" not in kms_model().shape_names


def test_error_classes_are_named_as_their_wire_code() -> None:
    for code, cls in errors.ERRORS_BY_CODE.items():
        assert cls.__name__ == code
        assert cls("m").code == code
        assert issubclass(cls, errors.KmsError)
    assert errors.KMSInternalException.status == 500


def test_the_model_has_56_operations() -> None:
    assert len(kms_model().operation_names) == 56


def test_every_exception_a_client_knows_is_a_kmslab_class(kms: Any) -> None:
    # botocore builds kms.exceptions from the same model; each must have a kmslab twin.
    known = {
        name for name in dir(kms.exceptions) if name.endswith("Exception") and name != "ClientError"
    }
    assert known <= set(errors.ERRORS_BY_CODE)
