"""Questions on the terminal: values without echo (twice), names with echo, yes/no (I/O shell).

Everything goes through ``/dev/tty``, never stdin or stdout, which may carry a manifest or a value;
without a terminal there is nobody to ask, and the caller must say which option was missing.
"""

from __future__ import annotations

import os
import sys
import termios
from typing import TextIO

from injector.core.manifest import MAX_MANIFEST_BYTES
from injector.errors import SourceError, UsageError


class Terminal:
    """The controlling terminal, open for reading and writing."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    @classmethod
    def open(cls) -> Terminal | None:
        """The controlling terminal, or None when there is none (a pipeline, CI, a service)."""
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            return None
        return cls(open(fd, "r+", encoding="utf-8", errors="replace", buffering=1))

    def close(self) -> None:
        self._stream.close()

    def say(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()

    def _read_line(self) -> str:
        line = self._stream.readline()
        if not line:
            raise KeyboardInterrupt  # end of input at a prompt: the user gave up
        return line.rstrip("\n").rstrip("\r")

    def ask(self, label: str) -> str:
        """A name, shown as typed."""
        self._stream.write(f"{label}: ")
        self._stream.flush()
        return self._read_line().strip()

    def ask_secret(self, label: str, *, twice: bool = True) -> bytes:
        """A value, not shown; asked again to catch a typo when ``twice``."""
        while True:
            first = self._hidden(f"{label}: ")
            if not twice or first == self._hidden(f"{label} (again): "):
                return first.encode("utf-8")
            self.say("the two entries differ; again")

    def _hidden(self, prompt: str) -> str:
        fd = self._stream.fileno()
        self._stream.write(prompt)
        self._stream.flush()
        old = termios.tcgetattr(fd)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        try:
            termios.tcsetattr(fd, termios.TCSAFLUSH, new)
            return self._read_line()
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            self._stream.write("\n")
            self._stream.flush()

    def confirm(self, question: str) -> bool:
        """``question [y/N]``: only y or yes is a yes."""
        return self.ask(f"{question} [y/N]").lower() in ("y", "yes")


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_stdin(what: str) -> bytes:
    """All of standard input (a value piped in); refused when it is a terminal (use the prompt)."""
    if sys.stdin.isatty():
        raise UsageError(
            f"{what}: standard input is a terminal; pipe the value in, or leave the option out to be asked"
        )
    try:
        data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read standard input: {exc.strerror}", source=what) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise UsageError(f"{what}: standard input is larger than {MAX_MANIFEST_BYTES} bytes")
    return data
