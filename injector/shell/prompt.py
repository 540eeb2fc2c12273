"""Questions on the terminal: values without echo (twice), names with echo, yes/no (I/O shell).

Everything goes through ``/dev/tty``, never stdin or stdout, which may carry a manifest or a value;
without a terminal there is nobody to ask, and the caller must say which option was missing.
"""

from __future__ import annotations

import os
import sys
import termios

from injector.core.manifest import MAX_MANIFEST_BYTES
from injector.errors import SourceError, UsageError


class Terminal:
    """The controlling terminal, open for reading and writing (unbuffered: nothing of an answer lingers
    in a buffer of this process longer than needed)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @classmethod
    def open(cls) -> Terminal | None:
        """The controlling terminal, or None when there is none (a pipeline, CI, a service)."""
        try:
            return cls(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC))
        except OSError:
            return None

    def close(self) -> None:
        os.close(self._fd)

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self._fd, data) :]

    def say(self, text: str) -> None:
        self._write(text + "\n")

    def _read_line(self) -> str:
        line = bytearray()
        while True:
            char = os.read(self._fd, 1)
            if not char:
                raise KeyboardInterrupt  # end of input at a prompt: the user gave up
            if char == b"\n":
                return line.decode("utf-8", "replace").rstrip("\r")
            line += char

    def ask(self, label: str) -> str:
        """A name, shown as typed."""
        self._write(f"{label}: ")
        return self._read_line().strip()

    def ask_secret(self, label: str, *, twice: bool = True) -> bytes:
        """A value, not shown; asked again to catch a typo when ``twice``."""
        while True:
            first = self._hidden(f"{label}: ")
            if not twice or first == self._hidden(f"{label} (again): "):
                return first.encode("utf-8")
            self.say("the two entries differ; again")

    def _hidden(self, prompt: str) -> str:
        old = termios.tcgetattr(self._fd)
        new = termios.tcgetattr(self._fd)
        new[3] &= ~termios.ECHO
        try:
            # Echo off before the prompt shows (as getpass does): nothing typed after it is echoed.
            termios.tcsetattr(self._fd, termios.TCSAFLUSH, new)
            self._write(prompt)
            return self._read_line()
        finally:
            termios.tcsetattr(self._fd, termios.TCSAFLUSH, old)
            self._write("\n")

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
