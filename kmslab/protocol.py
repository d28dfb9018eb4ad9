"""The wire: AWS JSON 1.1 requests in, responses out, driven by botocore's service model
(read from botocore's data files, compiled by :mod:`kmslab.shapes`; botocore is not imported).

This is the only KMS module that knows PascalCase member names (the model's shapes are
compiled by :mod:`kmslab.shapes`, shared with the query protocol of IAM and STS, and so are
the validation texts). For every operation it decodes the JSON body against the model's
input shape (base64 blobs to bytes, epoch numbers to datetimes), checks the model's
constraints the way AWS does and words the failures as AWS does ("1 validation error
detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less
than or equal to 4096"), calls the service method named ``xform_name(operation)``
(:func:`kmslab.shapes.xform_name`) with snake_case arguments, and encodes the snake_case result
back through the output shape (each operation is compiled on its first request). A
:class:`~kmslab.errors.KmsError` becomes ``{"__type", "message"}`` with its status; anything
else becomes a 500 ``KMSInternalException`` (and is logged), so a bug never reaches the
caller as a traceback.

Every call, successful or not, is recorded on the trail with its request parameters minus
every blob member, so plaintext, ciphertext and key material are never recorded.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import (
    KmsError,
    KMSInternalException,
    SerializationException,
    UnknownOperationException,
    UnsupportedOperationException,
    ValidationException,
    log_unexpected,
)
from .iam import Principal
from .ops.base import ACCOUNT_OPERATIONS
from .service import Call, KmsService
from .shapes import (
    OperationTable,
    Spec,
    bound_violation,
    camel,
    compile_operation,
    constraint_failure,
    load_model,
    null_failure,
    string_violations,
    validation_message,
    xform_name,
)
from .trail import Event

if TYPE_CHECKING:
    from botocore.model import ServiceModel


JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@cache
def service_model(name: str = "kms") -> ServiceModel:
    """botocore's ``ServiceModel`` of the model the lab serves (for tests and tools: this one
    imports botocore; the protocols read :func:`kmslab.shapes.load_model` directly)."""
    from botocore.model import ServiceModel

    return ServiceModel(load_model(name), service_name=name)


# == decoding and validation ====================================================================


def _shown(spec: Spec, value: Any, raw: Any) -> str:
    if spec.sensitive:
        return "Value"
    if spec.type == "blob":
        n = len(value)
        return f"Value 'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]'"
    if isinstance(raw, list):
        return "Value '[" + ", ".join(str(v) for v in raw) + "]'"
    if isinstance(raw, bool):
        return f"Value '{str(raw).lower()}'"
    return f"Value '{raw}'"


def _constraint(errors: list[str], spec: Spec, path: str, value: Any, raw: Any, text: str) -> None:
    errors.append(constraint_failure(_shown(spec, value, raw), path, text))


def _decode(spec: Spec, raw: Any, path: str, errors: list[str]) -> Any:
    t = spec.type
    if t == "structure":
        if not isinstance(raw, dict):
            raise SerializationException("Start of structure or map found where not expected.")
        out: dict[str, Any] = {}
        for name in spec.required:
            if raw.get(name) is None:
                errors.append(null_failure(f"{path}.{camel(name)}" if path else camel(name)))
        for wire, value in raw.items():
            entry = spec.by_wire.get(wire)
            if entry is None or value is None:
                continue  # AWS ignores members it does not know
            snake, name, sub = entry
            out[snake] = _decode(sub, value, f"{path}.{name}" if path else name, errors)
        return out
    if t == "string":
        if not isinstance(raw, str):
            raise SerializationException(
                f"STRING_VALUE can not be converted to a String at '{path}'"
            )
        if not raw.isascii():
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: not a Unicode string
                raise SerializationException(f"Invalid UTF-8 string at '{path}'") from None
        problems = string_violations(spec, raw)
        if problems:  # (tested first: most strings are fine, and an empty loop still costs)
            for text in problems:
                _constraint(errors, spec, path, raw, raw, text)
        return raw
    if t == "blob":
        if not isinstance(raw, str):
            raise SerializationException(f"Expected a base64 string at '{path}'")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationException(f"Invalid base64 at '{path}'") from None
        _length(spec, data, raw, path, errors)
        return data
    if t in ("integer", "long"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise SerializationException(
                f"NUMBER_VALUE can not be converted to an Integer at '{path}'"
            )
        if spec.bounded and not spec.lo <= raw <= spec.hi:
            _constraint(errors, spec, path, raw, raw, bound_violation(spec, raw, "value"))
        return raw
    if t == "boolean":
        if not isinstance(raw, bool):
            raise SerializationException(f"Expected a boolean at '{path}'")
        return raw
    if t == "timestamp":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise SerializationException(f"Expected an epoch-seconds number at '{path}'")
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (ValueError, OverflowError, OSError):
            raise SerializationException(f"Invalid timestamp at '{path}'") from None
    if t == "list":
        if not isinstance(raw, list):
            raise SerializationException(f"Expected a list at '{path}'")
        _length(spec, raw, raw, path, errors)
        assert spec.member is not None
        member = spec.member
        return [_decode(member, v, f"{path}.{i}.member", errors) for i, v in enumerate(raw, 1)]
    if t == "map":
        if not isinstance(raw, dict):
            raise SerializationException(f"Expected a map at '{path}'")
        _length(spec, raw, raw, path, errors)
        assert spec.key is not None and spec.value is not None
        kspec, vspec = spec.key, spec.value
        return {
            _decode(kspec, k, f"{path}.key", errors): _decode(vspec, v, f"{path}.value", errors)
            for k, v in raw.items()
        }
    raise SerializationException(f"Unsupported shape type {t}")  # pragma: no cover


def _length(spec: Spec, value: Any, raw: Any, path: str, errors: list[str]) -> None:
    n = len(value)
    if spec.bounded and not spec.lo <= n <= spec.hi:
        _constraint(errors, spec, path, value, raw, bound_violation(spec, n))


# == encoding =====================================================================================


def _encode(spec: Spec, value: Any) -> Any:
    t = spec.type
    if t == "structure":
        out: dict[str, Any] = {}
        for snake, v in value.items():
            if v is None:
                continue
            wire, sub = spec.by_snake[snake]
            out[wire] = _encode(sub, v)
        return out
    if t == "blob":
        return base64.b64encode(value).decode("ascii")
    if t == "timestamp":
        return value.timestamp()
    if t == "list":
        assert spec.member is not None
        member = spec.member
        return [_encode(member, v) for v in value]
    if t == "map":
        assert spec.value is not None
        vspec = spec.value
        return {k: _encode(vspec, v) for k, v in value.items()}
    return value


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


# == operations ===================================================================================


@dataclass(eq=False)
class Operation:
    name: str
    method: Callable[..., dict[str, Any]] | None
    input: Spec
    output: Spec | None
    logged: list[tuple[str, str]]  # (wire, camel) request members safe to record
    record_response: bool
    read_only: bool
    needs: tuple[str, ...] = ()  # snake_case parameters the service method cannot do without


@dataclass(frozen=True, slots=True)
class Response:
    """One answer of a protocol, for either transport (the query protocol's are XML)."""

    status: int
    body: bytes
    request_id: str
    content_type: str = JSON_CONTENT_TYPE

    @property
    def headers(self) -> dict[str, str]:
        return {
            "x-amzn-RequestId": self.request_id,
            "Content-Type": self.content_type,
            "Content-Length": str(len(self.body)),
        }


def _has_secret(spec: Spec | None, seen: set[str] | None = None) -> bool:
    """Does a shape hold, anywhere inside, a blob (plaintext, ciphertext, key material) or a
    member the model marks sensitive (a key store password, an XKS credential)? Such members
    are never recorded on the trail."""
    if spec is None:
        return False
    seen = seen if seen is not None else set()
    if spec.name in seen:
        return False
    seen.add(spec.name)
    if spec.type == "blob" or spec.sensitive:
        return True
    subs = [m[4] for m in spec.members] + [s for s in (spec.member, spec.key, spec.value) if s]
    return any(_has_secret(s, seen) for s in subs)


def _request_id() -> str:
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


_IDENTITIES: dict[Principal, dict[str, Any]] = {}


def _identity(principal: Principal) -> dict[str, Any]:
    """A principal's CloudTrail userIdentity, built once (events share it; nobody mutates it)."""
    found = _IDENTITIES.get(principal)
    if found is None:
        found = _IDENTITIES[principal] = principal.user_identity()
    return found


def _required_parameters(method: Callable[..., Any] | None) -> tuple[str, ...]:
    if method is None:
        return ()
    params = list(inspect.signature(method).parameters.values())[1:]  # after `call`
    return tuple(
        p.name
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )


def _null_members(op: Operation, missing: list[str]) -> str:
    return validation_message([null_failure(camel(op.input.by_snake[m][0])) for m in missing])


class JsonProtocol:
    """Dispatches AWS JSON 1.1 requests for one service model to one service object."""

    def __init__(
        self,
        service: KmsService,
        record: Callable[[Event], None],
        model_name: str = "kms",
    ) -> None:
        self.service = service
        self._record = record
        self._model = model = load_model(model_name)
        self.target_prefix = model["metadata"]["targetPrefix"] + "."
        self.source = f"{model['metadata']['endpointPrefix']}.amazonaws.com"
        self._specs: dict[str, Spec] = {}
        # Every operation of the model, each compiled on its first request.
        self.operations: OperationTable[Operation] = OperationTable(
            model["operations"], self._compile
        )

    def _compile(self, op_name: str) -> Operation:
        # KMS patterns are matched as Python regexes (``\w``, ``\d``, ``\s`` are Unicode here).
        in_spec, out_spec = compile_operation(self._model, op_name, self._specs, re.compile)
        logged = [(w, c) for _p, _s, c, w, sub in in_spec.members if not _has_secret(sub)]
        method = getattr(self.service, xform_name(op_name), None)
        return Operation(
            name=op_name,
            method=method,
            needs=_required_parameters(method),
            input=in_spec,
            output=out_spec,
            logged=logged,
            record_response=not _has_secret(out_spec)
            and not op_name.startswith(("Describe", "Get", "List")),
            read_only=op_name.startswith(("Describe", "Get", "List")),
        )

    def operation_for_target(self, target: str | None) -> Operation:
        if not target or not target.startswith(self.target_prefix):
            raise UnknownOperationException("")
        op = self.operations.find(target[len(self.target_prefix) :])
        if op is None:
            raise UnknownOperationException("")
        return op

    def handle(
        self, target: str | None, body: bytes, principal: Principal, region: str
    ) -> Response:
        """One request: never raises, always an AWS-shaped response."""
        request_id = _request_id()
        op: Operation | None = None
        params: dict[str, Any] = {}
        call: Call | None = None
        service = self.service
        with service.lock:
            now = service.clock.now()
            try:
                op = self.operation_for_target(target)
                try:
                    parsed = json.loads(body or b"{}")
                except (ValueError, RecursionError):
                    raise SerializationException("") from None
                if not isinstance(parsed, dict):
                    raise SerializationException("")
                params = parsed
                errors: list[str] = []
                kwargs = _decode(op.input, params, "", errors)
                if errors:
                    raise ValidationException(validation_message(errors))
                if op.method is None:
                    raise UnsupportedOperationException(f"kmslab does not implement {op.name} yet.")
                missing = [n for n in op.needs if n not in kwargs]
                if missing:
                    # The model no longer marks some members required (Decrypt's CiphertextBlob
                    # since DryRunModifiers) that the operation cannot do without.
                    raise ValidationException(_null_members(op, missing))
                service.run_due(now)
                call = Call(principal, region, now, op.name, params=kwargs)
                quota = getattr(self, "quota", None)  # kmslab.quota.RequestQuota: set_quota()
                if quota is not None:  # simulated request quota: ThrottlingException when empty
                    quota.take(principal.account, region, op.name, now)
                with service.store.transaction():
                    if op.name in ACCOUNT_OPERATIONS:
                        service.authorize_account_operation(call)
                    result = op.method(call, **kwargs)
                    out = _encode(op.output, result) if op.output is not None else {}
                    self._log(op, params, principal, region, call, request_id, out, None)
                return Response(200, json.dumps(out, separators=(",", ":")).encode(), request_id)
            except KmsError as exc:
                err = exc
            except Exception:
                log_unexpected("internal error in %s", op.name if op else target)
                err = KMSInternalException("")
            try:
                with service.store.transaction():
                    self._log(op, params, principal, region, call, request_id, None, err)
            except Exception:  # pragma: no cover - the trail must never break a response
                log_unexpected("could not record a failed call on the trail")
            body_out = json.dumps({"__type": err.code, "message": err.message}).encode()
            return Response(err.status, body_out, request_id)

    def _log(
        self,
        op: Operation | None,
        params: dict[str, Any],
        principal: Principal,
        region: str,
        call: Call | None,
        request_id: str,
        out: dict[str, Any] | None,
        err: KmsError | None,
    ) -> None:
        if op is None:
            name = "Unknown"
            request_parameters = None
        else:
            name = op.name
            request_parameters = {c: params[p] for p, c in op.logged if p in params} or None
        self._record(
            Event(
                time=call.now if call else self.service.clock.now(),
                source=self.source,
                name=name,
                region=region,
                user_identity=_identity(principal),
                request_parameters=request_parameters,
                response_elements=_camel_keys(out) if out and op and op.record_response else None,
                error_code=err.code if err else None,
                error_message=err.message if err else None,
                request_id=request_id,
                resources=tuple(dict.fromkeys(call.resources)) if call else (),
                read_only=op.read_only if op else False,
            )
        )
