"""Streaming redaction of secret values in a byte stream (pure).

Values are replaced by ``<redacted:NAME>`` even when a value arrives split across several reads:
only a tail that could still be the start of a value is held back, so ordinary output (prompts
included) flows through at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class Redactor:
    """Feed chunks in, get redacted chunks out; call ``flush`` at end of stream."""

    def __init__(self, values: Mapping[bytes, str]) -> None:
        ordered = sorted((value for value in values if value), key=len, reverse=True)
        self._names = {value: f"<redacted:{values[value]}>".encode() for value in ordered}
        self._pattern = re.compile(b"|".join(re.escape(value) for value in ordered)) if ordered else None
        self._longest = len(ordered[0]) if ordered else 0
        self._first_bytes = frozenset(value[0] for value in ordered)
        self._values = ordered
        self._value_names = [values[value] for value in ordered]
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._pattern is None:
            return chunk
        buffer = self._pending + chunk
        # Matches that start before `decided` are final: at least `longest` bytes follow them,
        # so no longer value could still match there.
        decided = max(0, len(buffer) - self._longest + 1)
        out = bytearray()
        position = 0
        for match in self._pattern.finditer(buffer):
            if match.start() >= decided:
                break
            out += buffer[position : match.start()]
            out += self._names[match.group()]
            position = match.end()
        hold = max(position, self._held_tail_start(buffer, max(position, decided)))
        out += buffer[position:hold]
        self._pending = buffer[hold:]
        return bytes(out)

    def _held_tail_start(self, buffer: bytes, start: int) -> int:
        """Earliest index >= start from which the rest of ``buffer`` could begin a value."""
        for index in range(start, len(buffer)):
            if buffer[index] in self._first_bytes:
                tail = buffer[index:]
                if any(value.startswith(tail) or tail.startswith(value) for value in self._values):
                    return index
        return len(buffer)

    def extended(self, values: Mapping[bytes, str]) -> Redactor:
        """A redactor for these values too, carrying on from where this one is in the stream."""
        merged = {value: name for value, name in zip(self._values, self._value_names, strict=True)}
        for value, name in values.items():
            merged.setdefault(value, name)
        successor = Redactor(merged)
        successor._pending = self._pending
        return successor

    def flush(self) -> bytes:
        buffer, self._pending = self._pending, b""
        if self._pattern is None:
            return buffer
        return self._pattern.sub(lambda match: self._names[match.group()], buffer)
