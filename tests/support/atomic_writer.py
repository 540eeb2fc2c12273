"""The kubelet's AtomicWriter.Write (kubernetes pkg/volume/util/atomic_writer.go, 1.30+ order), ported
call for call, so that a volume written by the kubelet can be made on tmpfs in a test and its inotify
events compared with a mount's.

Go's calls are mirrored one to one: ``os.MkdirTemp`` is mkdir 0700 then the writer's chmod 0755;
``os.Remove`` is unlink, then rmdir; ``os.RemoveAll`` tries that, then opens the parent and removes
each entry (``unlinkat``, or a directory's entries then ``unlinkat(AT_REMOVEDIR)``); ``filepath.Walk``
lstats and lists each directory. Go's map order (random) is Python's dict order here.
"""

from __future__ import annotations

import errno
import os
import posixpath
import random
import stat
import time
from collections.abc import Mapping
from typing import NamedTuple

DATA_DIR = "..data"
NEW_DATA_DIR = "..data_tmp"


class FileProjection(NamedTuple):
    data: bytes
    mode: int = 0o644


def _timestamp_dir_name() -> str:
    """``os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))``."""
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + str(random.getrandbits(32))


def _remove(path: str) -> None:
    """Go's ``os.Remove``: unlink, then rmdir; the error that makes sense is raised."""
    try:
        os.unlink(path)
        return
    except OSError as exc:
        unlink_error = exc
    try:
        os.rmdir(path)
    except OSError as rmdir_error:
        raise (rmdir_error if rmdir_error.errno != errno.ENOTDIR else unlink_error) from None


def _remove_all_from(parent_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=parent_fd)
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EISDIR, errno.EPERM, errno.EACCES):
            raise
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        for child in os.listdir(fd):
            _remove_all_from(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


def remove_all(path: str) -> None:
    """Go's ``os.RemoveAll``."""
    try:
        _remove(path)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    parent = os.open(posixpath.dirname(path), os.O_RDONLY | os.O_CLOEXEC)
    try:
        _remove_all_from(parent, posixpath.basename(path))
    finally:
        os.close(parent)


def _walk(root: str) -> list[str]:
    """Go's ``filepath.Walk``: lstat the root, then list each directory (names sorted)."""
    found: list[str] = []

    def visit(path: str, mode: int) -> None:
        found.append(path)
        if not stat.S_ISDIR(mode):
            return
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            names = sorted(os.listdir(fd))
        finally:
            os.close(fd)
        for name in names:
            child = posixpath.join(path, name)
            visit(child, os.lstat(child).st_mode)

    visit(root, os.lstat(root).st_mode)
    return found


class AtomicWriter:
    """Projects a payload into ``target``, as the kubelet projects a Secret or ConfigMap volume."""

    def __init__(self, target: str) -> None:
        self.target = target

    def write(self, payload: Mapping[str, FileProjection]) -> None:
        clean = {posixpath.normpath(path): projection for path, projection in payload.items()}
        data_dir = posixpath.join(self.target, DATA_DIR)
        # (2) the current version
        try:
            old = os.readlink(data_dir)
        except FileNotFoundError:
            old = ""
        old_path = posixpath.join(self.target, old)
        to_remove: set[str] = set()
        should_write = True
        if old:
            to_remove = self._paths_to_remove(clean, old_path)  # (3)
            if not self._should_write(clean, old_path) and not to_remove:  # (4)
                should_write, old = False, ""
        if should_write:
            # (5) os.MkdirTemp, then chmod
            name = _timestamp_dir_name()
            version = posixpath.join(self.target, name)
            os.mkdir(version, 0o700)
            os.chmod(version, 0o755)
            # (6) the payload
            for path, projection in clean.items():
                full = posixpath.join(version, path)
                os.makedirs(posixpath.dirname(full), exist_ok=True)
                fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, projection.mode)
                try:
                    os.write(fd, projection.data)
                finally:
                    os.close(fd)
                os.chmod(full, projection.mode)
            # (8), (9) the swap
            new_data_dir = posixpath.join(self.target, NEW_DATA_DIR)
            os.symlink(name, new_data_dir)
            os.rename(new_data_dir, data_dir)
        # (10) user-visible symlinks
        for path in clean:
            top = path.split("/", 1)[0]
            try:
                os.readlink(posixpath.join(self.target, top))
            except FileNotFoundError:
                os.symlink(posixpath.join(DATA_DIR, top), posixpath.join(self.target, top))
        # (11) user-visible paths gone
        for path in to_remove:
            if "/" not in path:
                _remove(posixpath.join(self.target, path))
        # (12) the old version
        if old:
            remove_all(old_path)

    @staticmethod
    def _paths_to_remove(payload: Mapping[str, FileProjection], old: str) -> set[str]:
        try:
            walked = _walk(old)
        except FileNotFoundError:
            return set()
        paths = {posixpath.relpath(path, old) for path in walked if path != old}
        new_paths: set[str] = set()
        for path in payload:
            sub = path
            while sub:
                new_paths.add(sub)
                sub = posixpath.dirname(sub)
        return paths - new_paths

    @staticmethod
    def _should_write(payload: Mapping[str, FileProjection], old: str) -> bool:
        for path, projection in payload.items():
            full = posixpath.join(old, path)
            try:
                os.lstat(full)
            except FileNotFoundError:
                return True
            with open(full, "rb") as handle:
                if handle.read() != projection.data:
                    return True
        return False
