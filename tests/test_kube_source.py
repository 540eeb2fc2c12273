"""--kube: referenced objects fetched by name from an API server (the stand-in), over TLS."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import injector, write_manifests
from tests.support.kube_apiserver import INJECTOR_USER, ApiServer, injector_accounts, self_signed
from tests.support.manifests import container, env_from, pod, secret_key_ref

READER = INJECTOR_USER


@pytest.fixture
def api() -> Iterator[ApiServer]:
    accounts = injector_accounts("db", "settings", resources=("secrets", "configmaps"))
    server = ApiServer(accounts, tls=True).start()
    server.put(
        {
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"},
            "stringData": {"password": "from-the-api", "user": "admin"},
        }
    )
    server.put({"kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}, "data": {"MODE": "prod"}})
    server.put({"kind": "Secret", "metadata": {"name": "other", "namespace": "shop"}, "stringData": {"k": "v"}})
    yield server
    server.stop()


def kubeconfig(path: Path, api: ApiServer, token: str, *, client_cert: tuple[bytes, bytes] | None = None) -> Path:
    user: dict[str, Any] = {}
    if client_cert:
        user["client-certificate-data"] = base64.b64encode(client_cert[0]).decode()
        user["client-key-data"] = base64.b64encode(client_cert[1]).decode()
    path.write_text(json.dumps(api.kubeconfig(token, user=user)))
    return path


@pytest.fixture
def pod_file(tmp_path: Path) -> Path:
    return write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(
                env=[secret_key_ref("PASSWORD", "db", "password")], env_from=[env_from("settings", kind="configMapRef")]
            )
        ),
    )


def test_render_env_from_the_api(tmp_path: Path, api: ApiServer, pod_file: Path) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")

    result = injector("render", "env", "-f", "json", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config))

    assert {"MODE": "prod", "PASSWORD": "from-the-api"} == json.loads(result.stdout), result.stderr


def test_objects_are_fetched_by_name_only(tmp_path: Path, api: ApiServer, pod_file: Path) -> None:
    """One get per referenced object: no list, so RBAC resourceNames suffices."""
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    api.requests.clear()

    injector("render", "env", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config))

    assert [
        ("GET", "/api/v1/namespaces/shop/configmaps/settings", READER),
        ("GET", "/api/v1/namespaces/shop/secrets/db", READER),
    ] == api.requests


def test_rbac_denial_names_verb_resource_namespace_and_name(tmp_path: Path, api: ApiServer) -> None:
    pod_file = write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("K", "other", "k")])))
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")

    result = injector("render", "env", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config))

    assert 5 == result.returncode
    assert (
        f'injector: {api.url}: forbidden: cannot get secrets "other" in namespace "shop" (grant it with a '
        "Role rule naming it in resourceNames)\n"
    ).encode() == result.stderr


def test_missing_object_in_the_api_is_a_reference_error(tmp_path: Path, api: ApiServer) -> None:
    pod_file = write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("K", "gone", "k")])))
    config = kubeconfig(tmp_path / "kubeconfig", api, "admin-token")

    result = injector("render", "env", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config))

    assert 4 == result.returncode
    assert b'secret "gone" not found' in result.stderr


def test_unreachable_api_server_is_one_line(tmp_path: Path, api: ApiServer, pod_file: Path) -> None:
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    api.stop()

    result = injector("render", "env", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config))

    assert 5 == result.returncode
    assert 1 == len(result.stderr.splitlines()) and b"cannot reach the API server" in result.stderr


def test_embedded_client_key_never_touches_disk(tmp_path: Path, api: ApiServer, pod_file: Path) -> None:
    """lightkube would write *-data to temporary files; injector hands ssl a memfd instead (traced)."""
    import shutil

    from tests.test_no_plaintext import parse_trace, under_strace

    if shutil.which("strace") is None:
        pytest.skip("strace is needed")
    cert, key = self_signed("injector")  # the stand-in does not check it; the client must still load it
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token", client_cert=(cert, key))
    trace_file = Path("/dev/shm") / f"injector-kube-trace-{os.getpid()}"
    import subprocess

    try:
        result = subprocess.run(
            under_strace(trace_file, "render", "env", "--pod", str(pod_file), "--kube", "--kubeconfig", str(config)),
            capture_output=True,
            check=False,
        )
        trace = parse_trace(trace_file)
    finally:
        trace_file.unlink(missing_ok=True)

    assert 0 == result.returncode, result.stderr
    key_body = b"".join(key.splitlines()[1:-1])[:40]  # a run of the key's base64 body
    for target, data in trace.writes:
        if not target.startswith(("/memfd:", "pipe:", "socket:", "/dev/")):
            assert key_body not in data.replace(b"\n", b""), f"key material written to {target}"
    assert not [path for path in trace.opened_for_writing if path.startswith("/tmp/tmp")]
