"""A local lab starts without botocore: ``kmslab encrypt`` never makes a boto3 client, so its
wire layer reads botocore's model files itself and compiles an operation on first request."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name as botocore_xform_name
from botocore.model import Shape

from kmslab.lab import LocalKms
from kmslab.protocol import service_model
from kmslab.shapes import Spec, read_model, xform_name

FRESH_LAB = """
import base64, json, sys
import kmslab.lab

lab = kmslab.lab.LocalKms()
after_start = sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto3"))
who = lab.directory.signing_principal(None)
created = lab.handle("TrentService.CreateKey", b"{}", who, "us-east-1")
key_id = json.loads(created.body)["KeyMetadata"]["KeyId"]
request = {"KeyId": key_id, "Plaintext": base64.b64encode(b"hello").decode()}
encrypted = lab.handle("TrentService.Encrypt", json.dumps(request).encode(), who, "us-east-1")
blob = json.loads(encrypted.body)["CiphertextBlob"]
decrypted = lab.handle(
    "TrentService.Decrypt", json.dumps({"CiphertextBlob": blob}).encode(), who, "us-east-1"
)
too_long = {"KeyId": key_id, "Plaintext": base64.b64encode(b"x" * 4097).decode()}
refused = lab.handle("TrentService.Encrypt", json.dumps(too_long).encode(), who, "us-east-1")
print(json.dumps({
    "after_start": after_start,
    "after_calls": sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto3")),
    "encrypt": encrypted.status,
    "decrypt": [decrypted.status, json.loads(decrypted.body).get("Plaintext")],
    "refused": [refused.status, json.loads(refused.body)],
}))
"""


def test_a_fresh_lab_starts_and_encrypts_without_importing_botocore() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FRESH_LAB], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["after_start"] == []
    assert seen["after_calls"] == []
    assert seen["encrypt"] == 200
    assert seen["decrypt"] == [200, "aGVsbG8="]
    assert seen["refused"] == [
        400,
        {
            "__type": "ValidationException",
            "message": "1 validation error detected: Value at 'plaintext' failed to satisfy "
            "constraint: Member must have length less than or equal to 4096",
        },
    ]


@pytest.fixture(scope="module")
def lab() -> Any:
    with LocalKms(seed=3) as lab:
        yield lab


def test_every_operation_is_listed_before_any_is_compiled(lab: LocalKms) -> None:
    for protocol, model in ((lab.kms, "kms"), (lab.iam, "iam"), (lab.sts, "sts")):
        names = list(service_model(model).operation_names)
        assert list(protocol.operations) == names
        assert len(protocol.operations) == len(names)
        assert all(name in protocol.operations for name in names)
        assert "NoSuchOperation" not in protocol.operations
        assert protocol.operations.find("NoSuchOperation") is None
        with pytest.raises(KeyError):
            protocol.operations["NoSuchOperation"]
    assert len(lab.kms.operations) == 56


def _agrees(spec: Spec, shape: Shape, seen: set[str]) -> None:
    """The compiled spec says what botocore's model of the same shape says."""
    if shape.name in seen:
        return
    seen.add(shape.name)
    meta = shape.metadata
    assert (spec.name, spec.type) == (shape.name, shape.type_name)
    assert (spec.min, spec.max, spec.sensitive) == (
        meta.get("min"),
        meta.get("max"),
        bool(meta.get("sensitive")),
    )
    assert spec.pattern_text == meta.get("pattern", "")
    assert spec.enum == (frozenset(shape.enum) if getattr(shape, "enum", None) else None)
    assert spec.flattened == bool(shape.serialization.get("flattened"))
    if shape.type_name == "structure":
        assert spec.required == tuple(shape.required_members)
        assert [m[:4] for m in spec.members] == [
            (p, botocore_xform_name(p), p[:1].lower() + p[1:], s.serialization.get("name", p))
            for p, s in shape.members.items()
        ]
        for (*_, sub), member in zip(spec.members, shape.members.values(), strict=True):
            _agrees(sub, member, seen)
    elif shape.type_name == "list":
        assert spec.member is not None
        assert spec.member_name == shape.member.serialization.get("name", "member")
        _agrees(spec.member, shape.member, seen)
    elif shape.type_name == "map":
        assert spec.key is not None and spec.value is not None
        _agrees(spec.key, shape.key, seen)
        _agrees(spec.value, shape.value, seen)


@pytest.mark.parametrize("model", ["kms", "iam", "sts"])
def test_operations_compiled_on_demand_agree_with_botocore(lab: LocalKms, model: str) -> None:
    protocol = {"kms": lab.kms, "iam": lab.iam, "sts": lab.sts}[model]
    botocore_model = service_model(model)
    for name in reversed(list(protocol.operations)):  # not the model's order: shared shapes
        operation = protocol.operations[name]
        expected = botocore_model.operation_model(name)
        if model == "kms":  # every KMS operation is implemented
            assert operation.method is not None, name
        if expected.input_shape is None:
            assert (operation.input.type, operation.input.members) == ("structure", [])
        else:
            _agrees(operation.input, expected.input_shape, set())
        if expected.output_shape is None:
            assert operation.output is None
        else:
            assert operation.output is not None
            _agrees(operation.output, expected.output_shape, set())
        assert operation is protocol.operations[name]  # compiled once


def test_snake_case_names_are_botocore_s() -> None:
    names = {"KeyARNs", "ListWebACLs", "GenerateDataKeyPairWithoutPlaintext", "already_snake"}
    for model in ("kms", "iam", "sts"):
        description = service_model(model)._service_description
        names.update(description["operations"])
        for shape in description["shapes"].values():
            names.update(shape.get("members", {}))
    assert [xform_name(n) for n in sorted(names)] == [botocore_xform_name(n) for n in sorted(names)]


def _write_model(folder: Path, version: str, name: str, marker: str) -> None:
    (folder / version).mkdir(parents=True)
    payload = json.dumps({"metadata": {"apiVersion": version, "marker": marker}}).encode()
    path = folder / version / name
    path.write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)


def test_the_newest_version_is_read_plain_or_gzipped(tmp_path: Path) -> None:
    service = tmp_path / "kms"
    _write_model(service, "2014-11-01", "service-2.json", "old")
    _write_model(service, "2020-01-01", "service-2.json.gz", "gzipped")
    (service / "2030-01-01").mkdir()  # a version folder without a service model
    (service / "2030-01-01" / "paginators-1.json").write_text("{}")
    assert read_model(str(tmp_path), "kms")["metadata"] == {
        "apiVersion": "2020-01-01",
        "marker": "gzipped",
    }
    (service / "2020-01-01" / "service-2.json").write_text(
        json.dumps({"metadata": {"marker": "plain"}})
    )
    assert read_model(str(tmp_path), "kms")["metadata"] == {"marker": "plain"}  # botocore's order
    with pytest.raises(LookupError, match="no service model of 'sqs'"):
        read_model(str(tmp_path), "sqs")


def test_the_lab_serves_botocore_s_own_model() -> None:
    description = service_model("kms")._service_description
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", description["metadata"]["apiVersion"])
    from botocore.loaders import Loader

    assert description == Loader().load_service_model("kms", "service-2")
