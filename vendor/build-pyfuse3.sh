#!/bin/sh
# Build pyfuse3 with vendor/pyfuse3.patch into the venv whose bin/ is $1.
#
# The patch does two things pyfuse3 3.5.0 does not:
# - read() receives the inode as its file handle when the kernel sent none, which happens once
#   open() answers ENOSYS ("no-open" support). The kernel then serves every open of an unchanged
#   file from its caches, without a round trip to this Python process.
# - Operations.enable_symlink_cache = True asks the kernel for FUSE_CAP_CACHE_SYMLINKS: a symlink's
#   target is read once per inode and kept in the page cache. A volume's keys are symlinks
#   (key -> ..data/key, ..data -> ..<timestamp>), as the kubelet writes them; without the cache each
#   open pays two READLINK round trips.
# Together: open+read+close of MOUNT/vol/key ~1.4x tmpfs instead of ~12-34x (benchmarks/fuse_read.py).
# Without the patch injector still works, slower, and says so once at mount start. Remove this step
# once pyfuse3 does both itself.
set -eu
BIN=$1
VERSION=3.5.0
HERE=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN/pip" download -q --no-deps --no-binary pyfuse3 -d "$work" "pyfuse3==$VERSION"
tar xzf "$work/pyfuse3-$VERSION.tar.gz" -C "$work"
(cd "$work/pyfuse3-$VERSION" && patch -s -p1 < "$HERE/pyfuse3.patch")
"$BIN/pip" install -q --no-deps --force-reinstall "$work/pyfuse3-$VERSION"
"$BIN/python" -c 'import pyfuse3, sys; sys.exit(0 if getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False) and getattr(pyfuse3, "SYMLINK_CACHE_SUPPORTED", False) else 1)'
