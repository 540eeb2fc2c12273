"""Render a resolved environment as an env-file for the program that will read it.

Each format is written so that its real consumer reads back exactly the bytes resolved, or the
render fails naming the variable (never the value):

- ``docker``: ``docker run --env-file``: ``NAME=VALUE`` lines taken literally, so a value cannot
  hold a newline or end in a carriage return, and must be UTF-8 (docker's kvfile parser).
- ``dotenv``: python-dotenv: double-quoted with backslash escapes; values containing ``${...}``
  are refused because python-dotenv interpolates them by default.
- ``shell``: POSIX sh / bash ``. FILE``: single-quoted, safe for any byte but NUL.
- ``json``: an object of name to string; values must be UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from injector.core import names
from injector.errors import OutputError

FORMATS = ("docker", "dotenv", "shell", "json")
"""The env-file formats, each named after the program that reads it."""

DOCKER_MAX_LINE = 64 * 1024 - 1
"""bufio.Scanner's default token limit, which docker's env-file reader keeps."""

_DOTENV_INTERPOLATION = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")
_DOTENV_UNQUOTED_KEY = re.compile(r"[^=#\s'][^=#\s]*\Z")


_NUL = "value contains a NUL byte, which no environment can hold"


def _refuse(fmt: str, name: str, why: str) -> OutputError:
    return OutputError(f"cannot be written as {fmt}: {why}", obj=f"env {name}")


def _refuse_nul(entries: Sequence[tuple[str, bytes]], fmt: str | None) -> None:
    for name, value in entries:
        if b"\0" in value:
            raise _refuse(fmt, name, _NUL) if fmt else OutputError(_NUL, obj=f"env {name}")


def as_environ(entries: Sequence[tuple[str, bytes]]) -> dict[bytes, bytes]:
    """The entries as a process environment (``execve``'s), refusing values no environment can hold."""
    _refuse_nul(entries, None)
    return {name.encode("ascii"): value for name, value in entries}


def _text(fmt: str, name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(fmt, name, "value is not valid UTF-8") from None


def render_env(entries: Sequence[tuple[str, bytes]], fmt: str) -> bytes:
    """Render ``entries`` (name, value) in ``fmt``; raises OutputError before writing anything."""
    _refuse_nul(entries, fmt)
    if fmt == "docker":
        return b"".join(_docker_line(name, value) for name, value in entries)
    if fmt == "dotenv":
        return "".join(_dotenv_line(name, value) for name, value in entries).encode("utf-8")
    if fmt == "shell":
        return b"".join(_shell_line(name, value) for name, value in entries)
    if fmt == "json":
        document = {name: _text(fmt, name, value) for name, value in entries}
        return json.dumps(document, indent=2).encode("ascii") + b"\n"
    raise OutputError(f"unknown env format {fmt!r} (choose from {', '.join(FORMATS)})")


def _docker_line(name: str, value: bytes) -> bytes:
    if not name or any(ch in name for ch in " \t") or name.startswith("#"):
        raise _refuse("docker", name, "name must be non-empty, without whitespace, not starting with '#'")
    _text("docker", name, value)
    if b"\n" in value:
        raise _refuse("docker", name, "value contains a newline")
    if value.endswith(b"\r"):
        raise _refuse("docker", name, "value ends with a carriage return")
    line = name.encode("ascii") + b"=" + value
    if len(line) > DOCKER_MAX_LINE:
        raise _refuse("docker", name, f"line is longer than docker's limit of {DOCKER_MAX_LINE} bytes")
    return line + b"\n"


def _dotenv_line(name: str, value: bytes) -> str:
    text = _text("dotenv", name, value)
    if _DOTENV_INTERPOLATION.search(text):
        raise _refuse("dotenv", name, "value contains '${...}', which python-dotenv would interpolate")
    if _DOTENV_UNQUOTED_KEY.match(name):
        key = name
    elif "'" not in name:
        key = f"'{name}'"
    else:
        raise _refuse("dotenv", name, "name contains a quote and characters that need quoting")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'{key}="{escaped}"\n'


def _shell_line(name: str, value: bytes) -> bytes:
    if not names.is_shell_name(name):
        raise _refuse("shell", name, "name is not a valid shell variable name")
    return b"export " + name.encode("ascii") + b"='" + value.replace(b"'", b"'\\''") + b"'\n"
