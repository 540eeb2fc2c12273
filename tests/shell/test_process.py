"""injector.shell.process: hardening a process that holds secrets (real processes, real limits)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from injector.shell.process import swap_in_use

HARDEN = """
import io, sys
from injector.shell import process
from injector.shell.report import Reporter
process.SWAPS = sys.argv[1]
said = io.StringIO()
process.harden_process(Reporter(stream=said), with_child=False)
print(open("/proc/self/status").read().split("VmLck:")[1].split()[0], said.getvalue(), end="")
"""
HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


@pytest.mark.parametrize(
    ("swaps", "in_use"),
    [
        (HEADER, False),
        (HEADER + "/swapfile                               file\t\t4194300\t\t0\t\t-2\n", True),
        (None, True),
    ],
    ids=["no swap", "a swap file", "unreadable"],
)
def test_swap_is_in_use_when_proc_swaps_lists_an_area(tmp_path: Path, swaps: str | None, in_use: bool) -> None:
    path = tmp_path / "swaps"
    if swaps is not None:
        path.write_text(swaps)

    assert in_use == swap_in_use(str(path))


@pytest.mark.skipif(os.geteuid() != 0, reason="drops CAP_IPC_LOCK from root")
@pytest.mark.parametrize("swap", [False, True], ids=["no swap", "swap"])
def test_a_process_that_cannot_lock_its_memory_warns_only_where_there_is_swap(tmp_path: Path, swap: bool) -> None:
    """Without CAP_IPC_LOCK and with a 64 KiB RLIMIT_MEMLOCK, mlockall fails: a warning if the machine has swap,
    else nothing (a Kubernetes node with swap off should not hear it at every start of an unprivileged agent)."""
    swaps = tmp_path / "swaps"
    swaps.write_text(HEADER + ("/swapfile file 4194300 0 -2\n" if swap else ""))
    limited = ["prlimit", "--memlock=65536:65536", "setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]
    result = subprocess.run(
        [*limited, "--", sys.executable, "-c", HARDEN, str(swaps)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    locked_kb, _, said = result.stdout.partition(" ")

    assert "0" == locked_kb
    if swap:
        assert "injector: warning: memory not locked (Cannot allocate memory) and this machine has swap" in said
    else:
        assert "" == said
