"""Key policy documents: the default policy, validation, and the part of evaluation the
lockout safety check needs.

Pure functions over JSON text; no service state. Evaluation is fail-closed: anything this
module does not understand grants nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from .errors import LimitExceededException, MalformedPolicyDocumentException

#: AWS: "The maximum length of a key policy document is 32 KB (32,768 bytes)."
MAX_POLICY_BYTES = 32768


def default_policy(account: str) -> str:
    """The policy CreateKey gives a key when the request has none (key-policy-default.html).

    One statement: the account principal may do everything, which *enables IAM policies* to
    grant access; by itself it lets no user or role do anything.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def aws_managed_policy(account: str, service: str, region: str) -> str:
    """The shape of an AWS managed key's policy: use only through the service, read directly."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-1",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account "
                    f"that are authorized to use {service}",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:CallerAccount": account,
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def parse(text: str) -> dict[str, Any]:
    """Parse and validate a key policy document.

    Raises:
        LimitExceededException: over 32 KB.
        MalformedPolicyDocumentException: not JSON, or not a policy.
    """
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise LimitExceededException(
            f"Policy document exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )
    try:
        doc = json.loads(text)
    except ValueError:
        raise MalformedPolicyDocumentException("The policy is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise MalformedPolicyDocumentException("The policy is not a JSON object.")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyDocumentException("Policy contains no statements.")
    for st in statements:
        if not isinstance(st, dict):
            raise MalformedPolicyDocumentException("Policy contains an invalid statement.")
        if st.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicyDocumentException(
                "Policy contains a statement with an invalid or missing Effect."
            )
        if "Principal" not in st and "NotPrincipal" not in st:
            raise MalformedPolicyDocumentException("Policy contains a statement with no principal.")
    return doc


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, text: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, flags=re.IGNORECASE) is not None


def _principal_matches(principal: Any, candidates: Iterable[str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    names = _as_list(principal.get("AWS"))
    cands = list(candidates)
    return any(n == "*" or n in cands for n in names)


def allows(doc: dict[str, Any], principal_arns: Iterable[str], action: str) -> bool:
    """Whether an unconditional Allow statement names one of ``principal_arns`` (or ``*``)
    for ``action`` and no unconditional Deny does. Conditions are not evaluated here: a
    statement with a Condition counts for Deny and not for Allow (fail-closed)."""
    arns = list(principal_arns)
    allowed = False
    statements = _as_list(doc.get("Statement"))
    for st in statements:
        if not isinstance(st, dict) or not _principal_matches(st.get("Principal"), arns):
            continue
        actions = _as_list(st.get("Action"))
        if not any(isinstance(a, str) and _glob(a, action) for a in actions):
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow" and not st.get("Condition"):
            allowed = True
    return allowed
