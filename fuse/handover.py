"""A mounted ``/dev/fuse`` descriptor handed over by whoever mounted it, through a unix socket.

A FUSE CSI driver (meta-fuse-csi-plugin's fd passing) listens on a socket it creates in an
emptyDir the sidecar shares; on NodePublishVolume it opens ``/dev/fuse``, mounts it at the pod's
volume with ``fd=N`` and sends the descriptor to whoever connects (``SCM_RIGHTS``, with a JSON
message naming the volume), then the socket is done with. The process that receives it serves the
mount with no privilege at all: the mount is already made.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator

SOCKET_PREFIX = "fd-socket:"
"""``--mount fd-socket:PATH``: receive the descriptor on the unix socket at PATH."""

_MAX_UNIX_PATH = 107


class HandoverError(Exception):
    """No descriptor came; the message names the socket and what went wrong."""


def socket_of(mountpoint: str) -> str | None:
    """The socket path of an ``fd-socket:PATH`` mountpoint, else None."""
    return mountpoint[len(SOCKET_PREFIX) :] if mountpoint.startswith(SOCKET_PREFIX) else None


def receive_descriptor(path: str, timeout: float) -> tuple[int, str | None]:
    """Connect to ``path`` (waiting up to ``timeout`` seconds for it to be listened on) and receive
    one descriptor; returns it and the volume name the sender gave, if any. The socket is removed
    once used, as the sender expects."""
    deadline = time.monotonic() + timeout
    with _connected(path, deadline) as connection:
        connection.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            message, descriptors, _, _ = socket.recv_fds(connection, 4096, 1)
        except TimeoutError:
            raise HandoverError(f"{path}: nothing was sent within {timeout:g}s") from None
        except OSError as exc:
            raise HandoverError(f"{path}: cannot receive the descriptor: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        os.unlink(path)
    if not descriptors:
        raise HandoverError(f"{path}: the sender sent no descriptor")
    for extra in descriptors[1:]:
        os.close(extra)
    return descriptors[0], _volume_name(message)


@contextlib.contextmanager
def _connected(path: str, deadline: float) -> Iterator[socket.socket]:
    directory = None
    address = path
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:  # too long for sockaddr_un: reach it through a descriptor
        directory = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        address = f"/proc/self/fd/{directory}/{os.path.basename(path)}"
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        while True:
            try:
                connection.connect(address)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() >= deadline:
                    raise HandoverError(f"{path}: nobody listens there (is the FUSE CSI volume mounted?)") from None
                time.sleep(0.05)
            except OSError as exc:
                raise HandoverError(f"{path}: cannot connect: {exc.strerror}") from None
        yield connection
    finally:
        connection.close()
        if directory is not None:
            os.close(directory)


def _volume_name(message: bytes) -> str | None:
    try:
        sent = json.loads(message or b"{}")
    except ValueError:
        return None
    name = sent.get("volumeName") if isinstance(sent, dict) else None
    return name if isinstance(name, str) else None
