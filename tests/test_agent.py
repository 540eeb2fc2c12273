"""injector agent end to end against the stand-in API server: --self, mount, rotation, health, metrics, SIGTERM."""

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

from tests.support.kube_apiserver import ADMIN, Account, ApiServer, free_port, rule
from tests.support.manifests import container, pod
from tests.support.mounting import requires_fuse, wait_for
from tests.test_kube_source import kubeconfig

pytestmark = [pytest.mark.fuse, requires_fuse()]

AGENT_USER = "system:serviceaccount:shop:injector"


def agent_api() -> ApiServer:
    """A stand-in API server holding pod ``shop/web-0`` (a secret volume ``creds`` of Secret ``db``)
    and that Secret, with an agent account allowed exactly what the agent needs."""
    accounts = {
        "admin-token": Account("admin", ADMIN),
        "agent-token": Account(
            AGENT_USER,
            (
                rule(["get"], ["pods"], names=["web-0"], namespace="shop"),
                rule(["get", "watch", "list"], ["secrets"], names=["db"], namespace="shop"),
            ),
        ),
    }
    server = ApiServer(accounts, tls=True, bookmark_interval=0.5).start()
    body = pod(
        container("app", mounts=[{"name": "creds", "mountPath": "/etc/secret"}]),
        container("injector"),
        volumes=[{"name": "creds", "secret": {"secretName": "db"}}],
    )
    server.put(body)
    server.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "v1"}})
    return server


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = agent_api()
    yield server
    server.stop()


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_agent_self_serves_rotates_reports_and_stops(tmp_path: Path, api: ApiServer) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    port = free_port()
    config = kubeconfig(tmp_path / "kubeconfig", api, "agent-token")
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "injector",
            "agent",
            "--self",
            "--container",
            "app",
            "--volume",
            "creds",
            "--mount",
            str(mountpoint),
            "--listen",
            f"127.0.0.1:{port}",
            "--kubeconfig",
            str(config),
        ],
        env={**os.environ, "POD_NAME": "web-0", "POD_NAMESPACE": "shop"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200 or agent.poll() is not None, what="readiness")
        assert agent.poll() is None, agent.stderr.read().decode()  # type: ignore[union-attr]
        assert (200, "ok\n") == http_get(port, "/healthz")
        assert b"v1" == (mountpoint / "password").read_bytes()

        api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "v2"}})
        wait_for(lambda: (mountpoint / "password").read_bytes() == b"v2", timeout=30, what="rotation")
        api.drop_watches()
        api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": "v3"}})
        wait_for(lambda: (mountpoint / "password").read_bytes() == b"v3", timeout=30, what="rotation after a fault")

        code, metrics = http_get(port, "/metrics")
        assert 200 == code
        for name in (
            'injector_resolutions_total{result="ok"}',
            "injector_watch_restarts_total",
            "injector_fuse_opens_total",
            "injector_rotation_latency_seconds_bucket",
            'injector_secret_last_update_age_seconds{kind="Secret",name="db",namespace="shop"}',
        ):
            assert name in metrics, name
        assert "v3" not in metrics and "v2" not in metrics
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=20)

    assert 0 == agent.returncode, err.decode()
    assert not os.path.ismount(mountpoint)
    events = [json.loads(line) for line in err.decode().splitlines()]  # every log line is one JSON object
    assert {"starting", "listening", "serving", "stopped"} <= {event["event"] for event in events}
    assert b"v1" not in err and b"v2" not in err and b"v3" not in err
    assert [b"/api/v1/namespaces/shop/pods/web-0"] == [
        path.split("?")[0].encode() for method, path, user in api.requests if user == AGENT_USER and "/pods" in path
    ]


def test_agent_denied_its_own_pod_says_what_rbac_is_missing(tmp_path: Path, api: ApiServer) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", api, "agent-token")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()

    result = subprocess.run(
        [sys.executable, "-m", "injector", "agent", "--self", "--mount", str(mountpoint), "--kubeconfig", str(config)],
        env={**os.environ, "POD_NAME": "web-1", "POD_NAMESPACE": "shop"},
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert 5 == result.returncode
    (error,) = [json.loads(line) for line in result.stderr.decode().splitlines() if '"error"' in line]
    assert error["message"].endswith(
        'forbidden: cannot get pods "web-1" in namespace "shop" (grant it with a Role rule naming it in resourceNames)'
    )


def test_rotation_histogram_is_cumulative_and_constant_size() -> None:
    from injector.metrics import AgentStatus, metrics_text
    from injector.serve import ReloadStats

    state = ReloadStats()
    for seconds in (0.005, 0.04, 0.3, 20.0):
        state.rotation.observe(seconds)

    text = metrics_text(AgentStatus(stats=state)).decode()

    assert 'injector_rotation_latency_seconds_bucket{le="0.01"} 1.0' in text
    assert 'injector_rotation_latency_seconds_bucket{le="0.5"} 3.0' in text
    assert 'injector_rotation_latency_seconds_bucket{le="+Inf"} 4.0' in text
    assert len(state.rotation.counts) == len(state.rotation.BOUNDS)
