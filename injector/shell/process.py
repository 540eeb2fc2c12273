"""This process and the command it runs: exec, signals, exit statuses, reaping, hardening (I/O shell).

No trio here: a plain ``run`` replaces itself with the command (``exec_command``) and must not pay
for importing it. Supervising a child under trio is ``supervise``.

Hardening keeps the secrets held in this process's memory from leaving it: no core dumps, no
ptrace or /proc/PID/mem for other users (not dumpable), memory locked so it is never swapped out.
What Python cannot do is wipe values: ``bytes`` and ``str`` are immutable, parsing and decoding copy
them, and freed memory is not cleared. injector therefore keeps the process that holds secrets
short-lived (``run`` execs) or locked and undumpable (``mount``, ``run --mask``/``--mount``, PID 1).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Container, Mapping, Sequence
from typing import NamedTuple, NoReturn

from injector.errors import CommandError
from injector.shell.report import Reporter

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
"""Signals a supervising injector passes on to its command."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
"""Signals that stop a serving injector (mount, agent)."""

PR_SET_DUMPABLE = 4
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


class Launch(NamedTuple):
    """How the command is started: argv, env, and the values to redact from its output (``--mask``)."""

    argv: tuple[str, ...]
    env: Mapping[bytes, bytes]
    mask: Mapping[bytes, str] | None = None

    def __repr__(self) -> str:
        return f"Launch({self.argv[:1]!r}, {len(self.env)} variables)"


def cannot_execute(command: str, error: OSError) -> CommandError:
    """The error for a command that could not be started, worded and numbered as a shell does."""
    if isinstance(error, FileNotFoundError):
        return CommandError("command not found", exit_code=127, source=command)
    if isinstance(error, PermissionError):
        return CommandError("permission denied", exit_code=126, source=command)
    return CommandError(f"cannot execute: {error.strerror}", exit_code=126, source=command)


def exec_command(argv: Sequence[str], env: Mapping[bytes, bytes]) -> NoReturn:
    """Replace this process with ``argv``; raises CommandError when it cannot be executed."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)  # type: ignore[arg-type] # bytes keys and values are accepted on POSIX
    except OSError as exc:
        raise cannot_execute(argv[0], exc) from None


def exit_status(returncode: int) -> int:
    """A shell-style exit status: the child's code, or 128+N when a signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode


def reap_orphans(keep: Container[int]) -> None:
    """Reap every exited child but those in ``keep`` (whose status trio collects).

    As PID 1 injector inherits every orphan of the container; their zombies must be reaped.
    Children are listed from /proc so that ``keep``'s statuses are never taken from trio.
    """
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                children = [int(pid) for pid in handle.read().split()]
        except OSError:
            continue
        for pid in children:
            if pid in keep:
                continue
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue


def harden_process(reporter: Reporter, *, with_child: bool) -> None:
    """No core dumps, not dumpable, memory locked where permitted (a warning once where not, if there is swap).

    ``with_child``: a command will be started, which inherits resource limits, so RLIMIT_CORE is
    left alone (not being dumpable already stops this process's core dumps; it is reset by exec).
    """
    import ctypes  # here, not at the top: a plain `run` never hardens and must start fast
    import resource

    if not with_child:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 and swap_in_use():
        # With no swap there is nothing to lock out of (most Kubernetes nodes: an unprivileged agent, which
        # cannot lock, would warn at every start for nothing).
        reason = os.strerror(ctypes.get_errno())
        reporter.warning(
            f"memory not locked ({reason}) and this machine has swap: secrets could be swapped to disk "
            "(raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)"
        )


SWAPS = "/proc/swaps"


def swap_in_use(swaps: str | None = None) -> bool:
    """Whether a swap area is active: ``/proc/swaps`` lists them under its header line (it is not namespaced,
    so a container sees its node's). Unreadable: assumed so."""
    try:
        with open(swaps or SWAPS) as handle:
            return any(line.strip() for line in handle.read().splitlines()[1:])
    except OSError:
        return True
