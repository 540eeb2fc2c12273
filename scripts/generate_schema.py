#!/usr/bin/env python3
"""Write injector/core/schema_table.py: the fields of every object type a workload, Secret or ConfigMap can hold.

Source: the JSON schemas that the PyPI package ``kubernetes-validate`` ships per Kubernetes version
(``kubernetes_validate/kubernetes-json-schema/v1.35.0-local/_definitions.json``). They are the release's
OpenAPI v2 document (``api/openapi-spec/swagger.json`` of the v1.35.0 tag) passed through openapi2jsonschema:
same definition names, properties, ``format``s, ``required`` lists and ``x-kubernetes-*`` extensions, with
``null`` added to the optional fields' types and IntOrString/Quantity rewritten as ``oneOf``. A registry
package is used rather than the upstream file because it is versioned, installable by pip and small to
read; kubernetes-validate ships only the ``.0`` release of each minor version.

Usage (in a venv with ``pip install kubernetes-validate==1.37.0``)::

    python scripts/generate_schema.py [--version 1.35.0] [--definitions PATH] [--output PATH]

The output is deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Pod"),
    ("v1", "PodTemplate"),
    ("v1", "ReplicationController"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
)

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
# metav1.List (apimachinery pkg/apis/meta/v1/types.go) is not served, so the OpenAPI document lacks it:
# kubectl unpacks ``kind: List`` on the client side. Its items are runtime.RawExtension, i.e. any object.
LIST_TYPE = META + "List"
LIST_FIELDS = {"apiVersion": "string", "kind": "string", "metadata": META + "ListMeta", "items": "list[object]"}

# Definitions that are scalars, or free-form, on the wire: written as a word of the vocabulary, never a type name.
SPECIAL: dict[str, str] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "object",
    META + "FieldsV1": "object",
    META + "Time": "string",
    META + "MicroTime": "string",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": "object",
}
SPECIAL_FORMATS = {META + "Time": "date-time", META + "MicroTime": "date-time"}

SCALARS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


def default_definitions(version: str) -> Path:
    import kubernetes_validate  # only needed to find the installed schemas

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return base / f"v{version}-local" / "_definitions.json"


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def base_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


class Converter:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.pending: list[str] = []

    def field_type(self, schema: dict[str, Any]) -> tuple[str, str | None]:
        """The vocabulary word for one property schema, and the format of its scalar (element), if any."""
        if "$ref" in schema:
            name = ref_name(schema["$ref"])
            if name in SPECIAL:
                return SPECIAL[name], SPECIAL_FORMATS.get(name)
            definition = self.defs[name]
            if base_type(definition) == "object" or "properties" in definition:
                self.pending.append(name)
                return name, None
            raise ValueError(f"unhandled referenced definition {name}: {definition}")
        kind = base_type(schema)
        if kind == "array":
            inner, fmt = self.field_type(schema["items"])
            return f"list[{inner}]", fmt
        if kind == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                inner, fmt = self.field_type(extra)
                return f"map[{inner}]", fmt
            if "properties" in schema:
                raise ValueError(f"inline object with properties: {schema}")
            return "object", None
        if kind in SCALARS:
            return SCALARS[kind], schema.get("format")
        raise ValueError(f"unhandled schema: {schema}")


def build(defs: dict[str, Any]) -> dict[str, Any]:
    roots: dict[tuple[str, str], str] = {}
    by_gvk: dict[tuple[str, str], str] = {}
    for name, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            by_gvk.setdefault((api_version, gvk["kind"]), name)
    for key in ROOT_KINDS:
        roots[key] = by_gvk[key]
    roots[("v1", "List")] = LIST_TYPE

    conv = Converter(defs)
    conv.pending.extend(name for key, name in roots.items() if name != LIST_TYPE)
    conv.pending.append(META + "ListMeta")
    types: dict[str, dict[str, str]] = {LIST_TYPE: dict(sorted(LIST_FIELDS.items()))}
    required: dict[str, tuple[str, ...]] = {LIST_TYPE: ("items",)}
    formats: dict[str, dict[str, str]] = {}
    list_keys: dict[str, dict[str, tuple[str, ...]]] = {}
    while conv.pending:
        name = conv.pending.pop()
        if name in types:
            continue
        definition = defs[name]
        fields: dict[str, str] = {}
        for field, schema in sorted(definition.get("properties", {}).items()):
            word, fmt = conv.field_type(schema)
            fields[field] = word
            if fmt:
                formats.setdefault(name, {})[field] = fmt
            keys = schema.get("x-kubernetes-list-map-keys")
            if keys:
                list_keys.setdefault(name, {})[field] = tuple(keys)
        types[name] = fields
        if definition.get("required"):
            required[name] = tuple(sorted(definition["required"]))
    return {
        "roots": dict(sorted(roots.items())),
        "types": dict(sorted(types.items())),
        "required": dict(sorted(required.items())),
        "formats": dict(sorted(formats.items())),
        "list_keys": dict(sorted(list_keys.items())),
    }


def pack(items: list[str], indent: str, width: int = 120) -> list[str]:
    """Items joined by ", " into lines of at most ``width`` characters (an item longer than that stands alone)."""
    lines: list[str] = []
    line = ""
    for item in items:
        piece = item + ","
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            lines.append(indent + line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(indent + line)
    return lines


def literal(value: object) -> str:
    if isinstance(value, tuple):
        inner = ", ".join(json.dumps(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return json.dumps(value)


def nested(name: str, annotation: str, table: dict[str, dict[str, Any]]) -> list[str]:
    out = [f"{name}: {annotation} = {{"]
    for outer, inner in table.items():
        items = [f"{json.dumps(k)}: {literal(v)}" for k, v in inner.items()]
        one_line = f"    {json.dumps(outer)}: {{{', '.join(items)}}},"
        if len(one_line) <= 120:
            out.append(one_line)
        else:
            out.append(f"    {json.dumps(outer)}: {{")
            out.extend(pack(items, " " * 8))
            out.append("    },")
    out.append("}")
    return out


def split_source(source: str) -> list[str]:
    """The source text cut after ", " into pieces that fit a line; joined again they are the text."""
    parts = [p + ", " for p in source.split(", ")]
    parts[-1] = parts[-1][:-2]
    return parts


def render(table: dict[str, Any], source: str, version: str) -> str:
    out = [
        "# Generated by scripts/generate_schema.py; do not edit.",
        *(f"# {'Source: ' if i == 0 else '    '}{part.rstrip()}" for i, part in enumerate(split_source(source))),
        f'"""Kubernetes v{version} field table: every object type a workload, Secret, ConfigMap or List can hold.',
        "",
        "TYPES maps a type name to {field: field type}. A field type is a type name (a key of TYPES) or one of:",
        "``string``, ``integer`` (int32 or int64: see FORMATS), ``number``, ``boolean``, ``int-or-string``,",
        "``quantity``, ``object`` (free-form: RawExtension, FieldsV1), ``list[T]`` and ``map[T]`` (string keys).",
        "ROOTS maps (apiVersion, kind) to the type of a top-level object. REQUIRED lists the fields the OpenAPI",
        "schema marks required (a json tag without omitempty: the decoder does not enforce it, validation may).",
        "FORMATS gives the OpenAPI format of a scalar field, or of the scalars in a list or map field: int32,",
        "int64, double, byte (base64 text) or date-time (metav1.Time). LIST_MAP_KEYS gives the keys that",
        "identify an item of a list field (x-kubernetes-list-map-keys).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f"KUBERNETES_VERSION = {json.dumps(version)}",
        "SOURCE = (",
        *(f"    {json.dumps(part)}" for part in split_source(source)),
        ")",
        "",
        "ROOTS: dict[tuple[str, str], str] = {",
    ]
    out.extend(f"    {literal(key)}: {json.dumps(name)}," for key, name in table["roots"].items())
    out.append("}")
    out.append("")
    out.extend(nested("TYPES", "dict[str, dict[str, str]]", table["types"]))
    out.append("")
    out.append("REQUIRED: dict[str, tuple[str, ...]] = {")
    for name, fields in table["required"].items():
        line = f"    {json.dumps(name)}: {literal(fields)},"
        if len(line) <= 120:
            out.append(line)
        else:
            out.append(f"    {json.dumps(name)}: (")
            out.extend(pack([json.dumps(f) for f in fields], " " * 8))
            out.append("    ),")
    out.append("}")
    out.append("")
    out.extend(nested("FORMATS", "dict[str, dict[str, str]]", table["formats"]))
    out.append("")
    out.extend(nested("LIST_MAP_KEYS", "dict[str, dict[str, tuple[str, ...]]]", table["list_keys"]))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", default="1.35.0", help="Kubernetes version of the schema (default 1.35.0)")
    parser.add_argument("--definitions", type=Path, help="_definitions.json (default: kubernetes-validate's)")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parent.parent / "injector" / "core" / "schema_table.py"
    )
    args = parser.parse_args(argv)
    if args.definitions:
        path = args.definitions
        source = f"{path.name} (Kubernetes v{args.version} OpenAPI v2 as JSON schema)"
    else:
        from importlib.metadata import version as dist_version

        path = default_definitions(args.version)
        source = (
            f"kubernetes-validate {dist_version('kubernetes-validate')} (PyPI), "
            f"kubernetes-json-schema/v{args.version}-local/_definitions.json, "
            f"from Kubernetes v{args.version} api/openapi-spec/swagger.json"
        )
    defs = json.loads(path.read_text(encoding="utf-8"))["$defs"]
    text = render(build(defs), source, args.version)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {len(text)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
