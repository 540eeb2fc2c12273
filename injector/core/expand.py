"""``$(VAR)`` expansion, a byte-for-byte port of Kubernetes' third_party/forked/golang/expansion.

Works on bytes like the Go original, so that even its quirk with a non-ASCII byte after ``$``
(the byte is re-encoded as a rune) is reproduced.
"""

from __future__ import annotations

from collections.abc import Callable

_DOLLAR = 0x24
_OPEN = 0x28
_CLOSE = 0x29


def expand(text: bytes, lookup: Callable[[bytes], bytes | None]) -> bytes:
    """Expand ``$(NAME)`` references in ``text``; undefined names are left as written.

    ``$$`` is an escape for ``$``; any other ``$x`` is kept; an unterminated ``$(`` is kept and
    scanning resumes after it. Expansion is single-pass: replacements are never rescanned.
    """
    if b"$" not in text:
        return text
    out = bytearray()
    checkpoint = 0
    cursor = 0
    length = len(text)
    while cursor < length:
        if text[cursor] == _DOLLAR and cursor + 1 < length:
            out += text[checkpoint:cursor]
            following = text[cursor + 1]
            if following == _DOLLAR:
                out.append(_DOLLAR)
                advance = 1
            elif following == _OPEN:
                close = text.find(b")", cursor + 2)
                if close == -1:
                    out += b"$("
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out += value if value is not None else b"$(" + name + b")"
                    advance = close - cursor
            else:
                # Go writes string(input[cursor+1]): one byte converted to a rune.
                out.append(_DOLLAR)
                out += chr(following).encode("utf-8")
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out += text[checkpoint:]
    return bytes(out)
