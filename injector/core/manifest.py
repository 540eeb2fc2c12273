"""Turn the bytes of a manifest file into Kubernetes object documents (no I/O here).

YAML (multi-document) and JSON are accepted; ``kind: List`` and ``*List`` objects are flattened.
Guards against hostile input: duplicate keys are errors (as in kubectl), YAML alias bombs and
recursive documents are refused by counting the expanded size, and YAML timestamps stay strings
(as they do through sigs.k8s.io/yaml). Error messages carry positions, never document text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

from injector.errors import ManifestError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Largest manifest file read; a Secret is at most 1 MiB, a Pod far less."""

MAX_EXPANDED_NODES = 2_000_000
"""Largest number of nodes a document may expand to once YAML aliases are followed."""

_PLAIN_SCALARS = ("null", "bool", "int", "float", "str")


class Document(NamedTuple):
    """One object read from a manifest: where it came from and its decoded content."""

    origin: str
    """``file`` or ``file (document N)``, used as the first part of every message about it."""
    body: dict[str, Any]


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
    for index, raw in enumerate(raw_documents, start=1):
        origin = f"{source} (document {index})" if several else source
        if raw is None:
            continue
        _check_expanded_size(raw, origin)
        documents.extend(_flatten(raw, origin))
    return documents


def _flatten(raw: object, origin: str) -> Iterator[Document]:
    if not isinstance(raw, dict):
        raise ManifestError(f"expected an object, found {_type_name(raw)}", source=origin)
    kind = raw.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in raw:
        items = raw["items"]
        if items is None:
            return
        if not isinstance(items, list):
            raise ManifestError(f"expected a list, found {_type_name(items)}", source=origin, field="items")
        for index, item in enumerate(items):
            item_origin = f"{origin} items[{index}]"
            if not isinstance(item, dict):
                raise ManifestError(f"expected an object, found {_type_name(item)}", source=item_origin)
            yield Document(item_origin, item)
    else:
        yield Document(origin, raw)


def _type_name(value: object) -> str:
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


def _parse_json(data: bytes, source: str) -> object:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ManifestError(f"duplicate key {key!r}", source=source)
            result[key] = value
        return result

    try:
        return json.loads(data, object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        raise ManifestError("invalid JSON: not UTF-8", source=source) from None
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", source=source
        ) from None
    except RecursionError:
        raise ManifestError("invalid JSON: nested too deeply", source=source) from None


def _parse_yaml(data: bytes, source: str) -> list[object]:
    import yaml  # deferred: costs ~25 ms at start-up and JSON input does not need it

    loader = _loader_class(yaml)(data)
    try:
        documents: list[object] = []
        while loader.check_data():
            documents.append(loader.get_data())
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
        loader.dispose()


def _describe_yaml_error(exc: Any) -> str:
    # str(exc) may quote the offending line of the document; build the message from the parts
    # that carry no document text instead.
    parts = [part for part in (exc.context, exc.problem) if part]
    text = ", ".join(parts) or type(exc).__name__
    mark = exc.problem_mark or exc.context_mark
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return text


_LOADER: Any = None


def _loader_class(yaml: Any) -> Any:
    global _LOADER  # noqa: PLW0603 - built once per process, on first YAML input
    if _LOADER is not None:
        return _LOADER
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            if isinstance(node, yaml.MappingNode):
                self.flatten_mapping(node)
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise ManifestError(
                        f"invalid YAML: unhashable mapping key at line {key_node.start_mark.line + 1}"
                    ) from None
                if duplicate:
                    raise ManifestError(
                        f"invalid YAML: duplicate key {key!r} at line {key_node.start_mark.line + 1}, "
                        f"column {key_node.start_mark.column + 1}"
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag.rsplit(":", 1)[-1] in _PLAIN_SCALARS]
        for first, entries in base.yaml_implicit_resolvers.items()
    }
    StrictLoader.yaml_implicit_resolvers = resolvers
    _LOADER = StrictLoader
    return _LOADER


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
