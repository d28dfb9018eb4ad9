"""The AWS query protocol (IAM, STS): form-encoded requests in, XML responses out, driven by
botocore's service model.

A request is ``POST /`` with a form body: ``Action=CreateUser&Version=2010-05-08&UserName=bob``;
lists are ``Name.member.N`` (or ``Name.N`` when the model says *flattened*), maps
``Name.entry.N.key`` / ``Name.entry.N.value``, structures ``Name.Member``, booleans
``true``/``false`` (what botocore's QuerySerializer writes). The body is decoded against the
operation's input shape, checked against the model's constraints and worded as AWS words
failures::

    1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must
    have length less than or equal to 64

(IAM leaves the offending value out; the path is camelCase with ``.N.member`` for list items),
then the service method ``xform_name(Action)`` is called with snake_case arguments. Its snake_case
result is written through the output shape::

    <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <CreateUserResult><User><UserName>bob</UserName>...</User></CreateUserResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </CreateUserResponse>

lists as ``<Name><member>..</member></Name>``, timestamps ISO 8601 (UTC, ``Z``), booleans
lower-case, and policy documents (``policyDocumentType``) URL-encoded as IAM sends them (botocore
decodes them back to dicts). Errors are::

    <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
      <Message>The user with name bob cannot be found.</Message></Error>
      <RequestId>...</RequestId></ErrorResponse>

with the HTTP status of the error. Anything unexpected becomes a 500 ``ServiceFailure`` (and is
logged): a bug never reaches the caller as a traceback. Every call is recorded on the trail,
with every sensitive member (secret access keys) left out.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from .errors import KmsError, log_unexpected
from .iam import (
    IamError,
    IncompleteSignature,
    InvalidAction,
    InvalidClientTokenId,
    MalformedQueryString,
    MissingAction,
    Principal,
    ServiceFailure,
    ValidationError,
)
from .protocol import Response
from .shapes import (
    OperationTable,
    Spec,
    bound_violation,
    camel,
    compile_operation,
    constraint_failure,
    java_pattern,
    load_model,
    null_failure,
    string_violations,
    validation_message,
    xform_name,
)
from .trail import Event

XML_CONTENT_TYPE = "text/xml"
UNRECOGNIZED_TOKEN = "The security token included in the request is invalid."


# == decoding and validation ====================================================================


def _unreadable(shown: str, path: str, what: str) -> ValidationError:
    """A value that is not of its member's type at all: the request fails on it alone."""
    return ValidationError(
        validation_message([constraint_failure(shown, path, f"Member must be {what}")])
    )


class _Decoder:
    """Decodes one request's flat form parameters against an input shape."""

    def __init__(self, params: dict[str, str], show_values: bool) -> None:
        self.params = params
        self.show_values = show_values
        self.errors: list[str] = []

    def _present(self, key: str) -> bool:
        if key in self.params:
            return True
        dotted = key + "."
        return any(k.startswith(dotted) for k in self.params)

    def _fail(self, spec: Spec, path: str, raw: Any, text: str) -> None:
        shown = "Value"
        if self.show_values and not spec.sensitive:
            shown = f"Value '{raw}'"
        self.errors.append(constraint_failure(shown, path, text))

    def structure(self, spec: Spec, prefix: str, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present = {}
        for pascal, _snake, name, wire, _sub in spec.members:
            key = f"{prefix}.{wire}" if prefix else wire
            present[pascal] = self._present(key)
            if pascal in spec.required and not present[pascal]:
                self.errors.append(null_failure(f"{path}.{name}" if path else name))
        for pascal, snake, name, wire, sub in spec.members:
            if present[pascal]:
                key = f"{prefix}.{wire}" if prefix else wire
                out[snake] = self.value(sub, key, f"{path}.{name}" if path else name)
        return out

    def value(self, spec: Spec, key: str, path: str) -> Any:
        t = spec.type
        if t == "structure":
            return self.structure(spec, key, path)
        if t == "list":
            return self.list(spec, key, path)
        if t == "map":
            return self.map(spec, key, path)
        raw = self.params.get(key, "")
        if t == "string":
            for text in string_violations(spec, raw, pattern_on_empty=False):
                self._fail(spec, path, raw, text)
            return raw
        if t in ("integer", "long"):
            try:
                number = int(raw)
            except ValueError:
                raise _unreadable(f"Value '{raw}'", path, "a number") from None
            self._bound(spec, number, raw, path, "value")
            return number
        if t == "boolean":
            if raw.lower() not in ("true", "false"):
                raise _unreadable(f"Value '{raw}'", path, "a boolean")
            return raw.lower() == "true"
        if t == "timestamp":
            try:
                when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise _unreadable(f"Value '{raw}'", path, "a timestamp") from None
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        if t == "blob":
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise _unreadable("Value", path, "base64-encoded") from None
            self._bound(spec, len(data), raw, path)
            return data
        return raw  # pragma: no cover - no other scalar types in the query models

    def _bound(self, spec: Spec, n: int, raw: Any, path: str, measure: str = "length") -> None:
        if spec.bounded and not spec.lo <= n <= spec.hi:
            self._fail(spec, path, raw, bound_violation(spec, n, measure))

    def _indices(self, prefix: str) -> list[int]:
        rx = re.compile(re.escape(prefix) + r"\.(\d+)(?:\.|$)")
        found = {int(m.group(1)) for k in self.params if (m := rx.match(k))}
        return sorted(found)

    def list(self, spec: Spec, key: str, path: str) -> list[Any]:
        assert spec.member is not None
        prefix = key if spec.flattened else f"{key}.{spec.member_name}"
        items = [
            self.value(spec.member, f"{prefix}.{i}", f"{path}.{n}.member")
            for n, i in enumerate(self._indices(prefix), 1)
        ]
        self._bound(spec, len(items), "[" + ", ".join(str(v) for v in items) + "]", path)
        return items

    def map(self, spec: Spec, key: str, path: str) -> dict[str, Any]:
        assert spec.key is not None and spec.value is not None
        prefix = key if spec.flattened else f"{key}.entry"
        out: dict[str, Any] = {}
        for i in self._indices(prefix):
            k = self.value(spec.key, f"{prefix}.{i}.{spec.key_name}", f"{path}.key")
            out[k] = self.value(spec.value, f"{prefix}.{i}.{spec.value_name}", f"{path}.value")
        self._bound(spec, len(out), out, path)
        return out


# == encoding =====================================================================================


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(spec: Spec, value: Any, name: str, out: list[str]) -> None:
    t = spec.type
    if t == "structure":
        out.append(f"<{name}>")
        _write_members(spec, value, out)
        out.append(f"</{name}>")
    elif t == "list":
        assert spec.member is not None
        if spec.flattened:
            for item in value:
                _write(spec.member, item, name, out)
        else:
            out.append(f"<{name}>")
            for item in value:
                _write(spec.member, item, spec.member_name, out)
            out.append(f"</{name}>")
    elif t == "map":
        assert spec.key is not None and spec.value is not None
        out.append(f"<{name}>")
        for k, v in value.items():
            out.append("<entry>")
            _write(spec.key, k, spec.key_name, out)
            _write(spec.value, v, spec.value_name, out)
            out.append("</entry>")
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_scalar(spec, value)}</{name}>")


def _scalar(spec: Spec, value: Any) -> str:
    t = spec.type
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        return _timestamp(value)
    if t == "blob":
        return base64.b64encode(value).decode("ascii")
    if t in ("integer", "long"):
        return str(int(value))
    if spec.name == "policyDocumentType":
        return quote(str(value), safe="")  # IAM URL-encodes policy documents
    return escape(str(value))


def _write_members(spec: Spec, value: dict[str, Any], out: list[str]) -> None:
    for snake, v in value.items():
        if v is None:
            continue
        wire, sub = spec.by_snake[snake]
        _write(sub, v, wire, out)


def _trail_value(spec: Spec, value: Any) -> Any:
    """A decoded or returned value as CloudTrail shows it: camelCase keys, no secrets."""
    if spec.type == "structure":
        out = {}
        for snake, v in value.items():
            if v is None or snake not in spec.by_snake:
                continue
            sub = spec.by_snake[snake][1]
            if sub.sensitive:
                continue
            pascal = next(p for p, s, *_ in spec.members if s == snake)
            out[camel(pascal)] = _trail_value(sub, v)
        return out
    if spec.type == "list" and spec.member is not None:
        return [_trail_value(spec.member, v) for v in value]
    if spec.type == "timestamp":
        return _timestamp(value)
    return value


# == operations ===================================================================================


@dataclass(eq=False)
class Operation:
    name: str
    method: Callable[..., dict[str, Any] | None] | None
    input: Spec
    output: Spec | None
    read_only: bool


@dataclass
class QueryCall:
    """Who calls, from which Region, at what lab time; what the service methods receive."""

    principal: Principal
    region: str
    now: datetime
    operation: str = ""

    @property
    def account(self) -> str:
        return self.principal.account


def _error_xml(namespace: str, err: IamError, request_id: str) -> bytes:
    kind = "Sender" if err.sender_fault else "Receiver"
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


class QueryProtocol:
    """Dispatches AWS query requests for one service model (``"iam"``, ``"sts"``) to one
    service object whose methods are ``xform_name(Action)``, taking a :class:`QueryCall` and
    snake_case keyword arguments and returning a snake_case dict of the output members."""

    def __init__(
        self,
        service: object,
        record: Callable[[Event], None],
        model_name: str,
        now: Callable[[], datetime],
        lock: Callable[[], AbstractContextManager[Any]] | None = None,
        transaction: Callable[[], AbstractContextManager[Any]] | None = None,
        *,
        show_values: bool = False,
    ) -> None:
        self.service = service
        self._record = record
        self._now = now
        self._lock = lock or nullcontext
        self._transaction = transaction or nullcontext
        self.show_values = show_values
        self._model = model = load_model(model_name)
        self.namespace = model["metadata"]["xmlNamespace"]
        self.version = model["metadata"]["apiVersion"]
        self.source = f"{model['metadata']['endpointPrefix']}.amazonaws.com"
        self._specs: dict[str, Spec] = {}
        # Every operation of the model, each compiled on its first request.
        self.operations: OperationTable[Operation] = OperationTable(
            model["operations"], self._compile
        )

    def _compile(self, op_name: str) -> Operation:
        # IAM's and STS's patterns are Java regexes (AWS's side): ASCII ``\w``, ``\p{L}``.
        in_spec, out_spec = compile_operation(self._model, op_name, self._specs, java_pattern)
        return Operation(
            name=op_name,
            method=getattr(self.service, xform_name(op_name), None),
            input=in_spec,
            output=out_spec,
            read_only=op_name.startswith(("Get", "List")),
        )

    # -- the transport's refusals ------------------------------------------------------------------

    def transport_error(self, exc: KmsError) -> tuple[int, bytes]:
        """An error the transport raised before the request reached this protocol (unknown
        access key, no signature), as this service words it."""
        err: IamError
        if exc.code == "UnrecognizedClientException":
            err = InvalidClientTokenId(UNRECOGNIZED_TOKEN)
        elif exc.code == "IncompleteSignatureException":
            err = IncompleteSignature(exc.message)
        else:
            err = ServiceFailure(exc.message)
        return err.status, _error_xml(self.namespace, err, str(uuid.uuid4()))

    # -- one request -------------------------------------------------------------------------------

    def decode(self, body: bytes) -> tuple[Operation, dict[str, Any], dict[str, Any]]:
        """(operation, snake_case arguments, form parameters) of a request body.

        Raises:
            MalformedQueryString, MissingAction, InvalidAction, ValidationError.
        """
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            raise MalformedQueryString("The query string is malformed.") from None
        params = dict(pairs)
        action = params.pop("Action", None)
        params.pop("Version", None)
        if not action:
            raise MissingAction("Could not find operation to invoke.")
        op = self.operations.find(action)
        if op is None:
            raise InvalidAction(f"Could not find operation {action} for version {self.version}")
        decoder = _Decoder(params, self.show_values)
        kwargs = decoder.structure(op.input, "", "")
        if decoder.errors:
            raise ValidationError(validation_message(decoder.errors))
        return op, kwargs, params

    def handle(
        self, target: str | None, body: bytes, principal: Principal, region: str
    ) -> Response:
        """One request (``target`` is unused by the query protocol): never raises."""
        request_id = str(uuid.uuid4())
        op: Operation | None = None
        kwargs: dict[str, Any] = {}
        with self._lock():
            now = self._now()
            call = QueryCall(principal, region, now)
            try:
                op, kwargs, _ = self.decode(body)
                call.operation = op.name
                if op.method is None:
                    raise InvalidAction(f"kmslab does not implement {op.name} yet.")
                with self._transaction():
                    result = op.method(call, **kwargs) or {}
                    self._log(op, kwargs, call, request_id, result, None)
                body_out = self._encode(op, result, request_id)
                return Response(200, body_out, request_id, XML_CONTENT_TYPE)
            except IamError as exc:
                err = exc
            except Exception:
                log_unexpected("internal error in %s", op.name if op else "query request")
                err = ServiceFailure("")
            try:
                with self._transaction():
                    self._log(op, kwargs, call, request_id, None, err)
            except Exception:  # pragma: no cover - the trail must never break a response
                log_unexpected("could not record a failed call on the trail")
            body_out = _error_xml(self.namespace, err, request_id)
            return Response(err.status, body_out, request_id, XML_CONTENT_TYPE)

    def _encode(self, op: Operation, result: dict[str, Any], request_id: str) -> bytes:
        out = [f'<{op.name}Response xmlns="{self.namespace}">']
        if op.output is not None:
            out.append(f"<{op.name}Result>")
            _write_members(op.output, result, out)
            out.append(f"</{op.name}Result>")
        out.append(
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{op.name}Response>"
        )
        return "".join(out).encode("utf-8")

    def _log(
        self,
        op: Operation | None,
        kwargs: dict[str, Any],
        call: QueryCall,
        request_id: str,
        result: dict[str, Any] | None,
        err: IamError | None,
    ) -> None:
        response = None
        if result and op is not None and op.output is not None and not op.read_only:
            response = _trail_value(op.output, result) or None
        self._record(
            Event(
                time=call.now,
                source=self.source,
                name=op.name if op else "Unknown",
                region=call.region,
                user_identity=call.principal.user_identity(),
                request_parameters=(_trail_value(op.input, kwargs) or None) if op else None,
                response_elements=response,
                error_code=err.code if err else None,
                error_message=err.message if err else None,
                request_id=request_id,
                read_only=op.read_only if op else False,
            )
        )


def page(
    items: list[Any], marker: str | None, max_items: int | None, default: int = 100
) -> tuple[list[Any], bool, str | None]:
    """(this page, IsTruncated, next Marker) of an IAM list; the marker is opaque to callers.

    Raises:
        ValidationError: a marker this lab did not hand out.
    """
    start = 0
    if marker is not None:
        try:
            start = int(base64.b64decode(marker, validate=True).decode("ascii"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ValidationError("Invalid Marker.") from None
        if not 0 <= start <= len(items):
            raise ValidationError("Invalid Marker.")
    size = max_items or default
    chunk = items[start : start + size]
    end = start + len(chunk)
    if end < len(items):
        return chunk, True, base64.b64encode(str(end).encode()).decode("ascii")
    return chunk, False, None
