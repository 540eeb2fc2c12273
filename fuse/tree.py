"""Immutable trees of files and directories, and what changes between two of them (pure)."""

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
    """One inode: its content and attributes never change once built."""

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
        children: Mapping[bytes, int] | None = None,
    ) -> None:
        self.inode = inode
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.data = data
        self.children: Mapping[bytes, int] | None = children
        """Directories: name -> inode, sorted by name. Files: None."""

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    def same_file_as(self, spec: FileSpec, uid: int, gid: int) -> bool:
        return (
            self.children is None
            and self.data == spec.data
            and self.mode == stat.S_IFREG | spec.mode
            and (self.uid, self.gid) == (uid, gid)
        )

    def __repr__(self) -> str:
        kind = "dir" if self.is_dir else f"file {len(self.data)} bytes"
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
        return self.nodes[ROOT_INODE]

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
) -> Tree:
    """Build a tree of ``files`` (directories are implied by paths).

    Against ``previous``, an unchanged file keeps its inode and mtime; a file whose content or
    attributes changed gets a new inode (content per inode is immutable), and a new mtime only
    when its content changed. Directories keep their inode while they remain directories.
    ``dirs`` gives attributes to some directories; others get ``root``'s.
    """
    dirs = dirs or {}
    for path in files:
        check_path(path)
    old_nodes = previous.nodes if previous is not None else {}
    old_paths = previous.by_path if previous is not None else {}
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
        if old is not None and old.same_file_as(spec, file_uid, file_gid):
            node = old
        else:
            mtime = old.mtime_ns if old is not None and not old.is_dir and old.data == spec.data else now_ns
            node = Node(
                inode=next_inode,
                path=path,
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
            inode = ROOT_INODE
        elif old is not None and old.is_dir:
            inode = old.inode
        else:
            inode = next_inode
            next_inode += 1
        unchanged = old is not None and old.is_dir and dict(old.children or {}) == entries
        node = Node(
            inode=inode,
            path=path,
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
