"""What each field of a key's metadata means: a DescribeKey response as a table for people.

:data:`FIELDS` covers every member of botocore's ``KeyMetadata`` shape, in the model's order
(a test compares the two, so a field AWS adds shows up as a failing test). Works on the plain
dict a boto3 client returns, from any backend::

    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    print(metadata_table(meta))        # the same rows, as left-aligned text
    for field, meaning in absent_fields(meta): ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["FIELDS", "absent_fields", "format_value", "metadata_rows", "metadata_table"]

#: KeyMetadata member -> what it means (botocore's order).
FIELDS: dict[str, str] = {
    "AWSAccountId": "the AWS account that owns the key",
    "KeyId": "the key's id (a UUID; mrk-... for multi-Region keys)",
    "Arn": "key ARN: Region + account + key id; what policies name",
    "CreationDate": "when the key was created",
    "Enabled": "True only while KeyState is Enabled",
    "Description": "free text for people; not an identifier",
    "KeyUsage": "what the key is for; fixed at creation",
    "KeyState": "lifecycle state; decides which operations work",
    "DeletionDate": "when the key will be deleted (PendingDeletion only)",
    "ValidTo": "when imported key material expires (EXTERNAL only)",
    "Origin": "where the material came from: KMS, imported, HSM, XKS",
    "CustomKeyStoreId": "the custom key store holding the key",
    "CloudHsmClusterId": "the CloudHSM cluster behind that key store",
    "ExpirationModel": "whether imported material expires (EXTERNAL only)",
    "KeyManager": "CUSTOMER: you manage it; AWS: an AWS managed key",
    "CustomerMasterKeySpec": "deprecated twin of KeySpec, kept for old code",
    "KeySpec": "the kind of key: AES-256 (SYMMETRIC_DEFAULT), RSA, ECC, HMAC",
    "EncryptionAlgorithms": "what Encrypt/Decrypt accept with this key",
    "SigningAlgorithms": "what Sign/Verify accept (signing keys only)",
    "KeyAgreementAlgorithms": "ECDH (key agreement keys only)",
    "EncapsulationAlgorithms": "ML_KEM (ML-KEM keys only)",
    "MultiRegion": "True for a multi-Region key (shared material)",
    "MultiRegionConfiguration": "primary and replicas (multi-Region keys only)",
    "PendingDeletionWindowInDays": "the waiting period chosen, 7-30 (PendingDeletion only)",
    "MacAlgorithms": "what GenerateMac/VerifyMac accept (HMAC keys only)",
    "XksKeyConfiguration": "the key's id in the external key manager (XKS only)",
    "CurrentKeyMaterialId": "the material that encrypts now; changes on rotation",
}


def format_value(value: Any) -> str:
    """A metadata value as plain text: dates in UTC ISO form, lists joined, dicts as JSON."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(empty)"
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, sort_keys=True)
    if value == "":
        return '""'
    return str(value)


def metadata_rows(metadata: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per field present in ``metadata``: field, value, what it means (fields the
    model does not know come last, marked as such)."""
    known = [f for f in FIELDS if f in metadata]
    extra = [f for f in metadata if f not in FIELDS]
    return [
        {
            "field": f,
            "value": format_value(metadata[f]),
            "what it means": FIELDS.get(f, "(not in botocore's KeyMetadata model)"),
        }
        for f in known + extra
    ]


def absent_fields(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The KeyMetadata fields this key does not have, with what they would mean."""
    return [(f, meaning) for f, meaning in FIELDS.items() if f not in metadata]


def metadata_table(metadata: Mapping[str, Any]) -> str:
    """:func:`metadata_rows` as a plain text table, every column left-aligned (ids and dates
    read better that way than right-aligned like numbers)."""
    rows = metadata_rows(metadata)
    columns = ["field", "value", "what it means"]
    widths = [max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        cells = (r[c].ljust(w) for c, w in zip(columns, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
