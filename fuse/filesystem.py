"""The pyfuse3 Operations of a mount: read-only to everyone, but for its own writer's swaps.

What the kernel can reach is in three places, found through ``_node`` (the one place an unknown
inode becomes ENOENT):

- ``tree``: everything outside volumes (a Tree, swapped by one assignment, so no handler ever
  sees half of it; the kernel is told what changed by invalidation notices);
- ``_nodes``: the volumes' content, each version an immutable subtree (``fuse.swap``), their
  symlinks, and stand-ins of key files being unlinked. A volume's directory changes only by the
  calls its writer makes on the mount, which the handlers below accept from that writer thread
  only (``ctx.pid`` is the calling thread's id) and answer from what the kernel has been told,
  nothing staged (but for a ``switch``, made here and told by notices);
- ``_retired``: old nodes outside volumes the kernel may still reach, until it forgets them.

Everyone else's write-type call is EROFS.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import pyfuse3

from fuse.swap import DATA, SWITCH, Plan, Step, VolumeState, swap_steps, top_level, version_name
from fuse.tree import (
    ROOT_INODE,
    Invalidations,
    Layout,
    Node,
    Tree,
    VolumeContent,
    build_tree,
    changes,
    split_layout,
)

ATTR_TIMEOUT = 3600.0
"""Seconds the kernel may trust attributes and names: an inode's attributes never change, and
every change is either told to the kernel (invalidations) or made by the kernel itself (swaps)."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND | os.O_CREAT
_FIRST_COOKIE = 3
"""Directory listing cookies: 1 and 2 are ``.`` and ``..``."""


class OpenEvent(NamedTuple):
    """An open of a file in the mount, for auditing: who and what, never the content."""

    path: str
    uid: int
    gid: int
    pid: int
    denied: bool


class Notice(NamedTuple):
    """What the kernel must forget after a change it did not make: ``name`` in ``parent``, and
    (when not 0) the inode that name is gone from, whose watchers then get ``DELETE_SELF``."""

    parent: int
    name: bytes
    deleted: int


class Swap(NamedTuple):
    """A volume's move to a new version, staged: the writer's calls, made on the mount, do the rest."""

    volume: str
    """The volume's directory, relative to the mount's root (``""``: the root)."""
    inode: int
    """The volume's directory's inode."""
    version: str
    plan: Plan
    content: VolumeContent


class Update(NamedTuple):
    """What serving a new layout takes once the filesystem holds it."""

    invalidations: Invalidations
    """What the kernel must forget outside volumes."""
    swaps: tuple[Swap, ...]


class Volume:
    """A directory served with atomic swaps: its entries are what the kernel was told."""

    __slots__ = ("content", "entries", "gid", "inode", "mtime_ns", "path", "staged", "uid", "versions")

    def __init__(self, path: str, inode: int, content: VolumeContent, uid: int, gid: int) -> None:
        self.path = path
        self.inode = inode
        self.content = content
        """What the current version holds."""
        self.uid = uid
        self.gid = gid
        self.entries: dict[bytes, int] = {}
        """``..data``, versions, top-level symlinks or key files (and ``..data_tmp`` while a swap runs)."""
        self.staged: dict[bytes, int] = {}
        """Versions built and waiting for the writer's mkdir: name -> their directory's inode."""
        self.versions: dict[bytes, Tree] = {}
        self.mtime_ns = time.time_ns()


def _error(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)


class Filesystem(pyfuse3.Operations):
    """Serve a Layout; ``prepare`` takes a new one in and says what the kernel must be told or shown.

    A volume's top-level files are key files by default: a second name of the current version's
    file (what the kubelet's ``key -> ..data/key`` leads to), so that an open follows no symlink.
    ``key_symlinks``: the kubelet's symlinks instead (see ``fuse.swap``).
    """

    supports_dot_lookup = True
    enable_writeback_cache = False
    enable_acl = False
    enable_symlink_cache = True
    """Read by injector's patched pyfuse3 (vendor/pyfuse3.patch): ask the kernel to keep symlink
    targets cached. Safe here because a symlink's target never changes: a swap makes a new
    ``..data`` inode. Without it every open through ``vol/key`` costs two READLINK round trips."""

    def __init__(
        self,
        layout: Layout,
        *,
        on_open: Callable[[OpenEvent], None] | None = None,
        allowed_uids: frozenset[int] | None = None,
        key_symlinks: bool = False,
    ) -> None:
        super().__init__()
        self.key_symlinks = key_symlinks
        self._on_open = on_open
        self._allowed_uids = allowed_uids
        self._euid = os.geteuid()
        self.tree = Tree({}, {}, ROOT_INODE + 1)
        self.layout = layout
        self._next_inode = ROOT_INODE + 1
        self._nodes: dict[int, Node] = {}
        self._volumes: dict[int, Volume] = {}
        self._parents: dict[int, int] = {}
        """Directory inode -> its parent's (``..``)."""
        self._unlinked: set[int] = set()
        """Volume nodes no name reaches any more: dropped once the kernel forgets them."""
        self._key_named: set[int] = set()
        """Versions' files that also have a top-level key name (at most one: a name per file)."""
        self._writers: set[int] = set()
        """Thread ids of the writer threads inside a swap right now."""
        self._lookups: dict[int, int] = {}
        self._retired: dict[int, Node] = {}
        self._open_files: dict[int, int] = {}
        """inode -> number of open handles. A file handle is its inode number: an inode's content
        never changes, so a handle needs to pin nothing but the inode, which the kernel keeps
        (and never forgets) while the file is open."""
        self._unreachable: set[int] = set()
        """Retired inodes that only open handles reach: dropped when their last handle closes."""
        self._dir_handles: dict[int, int] = {}
        """Directory handle -> the directory's inode (listed live at each READDIR)."""
        self._listings: dict[int, tuple[int, dict[bytes, int]]] = {}
        """Directory inode -> (open handles, cookie of each name): stable while one is open."""
        self._next_handle = 1
        self._next_cookie = _FIRST_COOKIE
        self.opens = 0
        self.reads = 0
        self.no_open = (
            on_open is None
            and allowed_uids is None
            and bool(getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False))
        )
        """Let the kernel open files by itself (answer OPEN with ENOSYS, once): every open of an
        unchanged file is then served from its caches. Needs pyfuse3 to pass the inode to read()
        when no handle exists (vendor/pyfuse3.patch), and no per-open work: not with an audit log
        or --allowed-uid, which must see each open. Opens are then not counted."""
        self.prepare(layout)

    # -- the one place unknown inodes become errno ------------------------------------------------

    def _node(self, inode: int) -> Node:
        node = self.tree.nodes.get(inode) or self._nodes.get(inode) or self._retired.get(inode)
        if node is None:
            raise _error(errno.ENOENT)
        return node

    def _children(self, node: Node) -> dict[bytes, int]:
        volume = self._volumes.get(node.inode)
        if volume is not None:
            return volume.entries
        if node.children is None:
            raise _error(errno.ENOTDIR)
        return node.children

    def _linked(self, inode: int) -> Node | None:
        """The node if a name still reaches it (what a directory handle lists)."""
        if inode in self._unlinked:
            return None
        return self.tree.nodes.get(inode) or self._nodes.get(inode)

    # -- taking a new layout in -----------------------------------------------------------------------

    def prepare(self, layout: Layout) -> Update:
        """Serve ``layout`` from now on, outside volumes at once; volumes whose content changed get a
        new version staged, swapped in by the writer's calls (``Update.swaps``, see ``writing``)."""
        now = time.time_ns()
        outer_files, outer_dirs, contents = split_layout(layout)
        tree = build_tree(
            outer_files,
            dirs=outer_dirs,
            root=layout.root,
            uid=layout.uid,
            gid=layout.gid,
            now_ns=now,
            previous=self.tree,
            next_inode=self._next_inode,
        )
        self._next_inode = tree.next_inode
        wanted = {tree.by_path[path]: path for path in contents}
        for inode, volume in list(self._volumes.items()):
            if wanted.get(inode) != volume.path:
                del self._volumes[inode]
                for child in volume.entries.values():
                    self._discard(child)
        swaps = []
        for inode, path in wanted.items():
            known = self._volumes.get(inode)
            if known is None:
                # Never seen by the kernel: its first version is simply there.
                self._volumes[inode] = self._new_volume(path, inode, contents[path], layout, now)
            elif known.content != contents[path]:
                swaps.append(self._stage(known, contents[path], layout, now))
        invalidations = self.replace(tree)
        self.layout = layout
        return Update(invalidations, tuple(swaps))

    def replace(self, tree: Tree) -> Invalidations:
        """Swap in ``tree`` at once; nodes the kernel still knows stay readable until forgotten."""
        old, self.tree = self.tree, tree
        for inode, node in old.nodes.items():
            if inode not in tree.nodes and self._lookups.get(inode):
                self._retired[inode] = node
        for inode in [inode for inode in self._retired if inode in tree.nodes]:
            del self._retired[inode]
        for path, inode in tree.by_path.items():
            if path and tree.nodes[inode].is_dir:
                self._parents[inode] = tree.by_path[posixpath.dirname(path)]
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

    # -- volumes --------------------------------------------------------------------------------------

    def _build_version(
        self, volume_path: str, content: VolumeContent, layout: Layout, now: int, previous: Tree | None
    ) -> Tree:
        root_inode = self._next_inode
        tree = build_tree(
            content.files,
            dirs=content.dirs,
            root=content.root,
            uid=layout.uid,
            gid=layout.gid,
            now_ns=now,
            previous=previous,
            next_inode=root_inode + 1,
            root_inode=root_inode,
            fresh=True,
            prefix=f"{volume_path}/" if volume_path else "",
        )
        self._next_inode = tree.next_inode
        self._nodes.update(tree.nodes)
        for path, inode in tree.by_path.items():
            if path and tree.nodes[inode].is_dir:
                self._parents[inode] = tree.by_path[posixpath.dirname(path)]
        return tree

    def _new_link(self, target: bytes, uid: int, gid: int) -> Node:
        node = Node(
            inode=self._next_inode,
            path="",
            mode=stat.S_IFLNK | 0o777,
            uid=uid,
            gid=gid,
            mtime_ns=time.time_ns(),
            data=target,
        )
        self._next_inode += 1
        self._nodes[node.inode] = node
        return node

    def _new_volume(self, path: str, inode: int, content: VolumeContent, layout: Layout, now: int) -> Volume:
        uid = layout.uid if content.root.uid is None else content.root.uid
        gid = layout.gid if content.root.gid is None else content.root.gid
        volume = Volume(path, inode, content, uid, gid)
        name = version_name().encode()
        tree = self._build_version(path, content, layout, now, None)
        self._parents[tree.root.inode] = inode
        volume.versions[name] = tree
        volume.entries[name] = tree.root.inode
        volume.entries[DATA.encode()] = self._new_link(name, uid, gid).inode
        for top in sorted(top_level(content.files)):
            volume.entries[top.encode()] = self._top_level_entry(volume, tree, top.encode())
        return volume

    def _top_level_entry(self, volume: Volume, version: Tree, name: bytes, current: int | None = None) -> int:
        """What a top-level ``name`` of ``version`` is: its key file, or a symlink through ``..data``
        (``current`` if it is that symlink already). A key file gains a name."""
        inode = version.by_path[name.decode()]
        if inode == current:
            return current
        if not self.key_symlinks and not self._nodes[inode].is_dir:
            self._key_named.add(inode)
            return inode
        target = DATA.encode() + b"/" + name
        if current is not None and self._nodes[current].is_link and self._nodes[current].data == target:
            return current
        return self._new_link(target, volume.uid, volume.gid).inode

    def _stage(self, volume: Volume, content: VolumeContent, layout: Layout, now: int) -> Swap:
        name = version_name()
        while name.encode() in volume.entries or name.encode() in volume.staged:
            name = version_name()
        state = self._state(volume)
        current = volume.versions.get(state.data_target.encode()) if state.data_target else None
        tree = self._build_version(volume.path, content, layout, now, current)
        self._parents[tree.root.inode] = volume.inode
        volume.staged[name.encode()] = tree.root.inode
        volume.versions[name.encode()] = tree
        files = None if self.key_symlinks else {path for path in content.files if "/" not in path}
        plan = swap_steps(state, name, content.root.mode, top_level(content.files), new_files=files)
        return Swap(volume.path, volume.inode, name, plan, content)

    def _state(self, volume: Volume) -> VolumeState:
        data = volume.entries.get(DATA.encode())
        removal = {}
        for name, inode in volume.entries.items():
            node = self._nodes[inode]
            if name.startswith(b"..") and node.is_dir:
                removal[name.decode()] = tuple(self._removal_order(node, ""))
        return VolumeState(
            frozenset(name.decode() for name in volume.entries),
            self._nodes[data].data.decode() if data is not None else None,
            removal,
        )

    def _removal_order(self, directory: Node, prefix: str) -> Iterator[tuple[str, bool]]:
        """What os.RemoveAll unlinks and removes in ``directory``: children before their directory."""
        for name, inode in (directory.children or {}).items():
            path = prefix + name.decode()
            node = self._nodes[inode]
            if node.is_dir:
                yield from self._removal_order(node, path + "/")
            yield path, node.is_dir

    def finish(self, swap: Swap, *, done: bool) -> None:
        """After the writer made ``swap``'s calls (``done``), or failed: a version staged and not
        taken is dropped; the volume holds whatever the kernel was told."""
        volume = self._volumes.get(swap.inode)
        if volume is None or volume.path != swap.volume:
            return  # the volume left the layout meanwhile
        inode = volume.staged.pop(swap.version.encode(), None)
        if inode is not None:
            volume.versions.pop(swap.version.encode(), None)
            self._discard(inode)
        if done:
            volume.content = swap.content

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Accept write-type calls from the current thread for the duration: a swap's writer.

        The kernel gives each request the id of the thread that made the call; a thread id is
        unique while that thread lives, and this one is blocked in the call being answered.
        """
        tid = threading.get_native_id()
        self._writers.add(tid)
        try:
            yield
        finally:
            self._writers.discard(tid)

    def _check_writer(self, ctx: pyfuse3.RequestContext) -> None:
        if ctx.pid not in self._writers or ctx.uid != self._euid:
            raise _error(errno.EROFS)

    def _writable(self, inode: int) -> tuple[Volume | None, dict[bytes, int]]:
        """A directory the writer may change: a volume's, or one inside a version (being removed)."""
        volume = self._volumes.get(inode)
        if volume is not None:
            return volume, volume.entries
        node = self._nodes.get(inode)
        if node is None or node.children is None:
            raise _error(errno.EROFS)
        return None, node.children

    def _unlink(self, inode: int) -> None:
        """One name of ``inode`` is gone; with it the last, it is unlinked."""
        if inode in self._key_named:
            self._key_named.discard(inode)  # its other name stays
            return
        self._unlinked.add(inode)
        self._release(inode)

    def _discard(self, inode: int) -> None:
        """``inode`` and everything below it: no name reaches them any more."""
        node = self._nodes.get(inode)
        if node is not None and node.children:
            for child in list(node.children.values()):
                self._discard(child)
        self._unlink(inode)

    def _release(self, inode: int) -> None:
        """Drop an unlinked volume node once the kernel no longer knows it."""
        if inode in self._unlinked and not self._lookups.get(inode):
            self._unlinked.discard(inode)
            self._parents.pop(inode, None)
            node = self._nodes.pop(inode, None)
            if node is not None and node.children:
                for child in list(node.children.values()):
                    if child not in self._key_named:  # else a top-level name still reaches it
                        self._unlinked.add(child)
                        self._release(child)

    # -- attributes and names -----------------------------------------------------------------------

    def _attributes(self, node: Node) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = node.inode
        attrs.generation = 0
        attrs.entry_timeout = ATTR_TIMEOUT
        attrs.attr_timeout = ATTR_TIMEOUT
        attrs.st_mode = node.mode
        attrs.st_nlink = 0 if node.inode in self._unlinked else 2 if node.is_dir else 1
        attrs.st_uid = node.uid
        attrs.st_gid = node.gid
        attrs.st_rdev = 0
        attrs.st_size = 4096 if node.is_dir else len(node.data)
        attrs.st_blksize = 4096
        attrs.st_blocks = (attrs.st_size + 511) // 512
        volume = self._volumes.get(node.inode)
        mtime = volume.mtime_ns if volume is not None else node.mtime_ns
        attrs.st_atime_ns = mtime
        attrs.st_mtime_ns = mtime
        attrs.st_ctime_ns = mtime
        return attrs

    def _remember(self, inode: int) -> None:
        self._lookups[inode] = self._lookups.get(inode, 0) + 1

    def _entry(self, node: Node) -> pyfuse3.EntryAttributes:
        """An entry the kernel will keep: every reply carrying one counts as a lookup."""
        attrs = self._attributes(node)
        self._remember(node.inode)
        return attrs

    async def lookup(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        children = self._children(self._node(parent_inode))
        if name == b".":
            inode = parent_inode
        elif name == b"..":
            inode = self._parents.get(parent_inode, parent_inode)
        else:
            found = children.get(name)
            if found is None:
                raise _error(errno.ENOENT)  # not cached by the kernel: new names show at once
            inode = found
        return self._entry(self._node(inode))

    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self._attributes(self._node(inode))

    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self._node(inode)
        if not node.is_link:
            raise _error(errno.EINVAL)
        return node.data

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for inode, count in inode_list:
            left = self._lookups.get(inode, 0) - count
            if left > 0:
                self._lookups[inode] = left
                continue
            self._lookups.pop(inode, None)
            self._retired.pop(inode, None)
            self._unreachable.discard(inode)
            self._release(inode)

    async def access(self, inode: int, mode: int, ctx: pyfuse3.RequestContext) -> bool:
        self._node(inode)
        return not (mode & os.W_OK)

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        data = pyfuse3.StatvfsData()
        nodes = [*self.tree.nodes.values(), *self._nodes.values()]
        data.f_bsize = data.f_frsize = 4096
        data.f_blocks = sum((len(n.data) + 4095) // 4096 for n in nodes)
        data.f_bfree = data.f_bavail = 0
        data.f_files = len(nodes)
        data.f_ffree = data.f_favail = 0
        data.f_namemax = 255
        return data

    # -- directories: listed as they are when READDIR comes -----------------------------------------

    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        self._children(self._node(inode))
        handle = self._next_handle
        self._next_handle += 1
        self._dir_handles[handle] = inode
        count, cookies = self._listings.get(inode, (0, {}))
        self._listings[inode] = (count + 1, cookies)
        return handle

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        # The live directory, never a copy taken at OPENDIR: with readdirplus the kernel links each
        # entry it is given, so an old inode listed after a change would replace the right one in
        # its cache. The kernel holds the directory's lock during READDIR and during the writer's
        # calls, so a listing never falls between two of them. Cookies are stable per name while
        # the directory is open, so a change between two READDIRs skips or repeats nothing else.
        inode = self._dir_handles.get(fh)
        if inode is None:
            raise _error(errno.EBADF)
        directory = self._linked(inode)
        children = self._children(directory) if directory is not None else {}
        cookies = self._listings[inode][1]
        for name in [name for name in cookies if name not in children]:
            del cookies[name]
        for name in children:
            if name not in cookies:
                cookies[name] = self._next_cookie
                self._next_cookie += 1
        entries = [(1, b".", inode), (2, b"..", self._parents.get(inode, inode))]
        entries += sorted((cookies[name], name, child) for name, child in children.items())
        for cookie, name, child in entries:
            if cookie <= start_id:
                continue
            if not pyfuse3.readdir_reply(token, name, self._attributes(self._node(child)), cookie):
                return
            if cookie >= _FIRST_COOKIE:
                self._remember(child)  # readdirplus instantiates the entry: it counts as a lookup

    async def releasedir(self, fh: int) -> None:
        inode = self._dir_handles.pop(fh, None)
        if inode is None:
            return
        count, cookies = self._listings[inode]
        if count > 1:
            self._listings[inode] = (count - 1, cookies)
        else:
            del self._listings[inode]

    # -- files --------------------------------------------------------------------------------------

    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        if self.no_open:
            # Reads arrive with the inode as handle, and inodes never change content. Write opens
            # are refused by the kernel on the read-only view; a write on a handle is EROFS.
            raise _error(errno.ENOSYS)
        node = self._node(inode)
        denied = self._allowed_uids is not None and ctx.uid not in self._allowed_uids and ctx.uid != 0
        if self._on_open is not None:
            self._on_open(OpenEvent(node.path, ctx.uid, ctx.gid, ctx.pid, denied))
        if denied:
            raise _error(errno.EACCES)
        if flags & _WRITE_FLAGS:
            raise _error(errno.EROFS)
        if node.is_dir:
            raise _error(errno.EISDIR)
        self.opens += 1
        self._open_files[inode] = self._open_files.get(inode, 0) + 1
        # This inode's content never changes: the page cache may be kept across opens.
        return pyfuse3.FileInfo(fh=inode, keep_cache=True)

    async def read(self, fh: int, off: int, size: int) -> bytes:
        node = self.tree.nodes.get(fh) or self._nodes.get(fh) or self._retired.get(fh)
        if node is None:
            raise _error(errno.EBADF)
        self.reads += 1
        return node.data[off : off + size]

    async def flush(self, fh: int) -> None:
        # Nothing to flush; ENOSYS tells the kernel never to send FLUSH again (one round trip saved
        # on every close).
        raise _error(errno.ENOSYS)

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
        raise _error(errno.ENODATA)

    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext) -> list[bytes]:
        self._node(inode)
        return []

    # -- a swap's calls, from its writer thread only ------------------------------------------------

    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._check_writer(ctx)
        return self._entry(self._make_version(parent_inode, name, mode))

    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        self._check_writer(ctx)
        other = fields.update_size or fields.update_uid or fields.update_gid or fields.update_atime
        if not fields.update_mode or other or fields.update_mtime:
            raise _error(errno.EROFS)  # the writer only chmods a new version's directory
        return self._attributes(self._change_mode(inode, attr.st_mode))

    async def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._check_writer(ctx)
        return self._entry(self._make_link(parent_inode, name, target))

    async def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        self._check_writer(ctx)
        return self._entry(self._make_key_file(new_parent_inode, new_name, inode))

    async def rename(  # noqa: PLR0917 - pyfuse3 calls it positionally
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        self._check_writer(ctx)
        if parent_inode_new != parent_inode_old:
            raise _error(errno.EROFS)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise _error(errno.EINVAL)
        self._move(parent_inode_old, name_old, name_new, replace=not flags & pyfuse3.RENAME_NOREPLACE)

    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self._check_writer(ctx)
        self._remove(parent_inode, name, directory=False)

    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self._check_writer(ctx)
        self._remove(parent_inode, name, directory=True)

    # -- what those calls do, whoever makes them ----------------------------------------------------

    def _volume_for_new(self, parent_inode: int, name: bytes) -> Volume:
        """The volume a new ``name`` goes in: only a volume's own directory takes new names."""
        volume = self._volumes.get(parent_inode)
        if volume is None:
            raise _error(errno.EROFS)
        if name in volume.entries:
            raise _error(errno.EEXIST)
        return volume

    def _make_version(self, parent_inode: int, name: bytes, mode: int) -> Node:
        volume = self._volume_for_new(parent_inode, name)
        inode = volume.staged.pop(name, None)
        if inode is None:
            raise _error(errno.EROFS)  # only a staged version's directory can be made
        node = self._nodes[inode]
        node.mode = stat.S_IFDIR | stat.S_IMODE(mode)
        volume.entries[name] = inode
        volume.mtime_ns = time.time_ns()
        return node

    def _change_mode(self, inode: int, mode: int) -> Node:
        node = self._nodes.get(inode)
        if node is None:
            raise _error(errno.EROFS)
        node.mode = stat.S_IFMT(node.mode) | stat.S_IMODE(mode)
        return node

    def _make_key_file(self, parent_inode: int, name: bytes, inode: int) -> Node:
        """A top-level name for a file of one of the volume's versions (``link``)."""
        volume = self._volume_for_new(parent_inode, name)
        node = self._nodes.get(inode)
        in_version = node is not None and any(version.nodes.get(inode) is node for version in volume.versions.values())
        if (
            self.key_symlinks
            or node is None
            or not in_version
            or not stat.S_ISREG(node.mode)
            or inode in self._key_named
        ):
            raise _error(errno.EROFS)
        volume.entries[name] = inode
        self._key_named.add(inode)
        volume.mtime_ns = time.time_ns()
        return node

    def switch(self, volume_path: str, version: str, *, deleted: bool = False) -> list[Notice]:
        """Point the volume's top-level names at ``version``'s files, before ``..data`` is renamed
        (a ``switch`` step); returns the names the kernel must forget (no watcher hears of it).
        ``deleted``: and the inodes they named (on a descriptor, where the old version's removal
        reaches no watcher of a key file through its top-level name, this is its ``DELETE_SELF``).

        A key file the new version does not have is switched to a stand-in (a copy of it, with
        its own inode): the writer's unlink of that name then leaves the old file, and a watcher
        of it, to the old version's removal, as when the kubelet unlinks its symlink.
        """
        volume = self._volume_at(volume_path)
        if volume is None:
            return []
        tree = volume.versions.get(version.encode())
        if tree is None:
            raise _error(errno.ENOENT)
        notices = []
        for name, current in list(volume.entries.items()):
            if name.startswith(b".."):
                continue
            if name.decode() in tree.by_path:
                new = self._top_level_entry(volume, tree, name, current)
            elif current in self._key_named:
                new = self._stand_in(self._nodes[current])
            else:
                continue  # a symlink the writer unlinks
            if new != current:
                volume.entries[name] = new
                self._unlink(current)
                notices.append(Notice(volume.inode, name, current if deleted else 0))
        return notices

    def _stand_in(self, node: Node) -> int:
        copy = Node(
            inode=self._next_inode,
            path=node.path,
            mode=node.mode,
            uid=node.uid,
            gid=node.gid,
            mtime_ns=node.mtime_ns,
            data=node.data,
        )
        self._next_inode += 1
        self._nodes[copy.inode] = copy
        return copy.inode

    def _make_link(self, parent_inode: int, name: bytes, target: bytes) -> Node:
        volume = self._volume_for_new(parent_inode, name)
        node = self._new_link(target, volume.uid, volume.gid)  # a new inode every time: never retargeted
        volume.entries[name] = node.inode
        volume.mtime_ns = time.time_ns()
        return node

    def _move(self, parent_inode: int, name_old: bytes, name_new: bytes, *, replace: bool) -> int | None:
        """Rename within a volume's directory; returns the inode replaced, if any."""
        volume = self._volumes.get(parent_inode)
        if volume is None:
            raise _error(errno.EROFS)
        inode = volume.entries.get(name_old)
        if inode is None:
            raise _error(errno.ENOENT)
        victim = volume.entries.get(name_new)
        if victim is not None and not replace:
            raise _error(errno.EEXIST)
        if victim is not None and self._node(victim).is_dir:
            raise _error(errno.EISDIR)
        # One store: from here every lookup finds the new ..data. The kernel moves its own cached
        # entry the same way, so nothing needs invalidating.
        del volume.entries[name_old]
        volume.entries[name_new] = inode
        volume.mtime_ns = time.time_ns()
        if victim is not None:
            self._unlink(victim)
        return victim

    def _remove(self, parent_inode: int, name: bytes, *, directory: bool) -> int:
        """Unlink a name (``rmdir`` when ``directory``); returns the inode it named."""
        volume, children = self._writable(parent_inode)
        inode = children.get(name)
        if inode is None:
            raise _error(errno.ENOENT)
        node = self._node(inode)
        if directory and node.children is None:
            raise _error(errno.ENOTDIR)
        if not directory and node.is_dir:
            raise _error(errno.EISDIR)
        if directory and node.children:
            raise _error(errno.ENOTEMPTY)  # the kernel leaves this check to the filesystem
        del children[name]
        if volume is not None:
            volume.mtime_ns = time.time_ns()
            if directory:
                volume.versions.pop(name, None)
        self._unlink(inode)
        return inode

    # -- a swap made here, told to the kernel by notices (a mount with no path to make the calls on)

    def apply(self, volume: str, steps: Iterable[Step]) -> list[Notice]:
        """Make ``steps`` in the volume at ``volume`` here, as the writer's calls would; returns what
        the kernel must be told (nothing if that volume has left the layout meanwhile).

        For a mount this process has no path to (one on a descriptor it was handed): the content
        changes as with the calls, but no watcher of the volume's directory hears of it, only a
        watcher of a removed file or link (``DELETE_SELF``, from the notice).
        """
        found = self._volume_at(volume)
        notices: list[Notice] = []
        if found is None:
            return notices
        for step in steps:
            if step.call == SWITCH:
                notices += self.switch(volume, step.path, deleted=True)
                continue
            parent, name = self._step_parent(found.inode, step.path)
            if step.call == "mkdir":
                self._make_version(parent, name, step.mode)
            elif step.call == "chmod":
                self._change_mode(self._step_inode(found.inode, step.path), step.mode)
            elif step.call == "symlink":
                self._make_link(parent, name, step.target.encode())
            elif step.call == "link":
                self._make_key_file(parent, name, self._step_inode(found.inode, step.target))
            elif step.call == "rename":
                victim = self._move(parent, name, step.target.encode(), replace=True)
                notices.append(Notice(parent, name, 0))
                notices.append(Notice(parent, step.target.encode(), victim or 0))
            else:
                notices.append(Notice(parent, name, self._remove(parent, name, directory=step.call == "rmdir")))
        return notices

    def _volume_at(self, path: str) -> Volume | None:
        """The volume whose directory is at ``path``, if it is still in the layout."""
        return next((volume for volume in self._volumes.values() if volume.path == path), None)

    def _step_parent(self, volume_inode: int, path: str) -> tuple[int, bytes]:
        *directories, name = path.split("/")
        parent = volume_inode
        for directory in directories:
            parent = self._child(parent, directory.encode())
        return parent, name.encode()

    def _step_inode(self, volume_inode: int, path: str) -> int:
        return self._child(*self._step_parent(volume_inode, path))

    def _child(self, parent: int, name: bytes) -> int:
        found = self._children(self._node(parent)).get(name)
        if found is None:
            raise _error(errno.ENOENT)
        return found

    # -- everything else that writes ----------------------------------------------------------------

    async def mknod(self, *args: Any) -> pyfuse3.EntryAttributes:
        raise _error(errno.EROFS)

    async def create(self, *args: Any) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        raise _error(errno.EROFS)

    async def write(self, *args: Any) -> int:
        raise _error(errno.EROFS)

    async def setxattr(self, *args: Any) -> None:
        raise _error(errno.EROFS)

    async def removexattr(self, *args: Any) -> None:
        raise _error(errno.EROFS)

    async def fsync(self, *args: Any) -> None:
        return None
