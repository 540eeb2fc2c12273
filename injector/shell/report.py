"""The one reporter: everything injector tells its user on stderr goes through here.

Built once by the command line, as text lines (``injector: ...``) or, for the agent, JSON objects
(one per line, with a ``time``), and passed down. Events are data (``event`` and named fields), and
a redaction step runs before anything is written: a field that is not a name, a number or a
problem (``bytes``, a resolved entry, a credential...) is written as ``[secure]``. So a value that
reaches a report by mistake still never reaches the terminal or a log.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from injector.errors import InjectorError, InjectorWarning, Problem, Setting

REDACTED = "[secure]"


def redact(value: object) -> object:
    """``value`` if it is a name, number or problem (or a list of them); ``[secure]`` otherwise."""
    if isinstance(value, bool | int | float | str | None):
        return value
    if isinstance(value, Problem):
        return value.render()
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return REDACTED


def _plain(setting: Setting) -> str:
    return setting.name


class Reporter:
    """Writes reports to ``stream`` (stderr): text lines, or JSON objects with ``json_lines``.

    ``spell`` writes a setting the way the user gives it (the command line's ``--container``).
    """

    def __init__(
        self,
        *,
        json_lines: bool = False,
        spell: Callable[[Setting], str] = _plain,
        stream: TextIO | None = None,
        prog: str = "injector",
    ) -> None:
        self.json_lines = json_lines
        self.spell = spell
        self._stream = stream
        self._prog = prog

    def describe(self, problem: Problem) -> str:
        """``problem`` as one line, settings spelled for the user."""
        return problem.render(self.spell)

    def say(self, message: str) -> None:
        """A sentence for the user (``injector: serving /mnt``)."""
        if self.json_lines:
            self._write_json({"event": "message", "message": message})
        else:
            self._write_line(message)

    def warning(self, warning: InjectorWarning | str) -> None:
        text = warning if isinstance(warning, str) else self.describe(warning)
        if self.json_lines:
            self._write_json({"event": "warning", "message": text})
        else:
            self._write_line(f"warning: {text}")

    def error(self, error: InjectorError) -> None:
        if self.json_lines:
            self._write_json({"event": "error", "message": self.describe(error), "exit_code": error.exit_code})
        else:
            self._write_line(self.describe(error))

    def event(self, event: str, **fields: object) -> None:
        """Something that happened, as named fields: ``event=api-error code=403 ...``."""
        safe = {"event": event, **{key: redact(value) for key, value in fields.items()}}
        if self.json_lines:
            self._write_json(safe)
        else:
            self._write_line(" ".join(f"{key}={value}" for key, value in safe.items()))

    def _write_line(self, text: str) -> None:
        self._write(f"{self._prog}: {text}\n")

    def _write_json(self, fields: dict[str, object]) -> None:
        self._write(json.dumps({"time": round(time.time(), 3), **fields}) + "\n")

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(text)
        stream.flush()
