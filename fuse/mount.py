"""Mount a Filesystem, serve it until cancelled, unmount; keep it current; recover stale mounts.

pyfuse3 keeps its session in module globals (one mount per process): ``serve`` is the one owner
of that state, and nothing else in the program touches pyfuse3's session functions. No call on the
mount is ever made from the thread that runs the event loop: that thread answers the kernel, and
would wait for itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import select
import shutil
import stat
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import pyfuse3
import trio

from fuse.filesystem import Filesystem, Notice
from fuse.swap import SWITCH, Step, run_steps
from fuse.tree import Invalidations, Layout


class MountError(Exception):
    """The mount cannot be made; the message says what is missing and how to fix it."""


FUSE_DEVICE = "/dev/fuse"


def fuse_unavailable() -> str | None:
    """Why this process cannot mount FUSE here, told before libfuse tries (its messages are terse)."""
    if not os.path.exists(FUSE_DEVICE):
        return (
            f"{FUSE_DEVICE} does not exist: FUSE is not available here (load the kernel module with "
            "`modprobe fuse`; in a container, pass the device: --device /dev/fuse)"
        )
    if os.geteuid() == 0:
        return None
    fusermount = shutil.which("fusermount3")
    if fusermount is None:
        return "fusermount3 is not installed, and mounting without root needs it (Debian/Ubuntu package fuse3)"
    if not os.stat(fusermount).st_mode & stat.S_ISUID:
        return f"{fusermount} is not setuid root, so it cannot mount for a user (reinstall fuse3, or run as root)"
    if not os.access(FUSE_DEVICE, os.R_OK | os.W_OK):
        return (
            f"cannot open {FUSE_DEVICE}: permission denied (mounting without root needs it readable and "
            "writable by you, mode 0666 as distributions ship it; or run as root)"
        )
    return None


_DESCRIPTOR = re.compile(r"/dev/fd/([0-9]+)")
FUSE_DEVICE_NUMBER = os.makedev(10, 229)


def descriptor_of(mountpoint: str) -> int | None:
    """The descriptor named by a ``/dev/fd/N`` mountpoint (libfuse's own form), else None."""
    match = _DESCRIPTOR.fullmatch(mountpoint)
    return int(match.group(1)) if match else None


def check_descriptor(mountpoint: str) -> None:
    """A ``/dev/fd/N`` mountpoint must be an open ``/dev/fuse`` descriptor (mounted by whoever
    opened it, with ``fd=N``): said in one line before libfuse tries."""
    descriptor = descriptor_of(mountpoint)
    if descriptor is None:
        return
    try:
        status = os.fstat(descriptor)
    except OSError:
        raise MountError(
            f"{mountpoint}: no such open descriptor (the component that opens /dev/fuse and mounts it "
            "with fd=N must pass it to this process)"
        ) from None
    if not stat.S_ISCHR(status.st_mode) or status.st_rdev != FUSE_DEVICE_NUMBER:
        raise MountError(f"{mountpoint}: not a /dev/fuse descriptor")
    # The kernel answers POLLERR on a /dev/fuse descriptor no mount is attached to yet.
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    if any(events & select.POLLERR for _, events in poller.poll(0)):
        raise MountError(
            f"{mountpoint}: this /dev/fuse descriptor is not mounted (whoever opened it must mount it "
            "first, with fd=N, before handing it over)"
        )


def _init_session(fs: Filesystem, mountpoint: str, options: set[str]) -> None:
    """pyfuse3.init, with what libfuse (and fusermount3) print on failure turned into one MountError.

    Their messages go to file descriptor 2 from C; while mounting, that descriptor is a pipe.
    """
    reason = fuse_unavailable() if descriptor_of(mountpoint) is None else None
    if reason is not None:
        raise MountError(f"{mountpoint}: cannot mount: {reason}")
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    try:
        os.dup2(write_end, 2)
        try:
            pyfuse3.init(fs, mountpoint, options)
        except RuntimeError:
            failed = True
        else:
            failed = False
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write_end)
    with os.fdopen(read_end, "rb") as said:
        told = said.read().decode("utf-8", "replace")
    if failed:
        lines = [line.strip() for line in told.splitlines() if line.strip()]
        raise MountError(f"{mountpoint}: cannot mount: {'; '.join(lines) or 'libfuse could not mount'}")
    if told:
        os.write(2, told.encode())


def prepare_mountpoint(path: str) -> str | None:
    """Check ``path`` is an empty directory; recover a mount left by a crashed instance.

    Returns a message when a stale mount was recovered. Raises MountError otherwise.
    """
    recovered = None
    try:
        # listdir, not stat: the kernel may answer stat from its cache for a dead FUSE mount.
        os.listdir(path)
    except FileNotFoundError:
        raise MountError(f"{path}: mountpoint does not exist") from None
    except NotADirectoryError:
        raise MountError(f"{path}: mountpoint is not a directory") from None
    except OSError as exc:
        if exc.errno != errno.ENOTCONN:
            raise MountError(f"{path}: cannot use as mountpoint: {exc.strerror}") from None
        _lazy_unmount(path)
        try:
            os.listdir(path)
        except OSError:
            raise MountError(f"{path}: a stale FUSE mount is left there and could not be removed") from None
        recovered = f"{path}: recovered a stale mount left by a crashed instance (transport endpoint not connected)"
    if not os.path.isdir(path):
        raise MountError(f"{path}: mountpoint is not a directory")
    if os.path.ismount(path) and recovered is None:
        raise MountError(f"{path}: something is already mounted there")
    if os.listdir(path):
        raise MountError(f"{path}: mountpoint is not empty")
    return recovered


def _lazy_unmount(path: str) -> None:
    for command in (["fusermount3", "-u", "-z", path], ["umount", "-l", path]):
        if shutil.which(command[0]) and subprocess.run(command, capture_output=True, check=False).returncode == 0:
            return


def mount_options(*, allow_other: bool, fsname: str) -> set[str]:
    # Not "ro": the kernel would then refuse the filesystem's own writer. Others are refused by
    # the read-only view (and by the filesystem itself: EROFS for every call but its writer's).
    options = {f"fsname={fsname}", "subtype=injector", "noatime", "nodev", "nosuid", "noexec"}
    if allow_other:
        # Others may enter: let the kernel check modes and owners, as on any filesystem.
        options |= {"allow_other", "default_permissions"}
    return options


def fast_paths_missing() -> list[str]:
    """What the pyfuse3 in use lacks of vendor/pyfuse3.patch, said once at mount start."""
    missing = []
    if not getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False):
        missing.append("every open goes through this process")
    if not getattr(pyfuse3, "SYMLINK_CACHE_SUPPORTED", False):
        missing.append("every open through a volume's symlinks asks for them again")
    return missing


class Session:
    """A mount being served: its filesystem, where it shows, and the writer's way in.

    ``writable`` is a directory descriptor on the writable mount; as root that mount is reachable
    by nothing else (the mountpoint shows a read-only copy of it), so nobody but the writer can
    even try to write. Without root the mountpoint is the writable mount itself, and the
    filesystem refuses every write but its writer's. On a descriptor (``/dev/fd/N``) the mount is
    somebody else's and ``writable`` is -1: volumes change by notices (``Filesystem.apply``).
    """

    def __init__(self, fs: Filesystem, mountpoint: str, writable: int, *, read_only_view: bool) -> None:
        self.fs = fs
        self.mountpoint = mountpoint
        self.writable = writable
        self.read_only_view = read_only_view
        self.writer = trio.Lock()
        """One writer at a time: a swap's calls, or a retirement's."""
        self.retiring: dict[str, tuple[float, tuple[Step, ...]]] = {}
        """Volume -> when its old version goes, and the calls that remove it."""
        self.retire_soon = trio.Event()


RETIRE_AFTER = 0.1
"""Seconds an old version stays after the swap (unless another swap comes first): a reader that
resolved ``..data`` just before the rename, and was then put aside, still finds its file."""


async def serve(
    fs: Filesystem,
    mountpoint: str,
    options: Iterable[str],
    *,
    task_status: trio.TaskStatus[Session] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Mount ``fs`` at ``mountpoint`` and serve it until cancelled.

    Calls ``task_status.started(session)`` once the mount is visible. On cancellation (or any
    error), the filesystem is unmounted before the exception propagates. As root the filesystem is
    mounted at a private directory, shown read-only at ``mountpoint`` (a detached copy made
    read-only before it is attached, so that copies propagated to other mount namespaces are
    read-only too), and the private mount is detached: only the writer's descriptor still reaches
    it.
    """
    on_descriptor = descriptor_of(mountpoint) is not None
    private = tempfile.mkdtemp(prefix="injector-") if can_mount_read_only_view() and not on_descriptor else None
    try:
        _init_session(fs, private or mountpoint, set(options))
    except BaseException:
        if private is not None:
            os.rmdir(private)
        raise
    writable = -1
    try:
        async with trio.open_nursery() as nursery:
            # One worker task: no handler ever awaits (they only read the in-memory tree), so extra
            # tasks would add trio scheduling to every request and gain nothing (measured: opens
            # 70-140 us with pyfuse3's default of up to 99 tasks, 52-58 us with one).
            nursery.start_soon(partial(pyfuse3.main, min_tasks=1, max_tasks=1))
            # Every call on the mount needs this thread to answer it: make them from a worker thread.
            if not on_descriptor:
                writable = await trio.to_thread.run_sync(_publish, private, mountpoint)
            session = Session(fs, mountpoint, writable, read_only_view=private is not None)
            nursery.start_soon(_retire_when_due, session)
            task_status.started(session)
    finally:
        if writable >= 0:
            os.close(writable)
        if private is None:
            # On a descriptor the mount is its maker's to remove; closing ours ends the connection.
            pyfuse3.close(unmount=not on_descriptor)
        else:
            published = writable >= 0
            for path in (mountpoint,) if published else (private,):
                with contextlib.suppress(OSError):
                    _unmount(path)
            pyfuse3.close(unmount=False)
            with contextlib.suppress(OSError):
                os.rmdir(private)  # still there if publishing failed


FUSECTL = "/sys/fs/fuse/connections"
MAX_BACKGROUND = 256
"""Background requests (RELEASE among them) the kernel may have in flight at once. Its default of
12 lets RELEASEs queue up behind opens under load, each keeping an old version in memory."""


def _publish(private: str | None, mountpoint: str) -> int:
    """Tune the connection; as root, show the private mount read-only at ``mountpoint`` and detach
    it. Returns a descriptor on the writable mount."""
    tune_connection(private or mountpoint)
    writable = os.open(private or mountpoint, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    if private is None:
        return writable
    try:
        _attach_read_only_copy(private, mountpoint)
    except OSError as exc:
        os.close(writable)
        with contextlib.suppress(OSError):
            _unmount(private)
        raise MountError(f"{mountpoint}: cannot mount: {exc.strerror}") from None
    _unmount(private)
    os.rmdir(private)
    return writable


def tune_connection(mountpoint: str) -> None:
    """Raise the connection's max_background through fusectl, where it can be written (root).

    The fuse control filesystem is mounted at its usual place when it is not (systemd does so at
    boot on most systems; minimal containers and VMs often skip it).
    """
    if os.geteuid() == 0 and os.path.isdir(FUSECTL) and not os.path.ismount(FUSECTL):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL], capture_output=True, check=False)
    try:
        connection = os.path.join(FUSECTL, str(os.minor(os.stat(mountpoint).st_dev)))
        with open(os.path.join(connection, "max_background"), "w") as handle:
            handle.write(str(MAX_BACKGROUND))
    except OSError:
        pass  # not root, or no fusectl: the kernel's default stays


# -- a read-only copy of a mount, through the mount API of Linux 5.12+ --------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442
"""The same numbers on every architecture (these syscalls came after the tables were unified)."""
_OPEN_TREE_CLONE = 1
_AT_EMPTY_PATH = 0x1000
_AT_FDCWD = -100
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR = {"ro": 0x1, "nosuid": 0x2, "nodev": 0x4, "noexec": 0x8, "noatime": 0x10}
_MOUNT_ATTR__ATIME = 0x70
"""Setting an atime mode (noatime) must clear the field first."""
_MNT_DETACH = 2


def can_mount_read_only_view() -> bool:
    """Root can show a mount read-only elsewhere (and kernels since 5.12 have the calls for it)."""
    return os.geteuid() == 0 and _kernel_at_least(5, 12)


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        parts = os.uname().release.split(".")
        return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def _check(result: int) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def _attach_read_only_copy(source: str, target: str) -> None:
    """A copy of the mount at ``source`` made read-only, then attached at ``target``."""
    tree = _check(_libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, os.fsencode(source), _OPEN_TREE_CLONE | os.O_CLOEXEC))
    try:
        flags = sum(_MOUNT_ATTR.values())
        attributes = ctypes.create_string_buffer(struct.pack("QQQQ", flags, _MOUNT_ATTR__ATIME, 0, 0))
        _check(_libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, attributes, 32))
        _check(_libc.syscall(_SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD, os.fsencode(target), _MOVE_MOUNT_F_EMPTY_PATH))
    finally:
        os.close(tree)


def _unmount(path: str) -> None:
    _check(_libc.umount2(os.fsencode(path), _MNT_DETACH))


# -- keeping it current ----------------------------------------------------------------------------


async def update(session: Session, layout: Layout) -> None:
    """Serve ``layout`` from now on.

    Outside volumes the swap is one assignment, and the kernel is told exactly what changed; each
    volume whose content changed gets its new version by the writer's calls (``fuse.swap``),
    which the kernel turns into the inotify events a kubelet volume gives; its old version goes
    ``RETIRE_AFTER`` seconds later, or before the next swap, whichever comes first. Both block on
    the kernel, so they run in a worker thread while the event loop keeps serving.
    """
    fs = session.fs
    async with session.writer:
        for volume in list(session.retiring):
            await _retire(session, volume)
        prepared = fs.prepare(layout)
        invalidations = prepared.invalidations
        if invalidations.entries or invalidations.attributes:
            unreachable = await trio.to_thread.run_sync(_invalidate, invalidations)
            fs.forget_unreachable(unreachable)
        failures = []
        for swap in prepared.swaps:
            try:
                await _make(session, swap.volume, swap.plan.publish)
            except OSError as exc:
                fs.finish(swap, done=False)
                failures.append(f"{swap.volume or '.'}: {exc.strerror}")
            else:
                fs.finish(swap, done=True)
                session.retiring[swap.volume] = (trio.current_time() + RETIRE_AFTER, swap.plan.retire)
                session.retire_soon.set()
    if failures:
        raise SwapError(f"volume not updated: {'; '.join(failures)}")


class SwapError(Exception):
    """A volume's swap failed (the kernel refused one of its calls); it still serves a whole version."""


async def _retire_when_due(session: Session) -> None:
    while True:
        if not session.retiring:
            await session.retire_soon.wait()
            session.retire_soon = trio.Event()
            continue
        volume, (due, _) = min(session.retiring.items(), key=lambda item: item[1][0])
        await trio.sleep_until(due)
        async with session.writer:
            entry = session.retiring.get(volume)
            if entry is not None and entry[0] <= trio.current_time():  # not a newer swap's
                await _retire(session, volume)


async def _retire(session: Session, volume: str) -> None:
    due = session.retiring.pop(volume, None)
    if due is None:
        return
    with contextlib.suppress(OSError):  # what is left is removed with the next swap's
        await _make(session, volume, due[1])


async def _make(session: Session, volume: str, steps: Iterable[Step]) -> None:
    """A swap's or a retirement's calls: made on the mount where this process reaches it; on a
    descriptor, made by the filesystem itself and told to the kernel by notices. Raises OSError.

    A ``switch`` is the filesystem's own on either: made here, in the thread that answers the
    kernel, after the calls before it; its notices then go just before the calls after it (the
    rename of ``..data``), in the same worker thread, so that the two are microseconds apart."""
    fs = session.fs
    if session.writable < 0:
        notices = _here(fs.apply, volume, steps)
        if notices:
            await trio.to_thread.run_sync(_notify, notices)
        return
    calls: list[Step] = []
    notices = []
    for step in [*steps, None]:
        if step is not None and step.call != SWITCH:
            calls.append(step)
            continue
        if calls or notices:
            await trio.to_thread.run_sync(_write, fs, session.writable, volume, tuple(calls), tuple(notices))
            calls, notices = [], []
        if step is not None:
            notices = _here(fs.switch, volume, step.path)


def _here(change: Callable[[str, Any], list[Notice]], volume: str, what: Any) -> list[Notice]:
    """``change`` made by the filesystem itself, in the thread that answers the kernel; raises OSError."""
    try:
        return change(volume, what)
    except pyfuse3.FUSEError as exc:
        raise OSError(exc.errno, os.strerror(exc.errno)) from None


def _notify(notices: Iterable[Notice]) -> None:
    """Tell the kernel what changed without its knowing: each name to forget, and the inode it
    named if that is gone (its watchers get ``DELETE_SELF``, as on a kubelet volume)."""
    for notice in notices:
        try:
            pyfuse3.invalidate_entry(notice.parent, notice.name, notice.deleted)
        except OSError:
            # Not in the kernel's cache (never looked up), or a directory still holding entries
            # there: forget the name at least.
            with contextlib.suppress(OSError):
                pyfuse3.invalidate_entry(notice.parent, notice.name)


def _write(fs: Filesystem, writable: int, volume: str, steps: Iterable[Step], notices: Iterable[Notice]) -> None:
    """Tell the kernel ``notices``, then make ``steps``' calls on the mount."""
    _notify(notices)
    with fs.writing():
        run_steps(writable, volume, steps)


def _invalidate(invalidations: Invalidations) -> list[int]:
    """Tell the kernel what changed; returns the old inodes it no longer reaches by any name."""
    unreachable = []
    for parent, name, deleted in invalidations.entries:
        try:
            pyfuse3.invalidate_entry(parent, name, deleted)
        except OSError:
            # The kernel's entry for that name is gone or already names another inode (a lookup
            # came between the swap and this call): it will never evict, hence never forget, the
            # old inode on its own. Only open handles can still reach it.
            unreachable.append(deleted)
    for inode in invalidations.attributes:
        with contextlib.suppress(OSError):
            pyfuse3.invalidate_inode(inode, attr_only=True)
    return unreachable
