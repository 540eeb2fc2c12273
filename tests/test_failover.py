"""Several clusters as one source: served from the first that answers, the next when it stops (stand-in API servers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import injector, write_manifests
from tests.support.kube_apiserver import free_port
from tests.support.manifests import container, pod
from tests.support.mounting import Mount, requires_fuse, wait_for
from tests.test_secret_kube import Clusters


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Clusters]:
    running = Clusters(tmp_path)
    for name in ("a", "b", "c"):
        put_in(running, name, f"from-{name}")
    yield running
    running.stop()


def pod_file(tmp_path: Path) -> Path:
    volumes = [{"name": "creds", "secret": {"secretName": "db"}}]
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    return write_manifests(
        tmp_path / "pod.yaml", pod(container(env=env, mounts=[{"name": "creds", "mountPath": "/s"}]), volumes=volumes)
    )


def put_in(clusters: Clusters, name: str, password: str) -> None:
    server = clusters.servers[name]
    server.put(
        {"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": password}}
    )


def test_one_shot_reads_from_the_first_cluster_that_answers(tmp_path: Path, clusters: Clusters) -> None:
    clusters.servers["a"].stop()
    args = ["--pod", str(pod_file(tmp_path)), *clusters.args("a", "b", "c")]

    result = injector("render", "env", "-f", "json", *args)

    assert ({"PW": "from-b"}, b"") == (json.loads(result.stdout), result.stderr)


@requires_fuse()
@pytest.mark.fuse
def test_mount_fails_over_in_order_and_back(tmp_path: Path, clusters: Clusters) -> None:
    """Served from a; a stops answering: after --failover-after, b serves; a answers again: a serves."""
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    args = [
        "--pod", str(pod_file(tmp_path)), *clusters.args("a", "b"), "--watch", "--volume", "creds",
        "--failover-after", "1", "--wait-timeout", "20",
    ]  # fmt: skip
    password = mountpoint / "password"
    with Mount(mountpoint, args) as mount:
        assert b"from-a" == password.read_bytes()
        put_in(clusters, "b", "b-updated-meanwhile")

        clusters.servers["a"].stop()
        wait_for(lambda: password.read_bytes() == b"b-updated-meanwhile", timeout=30, what="failover to b")
        put_in(clusters, "b", "b-v2")
        wait_for(lambda: password.read_bytes() == b"b-v2", timeout=30, what="b's change, served")

        clusters.servers["a"].start()
        wait_for(lambda: password.read_bytes() == b"from-a", timeout=60, what="a serving again")
        code, err = mount.stop()

    assert 0 == code
    assert "event=failover serving=b instead_of=a" in err and "event=failover serving=a instead_of=b" in err


@requires_fuse()
@pytest.mark.fuse
def test_a_cluster_down_at_start_is_passed_over(tmp_path: Path, clusters: Clusters) -> None:
    clusters.servers["a"].stop()
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    args = ["--pod", str(pod_file(tmp_path)), *clusters.args("a", "b"), "--watch", "--volume", "creds"]

    with Mount(mountpoint, args):
        assert b"from-b" == (mountpoint / "password").read_bytes()


def test_no_cluster_answering_is_one_clear_error(tmp_path: Path, clusters: Clusters) -> None:
    clusters.servers["a"].stop()
    clusters.servers["b"].stop()
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    args = ["--pod", str(pod_file(tmp_path)), *clusters.args("a", "b"), "--watch", "--wait-timeout", "1"]

    result = injector("mount", *args, str(mountpoint), timeout=60)

    assert 5 == result.returncode
    assert result.stderr.decode().splitlines()[-1] == (
        "injector: a, b: no API server answered within 1 s (--wait-timeout)"
    )


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


@requires_fuse()
@pytest.mark.fuse
def test_the_agent_says_which_cluster_serves_each_object(tmp_path: Path, clusters: Clusters) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    port = free_port()
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "injector",
            "agent",
            "--pod",
            str(pod_file(tmp_path)),
            *clusters.args("a", "b"),
            "--mount",
            str(mountpoint),
            "--listen",
            f"127.0.0.1:{port}",
            "--failover-after",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200 or agent.poll() is not None, what="readiness")
        assert (200, "ready\nSecret/shop/db: a\n") == http_get(port, "/readyz")
        assert (
            'injector_object_cluster{cluster="a",kind="Secret",name="db",namespace="shop"} 1.0'
            in http_get(port, "/metrics")[1]
        )
        clusters.servers["a"].stop()
        wait_for(lambda: http_get(port, "/readyz")[1].endswith(": b\n"), timeout=30, what="b serving")
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=20)

    assert 0 == agent.returncode, err.decode()
    assert not os.path.ismount(mountpoint)
    assert any(json.loads(line).get("event") == "failover" for line in err.decode().splitlines())
