"""Receiving a descriptor over a unix socket, as a FUSE CSI driver sends it (no FUSE needed)."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from fuse.handover import HandoverError, receive_descriptor, socket_of


def send_once(path: Path, message: bytes, descriptors: list[int]) -> threading.Thread:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                socket.send_fds(connection, [message], descriptors)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_receives_the_descriptor_and_volume_name_and_removes_the_socket(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    path = tmp_path / "vol.sock"
    sender = send_once(path, json.dumps({"volumeName": "creds"}).encode(), [write_end])

    descriptor, volume = receive_descriptor(str(path), timeout=10)
    sender.join()

    assert "creds" == volume
    os.write(descriptor, b"x")
    assert b"x" == os.read(read_end, 1)  # the very pipe that was sent
    assert not path.exists()
    for fd in (descriptor, read_end, write_end):
        os.close(fd)


def test_a_socket_path_too_long_for_sockaddr_un_is_reached_through_its_directory(tmp_path: Path) -> None:
    directory = tmp_path / ("d" * 60) / ("e" * 60)
    directory.mkdir(parents=True)
    path = directory / "fuse-csi-ephemeral.sock"
    assert len(str(path)) > 108
    current = os.getcwd()
    os.chdir(directory)  # bind by a short relative name, as the driver does
    try:
        read_end, write_end = os.pipe()
        sender = send_once(Path(path.name), b"{}", [write_end])
    finally:
        os.chdir(current)

    descriptor, volume = receive_descriptor(str(path), timeout=10)
    sender.join()

    assert volume is None
    for fd in (descriptor, read_end, write_end):
        os.close(fd)


def test_nobody_listening_is_said_after_the_timeout(tmp_path: Path) -> None:
    with pytest.raises(HandoverError, match=r"none\.sock: nobody listens there"):
        receive_descriptor(str(tmp_path / "none.sock"), timeout=0.2)


def test_a_sender_that_sends_no_descriptor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vol.sock"
    sender = send_once(path, b"{}", [])
    with pytest.raises(HandoverError, match="sent no descriptor"):
        receive_descriptor(str(path), timeout=10)
    sender.join()


def test_only_the_fd_socket_form_names_a_socket() -> None:
    assert "/run/x.sock" == socket_of("fd-socket:/run/x.sock")
    assert socket_of("/dev/fd/3") is None
    assert socket_of("/mnt/secret") is None
