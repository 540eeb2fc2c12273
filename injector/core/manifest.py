"""Turn the bytes of a manifest file into Kubernetes object documents (no I/O here), as kubectl reads them.

YAML (multi-document) and JSON are accepted; ``kind: List`` and ``*List`` objects are flattened.
Scalars are resolved as sigs.k8s.io/yaml's go-yaml v2 resolves them (YAML 1.1: ``0o400``, ``0400``
and ``0x1A4`` are integers, ``256.0`` and ``2.5e2`` numbers, ``y``/``on``/``off`` booleans and, as
keys, the strings ``"true"``/``"false"``; timestamps stay strings); a key given twice keeps its last
value, as kubectl does, with a note. Guards against hostile input: YAML alias bombs and recursive
documents are refused by counting the expanded size, and values JSON cannot hold (``.inf``,
``.nan``, a null key) are refused as kubectl refuses them. Error messages carry positions, never
document text.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from injector.errors import ManifestError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Largest manifest file read; a Secret is at most 1 MiB, a Pod far less."""

MAX_EXPANDED_NODES = 2_000_000
"""Largest number of nodes a document may expand to once YAML aliases are followed."""


class Document(NamedTuple):
    """One object read from a manifest: where it came from and its decoded content."""

    origin: str
    """``file`` or ``file (document N)``, used as the first part of every message about it."""
    body: dict[str, Any]
    notes: tuple[str, ...] = ()
    """What reading it noticed without refusing it (a key given twice), for warnings."""


# -- scalars as go-yaml v2 resolves them (resolve.go) ------------------------------------------------

_RESOLVED: dict[str, object] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")
_DIGITS = {16: set("0123456789abcdefABCDEF"), 10: set("0123456789"), 8: set("01234567"), 2: set("01")}
_INT64 = 1 << 63


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), falling back to ParseUint as go-yaml does; None if neither parses."""
    signed = text[:1] in ("+", "-")
    body = text[1:] if signed else text
    base, digits = 10, body
    if body[:2] in ("0x", "0X"):
        base, digits = 16, body[2:]
    elif body[:2] in ("0o", "0O"):
        base, digits = 8, body[2:]
    elif body[:2] in ("0b", "0B"):
        base, digits = 2, body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, digits = 8, body[1:]
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    value = int(digits, base) * (-1 if text[:1] == "-" else 1)
    if -_INT64 <= value < _INT64 or (not signed and value < 2 * _INT64):
        return value
    return None


def resolve_plain_scalar(text: str) -> object:
    """What an unquoted YAML scalar means to kubectl: a bool, null, int, float, or the text itself."""
    if text in _RESOLVED:
        return _RESOLVED[text]
    first = text[0]
    if first == ".":
        return float(text) if _DOT_FLOAT.match(text) else text
    if first in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_parse_int(plain)
        if number is not None:
            return number
        if _YAML_STYLE_FLOAT.match(plain):
            return float(plain)
    return text


def json_key(key: object) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it in JSON (``on:`` is ``"true"``, ``1:`` is ``"1"``)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float32_g(key)
    raise ValueError("unsupported map key")


def _go_float32_g(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32): the shortest digits that round-trip through a float32."""
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if math.isnan(value):
        return ".nan"
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, exponent = text.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    power = int(exponent)
    if power < -4 or power >= 6:  # 'g' with the shortest digits decides as with a precision of 6
        return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    return repr(float(f"{mantissa}e{power}")).removesuffix(".0")


def parse_documents(data: bytes, source: str) -> list[Document]:
    """Parse ``data`` (the content of ``source``) into object documents, flattening Lists."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"file is larger than {MAX_MANIFEST_BYTES} bytes", source=source)
    if source.endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        raw_documents = [_parse_json(data, source)]
    else:
        raw_documents = _parse_yaml(data, source)
    several = len(raw_documents) > 1
    documents: list[Document] = []
    for index, (raw, notes) in enumerate(raw_documents, start=1):
        origin = f"{source} (document {index})" if several else source
        if raw is None:
            continue
        _check_expanded_size(raw, origin)
        documents.extend(document._replace(notes=notes) for document in _flatten(raw, origin))
    return documents


class StreamDocument(NamedTuple):
    """One document of a manifest stream as written: its text, and what it decodes to."""

    origin: str
    text: str | None
    """The document's text, from the end of the previous one (comments and ``---`` included); None when the
    file is not UTF-8 text."""
    body: object
    """The decoded document: an object for a manifest, None for an empty document."""
    notes: tuple[str, ...] = ()


def parse_stream(data: bytes, source: str) -> tuple[list[StreamDocument], str]:
    """Every document of ``data`` (the content of ``source``) with the text it came from, Lists not
    flattened; and the text after the last document. Joined, the texts give the file back."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"file is larger than {MAX_MANIFEST_BYTES} bytes", source=source)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if source.endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        raw, notes = _parse_json(data, source)
        _check_expanded_size(raw, source)
        return [StreamDocument(source, text, raw, notes)], ""
    raw_documents = _parse_yaml(data, source)
    spans = _document_spans(text, len(raw_documents)) if text is not None else None
    several = len(raw_documents) > 1
    documents = []
    for index, (raw, notes) in enumerate(raw_documents):
        origin = f"{source} (document {index + 1})" if several else source
        if raw is not None:
            _check_expanded_size(raw, origin)
        span = spans[index] if spans is not None else None
        documents.append(StreamDocument(origin, span, raw, notes))
    trailing = text[sum(len(span) for span in spans) :] if text is not None and spans is not None else ""
    return documents, trailing


def _document_spans(text: str, count: int) -> list[str] | None:
    """The text of each of the ``count`` documents of ``text``, cut where the parser ends each one."""
    import yaml

    loader = _loader_class(yaml, go_escapes=_GO_ONLY_ESCAPES.search(text.encode()) is not None)(text)
    ends = []
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentEndEvent) and event.end_mark is not None:
                ends.append(event.end_mark.index)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    if len(ends) != count:
        return None
    spans, start = [], 0
    for end in ends:
        spans.append(text[start:end])
        start = end
    return spans


def _flatten(raw: object, origin: str) -> Iterator[Document]:
    if not isinstance(raw, dict):
        raise ManifestError(f"expected an object, found {type_name(raw)}", source=origin)
    kind = raw.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in raw:
        items = raw["items"]
        if items is None:
            return
        if not isinstance(items, list):
            raise ManifestError(f"expected a list, found {type_name(items)}", source=origin, field="items")
        for index, item in enumerate(items):
            item_origin = f"{origin} items[{index}]"
            if not isinstance(item, dict):
                raise ManifestError(f"expected an object, found {type_name(item)}", source=item_origin)
            yield Document(item_origin, item)
    else:
        yield Document(origin, raw)


def type_name(value: object) -> str:
    """What a decoded value is, in words for a message (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _parse_json(data: bytes, source: str) -> tuple[object, tuple[str, ...]]:
    notes: list[str] = []

    def last_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                notes.append(f"key {key!r} is given twice: the last value is used, as kubectl does")
            result[key] = value
        return result

    def no_constant(name: str) -> object:
        raise ManifestError(f"invalid JSON: {name} is not a JSON number")

    try:
        return json.loads(data, object_pairs_hook=last_wins, parse_constant=no_constant), tuple(notes)
    except ManifestError as exc:
        raise ManifestError(exc.problem, source=source) from None
    except UnicodeDecodeError:
        raise ManifestError("invalid JSON: not UTF-8", source=source) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", source=source
        ) from None
    except RecursionError:
        raise ManifestError("invalid JSON: nested too deeply", source=source) from None


def _parse_yaml(data: bytes, source: str) -> list[tuple[object, tuple[str, ...]]]:
    import yaml  # deferred: costs ~25 ms at start-up and JSON input does not need it

    loader = None
    try:
        # Python's reader checks the input as it is built: inside the try, like every other YAML error.
        loader = _loader_class(yaml, go_escapes=_GO_ONLY_ESCAPES.search(data) is not None)(data)
        documents: list[tuple[object, tuple[str, ...]]] = []
        while loader.check_data():
            loader.notes = []
            documents.append((loader.get_data(), tuple(loader.notes)))
        return documents
    except ManifestError as exc:
        raise ManifestError(exc.problem, source=source) from None
    except yaml.MarkedYAMLError as exc:
        raise ManifestError(f"invalid YAML: {_describe_yaml_error(exc)}", source=source) from None
    except yaml.reader.ReaderError as exc:
        # The character itself is left out: it may be a byte of a secret.
        raise ManifestError(
            f"invalid YAML: {exc.reason or 'unacceptable character'} at byte {exc.position}", source=source
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {type(exc).__name__}", source=source) from None
    except RecursionError:
        raise ManifestError("invalid YAML: nested too deeply", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _describe_yaml_error(exc: Any) -> str:
    # str(exc) may quote the offending line of the document; build the message from the parts
    # that carry no document text instead.
    # PyYAML's Python scanner names the character after "found unknown escape character": it may be a
    # character of a secret, and the C scanner's (libyaml's, go-yaml's) message stops before it.
    problem = exc.problem and _AFTER_ESCAPE_PROBLEM.sub("", exc.problem)
    parts = [part for part in (exc.context, problem) if part]
    text = ", ".join(parts) or type(exc).__name__
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return text


_AFTER_ESCAPE_PROBLEM = re.compile(r"(?<=found unknown escape character) .*", re.S)

_LOADERS: dict[bool, Any] = {}
_GO_SCALAR = "tag:injector,2026:go-yaml-scalar"
"""The tag every plain scalar resolves to: its meaning is then go-yaml's (resolve_plain_scalar)."""

_GO_ONLY_ESCAPES = re.compile(rb"\\['/]")
"""Escapes on which go-yaml's scanner (scannerc.go, yaml_parser_scan_flow_scalar) and libyaml/PyYAML disagree:
go-yaml reads ``\\'`` in a double-quoted scalar as ``'`` and refuses ``\\/``; PyYAML does the opposite. A
document with either is read by PyYAML's Python scanner with go-yaml's table (slower, so only then)."""


def _loader_class(yaml: Any, *, go_escapes: bool = False) -> Any:
    if go_escapes in _LOADERS:  # built once per process and flavour, on first YAML input
        return _LOADERS[go_escapes]
    base = yaml.SafeLoader if go_escapes else getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    def line_of(node: Any) -> str:
        return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"

    class KubectlLoader(base):  # type: ignore[misc, valid-type]
        notes: list[str]

        def construct_go_scalar(self, node: Any) -> object:
            value = resolve_plain_scalar(str(node.value))
            if isinstance(value, float) and not math.isfinite(value):
                raise ManifestError(f"invalid YAML: .inf and .nan cannot be written as JSON (at {line_of(node)})")
            return value

        def construct_text(self, node: Any) -> str:
            """Timestamps and binary stay text, as sigs.k8s.io/yaml leaves them."""
            if node.tag.endswith(":binary"):
                raw = super().construct_yaml_binary(node)
                return bytes(raw).decode("utf-8", "replace")
            return str(node.value)

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            explicit = [(key, value) for key, value in node.value if key.tag != "tag:yaml.org,2002:merge"]
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)  # merged keys come first: explicit ones override them
            result: dict[str, Any] = {}
            explicit_ids = {id(key) for key, _ in explicit}
            seen: set[str] = set()
            for key_node, value_node in node.value:
                raw_key = self.construct_object(key_node, deep=True)
                if raw_key is None:
                    raise ManifestError(f"invalid YAML: a null key at {line_of(key_node)} (kubectl refuses it)")
                try:
                    key = json_key(raw_key)
                except (ValueError, TypeError):
                    raise ManifestError(f"invalid YAML: a key that is not a scalar at {line_of(key_node)}") from None
                if id(key_node) in explicit_ids:
                    if key in seen:
                        self.notes.append(
                            f"key {key!r} is given twice (at {line_of(key_node)}): the last value is used, as "
                            "kubectl does"
                        )
                    seen.add(key)
                result[key] = self.construct_object(value_node, deep=deep)
            return result

    KubectlLoader.yaml_implicit_resolvers = {
        "<": [("tag:yaml.org,2002:merge", re.compile(r"<<\Z"))],
        None: [(_GO_SCALAR, re.compile(r".*", re.S))],
    }
    KubectlLoader.add_constructor(_GO_SCALAR, KubectlLoader.construct_go_scalar)
    KubectlLoader.add_constructor("tag:yaml.org,2002:timestamp", KubectlLoader.construct_text)
    KubectlLoader.add_constructor("tag:yaml.org,2002:binary", KubectlLoader.construct_text)
    KubectlLoader.add_constructor("tag:yaml.org,2002:map", KubectlLoader.construct_yaml_map)
    if go_escapes:
        escapes = {**base.ESCAPE_REPLACEMENTS, "'": "'"}
        del escapes["/"]
        KubectlLoader.ESCAPE_REPLACEMENTS = escapes
    _LOADERS[go_escapes] = KubectlLoader
    return KubectlLoader


def _check_expanded_size(document: object, origin: str) -> None:
    """Refuse documents whose aliases expand past MAX_EXPANDED_NODES, or that refer to themselves."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: object) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in in_progress:
            raise ManifestError("invalid YAML: document refers to itself through an alias", source=origin)
        in_progress.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                raise ManifestError(
                    f"invalid YAML: document expands to more than {MAX_EXPANDED_NODES} nodes (alias bomb?)",
                    source=origin,
                )
        in_progress.discard(key)
        sizes[key] = total
        return total

    try:
        size(document)
    except RecursionError:
        raise ManifestError("document is nested too deeply", source=origin) from None
