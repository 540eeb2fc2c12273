"""``$(VAR)`` expansion, a byte-for-byte port of Kubernetes' third_party/forked/golang/expansion.

Works on bytes like the Go original. What follows a ``$`` that starts no reference is read as one
whole UTF-8 character, as the kubelet does from 1.34.4 and 1.35.1 on (kubernetes/kubernetes#136325;
an invalid byte becomes U+FFFD); ``whole_runes=False`` reproduces older kubelets, which took one
byte and re-encoded it as a rune (``$é`` became ``$`` + mojibake).
"""

from __future__ import annotations

from collections.abc import Callable

_DOLLAR = 0x24
_OPEN = 0x28
_CLOSE = 0x29


_RUNE_ERROR = "\ufffd".encode()


def _rune_at(text: bytes, start: int) -> tuple[bytes, int]:
    """utf8.DecodeRuneInString: the character at ``start`` and its size; an invalid byte is U+FFFD, size 1."""
    for size in range(1, 5):
        try:
            decoded = text[start : start + size].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(decoded) == 1:
            return text[start : start + size], size
    return _RUNE_ERROR, 1


def expand(text: bytes, lookup: Callable[[bytes], bytes | None], *, whole_runes: bool = True) -> bytes:
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
            elif whole_runes:
                rune, size = _rune_at(text, cursor + 1)
                out.append(_DOLLAR)
                out += rune
                advance = size
            else:
                # Before 1.34.4: Go wrote string(input[cursor+1]), one byte converted to a rune.
                out.append(_DOLLAR)
                out += chr(following).encode("utf-8")
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out += text[checkpoint:]
    return bytes(out)
