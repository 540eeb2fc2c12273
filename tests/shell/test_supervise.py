"""A child under trio: its status passed through, its output masked, signals forwarded, and restarted,
signalled or reloaded when what it sees changes (real processes)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from injector.core.onchange import OnChange
from injector.shell.process import Launch
from injector.shell.report import Reporter
from injector.shell.supervise import FORWARDED_SIGNALS, Supervisor

PATH = {b"PATH": os.environ["PATH"].encode()}

SCRIPT = """
import io, sys
import trio
from injector.shell.process import Launch
from injector.shell.report import Reporter
from injector.shell.supervise import FORWARDED_SIGNALS, Supervisor
async def main():
    with trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
        launch = Launch(tuple(sys.argv[1:]), {b"PATH": b"/usr/bin:/bin", b"TOKEN": b"hunter2"}, {b"hunter2": "TOKEN"})
        return await Supervisor(launch, Reporter(stream=io.StringIO())).run(signals)
sys.exit(trio.run(main))
"""


async def supervise(
    launch: Launch,
    *,
    changes: Callable[[Supervisor], Awaitable[None]] | None = None,
    reported: io.StringIO | None = None,
    **options: object,
) -> tuple[int, Supervisor]:
    """Run ``launch`` under a Supervisor; ``changes`` offers it new launches meanwhile."""
    supervisor = Supervisor(launch, Reporter(stream=reported or io.StringIO()), **options)  # type: ignore[arg-type]
    with trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            if changes is not None:
                nursery.start_soon(changes, supervisor)
            status = await supervisor.run(signals)
            nursery.cancel_scope.cancel()
    return status, supervisor


def with_env(**values: str) -> Mapping[bytes, bytes]:
    return {**PATH, **{name.encode(): value.encode() for name, value in values.items()}}


async def wait_for_file(path: Path) -> None:
    with trio.fail_after(20):
        while not path.exists():
            await trio.sleep(0.01)


@pytest.mark.parametrize(("command", "status"), [("exit 3", 3), ("kill -TERM $$", 128 + signal.SIGTERM)])
def test_the_childs_status_is_passed_through_shell_style(command: str, status: int) -> None:
    assert status == trio.run(supervise, Launch(("sh", "-c", command), PATH))[0]


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


# -- when what the command sees changes -----------------------------------------------------------------

# Writes its V to a file named after it, then waits; the second start (V=2) exits 5 by itself.
RESTARTABLE = 'echo "$V" > "$DIR/started-$V"; [ "$V" = 2 ] && exit 5; exec sleep 60'


def test_an_env_change_restarts_the_command_with_the_new_env(tmp_path: Path) -> None:
    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started-1")
        acted = supervisor.offer(
            Launch(("sh", "-c", RESTARTABLE), with_env(V="2", DIR=str(tmp_path))), files_changed=False
        )
        assert acted

    reported = io.StringIO()
    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", RESTARTABLE), with_env(V="1", DIR=str(tmp_path))), changes=change, reported=reported
        )
    )

    assert (5, 2) == (status, supervisor.starts)
    assert "injector: restarting sh: what it sees changed\n" == reported.getvalue()


def test_an_env_change_offered_while_the_command_is_being_started_still_restarts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trio makes the process in a worker thread: a change can come (the child already running, as when it has
    touched a file a watcher waits for) before the start is done. The start took the launch before it: the
    change must still restart the command, not be forgotten (it was, once: the command ran on, old env)."""
    script = '[ "$V" = 2 ] && exit 5; touch "$DIR/started"; while :; do sleep 0.02; done'
    supervisor = Supervisor(Launch(("sh", "-c", script), with_env(V="1", DIR=str(tmp_path))), Reporter())
    real_open_process = trio.lowlevel.open_process

    async def open_process_then_a_change(command: list[str], **options: Any) -> trio.Process:
        process = await real_open_process(command, **options)
        if supervisor.starts == 0:  # the first start: the change lands before it is done
            supervisor.offer(Launch(("sh", "-c", script), with_env(V="2", DIR=str(tmp_path))), files_changed=False)
        return process

    async def run() -> int:
        with trio.fail_after(30), trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
            return await supervisor.run(signals)  # lost, the change would leave the command running for ever

    monkeypatch.setattr(trio.lowlevel, "open_process", open_process_then_a_change)
    status = trio.run(run)

    assert (5, 2) == (status, supervisor.starts)


def test_by_default_a_change_to_files_only_leaves_the_command_running(tmp_path: Path) -> None:
    script = 'touch "$DIR/started"; while [ ! -e "$DIR/stop" ]; do sleep 0.02; done; exit 4'

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started")
        assert not supervisor.offer(Launch(("sh", "-c", script), with_env(DIR=str(tmp_path))), files_changed=True)
        (tmp_path / "stop").touch()

    status, supervisor = trio.run(
        lambda: supervise(Launch(("sh", "-c", script), with_env(DIR=str(tmp_path))), changes=change)
    )

    assert (4, 1) == (status, supervisor.starts)


def test_a_command_that_ignores_the_stop_signal_is_killed_after_the_grace(tmp_path: Path) -> None:
    script = 'trap "" TERM; echo "$V" > "$DIR/started-$V"; [ "$V" = 2 ] && exit 5; while :; do sleep 0.02; done'

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started-1")
        supervisor.offer(Launch(("sh", "-c", script), with_env(V="2", DIR=str(tmp_path))), files_changed=False)

    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", script), with_env(V="1", DIR=str(tmp_path))), changes=change, grace=0.2, splay=0.1
        )
    )

    assert (5, 2) == (status, supervisor.starts)


def test_a_chosen_stop_signal_stops_the_command(tmp_path: Path) -> None:
    script = 'trap "exit 0" USR2; trap "" TERM; echo "$V" > "$DIR/started-$V"; [ "$V" = 2 ] && exit 5; '
    script += "while :; do sleep 0.02; done"

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started-1")
        supervisor.offer(Launch(("sh", "-c", script), with_env(V="2", DIR=str(tmp_path))), files_changed=False)

    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", script), with_env(V="1", DIR=str(tmp_path))),
            changes=change,
            stop_signal=signal.SIGUSR2,
            grace=60.0,
        )
    )

    assert (5, 2) == (status, supervisor.starts)


def test_signal_mode_sends_the_signal_and_keeps_the_command(tmp_path: Path) -> None:
    script = 'trap "exit 4" HUP; touch "$DIR/started"; while :; do sleep 0.02; done'
    reported = io.StringIO()

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started")
        supervisor.offer(Launch(("sh", "-c", script), with_env(DIR=str(tmp_path), V="new")), files_changed=False)

    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", script), with_env(DIR=str(tmp_path))),
            changes=change,
            reported=reported,
            policy=OnChange("signal", signal=signal.SIGHUP),
        )
    )

    assert (4, 1) == (status, supervisor.starts)
    assert "keeps the one it started with" in reported.getvalue()


def test_exec_mode_runs_the_command_with_the_new_env(tmp_path: Path) -> None:
    script = 'touch "$DIR/started"; while [ ! -e "$DIR/reloaded" ]; do sleep 0.02; done; exit 6'

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started")
        supervisor.offer(Launch(("sh", "-c", script), with_env(DIR=str(tmp_path), V="two")), files_changed=True)

    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", script), with_env(DIR=str(tmp_path), V="one")),
            changes=change,
            policy=OnChange("exec", command='echo "$V" > "$DIR/reloaded"'),
        )
    )

    assert (6, 1) == (status, supervisor.starts)
    assert "two\n" == (tmp_path / "reloaded").read_text()


def test_none_mode_does_nothing_but_say_the_env_is_stale(tmp_path: Path) -> None:
    script = 'touch "$DIR/started"; while [ ! -e "$DIR/stop" ]; do sleep 0.02; done; exit 2'
    reported = io.StringIO()

    async def change(supervisor: Supervisor) -> None:
        await wait_for_file(tmp_path / "started")
        assert not supervisor.offer(
            Launch(("sh", "-c", script), with_env(DIR=str(tmp_path), V="x")), files_changed=True
        )
        (tmp_path / "stop").touch()

    status, supervisor = trio.run(
        lambda: supervise(
            Launch(("sh", "-c", script), with_env(DIR=str(tmp_path))),
            changes=change,
            reported=reported,
            policy=OnChange("none"),
        )
    )

    assert (2, 1) == (status, supervisor.starts)
    assert "its env changed, and keeps the one it started with" in reported.getvalue()
