"""Keep the secrets held in this process's memory from leaving it (I/O shell).

What Python can do: refuse core dumps, refuse ptrace and /proc/PID/mem to other users (not
dumpable), and lock memory so it is never swapped out. What it cannot: wipe values from memory.
``bytes`` and ``str`` are immutable, copies are made by parsing, decoding and slicing, and freed
memory is not cleared; a value lives until the allocator reuses its memory. injector therefore
keeps the process that holds secrets short-lived (``run`` execs) or locked and undumpable
(``mount``, ``run --mask``/``--mount``, PID 1).
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

PR_SET_DUMPABLE = 4
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


def harden_process(*, with_child: bool) -> None:
    """No core dumps, not dumpable, memory locked where permitted (a warning once where not).

    ``with_child``: a command will be started, which inherits resource limits, so RLIMIT_CORE is
    left alone (not being dumpable already stops this process's core dumps; it is reset by exec).
    """
    if not with_child:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
        reason = os.strerror(ctypes.get_errno())
        sys.stderr.write(
            f"injector: warning: memory not locked ({reason}); secrets could be swapped to disk "
            "(raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK)\n"
        )
