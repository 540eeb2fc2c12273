"""Where results go: stdout, a FIFO or an inherited descriptor, never a regular file (I/O shell)."""

from __future__ import annotations

import os
import stat
import sys

from injector.errors import Setting, UsageError
from injector.shell.report import Reporter


def open_output(path: str | None, reporter: Reporter, *, values: bool = True) -> int:
    """The descriptor to write results to. Regular files are refused: they would be plaintext on disk.

    Standard output is the caller's choice; when it is a regular file and the output holds
    ``values``, a warning says so.
    """
    if path is None:
        fd = sys.stdout.fileno()
        try:
            if values and stat.S_ISREG(os.fstat(fd).st_mode):
                reporter.warning("stdout is a regular file: secret values are being written to disk")
        except OSError:
            pass
        return fd
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError(
            (Setting("output"), " must name an existing FIFO, character device or /dev/fd/N"), source=path
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot use as output: {exc.strerror}", source=path) from None
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        raise UsageError("refusing to write secrets to a regular file; use stdout, a FIFO or /dev/fd/N", source=path)
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"cannot open for writing: {exc.strerror}", source=path) from None


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe may take less than asked at a time)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
