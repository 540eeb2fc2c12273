"""A FUSE filesystem over immutable in-memory trees, read-only to all but itself, on pyfuse3 and trio.

It knows nothing of Kubernetes: give it a Layout (paths with bytes, modes and owners, and which
directories are volumes) and a new one whenever you like. Each inode's content never changes (a
changed file gets a new inode), so the kernel may cache every page and attribute for as long as it
keeps the inode, and a reader holding a file open keeps reading the version it opened. A volume
changes by an atomic swap of its ``..data`` symlink, made by real calls on the mount, so that
watchers get the inotify events of a kubelet volume.

    tree        pure: FileSpec -> Tree, the invalidations a replacement needs, a mount's Layout
    swap        a volume's atomic swap: the kubelet writer's steps, and running them
    filesystem  the pyfuse3 Operations over the current trees and volumes
    mount       mounting (a read-only view) or serving a mount made on a descriptor, until cancelled;
                updating; stale-mount recovery
    handover    receiving a mounted /dev/fuse descriptor over a unix socket (FUSE CSI drivers)

On a descriptor (``/dev/fd/N``, mounted by whoever opened ``/dev/fuse``) the mount is not this
process's to reach by path: a volume's swap is then made by the filesystem itself and told to the
kernel by notices, so a watcher of a file gets ``DELETE_SELF`` and a watcher of the directory nothing.
"""

from fuse.tree import DirSpec, FileSpec, Layout, Tree, build_tree

__all__ = ["DirSpec", "FileSpec", "Layout", "Tree", "build_tree", "unloadable"]


def unloadable() -> str | None:
    """Why pyfuse3 (and the libfuse3 it links) cannot be loaded, or None when it can."""
    try:
        import pyfuse3  # noqa: F401
    except ImportError as exc:
        return f"FUSE support cannot be loaded ({exc}); install libfuse3 (Debian/Ubuntu package fuse3) and pyfuse3"
    return None
