"""Immutable trees of files and directories, what changes between two of them, and the layout of a
whole mount: which of its directories are volumes served with atomic swaps (pure)."""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Mapping
from typing import NamedTuple

ROOT_INODE = 1  # pyfuse3.ROOT_INODE, FUSE_ROOT_ID


class FileSpec(NamedTuple):
    """What a caller wants at one path."""

    data: bytes
    mode: int = 0o444
    """Permission bits (file type bits are added)."""
    uid: int | None = None
    gid: int | None = None

    def __repr__(self) -> str:
        return f"FileSpec({len(self.data)} bytes, mode={self.mode:04o}, uid={self.uid}, gid={self.gid})"


class DirSpec(NamedTuple):
    mode: int = 0o755
    uid: int | None = None
    gid: int | None = None


DEFAULT_DIR = DirSpec(0o755)


class Node:
    """One inode: a file's content never changes once built, nor a symlink's target (``data``).

    A directory's ``children`` change only inside a volume, by the very calls the kernel makes
    (mkdir, symlink, rename, unlink, rmdir), so that what the kernel was told is always true.
    """

    __slots__ = ("children", "data", "gid", "inode", "mode", "mtime_ns", "path", "uid")

    def __init__(
        self,
        *,
        inode: int,
        path: str,
        mode: int,
        uid: int,
        gid: int,
        mtime_ns: int,
        data: bytes = b"",
        children: dict[bytes, int] | None = None,
    ) -> None:
        self.inode = inode
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.data = data
        self.children = children
        """Directories: name -> inode. Files and symlinks: None."""

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

    def same_file_as(self, spec: FileSpec, uid: int, gid: int) -> bool:
        return (
            self.children is None
            and self.data == spec.data
            and self.mode == stat.S_IFREG | spec.mode
            and (self.uid, self.gid) == (uid, gid)
        )

    def __repr__(self) -> str:
        kind = "dir" if self.is_dir else "symlink" if self.is_link else f"file {len(self.data)} bytes"
        return f"<Node {self.inode} {self.path!r} {kind} mode={self.mode:o}>"


class Tree:
    """A whole filesystem: inode -> Node and path -> inode. Never modified after building."""

    __slots__ = ("by_path", "next_inode", "nodes")

    def __init__(self, nodes: Mapping[int, Node], by_path: Mapping[str, int], next_inode: int) -> None:
        self.nodes = nodes
        self.by_path = by_path
        self.next_inode = next_inode

    @property
    def root(self) -> Node:
        return self.nodes[self.by_path[""]]

    def __repr__(self) -> str:
        return f"<Tree {len(self.by_path)} paths>"


def check_path(path: str) -> str:
    """A relative path without empty, ``.`` or ``..`` elements; raises ValueError otherwise."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\0" in path:
        raise ValueError(f"not a clean relative path: {path!r}")
    return path


def build_tree(
    files: Mapping[str, FileSpec],
    *,
    uid: int,
    gid: int,
    now_ns: int,
    previous: Tree | None = None,
    dirs: Mapping[str, DirSpec] | None = None,
    root: DirSpec = DEFAULT_DIR,
    next_inode: int | None = None,
    root_inode: int = ROOT_INODE,
    fresh: bool = False,
    prefix: str = "",
) -> Tree:
    """Build a tree of ``files`` (directories are implied by paths).

    Against ``previous``, an unchanged file keeps its inode and mtime; a file whose content or
    attributes changed gets a new inode (content per inode is immutable), and a new mtime only
    when its content changed. Directories keep their inode while they remain directories.
    ``dirs`` gives attributes to some directories; others get ``root``'s.

    ``next_inode``: the first inode number free (default: the one after ``previous``'s);
    ``root_inode``: the root directory's. ``fresh``: every node gets a new inode, as a volume's
    new version does (``previous`` then only keeps mtimes of unchanged content). ``prefix`` is put
    before every node's ``path`` (the path reported for audits).
    """
    dirs = dirs or {}
    for path in files:
        check_path(path)
    old_nodes = previous.nodes if previous is not None else {}
    old_paths = previous.by_path if previous is not None else {}
    if next_inode is None:
        next_inode = previous.next_inode if previous is not None else ROOT_INODE + 1

    for path in dirs:
        check_path(path)
    dir_paths: set[str] = {""}
    for path in [*files, *(f"{d}/x" for d in dirs)]:
        parent = posixpath.dirname(path)
        while parent not in dir_paths:
            dir_paths.add(parent)
            parent = posixpath.dirname(parent)
    clash = dir_paths & files.keys()
    if clash:
        raise ValueError(f"path is both a file and a directory: {sorted(clash)[0]!r}")

    nodes: dict[int, Node] = {}
    by_path: dict[str, int] = {}
    children: dict[str, dict[bytes, int]] = {path: {} for path in dir_paths}

    def old_node(path: str) -> Node | None:
        inode = old_paths.get(path)
        return old_nodes.get(inode) if inode is not None else None

    for path in sorted(files):
        spec = files[path]
        file_uid = uid if spec.uid is None else spec.uid
        file_gid = gid if spec.gid is None else spec.gid
        old = old_node(path)
        if old is not None and old.same_file_as(spec, file_uid, file_gid) and not fresh:
            node = old
        else:
            mtime = old.mtime_ns if old is not None and not old.is_dir and old.data == spec.data else now_ns
            node = Node(
                inode=next_inode,
                path=prefix + path,
                mode=stat.S_IFREG | spec.mode,
                uid=file_uid,
                gid=file_gid,
                mtime_ns=mtime,
                data=spec.data,
            )
            next_inode += 1
        nodes[node.inode] = node
        by_path[path] = node.inode
        children[posixpath.dirname(path)][posixpath.basename(path).encode()] = node.inode

    # Directories, deepest first, so that each knows its children's inodes.
    for path in sorted(dir_paths, key=lambda p: (-p.count("/") if p else 1, p)):
        dir_spec = root if path == "" else dirs.get(path, root)
        old = old_node(path)
        entries = dict(sorted(children[path].items()))
        if path == "":
            inode = root_inode
        elif old is not None and old.is_dir and not fresh:
            inode = old.inode
        else:
            inode = next_inode
            next_inode += 1
        unchanged = old is not None and old.is_dir and dict(old.children or {}) == entries
        node = Node(
            inode=inode,
            path=prefix + path if path else prefix.rstrip("/"),
            mode=stat.S_IFDIR | dir_spec.mode,
            uid=uid if dir_spec.uid is None else dir_spec.uid,
            gid=gid if dir_spec.gid is None else dir_spec.gid,
            mtime_ns=old.mtime_ns if unchanged and old is not None else now_ns,
            children=entries,
        )
        nodes[inode] = node
        by_path[path] = inode
        if path:
            children[posixpath.dirname(path)][posixpath.basename(path).encode()] = inode
    return Tree(nodes, by_path, next_inode)


class Invalidations(NamedTuple):
    """What the kernel must forget after replacing ``old`` by ``new``."""

    entries: tuple[tuple[int, bytes, int], ...]
    """(parent inode, name, old inode): names whose inode changed or vanished."""
    attributes: tuple[int, ...]
    """Inodes kept whose attributes changed (directories whose entries changed)."""


def changes(old: Tree, new: Tree) -> Invalidations:
    entries = []
    attributes = []
    for path, inode in old.by_path.items():
        if not path:
            continue
        new_inode = new.by_path.get(path)
        if new_inode == inode:
            continue
        parent = old.by_path[posixpath.dirname(path)]
        # The old inode is gone from the tree whether the name vanished or now names a new inode:
        # tell the kernel it was deleted, so it evicts (and forgets) it once no one holds it open.
        entries.append((parent, posixpath.basename(path).encode(), inode))
    for inode in new.by_path.values():
        node = new.nodes[inode]
        old_node = old.nodes.get(inode)
        if (
            node.is_dir
            and old_node is not None
            and old_node is not node
            and (
                old_node.mtime_ns != node.mtime_ns
                or old_node.mode != node.mode
                or (old_node.uid, old_node.gid) != (node.uid, node.gid)
            )
        ):
            attributes.append(inode)
    return Invalidations(tuple(entries), tuple(attributes))


# -- the layout of a whole mount ------------------------------------------------------------------


class Layout(NamedTuple):
    """What a mount serves: ``files`` and ``dirs`` (paths relative to its root), the root's
    attributes, and which directories are ``volumes``: directories whose content changes only by an
    atomic swap, as the kubelet's atomic writer makes it (see ``fuse.swap``); ``""`` makes the root
    one. Everything else is replaced in place when it changes."""

    files: Mapping[str, FileSpec]
    uid: int
    gid: int
    dirs: Mapping[str, DirSpec] = {}
    root: DirSpec = DEFAULT_DIR
    volumes: frozenset[str] = frozenset()
    version_dir: DirSpec | None = None
    """The attributes of every volume's version directories (``..<timestamp>``); default: those of
    the volume's own directory."""


class VolumeContent(NamedTuple):
    """One version of a volume's content: files and directories relative to the volume."""

    files: Mapping[str, FileSpec]
    dirs: Mapping[str, DirSpec]
    root: DirSpec
    """The attributes of each version's directory (``..<timestamp>``)."""


RESERVED_PREFIX = ".."
"""Names a volume keeps for itself (``..data``, ``..data_tmp``, ``..<timestamp>``), as the kubelet does."""


def split_layout(layout: Layout) -> tuple[dict[str, FileSpec], dict[str, DirSpec], dict[str, VolumeContent]]:
    """The files and directories outside volumes (volume directories included, empty), and each
    volume's content. Raises ValueError for a volume inside another or a name a volume reserves."""
    volumes = sorted(layout.volumes)
    for volume in volumes:
        if volume:
            check_path(volume)
        for other in volumes:
            if other != volume and (other == "" or volume.startswith(other + "/")):
                raise ValueError(f"volume {volume!r} is inside volume {other!r}")
    outer_files: dict[str, FileSpec] = {}
    outer_dirs: dict[str, DirSpec] = {}
    files_of: dict[str, dict[str, FileSpec]] = {volume: {} for volume in volumes}
    dirs_of: dict[str, dict[str, DirSpec]] = {volume: {} for volume in volumes}

    def owner(path: str) -> tuple[str, str] | None:
        for volume in volumes:
            if volume == "":
                return volume, path
            if path.startswith(volume + "/"):
                return volume, path[len(volume) + 1 :]
        return None

    for path, spec in layout.files.items():
        found = owner(path)
        if found is None:
            outer_files[path] = spec
        elif found[1].startswith(RESERVED_PREFIX):
            raise ValueError(f"{path!r}: names starting with '..' are reserved in a volume")
        else:
            files_of[found[0]][found[1]] = spec
    for path, dir_spec in layout.dirs.items():
        found = owner(path)
        if found is None:
            outer_dirs[path] = dir_spec
        else:
            dirs_of[found[0]][found[1]] = dir_spec
    contents = {}
    for volume in volumes:
        root = layout.root if volume == "" else layout.dirs.get(volume, layout.root)
        contents[volume] = VolumeContent(files_of[volume], dirs_of[volume], layout.version_dir or root)
        if volume:
            outer_dirs[volume] = root
    return outer_files, outer_dirs, contents
