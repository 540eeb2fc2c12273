"""Run injector on a real pseudo-terminal, answering its questions as a person would."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent.parent


class Session(NamedTuple):
    status: int
    """The exit status (128+N when signal N ended it)."""
    screen: bytes
    """Everything the terminal showed."""


def _read_until(fd: int, screen: bytearray, start: int, expected: bytes, deadline: float) -> int:
    """Read until ``expected`` shows after ``start``; returns where it ends."""
    while expected not in screen[start:]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {expected!r}; the terminal shows {bytes(screen)!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the program ended
                chunk = b""
            if not chunk:
                raise AssertionError(f"ended before {expected!r}; the terminal shows {bytes(screen)!r}")
            screen += chunk
    return screen.index(expected, start) + len(expected)


def on_terminal(
    args: Sequence[str],
    answers: Sequence[tuple[bytes, bytes]],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Session:
    """``injector ARGS`` with a pseudo-terminal as its controlling terminal (and stdio): each time the
    screen shows ``expected``, ``answer`` is typed."""
    full_env = {**os.environ, **(env or {})}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes injector at once
        try:
            os.chdir(REPO)
            os.execve(sys.executable, [sys.executable, "-m", "injector", *args], full_env)
        finally:
            os._exit(127)
    screen = bytearray()
    deadline = time.monotonic() + timeout
    seen = 0
    try:
        for expected, answer in answers:
            seen = _read_until(fd, screen, seen, expected, deadline)
            os.write(fd, answer)
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"did not end; the terminal shows {bytes(screen)!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return Session(
        os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status), bytes(screen)
    )
