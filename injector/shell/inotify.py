"""Wait for changes to manifest files with inotify (no polling), under trio.

A thin ctypes binding to inotify(7): the stdlib has none, and the few calls needed do not
justify a dependency. Directories are watched (not files), so editors' rename-over and the
kubelet's ``..data`` symlink swap are both seen.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Callable, Iterable, Iterator

import trio

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)

_libc = ctypes.CDLL(None, use_errno=True)


def directories_to_watch(paths: Iterable[str]) -> set[str]:
    """Every directory holding one of ``paths``, and every directory below a directory given."""
    found: set[str] = set()
    for path in paths:
        if path == "-":
            continue
        if os.path.isdir(path):
            for directory, subdirs, _ in os.walk(path):
                found.add(directory)
                subdirs.sort()
        else:
            found.add(os.path.dirname(os.path.abspath(path)) or ".")
    return found


IN_IGNORED = 0x8000
IN_Q_OVERFLOW = 0x4000
IN_ISDIR = 0x40000000
ALWAYS_RELEVANT = IN_ISDIR | IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF
"""Events that matter whatever their name: directories, lost watches, and a queue that overflowed."""

_EVENT = struct.Struct("iIII")


def events(buffer: bytes) -> Iterator[tuple[int, str]]:
    """(mask, name) of each inotify_event in ``buffer``."""
    offset = 0
    while offset + _EVENT.size <= len(buffer):
        _, mask, _, length = _EVENT.unpack_from(buffer, offset)
        name = buffer[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
        yield mask, os.fsdecode(name)
        offset += _EVENT.size + length


class Watcher:
    """An inotify instance watching the directories of some paths; use as a context manager.

    ``relevant(name)`` says which names in those directories matter: other files that come and go
    there (a log, an editor's swap file) wake nobody.
    """

    def __init__(self, paths: Iterable[str], relevant: Callable[[str], bool] = lambda name: True) -> None:
        self._paths = list(paths)
        self._relevant = relevant
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"inotify_init1: {os.strerror(error)}")
        self._fd = fd
        self.rescan()

    def rescan(self) -> None:
        """(Re-)add watches: new subdirectories appear after a change."""
        for directory in directories_to_watch(self._paths):
            _libc.inotify_add_watch(self._fd, os.fsencode(directory), WATCH_MASK)

    async def wait_for_change(self, settle: float = 0.01, at_most: float = 0.05) -> None:
        """Return after a relevant change: once ``settle`` seconds pass without further events, or
        ``at_most`` seconds after the first one, so constant churn cannot postpone a reload forever."""
        while not await self._read_events():
            pass
        with trio.move_on_after(at_most):
            while True:
                with trio.move_on_after(settle) as quiet:
                    await self._read_events()
                if quiet.cancelled_caught:
                    break
        self.rescan()

    async def _read_events(self) -> bool:
        """Wait for events and read them all; True if one of them is relevant."""
        relevant = False
        await trio.lowlevel.wait_readable(self._fd)
        try:
            while True:
                buffer = os.read(self._fd, 65536)
                if not buffer:
                    break
                relevant = relevant or any(
                    mask & ALWAYS_RELEVANT or self._relevant(name) for mask, name in events(buffer)
                )
        except BlockingIOError:
            pass
        return relevant

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
