"""The KeyMetadata explanations cover botocore's model, and read a real DescribeKey."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

import kmslab
from kmslab.metadata import FIELDS, absent_fields, format_value, metadata_rows, metadata_table


def test_every_member_of_the_model_is_explained_in_its_order() -> None:
    client = boto3.client(
        "kms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    members = list(client.meta.service_model.shape_for("KeyMetadata").members)
    assert list(FIELDS) == members
    assert all(len(meaning) <= 70 for meaning in FIELDS.values())  # fits a table column


def test_rows_of_a_real_describe_key() -> None:
    kms = kmslab.LocalKms(seed=2).client()
    meta = kms.create_key(Description="")["KeyMetadata"]
    rows = metadata_rows(meta)
    by_field = {r["field"]: r for r in rows}
    assert list(by_field) == [f for f in FIELDS if f in meta]
    assert by_field["KeyState"]["value"] == "Enabled"
    assert by_field["Description"]["value"] == '""'
    assert by_field["EncryptionAlgorithms"]["value"] == "SYMMETRIC_DEFAULT"
    assert by_field["CreationDate"]["value"].endswith("+00:00")
    absent = dict(absent_fields(meta))
    assert "DeletionDate" in absent and "KeyState" not in absent
    assert len(absent) + len(rows) == len(FIELDS)
    table = metadata_table(meta).splitlines()
    assert table[0].split() == ["field", "value", "what", "it", "means"]
    assert len(table) == len(rows) + 2
    key_line = next(line for line in table if line.startswith("KeyId "))
    assert key_line.split()[1] == meta["KeyId"]
    value_column = table[0].index("value")
    assert key_line[value_column:].startswith(meta["KeyId"])  # left-aligned


def test_values_and_unknown_fields() -> None:
    assert format_value(datetime(2026, 1, 5, 9, tzinfo=UTC)) == "2026-01-05T09:00:00+00:00"
    assert format_value([]) == "(empty)"
    assert format_value({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    rows = metadata_rows({"KeyId": "k", "NewThing": 1})
    assert rows[-1]["field"] == "NewThing" and "not in botocore" in rows[-1]["what it means"]
