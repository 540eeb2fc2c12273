"""RFC 6902 JSON Patch: the operations that turn one JSON document into another (pure).

For an admission webhook's answer: objects are compared key by key, lists of the same length element by
element; a list whose length changed is replaced whole (the API server applies the patch to the very object
it sent, so a whole list is as exact as an element-wise edit, and simpler to read).
"""

from __future__ import annotations

from typing import Any

Operation = dict[str, Any]


def pointer(parts: tuple[str | int, ...]) -> str:
    """A JSON Pointer (RFC 6901): ``~`` and ``/`` in a key are escaped as ``~0`` and ``~1``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def diff(old: object, new: object) -> list[Operation]:
    """The operations that make ``old`` into ``new``; [] when they are equal."""
    operations: list[Operation] = []
    _diff(old, new, (), operations)
    return operations


def _same(a: object, b: object) -> bool:
    # 1 and True are equal in Python, not in JSON.
    return type(a) is type(b) and a == b


def _diff(old: object, new: object, at: tuple[str | int, ...], operations: list[Operation]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key not in new:
                operations.append({"op": "remove", "path": pointer((*at, key))})
        for key, value in new.items():
            if key not in old:
                operations.append({"op": "add", "path": pointer((*at, key)), "value": value})
            else:
                _diff(old[key], value, (*at, key), operations)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            _diff(before, after, (*at, index), operations)
    elif not _same(old, new):
        operations.append({"op": "replace", "path": pointer(at), "value": new})
