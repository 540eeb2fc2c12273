"""Where a problem is: field paths (``spec.containers[0].env[3]``) and the one collector of problems."""

from __future__ import annotations

from typing import NamedTuple

from injector.errors import InjectorError, InjectorWarning, ManifestError, Message


class MapKey(NamedTuple):
    """A key of a map field, shown in brackets: ``data[token]``."""

    key: str


class FieldPath(NamedTuple):
    """A path into a document: field names, list indexes and map keys."""

    parts: tuple[str | int | MapKey, ...] = ()

    @classmethod
    def of(cls, *parts: str | int) -> FieldPath:
        return cls(tuple(parts))

    def __truediv__(self, part: str | int) -> FieldPath:
        return FieldPath((*self.parts, part))

    def key(self, key: str) -> FieldPath:
        return FieldPath((*self.parts, MapKey(key)))

    def __str__(self) -> str:
        text = []
        for part in self.parts:
            if isinstance(part, int):
                text.append(f"[{part}]")
            elif isinstance(part, MapKey):
                text.append(f"[{part.key}]")
            else:
                text.append(f".{part}" if text else part)
        return "".join(text)

    def __bool__(self) -> bool:
        return bool(self.parts)


ROOT = FieldPath()

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def too_long(limit: int) -> str:
    """field.TooLong's message: the value itself is never shown."""
    return f"Too long: may not be more than {limit} bytes"


def quoted(value: str) -> str:
    """``value`` as Go's ``%q`` writes it, as the API server quotes a bad value: ``"ghost"``."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


class Problems:
    """Every problem found in one object (``source``, ``obj``), each at its field path."""

    def __init__(self, source: str, obj: str) -> None:
        self.source = source
        self.obj = obj
        self.errors: list[InjectorError] = []
        self.warnings: list[InjectorWarning] = []

    def error(self, message: Message, at: FieldPath = ROOT, kind: type[InjectorError] = ManifestError) -> None:
        self.errors.append(kind(message, source=self.source, obj=self.obj, field=at))

    def warn(self, message: Message, at: FieldPath = ROOT) -> None:
        self.warnings.append(InjectorWarning(message, source=self.source, obj=self.obj, field=at))
