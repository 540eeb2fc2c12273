"""A read-only FUSE filesystem over an immutable in-memory tree, built on pyfuse3 and trio.

It knows nothing of Kubernetes: give it paths with bytes, modes and owners; replace the whole tree
atomically whenever you like. Each inode's content never changes (a changed file gets a new inode,
as the kubelet's atomic writer gives a new file), so the kernel may cache every page and attribute
for as long as it keeps the inode, and a reader holding a file open keeps reading the version it
opened.

    tree        pure: FileSpec -> Tree, and the invalidations a replacement needs
    filesystem  the pyfuse3 Operations over the current Tree
    mount       mounting, serving until cancelled, unmounting, stale-mount recovery
"""

from fuse.tree import FileSpec, Tree, build_tree

__all__ = ["FileSpec", "Tree", "build_tree", "unloadable"]


def unloadable() -> str | None:
    """Why pyfuse3 (and the libfuse3 it links) cannot be loaded, or None when it can."""
    try:
        import pyfuse3  # noqa: F401
    except ImportError as exc:
        return f"FUSE support cannot be loaded ({exc}); install libfuse3 (Debian/Ubuntu package fuse3) and pyfuse3"
    return None
