"""Mount a ReadOnlyFilesystem, serve it until cancelled, unmount; recover stale mounts.

pyfuse3 keeps its session in module globals (one mount per process): ``serve`` is the one owner
of that state, and nothing else in the program touches pyfuse3's session functions.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from functools import partial

import pyfuse3
import trio

from fuse.filesystem import ReadOnlyFilesystem
from fuse.tree import Invalidations, Tree


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


def _init_session(fs: ReadOnlyFilesystem, mountpoint: str, options: set[str]) -> None:
    """pyfuse3.init, with what libfuse (and fusermount3) print on failure turned into one MountError.

    Their messages go to file descriptor 2 from C; while mounting, that descriptor is a pipe.
    """
    reason = fuse_unavailable()
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
    options = {"ro", f"fsname={fsname}", "subtype=injector", "noatime", "nodev", "nosuid", "noexec"}
    if allow_other:
        # Others may enter: let the kernel check modes and owners, as on any filesystem.
        options |= {"allow_other", "default_permissions"}
    return options


async def serve(
    fs: ReadOnlyFilesystem,
    mountpoint: str,
    options: Iterable[str],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Mount ``fs`` at ``mountpoint`` and serve it until cancelled.

    Calls ``task_status.started()`` once the mount is visible. On cancellation (or any error),
    the filesystem is unmounted before the exception propagates.
    """
    _init_session(fs, mountpoint, set(options))
    try:
        async with trio.open_nursery() as nursery:
            # One worker task: no handler ever awaits (they only read the in-memory tree), so extra
            # tasks would add trio scheduling to every request and gain nothing (measured: opens
            # 70-140 us with pyfuse3's default of up to 99 tasks, 52-58 us with one).
            nursery.start_soon(partial(pyfuse3.main, min_tasks=1, max_tasks=1))
            # stat() of the mountpoint needs this process to answer: ask from a worker thread.
            await trio.to_thread.run_sync(tune_connection, mountpoint)
            task_status.started()
    finally:
        pyfuse3.close(unmount=True)


FUSECTL = "/sys/fs/fuse/connections"
MAX_BACKGROUND = 256
"""Background requests (RELEASE among them) the kernel may have in flight at once. Its default of
12 lets RELEASEs queue up behind opens under load, each keeping an old version in memory."""


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


async def replace_tree(fs: ReadOnlyFilesystem, tree: Tree) -> None:
    """Serve ``tree`` from now on and make the kernel forget exactly what changed.

    The swap is one assignment, so every lookup after it sees the new tree; the invalidation calls
    may block on the kernel, so they run in a worker thread while the event loop keeps serving.
    """
    invalidations = fs.replace(tree)
    if invalidations.entries or invalidations.attributes:
        unreachable = await trio.to_thread.run_sync(_invalidate, invalidations)
        fs.forget_unreachable(unreachable)


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
