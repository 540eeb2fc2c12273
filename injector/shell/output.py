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


def plaintext_stdout() -> int:
    """Standard output, if a manifest with values may go there: a pipe, FIFO or socket (or a device
    such as /dev/null), never a regular file (it would be plaintext on disk) nor a terminal."""
    fd = sys.stdout.fileno()
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        raise UsageError(f"cannot use standard output: {exc.strerror}") from None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        raise UsageError(
            "refusing to write a Secret's values to a regular file (stdout); use -o FILE.age with "
            "--age-recipient, --kube, or a pipe"
        )
    if os.isatty(fd):
        raise UsageError(
            "refusing to show a Secret's values on the terminal; use -o FILE.age with --age-recipient, "
            "--kube, a pipe, or secret get for fingerprints"
        )
    return fd


def write_file_atomically(path: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` (ciphertext: never call this with plaintext) as ``path``: a temporary file beside it,
    synced, then moved into place, so that a reader sees the old file or the new one. Without
    ``replace``, an existing ``path`` is left alone (FileExistsError)."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        write_all(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if path exists, where a rename would replace it
            os.unlink(temporary)
        temporary = ""
    finally:
        if fd >= 0:
            os.close(fd)
        if temporary:
            os.unlink(temporary)
