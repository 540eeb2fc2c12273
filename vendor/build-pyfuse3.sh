#!/bin/sh
# Build pyfuse3 with vendor/pyfuse3-read-inode.patch into the venv whose bin/ is $1.
#
# The patch (2 lines) passes the inode to read() as its file handle when the kernel sent none,
# which happens once open() answers ENOSYS ("no-open" support). That lets the kernel serve every
# open of an unchanged file from its caches, without a round trip to this Python process:
# open+read+close goes from ~13x tmpfs to close to tmpfs (benchmarks/fuse_read.py). Without the
# patch injector still works, opening every file through the daemon. Remove this step once
# pyfuse3 hands the inode to read() itself.
set -eu
BIN=$1
VERSION=3.5.0
HERE=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN/pip" download -q --no-deps --no-binary :all: -d "$work" "pyfuse3==$VERSION"
tar xzf "$work/pyfuse3-$VERSION.tar.gz" -C "$work"
(cd "$work/pyfuse3-$VERSION" && patch -s -p1 < "$HERE/pyfuse3-read-inode.patch")
"$BIN/pip" install -q --no-deps --force-reinstall "$work/pyfuse3-$VERSION"
"$BIN/python" -c 'import pyfuse3, sys; sys.exit(0 if getattr(pyfuse3, "READ_HANDLE_IS_INODE_WITHOUT_OPEN", False) else 1)'
