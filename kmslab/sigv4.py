"""Verify AWS Signature Version 4 on an incoming request, as AWS does.

The canonical request, string to sign and signing key follow the IAM User Guide, "Create a
signed AWS API request" (Signature Version 4): the server rebuilds the canonical request from
what it received, signs it with the secret key it holds for the access key id in the
credential scope, and compares. Only the Authorization-header form is supported (what boto3,
the aws CLI and every SDK send); presigned query strings are not used by KMS clients.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import parse_qsl, quote

from .errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _parse_amz_date(text: str) -> datetime:
    """YYYYMMDDTHHMMSSZ, without strptime's cost."""
    if len(text) != 16 or text[8] != "T" or text[15] != "Z":
        raise ValueError(text)
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[9:11]),
        int(text[11:13]),
        int(text[13:15]),
        tzinfo=UTC,
    )


def parse_authorization(value: str | None) -> Credential:
    """Raises MissingAuthenticationTokenException / IncompleteSignatureException."""
    if not value:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    m = _AUTH.match(value.strip())
    if m is None:
        raise IncompleteSignatureException(
            f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            f"parameters. Authorization={value[:64]}"
        )
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise IncompleteSignatureException(
            "Credential should be scoped to a valid region, not a service or date."
        )
    return Credential(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(m.group("signed").split(";")),
        signature=m.group("sig"),
    )


@lru_cache(maxsize=256)
def _derived_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _signing_key(secret: str, cred: Credential) -> bytes:
    """The day's signing key (derived once per secret, date, Region and service)."""
    return _derived_key(secret, cred.date, cred.region, cred.service)


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def verify(
    cred: Credential,
    secret: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> None:
    """Check the signature and the request date.

    ``headers`` has lower-case names (repeated headers joined by commas).

    Raises:
        IncompleteSignatureException: no X-Amz-Date / Date, or a signed header is missing.
        InvalidSignatureException: the date is over 15 minutes off, or the signature differs.
    """
    amz_date = headers.get("x-amz-date")
    if not amz_date:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        when = _parse_amz_date(amz_date)
    except ValueError:
        raise IncompleteSignatureException(f"Invalid X-Amz-Date: {amz_date}") from None
    now = now or datetime.now(UTC)
    fmt = "%Y%m%dT%H%M%SZ"
    if when < now - MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)"
        )
    if amz_date[:8] != cred.date:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid date: {cred.date} vs {amz_date[:8]}"
        )
    lines = []
    for name in cred.signed_headers:
        value = headers.get(name.lower())
        if value is None:
            raise IncompleteSignatureException(f"Signed header '{name}' is missing.")
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    payload_hash = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed != payload_hash:
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    canonical = "\n".join(
        [
            method,
            quote(path or "/", safe="/-_.~"),
            _canonical_query(query),
            "".join(lines),
            ";".join(cred.signed_headers),
            payload_hash,
        ]
    )
    to_sign = "\n".join(
        [ALGORITHM, amz_date, cred.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    expected = hmac.new(_signing_key(secret, cred), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, cred.signature):
        raise InvalidSignatureException(SIGNATURE_MISMATCH)
