"""A child under trio: its status passed through, its output masked, signals forwarded (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import trio

from injector.shell.supervise import supervise

SCRIPT = """
import subprocess, sys
from injector.shell.supervise import supervise
import trio
code = trio.run(supervise, sys.argv[1:], {b"PATH": b"/usr/bin:/bin", b"TOKEN": b"hunter2"}, {b"hunter2": "TOKEN"})
sys.exit(code)
"""


@pytest.mark.parametrize(("command", "status"), [("exit 3", 3), ("kill -TERM $$", 128 + signal.SIGTERM)])
def test_the_childs_status_is_passed_through_shell_style(command: str, status: int) -> None:
    assert status == trio.run(supervise, ["sh", "-c", command], {b"PATH": os.environ["PATH"].encode()}, None)


def test_masked_output_never_shows_the_value_even_split_across_writes() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, "sh", "-c", 'printf "%s" "${TOKEN%???}"; sleep 0.1; echo "${TOKEN#hunt}"'],
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert (0, b"<redacted:TOKEN>\n") == (result.returncode, result.stdout)


def test_signals_reach_the_child() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "sh", "-c", "trap 'exit 7' USR1; echo ready; while :; do sleep 0.05; done"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"ready\n" == process.stdout.readline()
    process.send_signal(signal.SIGUSR1)

    assert 7 == process.wait(timeout=20)
