"""Run `injector mount` as a real process on a real FUSE mount, for the tests."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest


def fuse_unavailable() -> str | None:
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian package fuse3)"
    if os.geteuid() != 0:
        return "mounting in tests needs root"
    try:
        import pyfuse3  # noqa: F401
    except ImportError:
        return "pyfuse3 is not installed"
    return None


def requires_fuse() -> pytest.MarkDecorator:
    """Skip without FUSE, except in CI, where a missing FUSE is a failure to fix, not a skip."""
    reason = fuse_unavailable()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must be able to mount FUSE: {reason}", pytrace=False)
    return pytest.mark.skipif(reason is not None, reason=str(reason))


def wait_for(condition: object, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Mount:
    """An `injector mount` process serving ``path``; stopped with SIGTERM on exit."""

    def __init__(self, path: Path, args: Sequence[str]) -> None:
        self.path = path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "injector", "mount", *args, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.early_stderr = b""
        deadline = time.monotonic() + 30
        assert self.process.stderr is not None
        # Ready when injector says it serves (a stale mount at `path` would fool os.path.ismount).
        while b"injector: serving " not in self.early_stderr:
            ready, _, _ = select.select([self.process.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(self.process.stderr.fileno(), 65536)
                self.early_stderr += chunk
                if not chunk:
                    self.process.wait()
                    raise AssertionError(f"injector mount exited: {self.early_stderr.decode()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError("injector mount did not start in time")

    def wait_said(self, text: str, times: int = 1, timeout: float = 30) -> None:
        """Until injector has said ``text`` (on stderr) ``times`` times since it started."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while self.early_stderr.decode(errors="replace").count(text) < times:
            ready, _, _ = select.select([self.process.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(self.process.stderr.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"injector exited: {self.early_stderr.decode()}")
                self.early_stderr += chunk
            if time.monotonic() > deadline:
                raise AssertionError(f"injector did not say {text!r} {times} times: {self.early_stderr.decode()}")

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-u", "-z", str(self.path)], check=False)
        return self.process.returncode, (self.early_stderr + err).decode()

    def __enter__(self) -> Mount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def visible(directory: Path) -> list[str]:
    """A volume's names as a user lists them: ``..data`` and the versions (``..<timestamp>``) left out."""
    return sorted(name for name in os.listdir(directory) if not name.startswith(".."))


def replace_file(path: Path, content: str) -> None:
    """Write like an editor or the kubelet: a new file renamed over the old one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(content)
    os.replace(temporary, path)
