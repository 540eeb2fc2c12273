"""mount --kube --watch: the mount follows Secret changes in the API and survives API faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import write_manifests
from tests.support.kube_apiserver import INJECTOR_USER, ApiServer, injector_accounts
from tests.support.manifests import container, pod
from tests.support.mounting import Mount, requires_fuse, wait_for
from tests.test_kube_source import kubeconfig

pytestmark = [pytest.mark.fuse, requires_fuse()]


@pytest.fixture
def api() -> Iterator[ApiServer]:
    accounts = injector_accounts("db", "extra")
    server = ApiServer(accounts, tls=True, bookmark_interval=0.5).start()
    set_db(server, "v1")
    yield server
    server.stop()


def set_db(api: ApiServer, password: str) -> None:
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": password}})


@pytest.fixture
def live(tmp_path: Path, api: ApiServer) -> Iterator[Mount]:
    volumes = [
        {
            "name": "creds",
            "projected": {"sources": [{"secret": {"name": "db"}}, {"secret": {"name": "extra", "optional": True}}]},
        }
    ]
    pod_file = write_manifests(
        tmp_path / "pod.yaml", pod(container(mounts=[{"name": "creds", "mountPath": "/s"}]), volumes=volumes)
    )
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    with Mount(
        mountpoint, ["--pod", str(pod_file), "--kube", "--kubeconfig", str(config), "--watch", "--volume", "creds"]
    ) as mount:
        yield mount


def password(mount: Mount) -> bytes:
    return (mount.path / "password").read_bytes()


def test_secret_change_in_the_api_reaches_the_mount(live: Mount, api: ApiServer) -> None:
    assert b"v1" == password(live)

    set_db(api, "v2")

    wait_for(lambda: password(live) == b"v2", timeout=30, what="the rotated value")


def test_one_get_and_one_watch_per_object(live: Mount, api: ApiServer) -> None:
    time.sleep(1.5)  # idle: bookmarks flow, no new requests
    requests = [path for _, path, user in api.requests if user == INJECTOR_USER]
    gets = sorted(path for path in requests if "watch" not in path)
    watches = sorted(parse_qs(urlsplit(path).query)["fieldSelector"][0] for path in requests if "watch=true" in path)

    assert ["/api/v1/namespaces/shop/secrets/db", "/api/v1/namespaces/shop/secrets/extra"] == gets
    assert ["metadata.name=db", "metadata.name=extra"] == watches


@pytest.mark.parametrize("fault", ["drop-watch", "expired-410", "server-errors", "restart"])
def test_rotation_survives_api_faults(live: Mount, api: ApiServer, fault: str) -> None:
    if fault == "drop-watch":
        api.drop_watches()
    elif fault == "expired-410":
        set_db(api, "v1b")
        wait_for(lambda: password(live) == b"v1b", timeout=30, what="v1b")
        api.compact()
        api.drop_watches()
    elif fault == "server-errors":
        api.faults.fail_next = [500, 500, 429]
        api.drop_watches()
    else:
        api.restart(down_for=0.5)

    set_db(api, "after-fault")

    wait_for(lambda: password(live) == b"after-fault", timeout=30, what="the value set after the fault")


def test_optional_secret_deleted_vanishes_required_keeps_last_good(live: Mount, api: ApiServer) -> None:
    api.put({"kind": "Secret", "metadata": {"name": "extra", "namespace": "shop"}, "stringData": {"bonus": "b"}})
    bonus = live.path / "bonus"
    wait_for(bonus.exists, timeout=30, what="the optional secret's file")

    api.remove("Secret", "shop", "extra")
    wait_for(lambda: not bonus.exists(), timeout=30, what="the optional file to vanish")
    api.remove("Secret", "shop", "db")
    time.sleep(1)

    assert b"v1" == password(live)  # required and deleted: the last good content stays
    code, err = live.stop()
    assert 0 == code
    assert 'secret "db" not found' in err and "still serving the last good content" in err


def db_pod(tmp_path: Path) -> Path:
    """A pod mounting Secret db as volume creds."""
    return write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(mounts=[{"name": "creds", "mountPath": "/s"}]),
            volumes=[{"name": "creds", "secret": {"secretName": "db"}}],
        ),
    )


def test_api_unreachable_at_start_is_retried_until_it_answers(tmp_path: Path, api: ApiServer) -> None:
    """Retried with backoff and jitter (reported), the mount comes up once the API answers."""
    pod_file = db_pod(tmp_path)
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    api.stop()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "injector",
            "mount",
            "--pod",
            str(pod_file),
            "--kube",
            "--kubeconfig",
            str(config),
            "--watch",
            "--volume",
            "creds",
            str(mountpoint),
        ],
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.5)
        assert not os.path.ismount(mountpoint)
        api.start()
        wait_for(lambda: os.path.ismount(mountpoint), timeout=30, what="the mount once the API answers")
        assert b"v1" == (mountpoint / "password").read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert 0 == process.returncode
    assert b"injector: event=api-unreachable" in err


def test_api_unreachable_past_wait_timeout_is_one_clear_error(tmp_path: Path, api: ApiServer) -> None:
    pod_file = db_pod(tmp_path)
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    (tmp_path / "mnt").mkdir()
    api.stop()

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "injector",
            "mount",
            "--pod",
            str(pod_file),
            "--kube",
            "--kubeconfig",
            str(config),
            "--watch",
            "--wait-timeout",
            "1",
            str(tmp_path / "mnt"),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert 5 == result.returncode
    assert f"injector: {api.url}: the API server did not answer within 1 s (--wait-timeout)".encode() in result.stderr


def test_invalid_update_in_the_api_is_reported_and_last_good_kept(live: Mount, api: ApiServer) -> None:
    """An object that stops validating is reported as such (not as 'not found'); the mount keeps v1."""
    api.put(
        {
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": "v2"},
        }
    )
    time.sleep(1)

    assert b"v1" == password(live)
    _, err = live.stop()
    assert "Secret/shop/db: data[tls.crt]: Required value" in err
