"""``injector inject``: manifests in, the same manifests out with injector wired into every Pod and workload.

Offline, for GitOps (``injector inject -f deploy.yaml --rbac | kubectl apply -f -``). Every other document
passes through as written (comments included), in order; a changed document is written again (YAML, or
JSON for JSON input), with the ServiceAccount, Role and RoleBinding it needs before it (``--rbac``).
Nothing is written unless every document can be read and injected.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from injector.core.emit import dump_json, dump_yaml
from injector.core.inject import Injection, InjectOptions, inject_document
from injector.core.manifest import Document, StreamDocument, parse_stream, type_name
from injector.core.objects import object_ref
from injector.core.podspec import TEMPLATE_PATHS, parse_pod
from injector.core.schema import decode_document
from injector.errors import CombinedError, InjectorError, InjectorWarning, ManifestError
from injector.settings import InjectSettings
from injector.shell.files import read_bytes
from injector.shell.output import write_all
from injector.shell.report import Reporter


def check_workload(document: Document) -> list[InjectorError]:
    """The problems kubectl and the API server would find in a Pod or workload, as injector reads them."""
    obj = object_ref(document.body, "default")
    decoded, errors, _ = decode_document(document, obj)
    if decoded is None:
        return errors
    _, pod_errors = parse_pod(decoded, "default")
    return list(pod_errors)


def inject_checked(document: Document, options: InjectOptions) -> Injection:
    """``inject_document`` of a document checked first: a manifest the cluster would refuse is an error."""
    errors = check_workload(document)
    if errors:
        raise errors[0] if len(errors) == 1 else CombinedError(errors)
    return inject_document(document, options)


class _Key(NamedTuple):
    kind: str
    namespace: str
    name: str


def _key(body: Mapping[str, Any]) -> _Key:
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return _Key(str(body.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


class _Stream:
    """Injects the documents of one stream; the output is built whole, then written."""

    def __init__(self, options: InjectOptions, documents: list[StreamDocument]) -> None:
        self.options = options
        self.errors: list[InjectorError] = []
        self.warnings: list[InjectorWarning] = []
        self.written: set[_Key] = set()
        """Objects the input holds or the output already has: a ServiceAccount is written once, if at all."""
        for document in documents:
            for body in _items(document.body):
                self.written.add(_key(body))

    def inject(self, body: dict[str, Any], origin: str) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """The document (injected or as it was), the RBAC objects to write before it, and whether it changed."""
        if body.get("kind") not in TEMPLATE_PATHS:
            return body, [], False
        try:
            injection = inject_checked(Document(origin, body), self.options)
        except CombinedError as failed:
            self.errors += failed.errors
            return body, [], False
        except InjectorError as exc:
            self.errors.append(exc)
            return body, [], False
        self.warnings += injection.warnings
        before = []
        for obj in injection.rbac:
            if _key(obj) not in self.written:
                self.written.add(_key(obj))
                before.append(obj)
        return injection.body, before, injection.changed

    def document(self, document: StreamDocument) -> tuple[object, list[dict[str, Any]], bool]:
        body = document.body
        if not isinstance(body, dict):
            if body is not None:
                self.errors.append(
                    ManifestError(f"expected an object, found {type_name(body)}", source=document.origin)
                )
            return body, [], False
        if not _is_list(body):
            return self.inject(body, document.origin)
        items = body["items"]
        if items is None:
            return body, [], False
        if not isinstance(items, list):
            self.errors.append(
                ManifestError(f"expected a list, found {type_name(items)}", source=document.origin, field="items")
            )
            return body, [], False
        new_items: list[object] = []
        changed = False
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                new_items.append(item)
                continue
            new, before, item_changed = self.inject(item, f"{document.origin} items[{index}]")
            new_items += [*before, new]
            changed = changed or item_changed or bool(before)
        return {**body, "items": new_items} if changed else body, [], changed


def _is_list(body: Mapping[str, Any]) -> bool:
    kind = body.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in body


def _items(body: object) -> list[Mapping[str, Any]]:
    if not isinstance(body, dict):
        return []
    if _is_list(body):
        return [item for item in body.get("items") or () if isinstance(item, dict)]
    return [body]


def inject_stream(data: bytes, source: str, options: InjectOptions) -> tuple[bytes, list[InjectorWarning]]:
    """The manifests ``data`` (from ``source``) with injector wired in; raises every problem found, as one."""
    documents, trailing = parse_stream(data, source)
    stream = _Stream(options, documents)
    results = [stream.document(document) for document in documents]
    if stream.errors:
        raise stream.errors[0] if len(stream.errors) == 1 else CombinedError(stream.errors)
    json_input = source.endswith(".json") or data.lstrip()[:1] in (b"{", b"[")
    if not any(changed for _, _, changed in results):
        return data, stream.warnings
    if json_input:
        ((body, before, _),) = results
        if before:
            body = {"apiVersion": "v1", "kind": "List", "items": [*before, body]}
        return dump_json(body).encode("utf-8"), stream.warnings
    out: list[str] = []

    def emit(body: object, comments: str = "") -> None:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append("---\n" + comments + dump_yaml(body))

    for document, (body, before, changed) in zip(documents, results, strict=True):
        for obj in before:
            emit(obj)
        if changed or document.text is None:
            emit(body, _leading_comments(document.text or ""))
        else:
            out.append(document.text)
    out.append(trailing)
    return "".join(out).encode("utf-8"), stream.warnings


def _leading_comments(text: str) -> str:
    """The comment lines a document starts with (after its ``---``): kept when the document is written again."""
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and not kept:
            continue
        if line.lstrip().startswith("#"):
            kept.append(line.lstrip())
        elif line.strip():
            break
    return "".join(kept)


def run_inject(settings: InjectSettings, reporter: Reporter) -> int:
    """``injector inject``: read, inject, write to stdout (all or nothing)."""
    source = "<stdin>" if settings.file == "-" else settings.file
    options = InjectOptions(settings.image, settings.env_containers, settings.rbac, settings.fuse)
    output, warnings = inject_stream(read_bytes(settings.file), source, options)
    for warning in warnings:
        reporter.warning(warning)
    write_all(sys.stdout.fileno(), output)
    return 0
