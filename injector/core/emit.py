"""Documents written back as YAML or JSON that kubectl reads as exactly the same objects (pure).

PyYAML writes a string unquoted when YAML 1.1 (its reading) takes it for a string, but kubectl reads
YAML as go-yaml does, which takes more plain scalars for numbers (``0o400``, ``1e3``...): every string
that go-yaml would not read back as that string is quoted. Keys keep the order they have, so output is
as deterministic as the objects given; multi-line strings are written as literal blocks.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from injector.core.manifest import resolve_plain_scalar

_STR = "tag:yaml.org,2002:str"
_BASE: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _KubectlDumper(_BASE):  # type: ignore[misc]
    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR and value and resolve_plain_scalar(value) != value:
            return "tag:injector,2026:not-a-plain-string"  # differs from str: the emitter quotes it
        return tag


def _represent_str(dumper: Any, value: str) -> Any:
    # A literal block for text of several lines; one ending in blank lines keeps quotes (a block would
    # need the "keep" indicator, which leaves the document open-ended).
    style = "|" if "\n" in value and not value.endswith("\n\n") and value.strip("\n") else None
    return dumper.represent_scalar(_STR, value, style=style)


_KubectlDumper.add_representer(str, _represent_str)


def dump_yaml(body: object) -> str:
    """``body`` as one YAML document (no ``---``), keys in their order."""
    return str(
        yaml.dump(
            body, Dumper=_KubectlDumper, sort_keys=False, allow_unicode=True, width=1 << 30, default_flow_style=False
        )
    )


def dump_json(body: object) -> str:
    """``body`` as indented JSON, keys in their order."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
