"""Volumes with atomic swaps: the kubelet atomic writer's steps, planned, and run as real syscalls.

A volume is a directory whose content versions are immutable subtrees named ``..<timestamp>``.
``..data`` is a symlink to the current one, and each top-level name of the content is a symlink
through it (``key -> ..data/key``; for a nested path ``dir/key`` only ``dir -> ..data/dir``), as
the kubelet's atomic writer (``pkg/volume/util/atomic_writer.go``) lays out every Secret,
ConfigMap, projected and downwardAPI volume.

With key files (the default, see ``Filesystem``), a top-level name of a file is instead a second
name (a hard link) of the current version's file: what ``stat``, ``open`` and an inotify watch reach
through the kubelet's symlink, reached with no symlink to follow. It is moved to the new version by
a ``switch`` before the rename: the filesystem points the names at the new version's files and tells
the kernel to forget them, which gives a watcher nothing (the kubelet's symlinks do not change
either); a name gone in the new version is first switched to a stand-in file, so that its unlink
leaves the old file, and its watchers, to the old version's removal, as in the kubelet. A new name
is made with ``link``, where the kubelet makes a symlink: the same ``CREATE``.

A new version is swapped in by the writer's own steps, in its order: ``mkdir ..<new>`` (0700),
``chmod`` it, ``symlink ..<new> ..data_tmp``, ``rename ..data_tmp ..data``, a symlink for each new
top-level name, ``unlink`` each top-level name gone, then the old version removed as
``os.RemoveAll`` does it (each file unlinked, each directory removed once empty). The filesystem
makes these calls on its own mount, from a worker thread (never from the thread that answers the
kernel), so the kernel itself sends every inotify event a watcher of a kubelet volume gets:
``CREATE ..data_tmp``, ``MOVED_FROM ..data_tmp``, ``MOVED_TO ..data``, ``DELETE_SELF`` of each old
file, ``DELETE,ISDIR ..<old>``.
"""

from __future__ import annotations

import os
import posixpath
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Literal, NamedTuple

DATA = "..data"
DATA_TMP = "..data_tmp"
MKDIR_MODE = 0o700
"""``os.MkdirTemp`` creates the version directory 0700; the writer then chmods it."""


def version_name(now: float | None = None, rand: Callable[[int], int] = random.getrandbits) -> str:
    """A version directory's name as the kubelet makes it: ``os.MkdirTemp(dir,
    time.Now().UTC().Format("..2006_01_02_15_04_05."))``, whose suffix is a random uint32."""
    stamp = time.gmtime(time.time() if now is None else now)
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", stamp) + str(rand(32))


def top_level(paths: Iterable[str]) -> set[str]:
    """The names a volume shows at its top for content at ``paths``."""
    return {path.split("/", 1)[0] for path in paths}


class Step(NamedTuple):
    """One syscall of a swap, on a path relative to the volume."""

    call: Literal["mkdir", "chmod", "symlink", "link", "rename", "unlink", "rmdir", "switch"]
    path: str
    target: str = ""
    """``symlink``: what the link points to; ``link``: the file linked to; ``rename``: the new name."""
    mode: int = 0


class VolumeState(NamedTuple):
    """What a volume holds now, as the kernel was told: its top-level entries, and for each
    ``..``-directory (versions, and leftovers of an interrupted swap) its paths in removal order."""

    entries: frozenset[str]
    data_target: str | None
    """Where ``..data`` points, or None without one."""
    removal: Mapping[str, tuple[tuple[str, bool], ...]]
    """Version directory -> (path inside it, is a directory), children before their directory."""


SWITCH: Literal["switch"] = "switch"
"""A step no syscall makes: the filesystem moves the top-level key files to the version at its
``path``, and the kernel is told to forget those names (``Filesystem.switch``)."""


class Plan(NamedTuple):
    """A swap's calls: ``publish`` makes the new version the content; ``retire`` then removes the
    old one. Between the two, readers that resolved ``..data`` just before the rename finish
    their lookups in the old version (the kubelet removes it at once, and such a reader gets
    ENOENT); the events are the same, in the same order."""

    publish: tuple[Step, ...]
    retire: tuple[Step, ...]


def swap_steps(
    state: VolumeState,
    new_version: str,
    new_mode: int,
    new_names: Iterable[str],
    *,
    new_files: Iterable[str] | None = None,
) -> Plan:
    """The writer's calls that make ``new_version`` (already staged) the content: kubelet order.

    ``new_files``: with key files, the top-level names that are files in the new version (made
    with ``link``, and moved by a ``switch``); None: every top-level name is a symlink.
    """
    names = set(new_names)
    files = set(new_files) if new_files is not None else None
    steps: list[Step] = []
    if DATA_TMP in state.entries:  # left by an interrupted swap
        steps.append(Step("unlink", DATA_TMP))
    steps += [
        Step("mkdir", new_version, mode=MKDIR_MODE),
        Step("chmod", new_version, mode=new_mode),
        Step("symlink", DATA_TMP, target=new_version),
    ]
    if files is not None:
        steps.append(Step(SWITCH, new_version))
    steps.append(Step("rename", DATA_TMP, target=DATA))
    visible = {name for name in state.entries if not name.startswith("..")}
    for name in sorted(names - visible):
        if files is not None and name in files:
            steps.append(Step("link", name, target=posixpath.join(new_version, name)))
        else:
            steps.append(Step("symlink", name, target=posixpath.join(DATA, name)))
    steps += [Step("unlink", name) for name in sorted(visible - names)]
    # The old version last; then any other leftover version of an interrupted swap.
    retire: list[Step] = []
    old = [state.data_target] if state.data_target is not None and state.data_target in state.removal else []
    for version in [*old, *sorted(v for v in state.removal if v not in old)]:
        if version == new_version:
            continue
        for path, is_dir in state.removal[version]:
            retire.append(Step("rmdir" if is_dir else "unlink", posixpath.join(version, path)))
        retire.append(Step("rmdir", version))
    return Plan(tuple(steps), tuple(retire))


def run_steps(directory_fd: int, base: str, steps: Iterable[Step]) -> None:
    """Make each call on ``base`` (relative to ``directory_fd``; ``""``: that directory itself).

    Must run in a thread that is not serving the filesystem the calls go to: each blocks until the
    filesystem has answered it.
    """
    for step in steps:
        path = posixpath.join(base, step.path) if base else step.path
        if step.call == "mkdir":
            os.mkdir(path, step.mode, dir_fd=directory_fd)
        elif step.call == "chmod":
            os.chmod(path, step.mode, dir_fd=directory_fd)
        elif step.call == "symlink":
            os.symlink(step.target, path, dir_fd=directory_fd)
        elif step.call == "link":
            source = posixpath.join(base, step.target) if base else step.target
            os.link(source, path, src_dir_fd=directory_fd, dst_dir_fd=directory_fd, follow_symlinks=False)
        elif step.call == SWITCH:
            raise ValueError("a switch is the filesystem's, not a syscall")
        elif step.call == "rename":
            target = posixpath.join(base, step.target) if base else step.target
            os.rename(path, target, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
        elif step.call == "unlink":
            os.unlink(path, dir_fd=directory_fd)
        else:
            os.rmdir(path, dir_fd=directory_fd)
