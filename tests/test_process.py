"""injector run as PID 1 of a container: zombies reaped, signals forwarded, status passed, no mount left."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.support.mounting import requires_fuse, wait_for

EXAMPLE = ["--pod", str(EXAMPLES / "pod.yaml"), "--secrets", str(EXAMPLES / "secrets")]

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare(1) for a PID namespace"
)


def as_pid1(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    """Start `injector run ARGS` as PID 1 of a new PID namespace (as in a container)."""
    # --propagation shared: a mount made inside shows outside too, so the test can see it (and its absence).
    process: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "shared",
            sys.executable,
            "-m",
            "injector",
            "run",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )
    return process


def init_pid(unshare: subprocess.Popen[bytes]) -> int:
    """The pid, seen from here, of the namespace's PID 1 (unshare's only child)."""

    def child() -> int | None:
        try:
            text = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split()
        except OSError:
            return None
        return int(text[0]) if text else None

    wait_for(lambda: child() is not None, what="PID 1 of the namespace")
    pid = child()
    assert pid is not None
    return pid


def test_pid1_reaps_orphaned_zombies() -> None:
    script = "sh -c 'sleep 0.2 & exit 0'; sleep 0.8; ps -o stat= --ppid 1 | grep -c Z; exit 3"

    process = as_pid1(*EXAMPLE, "--", "sh", "-c", script)
    out, err = process.communicate(timeout=60)

    assert 3 == process.returncode, err
    assert b"0\n" == out


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2]
)
def test_pid1_forwards_signals_and_exits_128_plus_n(signum: int) -> None:
    process = as_pid1(*EXAMPLE, "--", "sh", "-c", "echo ready; exec sleep 30")
    assert process.stdout is not None
    assert b"ready\n" == process.stdout.readline()

    os.kill(init_pid(process), signum)

    assert 128 + signum == process.wait(timeout=30)


@pytest.fixture
def shared_dir(tmp_path: Path) -> Iterator[Path]:
    """A shared bind mount: what the namespace mounts below it is visible (and checkable) from here."""
    subprocess.run(["mount", "--bind", str(tmp_path), str(tmp_path)], check=True)
    subprocess.run(["mount", "--make-shared", str(tmp_path)], check=True)
    yield tmp_path
    subprocess.run(["umount", "-l", str(tmp_path)], check=False)


@requires_fuse()
def test_pid1_with_mount_leaves_no_mount_behind(shared_dir: Path) -> None:
    mountpoint = shared_dir / "mnt"
    mountpoint.mkdir()
    process = as_pid1(
        "--mount",
        str(mountpoint),
        *EXAMPLE,
        "--",
        "sh",
        "-c",
        'cat "$INJECTOR_MOUNT/secret/username"; echo; exec sleep 30',
    )
    assert process.stdout is not None
    assert b"shop-app\n" == process.stdout.readline()
    assert os.path.ismount(mountpoint)

    os.kill(init_pid(process), signal.SIGTERM)

    assert 128 + signal.SIGTERM == process.wait(timeout=30)
    time.sleep(0.1)
    assert not os.path.ismount(mountpoint)
    assert [] == os.listdir(mountpoint)


def test_pid1_restarts_the_command_on_a_change_reaps_and_passes_the_last_status(tmp_path: Path) -> None:
    from tests.test_run_watch import Sources

    sources = Sources(tmp_path)
    script = 'echo "start T=$T"; sh -c "sleep 0.1 &"; [ "$T" = v2 ] || exec sleep 300; '
    script += "sleep 0.8; echo zombies $(ps -o stat= --ppid 1 | grep -c Z); exit 4"
    process = as_pid1(*sources.args, "--", "sh", "-c", script)
    assert process.stdout is not None
    assert b"start T=v1\n" == process.stdout.readline()

    sources.set("app", token="v2", other="o1")

    out, err = process.communicate(timeout=60)
    assert 4 == process.returncode, err
    assert b"start T=v2\nzombies 0\n" == out
