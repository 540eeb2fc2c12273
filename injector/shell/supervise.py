"""Run a child process under trio: forward signals, optionally redact its output, pass its status (I/O shell).

Used when injector must stay the child's parent (``--mask``, a mount, PID 1). A plain ``run`` execs
instead and never imports this module, so it does not pay for trio.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence

import trio

from injector.core.mask import Redactor
from injector.shell.output import write_all
from injector.shell.process import FORWARDED_SIGNALS, cannot_execute, exit_status, reap_orphans

READ_SIZE = 65536
TERMINATE_GRACE = 5.0
"""Seconds a child gets after SIGTERM, when injector itself is stopped, before SIGKILL."""


def _write_unless_gone(fd: int, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # whoever read our output went away: nothing to do
        write_all(fd, data)


async def _pump(source: trio.abc.ReceiveStream, target_fd: int, redactor: Redactor) -> None:
    async def write(data: bytes) -> None:
        # injector's own stdout/stderr may be a regular file, which epoll cannot wait on: write
        # in a worker thread so a slow reader never stalls signal forwarding.
        await trio.to_thread.run_sync(_write_unless_gone, target_fd, data)

    while True:
        chunk = await source.receive_some(READ_SIZE)
        if not chunk:
            break
        out = redactor.feed(bytes(chunk))
        if out:
            await write(out)
    tail = redactor.flush()
    if tail:
        await write(tail)


async def _reap_while_running(keep: int) -> None:
    with trio.open_signal_receiver(signal.SIGCHLD) as exits:
        reap_orphans(keep)
        async for _ in exits:
            reap_orphans(keep)


async def supervise(
    argv: Sequence[str],
    env: Mapping[bytes, bytes],
    mask: Mapping[bytes, str] | None,
    signals: AsyncIterator[int] | None = None,
) -> int:
    """Start ``argv`` with ``env``, forward signals to it and return its exit status.

    With ``mask`` (value -> name), the child's stdout and stderr go through pipes and every value
    is replaced by ``<redacted:NAME>``; without it the child shares injector's terminal.
    ``signals``: a receiver the caller opened already (so none is lost before the child starts).
    """
    if signals is None:
        with trio.open_signal_receiver(*FORWARDED_SIGNALS) as own:
            return await supervise(argv, env, mask, own)
    init = os.getpid() == 1
    pipe = subprocess.PIPE if mask is not None else None
    try:
        process = await trio.lowlevel.open_process(
            list(argv),
            env=env,  # type: ignore[arg-type] # bytes keys and values are accepted on POSIX
            stdout=pipe,
            stderr=pipe,
        )
    except OSError as exc:
        raise cannot_execute(argv[0], exc) from None
    try:
        async with trio.open_nursery() as nursery:

            async def forward() -> None:
                async for signum in signals:
                    if process.returncode is None:
                        process.send_signal(signum)

            nursery.start_soon(forward)
            if init:
                nursery.start_soon(_reap_while_running, process.pid)
            async with trio.open_nursery() as pumps:
                if mask is not None:
                    assert process.stdout is not None and process.stderr is not None
                    for stream, fd in ((process.stdout, sys.stdout.fileno()), (process.stderr, sys.stderr.fileno())):
                        pumps.start_soon(_pump, stream, fd, Redactor(mask))
                await process.wait()
            nursery.cancel_scope.cancel()
    finally:
        if process.returncode is None:  # we are being cancelled: do not leave the child behind
            with trio.move_on_after(TERMINATE_GRACE, shield=True) as grace:
                process.terminate()
                await process.wait()
            if grace.cancelled_caught:
                process.kill()
                with trio.CancelScope(shield=True):
                    await process.wait()
    assert process.returncode is not None  # process.wait() returned
    return exit_status(process.returncode)
