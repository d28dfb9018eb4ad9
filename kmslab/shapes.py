"""botocore shapes compiled for the wire, shared by both protocols: :mod:`kmslab.protocol` (AWS
JSON 1.1, KMS) and :mod:`kmslab.query` (the query protocol, IAM and STS).

The models are botocore's own data files (``botocore/data/<service>/<api version>/service-2.json``
or ``.json.gz``), read by :func:`load_model` without importing botocore: importing its loader
pulls in urllib3 and http.client, ~0.1-0.2 s of every ``kmslab encrypt`` that never makes a
boto3 client. The shapes are compiled from the JSON dicts as botocore's ``ShapeResolver`` reads
them (a member reference's own traits override its shape's).

A :class:`Spec` is one shape of a service model with everything a request needs resolved once:
member names in every spelling (Pascal in the model, snake_case for the service methods,
camelCase in validation messages and CloudTrail, the wire name), the constraints, and the
list and map member names. :func:`compile_operation` compiles the input and output shape of
one operation, sharing the specs of shapes that several operations use (``memo``);
:class:`OperationTable` does it on an operation's first request and lists every operation.

The validation texts are AWS's, one constraint at a time::

    Value at 'plaintext' failed to satisfy constraint: Member must have length less than or
    equal to 4096

joined into ``"1 validation error detected: ..."`` by :func:`validation_message`. How the
offending value is shown is each protocol's own (KMS shows most values and a blob as a Java
``HeapByteBuffer``, IAM shows none), so the functions here stop at the constraint's text.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

#: How a model's ``pattern`` becomes a regex: ``re.compile`` (KMS) or :func:`java_pattern` (IAM).
PatternCompiler = Callable[[str], re.Pattern[str]]


# == the models ===================================================================================


@cache
def load_model(service: str) -> dict[str, Any]:
    """The newest ``service-2`` model of ``service`` in botocore's installed data, as JSON dicts
    (read once per process; callers must not change it). See :func:`read_model`.

    Raises:
        LookupError: botocore is not installed, or has no model of ``service``.
    """
    spec = importlib.util.find_spec("botocore")  # finds the package, does not import it
    if spec is None or spec.origin is None:
        raise LookupError("botocore is not installed: kmslab reads its service models")
    return read_model(os.path.join(os.path.dirname(spec.origin), "data"), service)


def read_model(data: str, service: str) -> dict[str, Any]:
    """The model of ``service`` in a botocore ``data`` folder, picked as botocore's ``Loader``
    picks it: the newest API-version folder of ``data/<service>/`` that holds a
    ``service-2.json`` or a ``service-2.json.gz``, the plain file first. (The loader also
    searches ``~/.aws/models`` and ``AWS_DATA_PATH``; the lab serves the models that shipped
    with botocore.)

    Raises:
        LookupError: no such model.
    """
    folder = os.path.join(data, service)
    try:
        versions = sorted(os.listdir(folder), reverse=True)
    except OSError:
        versions = []
    for version in versions:
        path = os.path.join(folder, version, "service-2.json")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                payload = f.read()
        elif os.path.isfile(path + ".gz"):
            with gzip.open(path + ".gz", "rb") as f:
                payload = f.read()
        else:
            continue
        model: dict[str, Any] = json.loads(payload.decode("utf-8"))
        return model
    raise LookupError(f"botocore has no service model of {service!r}")


_FIRST_CAP = re.compile("(.)([A-Z][a-z]+)")
_END_CAP = re.compile("([a-z0-9])([A-Z])")
_PLURAL_ACRONYM = re.compile("[A-Z]{2,}s$")
_SNAKE: dict[str, str] = {}


def xform_name(name: str) -> str:
    """``GenerateDataKey`` -> ``generate_data_key``, ``KeyARNs`` -> ``key_arns``:
    botocore's ``xform_name`` (whose hand-written exceptions name no KMS, IAM or STS member)."""
    found = _SNAKE.get(name)
    if found is None:
        if "_" in name:
            found = name
        else:
            plural = _PLURAL_ACRONYM.search(name)  # ARNs, ACLs -> _arns, _acls
            text = f"{name[: -len(plural.group())]}_{plural.group().lower()}" if plural else name
            found = _END_CAP.sub(r"\1_\2", _FIRST_CAP.sub(r"\1_\2", text)).lower()
        _SNAKE[name] = found
    return found


def camel(name: str) -> str:
    """``KeyId`` -> ``keyId``: the name AWS uses in validation messages and CloudTrail."""
    return name[:1].lower() + name[1:]


def java_pattern(pattern: str) -> re.Pattern[str]:
    r"""A Python regex for a model pattern written for Java: ``\p{L}``, ``\p{Z}`` and
    ``\p{N}`` (inside character classes) become their nearest ``re`` classes, and ``\w``
    is ASCII as in Java."""
    if "\\p{" not in pattern:
        return re.compile(pattern, re.ASCII)
    classes = {r"\p{L}": "", r"\p{Z}": "", r"\p{N}": ""}
    body = pattern
    for name in classes:
        body = body.replace(name, "\x00" + name[3] + "\x00")
    m = re.fullmatch(r"\[([^\]]*)\]([*+?]?)", body)
    if m is None:  # pragma: no cover - no such pattern in the models served
        return re.compile(pattern.replace(r"\p{L}", "a-zA-Z").replace(r"\p{N}", "0-9"))
    inner, repeat = m.groups()
    alternatives = []
    for part in re.split("\x00(.)\x00", inner):
        if part == "L":
            alternatives.append(r"[^\W\d_]")
        elif part == "Z":
            alternatives.append(r"[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
        elif part == "N":
            alternatives.append(r"\d")
        elif part:
            alternatives.append(f"[{part}]")
    return re.compile("(?:" + "|".join(alternatives) + ")" + repeat)


@dataclass(eq=False)
class Spec:
    """A compiled shape: names on the wire, constraints, and how to write it out.

    The wire name of a member is its Pascal name unless the model renames it
    (``locationName``); no member of the models served is renamed."""

    name: str
    type: str
    sensitive: bool = False
    min: int | None = None
    max: int | None = None
    # min and max for the hot check ``bounded and not lo <= n <= hi`` (None costs more)
    bounded: bool = False
    lo: float = -math.inf
    hi: float = math.inf
    enum: frozenset[str] | None = None
    enum_text: str = ""
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    # structure: (Pascal member name, snake, camel, wire name, spec)
    members: list[tuple[str, str, str, str, Spec]] = field(default_factory=list)
    by_wire: dict[str, tuple[str, str, Spec]] = field(default_factory=dict)  # -> snake, camel
    by_snake: dict[str, tuple[str, Spec]] = field(default_factory=dict)  # -> wire name
    required: tuple[str, ...] = ()  # Pascal names
    # list / map
    member: Spec | None = None
    member_name: str = "member"
    flattened: bool = False
    key: Spec | None = None
    value: Spec | None = None
    key_name: str = "key"
    value_name: str = "value"


def compile_shape(
    ref: dict[str, Any], shapes: dict[str, Any], memo: dict[str, Spec], pattern: PatternCompiler
) -> Spec:
    """The :class:`Spec` of the shape a model reference (``{"shape": name, ...traits}``) names;
    ``shapes`` is the model's ``"shapes"``, ``memo`` holds the specs compiled so far, by name."""
    name = ref["shape"]
    found = memo.get(name)
    if found is not None:
        return found
    model = _resolved(ref, shapes)
    kind = model["type"]
    spec = Spec(
        name=name,
        type=kind,
        sensitive=bool(model.get("sensitive")),
        min=model.get("min"),
        max=model.get("max"),
        flattened=bool(model.get("flattened")),
    )
    memo[name] = spec
    if spec.min is not None:
        spec.bounded, spec.lo = True, spec.min
    if spec.max is not None:
        spec.bounded, spec.hi = True, spec.max
    enum = model.get("enum") if kind == "string" else None
    if enum:
        spec.enum = frozenset(enum)
        spec.enum_text = "[" + ", ".join(enum) + "]"
    if "pattern" in model:
        spec.pattern_text = model["pattern"]
        spec.pattern = pattern(model["pattern"])
    if kind == "structure":
        for pascal, member_ref in model.get("members", {}).items():
            sub = compile_shape(member_ref, shapes, memo, pattern)
            wire = _location_name(member_ref, shapes, pascal)
            snake_name, camel_name = xform_name(pascal), camel(pascal)
            spec.members.append((pascal, snake_name, camel_name, wire, sub))
            spec.by_wire[wire] = (snake_name, camel_name, sub)
            spec.by_snake[snake_name] = (wire, sub)
        spec.required = tuple(model.get("required", ()))
    elif kind == "list":
        spec.member = compile_shape(model["member"], shapes, memo, pattern)
        spec.member_name = _location_name(model["member"], shapes, "member")
    elif kind == "map":
        spec.key = compile_shape(model["key"], shapes, memo, pattern)
        spec.value = compile_shape(model["value"], shapes, memo, pattern)
        spec.key_name = _location_name(model["key"], shapes, "key")
        spec.value_name = _location_name(model["value"], shapes, "value")
    return spec


def _resolved(ref: dict[str, Any], shapes: dict[str, Any]) -> dict[str, Any]:
    """The shape a reference names, with the reference's own traits over it (botocore's
    ``ShapeResolver.resolve_shape_ref``)."""
    model: dict[str, Any] = shapes[ref["shape"]]
    if len(ref) > 1:
        model = {**model, **{k: v for k, v in ref.items() if k != "shape"}}
    return model


def _location_name(ref: dict[str, Any], shapes: dict[str, Any], default: str) -> str:
    """A member's name on the wire: its ``locationName`` (botocore's ``serialization["name"]``)."""
    name: str = ref.get("locationName") or shapes[ref["shape"]].get("locationName") or default
    return name


EMPTY_INPUT = "Empty"


def compile_operation(
    model: dict[str, Any], name: str, memo: dict[str, Spec], pattern: PatternCompiler
) -> tuple[Spec, Spec | None]:
    """(input spec, output spec or None) of the operation ``name`` of ``model`` (a
    :func:`load_model` dict); an operation without input gets an empty structure."""
    operation = model["operations"][name]
    shapes = model["shapes"]
    in_ref, out_ref = operation.get("input"), operation.get("output")
    in_spec = (
        compile_shape(in_ref, shapes, memo, pattern) if in_ref else Spec(EMPTY_INPUT, "structure")
    )
    out_spec = compile_shape(out_ref, shapes, memo, pattern) if out_ref else None
    return in_spec, out_spec


OperationT = TypeVar("OperationT")


class OperationTable(Mapping[str, OperationT]):
    """Every operation of a model by name, each built (``build(name)``) on its first lookup.

    Lists, counts and tests membership of all of them; a lab that only ever encrypts compiles
    two or three of KMS's 56 operations, not all of them (~40-60 ms of every start)."""

    def __init__(self, names: Iterable[str], build: Callable[[str], OperationT]) -> None:
        self._names = dict.fromkeys(names)
        self._built: dict[str, OperationT] = {}
        self._build = build
        self._lock = threading.Lock()  # a spec is in ``memo`` before it is complete

    def find(self, name: str) -> OperationT | None:
        """The operation ``name``, or None: the hot path (one dict lookup once it is built)."""
        found = self._built.get(name)
        if found is None and name in self._names:
            found = self[name]
        return found

    def __getitem__(self, name: str) -> OperationT:
        found = self._built.get(name)
        if found is None:
            if name not in self._names:
                raise KeyError(name)
            with self._lock:
                found = self._built.get(name)
                if found is None:
                    found = self._built[name] = self._build(name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# == validation texts ===========================================================================


def bound_violation(spec: Spec, n: int, measure: str = "length") -> str:
    """The min or max constraint that ``n``, outside ``lo <= n <= hi`` of a ``bounded``
    spec, breaks: a length, or (``measure="value"``) a number's value."""
    if n < spec.lo:
        return f"Member must have {measure} greater than or equal to {spec.min}"
    return f"Member must have {measure} less than or equal to {spec.max}"


def string_violations(spec: Spec, text: str, pattern_on_empty: bool = True) -> tuple[str, ...]:
    """The constraints a string breaks, in the order AWS reports them: enum, length, pattern
    (IAM does not match an empty string against the pattern: ``pattern_on_empty=False``).

    The JSON protocol runs this on every string of every request: it allocates nothing when
    nothing is wrong, and ``pattern_on_empty`` is not keyword-only (that costs a call ~20%)."""
    found: tuple[str, ...] = ()
    if spec.enum is not None and text not in spec.enum:
        found += (f"Member must satisfy enum value set: {spec.enum_text}",)
    if spec.bounded and not spec.lo <= len(text) <= spec.hi:
        found += (bound_violation(spec, len(text)),)
    if (
        spec.pattern is not None
        and (text or pattern_on_empty)
        and spec.pattern.fullmatch(text) is None
    ):
        found += (f"Member must satisfy regular expression pattern: {spec.pattern_text}",)
    return found


def constraint_failure(shown: str, path: str, text: str) -> str:
    """One failure: ``shown`` is how the protocol shows the value (``"Value"``, ``"Value 'x'"``)."""
    return f"{shown} at '{path}' failed to satisfy constraint: {text}"


def null_failure(path: str) -> str:
    """A required member the request left out."""
    return constraint_failure("Value null", path, "Member must not be null")


def validation_message(failures: list[str]) -> str:
    """``"N validation error(s) detected: "`` and the failures, as AWS joins them."""
    n = len(failures)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(failures)
