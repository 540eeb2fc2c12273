"""``$EDITOR`` on text that must not touch the disk: the editor gets a memfd as ``/proc/self/fd/N`` (I/O shell).

Why a memfd and not a private tmpfs: it needs no privilege (a tmpfs needs a mount namespace, so root
or a user namespace in which the editor would run as a fake root), it has no name in any file system,
and it fails safe: an editor can only write into the memfd itself, since the "directory" of
``/proc/self/fd/N`` accepts no new file, so a save that writes a temporary sibling and renames it
over the original fails instead of leaving a copy. vim and nano write in place and work. What an
editor writes elsewhere (swap, backup, undo, history files under $HOME) is turned off for the known
ones; any other editor is warned about. Its memory is the editor's: the editor runs with core dumps
off (RLIMIT_CORE 0, inherited), as injector does; nothing is left to clean up after a signal,
since a memfd vanishes with its last descriptor.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from types import FrameType

from injector.core.manifest import MAX_MANIFEST_BYTES
from injector.errors import CommandError, SourceError
from injector.shell.process import cannot_execute, exit_status
from injector.shell.report import Reporter

VIM_SETTINGS = "set nobackup nowritebackup noundofile noswapfile"
VIMS = frozenset(("vi", "vim", "vim.basic", "vim.tiny", "vim.nox", "vim.gtk3", "nvim", "rvim"))
NANOS = frozenset(("nano", "rnano"))


def editor_argv(editor: Sequence[str], path: str) -> tuple[list[str], bool]:
    """The command line that opens ``path`` in ``editor``, with its swap, backup, undo and history
    files off when it is a known one; and whether it is known."""
    program, given = editor[0], list(editor[1:])
    name = os.path.basename(program)
    if name in VIMS:
        # -n: no swap file; -i NONE: no viminfo/shada; the settings before and after any vimrc (and
        # before the user's own -c commands).
        ours = ["-n", "-i", "NONE", "--cmd", VIM_SETTINGS, "-c", VIM_SETTINGS, "-c", "set ft=yaml"]
        return [program, *ours, *given, path], True
    if name in NANOS:
        # --ignorercfiles: no nanorc can turn on backups (-B), history or position logs, or locking.
        return [program, "--ignorercfiles", *given, path], True
    return [program, *given, path], False


class _InterruptedError(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def edit_in_memory(text: bytes, editor: Sequence[str], reporter: Reporter, *, name: str = "secret.yaml") -> bytes:
    """``text`` as the user left it in ``editor``. Raises CommandError when the editor cannot run or
    fails; SIGTERM/SIGHUP end the editor and injector (128+N), SIGINT is the editor's to handle."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        os.write(fd, text)
        argv, known = editor_argv(editor, f"/proc/self/fd/{fd}")
        if not known:
            reporter.warning(
                f"{os.path.basename(editor[0])} is not an editor injector knows how to keep from writing swap, "
                "backup or undo files: check its settings, or set EDITOR=vim or nano"
            )
        child: subprocess.Popen[bytes] | None = None

        def stop(signum: int, frame: FrameType | None) -> None:
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)
            raise _InterruptedError(signum)

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
        # Ctrl-C reaches the editor too (same process group): it is the editor's to handle.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda signum, frame: None)
        try:
            try:
                child = subprocess.Popen(argv, pass_fds=(fd,))
            except OSError as exc:
                raise cannot_execute(editor[0], exc) from None
            status = child.wait()
        except _InterruptedError as interrupted:
            if child is not None:
                child.wait()
            raise CommandError(
                f"stopped by signal {interrupted.signum}: nothing was changed",
                exit_code=128 + interrupted.signum,
                source=editor[0],
            ) from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if status != 0:
            raise CommandError(
                f"the editor exited with status {exit_status(status)}: nothing was changed",
                exit_code=1,
                source=editor[0],
            )
        size = os.fstat(fd).st_size
        if size > MAX_MANIFEST_BYTES:
            raise SourceError(f"the edited text is larger than {MAX_MANIFEST_BYTES} bytes", source=editor[0])
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)
