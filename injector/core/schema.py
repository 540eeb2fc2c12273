"""Objects decoded as the API server decodes them for ``kubectl --validate=strict`` (the default).

Every field must be known to the Kubernetes schema (``schema_table``, generated from the OpenAPI
document of the version it names): an unknown or misspelled field (``envfrom``) is an error naming
its path, where a lenient reader would silently drop the config it holds. Every value must have its
field's type; numbers are taken as Go's JSON decoder takes them: an integral float (``256.0``, as
YAML's ``2.5e2`` can give) fills an integer field, a fraction or an out-of-range number does not.
A document that does not decode is not validated further, as the API server refuses it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from injector.core.fields import FieldPath
from injector.core.manifest import Document
from injector.core.manifest import type_name as describe
from injector.core.schema_table import FORMATS, KUBERNETES_VERSION, ROOTS, TYPES
from injector.errors import InjectorError, InjectorWarning, ManifestError

__all__ = ["KUBERNETES_VERSION", "Decoded", "decode", "decode_document", "root_type"]

_QUOTE = "quote numbers and booleans"
_RANGES = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}

Problem = tuple[FieldPath, str]


def root_type(api_version: object, kind: object) -> str | None:
    """The schema type of an object of that apiVersion and kind, or None when the schema has none."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return ROOTS.get((api_version, kind))


def decode_document(document: Document, obj: str) -> tuple[Document | None, list[InjectorError], list[InjectorWarning]]:
    """``document`` decoded strictly: the decoded document (None if it does not decode), its
    errors, and the warnings of reading it (``obj`` names it in messages)."""
    warnings = [InjectorWarning(note, source=document.origin, obj=obj) for note in document.notes]
    api_version, kind = document.body.get("apiVersion"), document.body.get("kind")
    type_name = root_type(api_version, kind)
    if type_name is None:
        served = " or ".join(version for version, known in ROOTS if known == kind)
        hint = f" ({kind} is served as {served})" if served else ""
        if api_version is None:
            problem = f"Required value: apiVersion is not set{hint}"
        else:
            problem = f'no matches for kind "{kind}" in version "{api_version}"{hint}'
        return None, [ManifestError(problem, source=document.origin, obj=obj, field="apiVersion")], warnings
    decoded = decode(document.body, type_name)
    errors: list[InjectorError] = [
        ManifestError(problem, source=document.origin, obj=obj, field=at) for at, problem in decoded.problems
    ]
    return (None if errors else document._replace(body=decoded.body)), errors, warnings


class Decoded:
    """A document as decoded: its body (integral numbers made integers) and the problems met."""

    __slots__ = ("body", "problems")

    def __init__(self, body: dict[str, Any], problems: list[Problem]) -> None:
        self.body = body
        self.problems = problems


def decode(body: Mapping[str, Any], type_name: str) -> Decoded:
    """Check ``body`` against ``type_name`` (a key of ROOTS' values) field by field."""
    problems: list[Problem] = []
    decoded = _object(body, type_name, FieldPath(), problems)
    return Decoded(decoded if isinstance(decoded, dict) else {}, problems)


def _object(value: object, type_name: str, at: FieldPath, problems: list[Problem]) -> object:
    if not isinstance(value, dict):
        problems.append((at, f"must be an object, not {describe(value)}"))
        return value
    fields = TYPES[type_name]
    formats = FORMATS.get(type_name, {})
    decoded: dict[str, Any] = {}
    for name, item in value.items():
        if name not in fields:
            problems.append((at / name, "unknown field" + _did_you_mean(name, fields)))
            continue
        decoded[name] = _value(item, fields[name], formats.get(name), at / name, problems)
    return decoded


def _did_you_mean(name: str, fields: Mapping[str, str]) -> str:
    import difflib  # here: only a manifest with an unknown field pays for it, not every start

    same = [field for field in fields if field.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _value(value: object, field_type: str, fmt: str | None, at: FieldPath, problems: list[Problem]) -> object:
    if value is None:  # every field takes null: the decoder leaves it unset
        return None
    if field_type.startswith("list["):
        if not isinstance(value, list):
            problems.append((at, f"must be a list, not {describe(value)}"))
            return value
        return [_value(item, field_type[5:-1], fmt, at / index, problems) for index, item in enumerate(value)]
    if field_type.startswith("map["):
        if not isinstance(value, dict):
            problems.append((at, f"must be an object, not {describe(value)}"))
            return value
        return {key: _value(item, field_type[4:-1], fmt, at.key(key), problems) for key, item in value.items()}
    if field_type in TYPES:
        return _object(value, field_type, at, problems)
    return _scalar(value, field_type, fmt, at, problems)


def _scalar(value: object, field_type: str, fmt: str | None, at: FieldPath, problems: list[Problem]) -> object:
    if field_type == "object":
        return value
    if field_type == "string":
        if isinstance(value, bool):
            problems.append((at, f"must be a string ({_QUOTE}: unquoted y, n, yes, no, on and off are booleans)"))
        elif not isinstance(value, str):
            problems.append(
                (at, "must be a base64-encoded string" if fmt == "byte" else f"must be a string ({_QUOTE})")
            )
        return value
    if field_type == "boolean":
        if not isinstance(value, bool):
            problems.append((at, f"must be true or false, not {describe(value)}"))
        return value
    if field_type == "quantity":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append((at, f"must be a quantity (a string or a number), not {describe(value)}"))
        return value
    if field_type == "int-or-string":
        if isinstance(value, str):
            return value
        return _integer(value, "int32", at, problems, also="or a string")
    if field_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((at, f"must be a number, not {describe(value)}"))
        return value
    return _integer(value, fmt or "int64", at, problems)


def _integer(value: object, fmt: str, at: FieldPath, problems: list[Problem], *, also: str = "") -> object:
    kind = f"an integer ({fmt}){' ' + also if also else ''}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append((at, f"must be {kind}, not {describe(value)}"))
        return value
    if isinstance(value, float):
        if not value.is_integer():
            problems.append((at, f"must be {kind}, not a number with a fraction"))
            return value
        value = int(value)
    low, high = _RANGES.get(fmt, _RANGES["int64"])
    if not low <= value <= high:
        problems.append((at, f"must be {kind}: out of range"))
    return value
