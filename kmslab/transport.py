"""In-process transport: answer a boto3 client's requests at botocore's ``before-send`` event.

botocore has already validated the parameters, serialised the request and signed it with
SigV4 when ``before-send`` fires; the handler reads the signed request exactly as a server
would (the target header, the JSON body, the access key and Region in the signature's
credential scope) and returns a botocore ``AWSResponse``, which botocore then parses as it
parses AWS's answers. No socket is opened.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.awsrequest import AWSResponse

from .errors import (
    IncompleteSignatureException,
    KmsError,
    UnknownOperationException,
    UnrecognizedClientException,
)
from .iam import Principal

#: Credential=AKID/20260101/us-east-1/kms/aws4_request
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")

UNRECOGNIZED_TOKEN = "The security token included in the request is invalid."


class _RawBody(io.BytesIO):
    """What botocore expects of a response's raw stream."""

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value  # type: ignore[no-any-return]


def credential_scope(authorization: str | None) -> tuple[str, str, str, str]:
    """(access key id, date, region, service) from a SigV4 Authorization header.

    Raises:
        IncompleteSignatureException: no SigV4 credential in the header.
    """
    m = _CREDENTIAL.search(authorization or "")
    if m is None:
        raise IncompleteSignatureException("Authorization header requires 'Credential' parameter.")
    return m.group(1), m.group(2), m.group(3), m.group(4)


Handler = Callable[[str | None, bytes, Principal, str], Any]
ErrorBody = Callable[[KmsError], tuple[int, bytes]]


def make_before_send(
    find_principal: Callable[[str], Principal | None],
    handle: Handler,
    error_body: ErrorBody,
    services: Mapping[str, tuple[Handler, ErrorBody]] | None = None,
) -> Callable[..., AWSResponse]:
    """A ``before-send`` handler that answers every request of the client it is registered on.

    The request goes where its SigV4 credential scope says: ``kms`` to ``handle``, any other
    service named in ``services`` (e.g. ``iam``, ``sts``) to its own handler and error body.
    """
    routes: dict[str, tuple[Handler, ErrorBody]] = {"kms": (handle, error_body)}
    routes.update(services or {})

    def before_send(request: Any, **_kwargs: Any) -> AWSResponse:
        headers = request.headers
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # a file-like body
            body = body.read()
        route_handle, route_error = handle, error_body
        try:
            access_key, _date, region, service = credential_scope(
                _header(headers, "Authorization")
            )
            if service not in routes:
                raise UnknownOperationException(
                    f"kmslab does not simulate the {service} service; no request left this process."
                )
            route_handle, route_error = routes[service]
            principal = find_principal(access_key)
            if principal is None:
                raise UnrecognizedClientException(UNRECOGNIZED_TOKEN)
        except KmsError as exc:
            status, payload = route_error(exc)
            return AWSResponse(request.url, status, {}, _RawBody(payload))
        response = route_handle(_header(headers, "X-Amz-Target"), body, principal, region)
        return AWSResponse(request.url, response.status, response.headers, _RawBody(response.body))

    return before_send
