"""The privileged side of a descriptor mount, played by the test process (root): open /dev/fuse and
mount it with ``fd=N`` as a FUSE CSI driver or a privileged init does; hand it over inherited or
over a unix socket (meta-fuse-csi-plugin's fd passing); run injector as another uid with no
capability at all."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2


def unprivileged(uid: int) -> list[str]:
    """The command prefix that runs as ``uid`` with every capability set empty."""
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


@contextmanager
def shared_directory() -> Iterator[Path]:
    """A directory other uids can read (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="injector-fd-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def package_reachable() -> Iterator[None]:
    """The package and its venv reachable by other uids while the context lasts (a clone under
    /root is not): o+x on the directories on the way, put back after."""
    changed = []
    for start in {REPO, Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent}:
        for directory in [start, *start.parents]:
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH:
                directory.chmod(mode | stat.S_IXOTH)
                changed.append((directory, mode))
    try:
        yield
    finally:
        for directory, mode in changed:
            directory.chmod(stat.S_IMODE(mode))


def mounted_descriptor(target: Path, uid: int) -> int:
    """Open /dev/fuse and mount it at ``target`` for ``uid``, with the options a FUSE CSI driver uses."""
    descriptor = os.open("/dev/fuse", os.O_RDWR)
    options = f"fd={descriptor},rootmode=40000,user_id={uid},group_id={uid},allow_other,default_permissions"
    if _libc.mount(b"injector", os.fsencode(target), b"fuse.injector", MS_NOSUID | MS_NODEV, options.encode()):
        error = ctypes.get_errno()
        os.close(descriptor)
        raise OSError(error, os.strerror(error))
    return descriptor


def unmount(target: Path) -> None:
    _libc.umount2(os.fsencode(target), MNT_DETACH)


class CsiDriver:
    """meta-fuse-csi-plugin's node side for one volume: listen on the socket in the pod's emptyDir
    (owned by the sidecar's uid); on connection, open /dev/fuse, mount it at the volume, and send
    the descriptor with the volume's name."""

    def __init__(self, socket_path: Path, target: Path, uid: int, volume: str = "creds") -> None:
        self.target = target
        self.uid = uid
        self.volume = volume
        os.chown(socket_path.parent, uid, uid)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(socket_path))
        os.chown(socket_path, uid, uid)
        self.listener.listen(1)
        self.thread = threading.Thread(target=self._hand_over, daemon=True)
        self.thread.start()

    def _hand_over(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return  # closed without a connection
        with connection:
            descriptor = mounted_descriptor(self.target, self.uid)
            try:
                socket.send_fds(connection, [json.dumps({"volumeName": self.volume}).encode()], [descriptor])
            finally:
                os.close(descriptor)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes an accept() still waiting (Linux)
        self.listener.close()
        self.thread.join(timeout=10)
        unmount(self.target)
