"""SigV4 at `kmslab serve`: who may call, and which signatures are refused with which AWS error.

Requests are signed by botocore itself (a boto3 client, or botocore's SigV4Auth on a raw
AWSRequest), so the server is checked against the signer every SDK copies, not against a
second implementation of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.exceptions import ClientError
from server_fixtures import (
    JSON_11,
    RawClient,
    ServeProcess,
    kms_client,
    list_all_key_ids,
    server_log_problems,
    serving,
    sign,
)

from kmslab.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from kmslab.sigv4 import SIGNATURE_MISMATCH

LIST_KEYS = "TrentService.ListKeys"
UNRECOGNIZED = "The security token included in the request is invalid."
AMZ_DATE = r"\d{8}T\d{6}Z"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with serving(tmp_path_factory.mktemp("serve-auth")) as server:
        yield server


@pytest.fixture
def raw(served: ServeProcess) -> Iterator[RawClient]:
    with RawClient(served.port) as client:
        yield client


def refused(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


@pytest.fixture
def signing_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the clock botocore signs with (botocore.auth.get_current_datetime)."""

    def shift(delta: timedelta) -> None:
        when = (datetime.now(UTC) + delta).replace(tzinfo=None)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: when)

    return shift


def test_admin_lab_credentials_are_accepted(served: ServeProcess) -> None:
    kms = kms_client(served.endpoint)
    key = kms.create_key()["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:us-east-1:{key['AWSAccountId']}:key/")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_wrong_secret_is_invalid_signature_and_changes_nothing(served: ServeProcess) -> None:
    good = kms_client(served.endpoint)
    before = set(list_all_key_ids(good))
    bad = kms_client(served.endpoint, secret=ADMIN_SECRET_ACCESS_KEY + "x")
    status, code, message = refused(lambda: bad.create_key(Description="should not exist"))
    assert (status, code, message) == (400, "InvalidSignatureException", SIGNATURE_MISMATCH)
    assert set(list_all_key_ids(good)) == before


def test_unknown_access_key_is_unrecognized_client(served: ServeProcess) -> None:
    stranger = kms_client(served.endpoint, access_key="AKIAIOSFODNN7EXAMPLE", secret="wJalr")
    assert refused(stranger.list_keys) == (400, "UnrecognizedClientException", UNRECOGNIZED)


def test_stale_date_is_signature_expired(served: ServeProcess, signing_clock: Any) -> None:
    kms = kms_client(served.endpoint)
    signing_clock(timedelta(minutes=-20))
    status, code, message = refused(kms.list_keys)
    assert (status, code) == (400, "InvalidSignatureException")
    # AWS: "Signature expired: 20240101T000000Z is now earlier than 20240101T000500Z
    # (20240101T002000Z - 15 min.)"
    pattern = (
        rf"Signature expired: {AMZ_DATE} is now earlier than {AMZ_DATE} \({AMZ_DATE} - 15 min\.\)"
    )
    assert re.fullmatch(pattern, message), message


def test_date_in_the_future_is_not_yet_current(served: ServeProcess, signing_clock: Any) -> None:
    kms = kms_client(served.endpoint)
    signing_clock(timedelta(minutes=20))
    status, code, message = refused(kms.list_keys)
    assert (status, code) == (400, "InvalidSignatureException")
    pattern = (
        rf"Signature not yet current: {AMZ_DATE} is still later than {AMZ_DATE}"
        rf" \({AMZ_DATE} \+ 15 min\.\)"
    )
    assert re.fullmatch(pattern, message), message


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_date_within_fifteen_minutes_is_accepted(
    served: ServeProcess, signing_clock: Any, minutes: int
) -> None:
    kms = kms_client(served.endpoint)
    signing_clock(timedelta(minutes=minutes))
    assert "Keys" in kms.list_keys()


def test_stale_date_signed_by_hand(served: ServeProcess, raw: RawClient) -> None:
    when = datetime.now(UTC) - timedelta(minutes=20)
    reply = raw.call(LIST_KEYS, b"{}", when=when)
    assert reply.status == 400
    assert reply.error_type == "InvalidSignatureException"
    assert reply.message is not None and reply.message.startswith(
        f"Signature expired: {when.strftime('%Y%m%dT%H%M%SZ')} is now earlier than "
    )


def test_body_changed_after_signing_is_refused(served: ServeProcess, raw: RawClient) -> None:
    kms = kms_client(served.endpoint)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    body = b'{"KeyId": "%s", "Plaintext": "c2VjcmV0"}' % key.encode()
    headers = sign(served.endpoint, "TrentService.Encrypt", body)
    assert raw.post(headers, body).status == 200  # the untouched request is fine
    tampered = body.replace(b"c2VjcmV0", b"c2VjcmVU")
    reply = raw.post(headers, tampered)
    assert (reply.status, reply.error_type, reply.message) == (
        400,
        "InvalidSignatureException",
        SIGNATURE_MISMATCH,
    )


def test_signed_header_changed_after_signing_is_refused(
    served: ServeProcess, raw: RawClient
) -> None:
    headers = sign(served.endpoint, LIST_KEYS, b"{}")
    headers["X-Amz-Target"] = "TrentService.ListAliases"
    reply = raw.post(headers, b"{}")
    assert (reply.status, reply.error_type) == (400, "InvalidSignatureException")


def test_scope_date_must_match_the_request_date(served: ServeProcess, raw: RawClient) -> None:
    headers = sign(served.endpoint, LIST_KEYS, b"{}")
    today = headers["X-Amz-Date"][:8]
    headers["Authorization"] = headers["Authorization"].replace(f"/{today}/", "/20200101/")
    reply = raw.post(headers, b"{}")
    assert (reply.status, reply.error_type) == (400, "InvalidSignatureException")


def test_missing_authorization_is_an_aws_error(raw: RawClient) -> None:
    reply = raw.post({"Content-Type": JSON_11, "X-Amz-Target": LIST_KEYS}, b"{}")
    assert 400 <= reply.status < 500
    assert reply.error_type == "MissingAuthenticationTokenException"
    assert reply.message == "Missing Authentication Token"


@pytest.mark.parametrize(
    "authorization",
    [
        "garbage",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/kms/aws4_request",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=" + "0" * 64,
        "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",  # SigV2
        "AWS4-HMAC-SHA256 Credential=\u00e9/\u00e9/\u00e9/\u00e9/aws4_request, "
        "SignedHeaders=host, Signature=" + "a" * 64,
    ],
)
def test_malformed_authorization_is_an_aws_error(raw: RawClient, authorization: str) -> None:
    headers = {
        "Content-Type": JSON_11,
        "X-Amz-Target": LIST_KEYS,
        "X-Amz-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "Authorization": authorization,
    }
    reply = raw.post(headers, b"{}")
    assert 400 <= reply.status < 500, reply
    assert reply.error_type in {
        "IncompleteSignatureException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
    }, reply


def test_missing_date_header_is_an_aws_error(served: ServeProcess, raw: RawClient) -> None:
    headers = sign(served.endpoint, LIST_KEYS, b"{}")
    del headers["X-Amz-Date"]
    reply = raw.post(headers, b"{}")
    assert 400 <= reply.status < 500, reply
    assert reply.error_type == "IncompleteSignatureException"


def test_region_comes_from_the_signature_scope(served: ServeProcess) -> None:
    kms = kms_client(served.endpoint, region="eu-west-1")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:eu-west-1:")


def test_refusals_leave_the_server_serving_without_internal_errors(served: ServeProcess) -> None:
    assert served.running()
    assert "Keys" in kms_client(served.endpoint).list_keys()
    assert server_log_problems(served.stderr()) == []


def test_session_token_header_is_accepted_when_signed(served: ServeProcess) -> None:
    """The CLI with temporary credentials sends X-Amz-Security-Token (signed); the lab's
    fixed keys need no token, and a signed one must not break verification."""
    kms = boto3.session.Session().client(
        "kms",
        region_name="us-east-1",
        endpoint_url=served.endpoint,
        aws_access_key_id=ADMIN_ACCESS_KEY_ID,
        aws_secret_access_key=ADMIN_SECRET_ACCESS_KEY,
        aws_session_token="lab-session-token",
    )
    assert "Keys" in kms.list_keys()


def test_refused_requests_are_not_keys(served: ServeProcess) -> None:
    """Whatever a refused signature asked for never happens (CreateKey with a bad signature)."""
    good = kms_client(served.endpoint)
    before = set(list_all_key_ids(good))
    with RawClient(served.port) as client:
        for kwargs in (
            {"secret": "wrong"},
            {"access_key": "AKIAUNKNOWNUNKNOWN00"},
            {"when": datetime.now(UTC) - timedelta(hours=1)},
        ):
            reply = client.call("TrentService.CreateKey", b"{}", **kwargs)
            assert 400 <= reply.status < 500, reply
    assert set(list_all_key_ids(good)) == before


def test_a_signature_for_another_service_is_refused_as_aws_does(raw: RawClient) -> None:
    """Signed for s3 (or with the right secret but the wrong service in the scope): AWS's JSON
    services answer InvalidSignatureException with this exact message, trailing space and all."""
    for secret in (ADMIN_SECRET_ACCESS_KEY, "wrong"):
        reply = raw.call(LIST_KEYS, b"{}", service="s3", secret=secret)
        assert (reply.status, reply.error_type, reply.message) == (
            400,
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'kms'. ",
        )
