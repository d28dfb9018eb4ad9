"""botocore shapes compiled for the wire, shared by both protocols: :mod:`kmslab.protocol` (AWS
JSON 1.1, KMS) and :mod:`kmslab.query` (the query protocol, IAM and STS).

A :class:`Spec` is one shape of a service model with everything a request needs resolved once:
member names in every spelling (Pascal in the model, snake_case for the service methods,
camelCase in validation messages and CloudTrail, the wire name), the constraints, and the
list and map member names. :func:`compile_operations` compiles the input and output shape of
every operation of a model, sharing the specs of shapes that several operations use.

The validation texts are AWS's, one constraint at a time::

    Value at 'plaintext' failed to satisfy constraint: Member must have length less than or
    equal to 4096

joined into ``"1 validation error detected: ..."`` by :func:`validation_message`. How the
offending value is shown is each protocol's own (KMS shows most values and a blob as a Java
``HeapByteBuffer``, IAM shows none), so the functions here stop at the constraint's text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from botocore import xform_name
from botocore.model import ServiceModel, Shape

#: How a model's ``pattern`` becomes a regex: ``re.compile`` (KMS) or :func:`java_pattern` (IAM).
PatternCompiler = Callable[[str], re.Pattern[str]]


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


def compile_shape(shape: Shape, memo: dict[str, Spec], pattern: PatternCompiler) -> Spec:
    """The :class:`Spec` of ``shape`` (``memo`` holds the specs compiled so far, by name)."""
    if shape.name in memo:
        return memo[shape.name]
    meta = shape.metadata
    spec = Spec(
        name=shape.name,
        type=shape.type_name,
        sensitive=bool(meta.get("sensitive")),
        min=meta.get("min"),
        max=meta.get("max"),
        flattened=bool(shape.serialization.get("flattened")),
    )
    memo[shape.name] = spec
    if spec.min is not None:
        spec.bounded, spec.lo = True, spec.min
    if spec.max is not None:
        spec.bounded, spec.hi = True, spec.max
    enum = getattr(shape, "enum", None)
    if enum:
        spec.enum = frozenset(enum)
        spec.enum_text = "[" + ", ".join(enum) + "]"
    if "pattern" in meta:
        spec.pattern_text = meta["pattern"]
        spec.pattern = pattern(meta["pattern"])
    if shape.type_name == "structure":
        for pascal, member_shape in shape.members.items():
            sub = compile_shape(member_shape, memo, pattern)
            wire = member_shape.serialization.get("name", pascal)
            snake, camel_name = xform_name(pascal), camel(pascal)
            spec.members.append((pascal, snake, camel_name, wire, sub))
            spec.by_wire[wire] = (snake, camel_name, sub)
            spec.by_snake[snake] = (wire, sub)
        spec.required = tuple(shape.required_members)
    elif shape.type_name == "list":
        spec.member = compile_shape(shape.member, memo, pattern)
        spec.member_name = shape.member.serialization.get("name", "member")
    elif shape.type_name == "map":
        spec.key = compile_shape(shape.key, memo, pattern)
        spec.value = compile_shape(shape.value, memo, pattern)
        spec.key_name = shape.key.serialization.get("name", "key")
        spec.value_name = shape.value.serialization.get("name", "value")
    return spec


def compile_operations(
    model: ServiceModel, pattern: PatternCompiler
) -> Iterator[tuple[str, Spec, Spec | None]]:
    """(name, input spec, output spec or None) of every operation of ``model``; an operation
    without input gets an empty structure."""
    memo: dict[str, Spec] = {}
    for name in model.operation_names:
        om = model.operation_model(name)
        in_spec = (
            compile_shape(om.input_shape, memo, pattern)
            if om.input_shape
            else Spec("Empty", "structure")
        )
        out_spec = compile_shape(om.output_shape, memo, pattern) if om.output_shape else None
        yield name, in_spec, out_spec


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
