"""The pyfuse3 Operations of a read-only filesystem over a replaceable Tree.

Handlers only read ``self.tree`` (swapped by one assignment, so a handler never sees half a
tree) and the old nodes the kernel may still reach (``_retired``, until it forgets them). Unknown
inodes map to ENOENT in one place, ``_node``; every write-type operation is EROFS.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pyfuse3

from fuse.tree import Invalidations, Node, Tree, changes

ATTR_TIMEOUT = 3600.0
"""Seconds the kernel may trust attributes and names: an inode's attributes never change, and
replacements invalidate precisely what changed."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND | os.O_CREAT


class OpenEvent(NamedTuple):
    """An open of a file in the mount, for auditing: who and what, never the content."""

    path: str
    uid: int
    gid: int
    pid: int
    denied: bool


def _erofs() -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(errno.EROFS)


class ReadOnlyFilesystem(pyfuse3.Operations):
    """Serve ``tree``; ``replace`` swaps in a new one and returns what the kernel must forget."""

    supports_dot_lookup = True
    enable_writeback_cache = False
    enable_acl = False

    def __init__(
        self,
        tree: Tree,
        *,
        on_open: Callable[[OpenEvent], None] | None = None,
        allowed_uids: frozenset[int] | None = None,
    ) -> None:
        super().__init__()
        self.tree = tree
        self._on_open = on_open
        self._allowed_uids = allowed_uids
        self._lookups: dict[int, int] = {}
        self._retired: dict[int, Node] = {}
        self._open_files: dict[int, int] = {}
        """inode -> number of open handles. A file handle is its inode number: an inode's content
        never changes, so a handle needs to pin nothing but the inode, which the kernel keeps
        (and never forgets) while the file is open."""
        self._unreachable: set[int] = set()
        """Retired inodes that only open handles reach: dropped when their last handle closes."""
        self._dir_handles: dict[int, Node] = {}
        self._next_handle = 1
        self.opens = 0
        self.reads = 0
        self.no_open = (
            on_open is None
            and allowed_uids is None
            and bool(getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False))
        )
        """Let the kernel open files by itself (answer OPEN with ENOSYS, once): every open of an
        unchanged file is then served from its caches. Needs pyfuse3 to pass the inode to read()
        when no handle exists (vendor/pyfuse3-read-inode.patch), and no per-open work: not with
        an audit log or --allowed-uid, which must see each open. Opens are then not counted."""

    # -- the one place unknown inodes and handles become errno ------------------------------------

    def _node(self, inode: int) -> Node:
        node = self.tree.nodes.get(inode) or self._retired.get(inode)
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return node

    def _new_dir_handle(self, node: Node) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._dir_handles[handle] = node
        return handle

    # -- replacing the tree -------------------------------------------------------------------------

    def replace(self, tree: Tree) -> Invalidations:
        """Swap in ``tree`` at once; nodes the kernel still knows stay readable until forgotten."""
        old, self.tree = self.tree, tree
        for inode, node in old.nodes.items():
            if inode not in tree.nodes and self._lookups.get(inode):
                self._retired[inode] = node
        for inode in [inode for inode in self._retired if inode in tree.nodes]:
            del self._retired[inode]
        return changes(old, tree)

    def forget_unreachable(self, inodes: Sequence[int]) -> None:
        """Drop old nodes the kernel can no longer reach by name, once no open handle pins them."""
        if self.no_open:
            return  # opens are not seen: keep them until the kernel forgets them
        for inode in inodes:
            if inode in self._retired and not self._open_files.get(inode):
                del self._retired[inode]
                self._lookups.pop(inode, None)
            elif inode in self._retired:
                self._unreachable.add(inode)

    # -- attributes and names -----------------------------------------------------------------------

    def _attributes(self, node: Node) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = node.inode
        attrs.generation = 0
        attrs.entry_timeout = ATTR_TIMEOUT
        attrs.attr_timeout = ATTR_TIMEOUT
        attrs.st_mode = node.mode
        attrs.st_nlink = 2 if node.is_dir else 1
        attrs.st_uid = node.uid
        attrs.st_gid = node.gid
        attrs.st_rdev = 0
        attrs.st_size = len(node.data) if not node.is_dir else 4096
        attrs.st_blksize = 4096
        attrs.st_blocks = (attrs.st_size + 511) // 512
        attrs.st_atime_ns = node.mtime_ns
        attrs.st_mtime_ns = node.mtime_ns
        attrs.st_ctime_ns = node.mtime_ns
        return attrs

    def _remember(self, inode: int) -> None:
        self._lookups[inode] = self._lookups.get(inode, 0) + 1

    async def lookup(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        parent = self._node(parent_inode)
        if parent.children is None:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if name == b".":
            inode = parent.inode
        elif name == b"..":
            inode = self.tree.by_path.get(os.path.dirname(parent.path), parent.inode)
        else:
            found = parent.children.get(name)
            if found is None:
                raise pyfuse3.FUSEError(errno.ENOENT)  # not cached by the kernel: new files show at once
            inode = found
        attrs = self._attributes(self._node(inode))
        self._remember(inode)
        return attrs

    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self._attributes(self._node(inode))

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for inode, count in inode_list:
            left = self._lookups.get(inode, 0) - count
            if left > 0:
                self._lookups[inode] = left
            else:
                self._lookups.pop(inode, None)
                self._retired.pop(inode, None)
                self._unreachable.discard(inode)

    async def access(self, inode: int, mode: int, ctx: pyfuse3.RequestContext) -> bool:
        self._node(inode)
        return not (mode & os.W_OK)

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        data.f_bsize = data.f_frsize = 4096
        data.f_blocks = sum((len(n.data) + 4095) // 4096 for n in self.tree.nodes.values())
        data.f_bfree = data.f_bavail = 0
        data.f_files = len(self.tree.nodes)
        data.f_ffree = data.f_favail = 0
        data.f_namemax = 255
        return data

    # -- directories --------------------------------------------------------------------------------

    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self._node(inode)
        if node.children is None:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        # The handle pins the directory as it is now: a listing never mixes two trees.
        return self._new_dir_handle(node)

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        directory = self._dir_handles.get(fh)
        if directory is None or directory.children is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        tree = self.tree
        parent = (
            tree.by_path.get(os.path.dirname(directory.path), directory.inode) if directory.path else directory.inode
        )
        entries = [(b".", directory.inode), (b"..", parent), *directory.children.items()]
        for index in range(start_id, len(entries)):
            name, inode = entries[index]
            node = tree.nodes.get(inode) or self._retired.get(inode)
            if node is None:
                continue  # replaced since opendir; the name will be listed by the next opendir
            if not pyfuse3.readdir_reply(token, name, self._attributes(node), index + 1):
                return
            if index >= 2:
                self._remember(inode)  # readdirplus instantiates the entry: it counts as a lookup

    async def releasedir(self, fh: int) -> None:
        self._dir_handles.pop(fh, None)

    # -- files --------------------------------------------------------------------------------------

    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        if self.no_open:
            # The mount is read-only ("ro"): the kernel refuses write opens itself; reads arrive
            # with the inode as handle, and inodes never change content.
            raise pyfuse3.FUSEError(errno.ENOSYS)
        node = self._node(inode)
        denied = self._allowed_uids is not None and ctx.uid not in self._allowed_uids and ctx.uid != 0
        if self._on_open is not None:
            self._on_open(OpenEvent(node.path, ctx.uid, ctx.gid, ctx.pid, denied))
        if denied:
            raise pyfuse3.FUSEError(errno.EACCES)
        if flags & _WRITE_FLAGS:
            raise _erofs()
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        self.opens += 1
        self._open_files[inode] = self._open_files.get(inode, 0) + 1
        # This inode's content never changes: the page cache may be kept across opens.
        return pyfuse3.FileInfo(fh=inode, keep_cache=True)

    async def read(self, fh: int, off: int, size: int) -> bytes:
        node = self.tree.nodes.get(fh) or self._retired.get(fh)
        if node is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        self.reads += 1
        return node.data[off : off + size]

    async def flush(self, fh: int) -> None:
        # Nothing to flush; ENOSYS tells the kernel never to send FLUSH again (one round trip saved
        # on every close).
        raise pyfuse3.FUSEError(errno.ENOSYS)

    async def release(self, fh: int) -> None:
        left = self._open_files.get(fh, 0) - 1
        if left > 0:
            self._open_files[fh] = left
            return
        self._open_files.pop(fh, None)
        if fh in self._unreachable:
            self._unreachable.discard(fh)
            self._retired.pop(fh, None)
            self._lookups.pop(fh, None)

    # -- extended attributes: none ------------------------------------------------------------------

    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> bytes:
        self._node(inode)
        raise pyfuse3.FUSEError(errno.ENODATA)

    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> list[bytes]:
        self._node(inode)
        return []

    # -- every write-type operation -----------------------------------------------------------------

    async def setattr(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _erofs()

    async def mknod(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _erofs()

    async def mkdir(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _erofs()

    async def unlink(self, *args: Any) -> None:
        raise _erofs()

    async def rmdir(self, *args: Any) -> None:
        raise _erofs()

    async def symlink(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _erofs()

    async def rename(self, *args: Any) -> None:
        raise _erofs()

    async def link(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _erofs()

    async def create(self, *args: Any) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        raise _erofs()

    async def write(self, *args: Any) -> int:
        raise _erofs()

    async def setxattr(self, *args: Any) -> None:
        raise _erofs()

    async def removexattr(self, *args: Any) -> None:
        raise _erofs()

    async def fsync(self, *args: Any) -> None:
        return None
