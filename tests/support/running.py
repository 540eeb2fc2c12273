"""A real `injector run` process whose output a test reads as it comes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


class Running:
    """``injector run ARGS`` (or ``prefix`` + that, e.g. unshare), with stdout and stderr read as they come."""

    def __init__(self, args: Sequence[str], *, prefix: Sequence[str] = ()) -> None:
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "injector", "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.out = b""
        self.err = b""

    def _read(self, timeout: float) -> None:
        streams = [s for s in (self.process.stdout, self.process.stderr) if s is not None]
        ready, _, _ = select.select(streams, [], [], timeout)
        for stream in ready:
            chunk = os.read(stream.fileno(), 65536)
            if stream is self.process.stdout:
                self.out += chunk
            else:
                self.err += chunk
            if not chunk and self.process.poll() is not None:
                raise AssertionError(f"injector run exited {self.process.returncode}: {self.err.decode()}")

    def wait_out(self, text: str, times: int = 1, timeout: float = 30) -> None:
        """Until the command has printed ``text`` ``times`` times."""
        self._wait(
            lambda: self.out.decode(errors="replace").count(text) >= times, f"{text!r} x{times} on stdout", timeout
        )

    def wait_err(self, text: str, times: int = 1, timeout: float = 30) -> None:
        """Until injector has said ``text`` ``times`` times."""
        self._wait(
            lambda: self.err.decode(errors="replace").count(text) >= times, f"{text!r} x{times} on stderr", timeout
        )

    def _wait(self, done: object, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what}: stdout {self.out.decode()!r}, stderr {self.err.decode()!r}")
            self._read(0.05)

    def stop(self, signum: int = signal.SIGTERM, pid: int | None = None) -> int:
        """Send ``signum`` (to ``pid``, default injector) and wait for the end; returns the status."""
        if self.process.poll() is None:
            os.kill(pid or self.process.pid, signum)
        out, err = self.process.communicate(timeout=60)
        self.out += out
        self.err += err
        return self.process.returncode

    def lines(self) -> list[str]:
        return self.out.decode().splitlines()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
