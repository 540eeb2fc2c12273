"""Run a command as a child under trio: forward signals, redact its output, pass its status, and
restart, signal or reload it when what it sees changes (I/O shell).

Used when injector must stay the child's parent (``--mask``, a mount, ``--watch``, PID 1). A plain
``run`` execs instead and never imports this module, so it does not pay for trio.

    Supervisor.run        one nursery: signals forwarded, orphans reaped (PID 1), output pumped
    └── _tend             one child's life: until it exits, or a change stops it for a restart
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import trio

from injector.core.mask import Redactor
from injector.core.onchange import Action, OnChange, reaction
from injector.shell.output import write_all
from injector.shell.process import FORWARDED_SIGNALS, Launch, cannot_execute, exit_status, reap_orphans
from injector.shell.report import Reporter

READ_SIZE = 65536
TERMINATE_GRACE = 5.0
"""Seconds a child gets after SIGTERM, when injector itself is stopped, before SIGKILL."""
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
"""Forwarded signals after which the child, once it exits, is not started again."""

AUTO = OnChange()

__all__ = ["FORWARDED_SIGNALS", "Launch", "Supervisor"]


class _Output:
    """One of the child's output streams and the redactor its bytes go through (replaced by one
    that knows new values too, when a change brings some)."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor


def _write_unless_gone(fd: int, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # whoever read our output went away: nothing to do
        write_all(fd, data)


async def _pump(source: trio.abc.ReceiveStream, target_fd: int, output: _Output) -> None:
    async def write(data: bytes) -> None:
        # injector's own stdout/stderr may be a regular file, which epoll cannot wait on: write
        # in a worker thread so a slow reader never stalls signal forwarding.
        await trio.to_thread.run_sync(_write_unless_gone, target_fd, data)

    try:
        while True:
            chunk = await source.receive_some(READ_SIZE)
            if not chunk:
                break
            out = output.redactor.feed(bytes(chunk))
            if out:
                await write(out)
    finally:
        # What the redactor held back (a possible start of a value) is written even when the
        # drain is cut short: output is never lost, only redacted.
        tail = output.redactor.flush()
        if tail:
            with trio.CancelScope(shield=True):
                await write(tail)


DRAIN_GRACE = 1.0
"""Seconds the command's pipes are drained after it exits (with ``--mask``)."""


class Supervisor:
    """Runs ``launch``'s command until it exits and returns its status; ``offer`` tells it what the
    command sees after a change, and it restarts, signals or reloads the command as ``policy`` says.

    A restart stops the command with ``stop_signal``, waits up to ``grace`` seconds, then SIGKILLs
    it, and starts it again with what was offered last (after a random part of ``splay`` seconds).
    A command that exits by itself is not started again: its status is the result.
    """

    def __init__(
        self,
        launch: Launch,
        reporter: Reporter,
        *,
        policy: OnChange = AUTO,
        stop_signal: int = signal.SIGTERM,
        grace: float = 30.0,
        splay: float = 0.0,
    ) -> None:
        self._launch = launch
        """What the next start gets."""
        self._running = launch
        """What the running child got."""
        self._reporter = reporter
        self._policy = policy
        self._stop_signal = stop_signal
        self._grace = grace
        self._splay = splay
        self._pending: Action | None = None
        self._wake = trio.Event()
        self._offers = 0
        """Changes offered so far: a start covers those offered before it took its launch."""
        self._process: trio.Process | None = None
        self._outputs: list[_Output] = []
        self._ours: set[int] = set()
        """Children trio waits for: the command and an ``exec:`` command (never reaped as orphans)."""
        self._ending = False
        self._held: list[int] = []
        self.starts = 0

    @property
    def name(self) -> str:
        return os.path.basename(self._running.argv[0])

    def offer(self, launch: Launch, *, files_changed: bool) -> bool:
        """What the command sees now, once the mount shows it; returns whether anything is done."""
        env_changed = launch.argv != self._running.argv or launch.env != self._running.env
        action = reaction(self._policy, env_changed=env_changed, files_changed=files_changed)
        self._launch = launch
        self._offers += 1
        if launch.mask:
            # A command that keeps running may print the new values too.
            for output in self._outputs:
                output.redactor = output.redactor.extended(launch.mask)
        if env_changed and action != "restart":
            self._reporter.say(
                f"{self.name}: its env changed, and keeps the one it started with (only a restart could "
                "give it another; --on-change restart)"
            )
        if action == "none":
            return False
        if self._pending != "restart":  # a restart covers any other action
            self._pending = action
        self._wake.set()
        return True

    async def run(self, signals: AsyncIterator[int]) -> int:
        """Start the command and tend it until it ends; returns its shell-style status."""
        try:
            async with trio.open_nursery() as nursery:
                # Signals that come before the command starts are held for it: none is lost.
                nursery.start_soon(self._forward, signals)
                if os.getpid() == 1:
                    nursery.start_soon(self._reap_orphans)
                async with trio.open_nursery() as pumps:
                    process = await self._start(pumps)
                    while await self._tend(process):
                        process = await self._start(pumps)
                    # The command exited: its last output is still in the pipes. Drain them, but not
                    # for ever (a process it left behind may hold them open).
                    pumps.cancel_scope.deadline = trio.current_time() + DRAIN_GRACE
                nursery.cancel_scope.cancel()
        finally:
            last = self._process
            if last is not None and last.returncode is None:
                # We are being cancelled: do not leave the child behind.
                with trio.move_on_after(TERMINATE_GRACE, shield=True) as grace:
                    last.terminate()
                    await last.wait()
                if grace.cancelled_caught:
                    last.kill()
                    with trio.CancelScope(shield=True):
                        await last.wait()
        assert process.returncode is not None  # _tend returned: it exited
        return exit_status(process.returncode)

    async def _start(self, nursery: trio.Nursery) -> trio.Process:
        launch, offers = self._launch, self._offers
        pipe = subprocess.PIPE if launch.mask is not None else None
        try:
            process = await trio.lowlevel.open_process(
                list(launch.argv),
                env=launch.env,  # type: ignore[arg-type] # bytes keys and values are accepted on POSIX
                stdout=pipe,
                stderr=pipe,
            )
        except OSError as exc:
            raise cannot_execute(launch.argv[0], exc) from None
        self._running = launch
        self._process = process
        self._ours.add(process.pid)
        if self._offers == offers:
            # What was waiting is done by starting with the latest. A change offered while the process was
            # being made (trio spawns it from a worker thread, and the command may be running already) came
            # after ``launch`` was taken, and perhaps after the command read its files: it stays.
            self._pending = None
            self._wake = trio.Event()
        self.starts += 1
        for signum in self._held:  # came while no command ran (a restart)
            process.send_signal(signum)
        self._held.clear()
        if launch.mask is not None:
            assert process.stdout is not None and process.stderr is not None
            self._outputs = [_Output(Redactor(launch.mask)), _Output(Redactor(launch.mask))]
            for stream, fd, output in zip(
                (process.stdout, process.stderr), (sys.stdout.fileno(), sys.stderr.fileno()), self._outputs, strict=True
            ):
                nursery.start_soon(_pump, stream, fd, output)
        return process

    async def _tend(self, process: trio.Process) -> bool:
        """Until the child exits; True when it was stopped for a restart."""
        restarting = False
        async with trio.open_nursery() as tending:

            async def exited() -> None:
                await process.wait()
                self._ours.discard(process.pid)
                tending.cancel_scope.cancel()

            tending.start_soon(exited)
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                action, self._pending = self._pending, None
                if action == "signal":
                    process.send_signal(self._policy.signal)
                elif action == "exec":
                    await self._exec()
                elif action == "restart":
                    if self._splay:
                        await trio.sleep(random.uniform(0, self._splay))
                    if self._ending:
                        continue
                    self._reporter.say(f"restarting {self.name}: what it sees changed")
                    restarting = True
                    await self._stop(process)
        return restarting and not self._ending

    async def _stop(self, process: trio.Process) -> None:
        process.send_signal(self._stop_signal)
        with trio.move_on_after(self._grace):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()

    async def _exec(self) -> None:
        """``exec:CMD``: ``sh -c CMD`` with the new env, waited for; a failure is reported."""
        launch = self._launch
        pipe = subprocess.PIPE if launch.mask is not None else None
        try:
            process = await trio.lowlevel.open_process(
                ["/bin/sh", "-c", self._policy.command],
                env=launch.env,  # type: ignore[arg-type] # bytes keys and values are accepted on POSIX
                stdout=pipe,
                stderr=pipe,
            )
        except OSError as exc:
            self._reporter.say(f"--on-change exec: cannot run /bin/sh: {exc.strerror}")
            return
        self._ours.add(process.pid)
        try:
            async with trio.open_nursery() as pumps:
                if launch.mask is not None:
                    assert process.stdout is not None and process.stderr is not None
                    pumps.start_soon(_pump, process.stdout, sys.stdout.fileno(), _Output(Redactor(launch.mask)))
                    pumps.start_soon(_pump, process.stderr, sys.stderr.fileno(), _Output(Redactor(launch.mask)))
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                with trio.CancelScope(shield=True):
                    await process.wait()
            self._ours.discard(process.pid)
        if process.returncode:
            self._reporter.say(f"--on-change exec: the command exited with status {exit_status(process.returncode)}")

    async def _forward(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            if signum in ENDING_SIGNALS:
                self._ending = True
            process = self._process
            if process is not None and process.returncode is None:
                process.send_signal(signum)
            else:
                self._held.append(signum)

    async def _reap_orphans(self) -> None:
        with trio.open_signal_receiver(signal.SIGCHLD) as exits:
            reap_orphans(self._ours)
            async for _ in exits:
                reap_orphans(self._ours)
