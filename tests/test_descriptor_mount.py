"""Unprivileged serving on a mount made by someone else: ``/dev/fd/N`` and ``fd-socket:PATH``.

The test process (root) plays the privileged component: it opens ``/dev/fuse`` and mounts it with
``fd=N``, as a FUSE CSI driver or a privileged init container does, and hands the descriptor over,
inherited or over a unix socket (meta-fuse-csi-plugin's fd passing). injector then runs as uid
1000 with no capability at all (``setpriv``), serves, follows changes and stops on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_manifests
from tests.support.descriptor import (
    REPO,
    CsiDriver,
    mounted_descriptor,
    package_reachable,
    shared_directory,
    unmount,
    unprivileged,
)
from tests.support.kube_apiserver import ApiServer, free_port
from tests.support.manifests import container, pod, secret
from tests.support.mounting import requires_fuse, wait_for
from tests.test_agent import agent_api, http_get
from tests.test_kube_source import kubeconfig

pytestmark = [pytest.mark.fuse, requires_fuse()]

UID = 1000
UNPRIVILEGED = unprivileged(UID)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    with shared_directory() as path:
        yield path


@pytest.fixture(autouse=True)
def reachable_by_uid() -> Iterator[None]:
    with package_reachable():
        yield


def injector(*args: str, pass_fds: tuple[int, ...] = (), env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*UNPRIVILEGED, sys.executable, "-m", "injector", *args],
        pass_fds=pass_fds,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def capabilities(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1], 16) for line in lines if line.startswith("Cap")}


def test_uid_1000_without_capabilities_serves_a_descriptor_follows_changes_and_stops(shared_dir: Path) -> None:
    manifests = shared_dir / "manifests.yaml"
    body = pod(
        container("app", mounts=[{"name": "creds", "mountPath": "/etc/secret"}]),
        volumes=[{"name": "creds", "secret": {"secretName": "db"}}],
    )
    write_manifests(manifests, body, secret("db", {"password": "v1"}))
    manifests.chmod(0o666)
    target = shared_dir / "volume"
    target.mkdir()
    descriptor = mounted_descriptor(target, UID)
    try:
        process = injector(
            "mount", "--pod", str(manifests), "--secrets", str(manifests), "--volume", "creds", "--watch",
            f"/dev/fd/{descriptor}",
            pass_fds=(descriptor,),
        )  # fmt: skip
        os.close(descriptor)  # handed over: only injector holds it now
        try:
            wait_for(lambda: (target / "password").exists() or process.poll() is not None, what="serving")
            assert process.poll() is None, process.communicate()[1].decode()
            assert {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0} == capabilities(process.pid)
            assert (UID, UID) == (os.stat(f"/proc/{process.pid}").st_uid, os.stat(f"/proc/{process.pid}").st_gid)
            assert b"v1" == (target / "password").read_bytes()
            assert os.path.samefile(target / "password", target / "..data" / "password")
            with pytest.raises(OSError):  # read-only to everyone, root included
                (target / "other").write_text("x")

            watcher = subprocess.Popen(
                ["inotifywait", "-m", "-e", "delete_self", str(target / "password")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                assert watcher.stderr is not None
                assert b"Watches established" in watcher.stderr.readline() + watcher.stderr.readline()
                write_manifests(manifests, body, secret("db", {"password": "v2"}))
                wait_for(lambda: (target / "password").read_bytes() == b"v2", what="the change")
                # the old version's file is removed: a watcher of the key hears it, as on a kubelet volume
                assert watcher.stdout is not None
                assert b"DELETE_SELF" in watcher.stdout.readline()
            finally:
                watcher.kill()
                watcher.wait()
            versions = [name for name in os.listdir(target) if name.startswith("..2")]
            wait_for(lambda: len([n for n in os.listdir(target) if n.startswith("..2")]) == 1, what="retirement")
            assert versions
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=20)
        assert 0 == process.returncode, err.decode()
        assert f"injector: serving /dev/fd/{descriptor} (SIGTERM or Ctrl-C to stop)".encode() in err
        assert b"v1" not in err and b"v2" not in err
        with pytest.raises(OSError):  # the connection ended with its only holder; the mount is its maker's
            os.listdir(target)
    finally:
        unmount(target)


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = agent_api()
    yield server
    server.stop()


def test_agent_takes_the_descriptor_from_a_csi_drivers_socket(shared_dir: Path, api: ApiServer) -> None:
    config = kubeconfig(shared_dir / "kubeconfig", api, "agent-token")
    config.chmod(0o644)
    handover = shared_dir / "fd-passing"
    handover.mkdir()
    handover.chmod(0o777)
    target = shared_dir / "volume"
    target.mkdir()
    driver = CsiDriver(handover / "creds.sock", target, UID)
    port = free_port()
    try:
        agent = injector(
            "agent", "--self", "--container", "app", "--volume", "creds", "--kubeconfig", str(config),
            "--mount", f"fd-socket:{handover / 'creds.sock'}", "--listen", f"127.0.0.1:{port}",
            env={**os.environ, "POD_NAME": "web-0", "POD_NAMESPACE": "shop"},
        )  # fmt: skip
        try:
            wait_for(lambda: http_get(port, "/readyz")[0] == 200 or agent.poll() is not None, what="readiness")
            assert agent.poll() is None, agent.communicate()[1].decode()
            assert 0 == capabilities(agent.pid)["CapEff"] == capabilities(agent.pid)["CapPrm"]
            assert b"v1" == (target / "password").read_bytes()
            assert not (handover / "creds.sock").exists()  # used once, then removed, as the driver expects
            api.put(
                {"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "v2"}}
            )
            wait_for(lambda: (target / "password").read_bytes() == b"v2", what="rotation")
        finally:
            agent.send_signal(signal.SIGTERM)
            _, err = agent.communicate(timeout=20)
        assert 0 == agent.returncode, err.decode()
        events = [json.loads(line) for line in err.decode().splitlines()]
        (received,) = [event for event in events if event["event"] == "received"]
        assert "creds" == received["volume"]
        assert {"starting", "serving", "stopped"} <= {event["event"] for event in events}
    finally:
        driver.close()


@pytest.mark.parametrize(
    ("mountpoint", "said"),
    [
        ("/dev/fd/99", "/dev/fd/99: no such open descriptor"),
        ("/dev/fd/0", "/dev/fd/0: not a /dev/fuse descriptor"),
        ("unmounted", "this /dev/fuse descriptor is not mounted"),
        ("fd-socket:{dir}/none.sock", "none.sock: nobody listens there"),
    ],
)
def test_a_descriptor_that_cannot_serve_is_one_line_and_exit_2(shared_dir: Path, mountpoint: str, said: str) -> None:
    manifests = shared_dir / "manifests.yaml"
    write_manifests(manifests, pod(container("app")), secret("db", {"password": "v1"}))
    manifests.chmod(0o644)
    pass_fds: tuple[int, ...] = ()
    with contextlib.ExitStack() as stack:
        if mountpoint == "unmounted":
            descriptor = os.open("/dev/fuse", os.O_RDWR)
            stack.callback(os.close, descriptor)
            mountpoint, pass_fds = f"/dev/fd/{descriptor}", (descriptor,)
        argv = ["mount", "--pod", str(manifests), "--secrets", str(manifests), "--wait-timeout", "0.3"]
        process = injector(*argv, mountpoint.format(dir=shared_dir), pass_fds=pass_fds)
        out, err = process.communicate(timeout=30)
    assert 2 == process.returncode
    assert b"" == out
    (line,) = err.decode().splitlines()
    assert line.startswith("injector: ") and said in line, line
