"""An injected pod, run here as the kubelet would run it: each app container sees, at each of its original paths,
exactly what ``render files`` gives for the original pod, and an ``--env`` container gets its original env.

The kubelet's part is played by the test: it starts the agent's container with the args and env of the injected
spec (downward-API env resolved, each mount path mapped onto a host directory) against the stand-in API server
holding the injected pod, waits for the startup probe, and looks at each app mount's subPath in the shared
directory. Two deviations, as a pod has its own network namespace and service account: the probe port is a free
one, and the API is reached through a kubeconfig holding the service account's token.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from injector.core.emit import dump_yaml
from injector.core.inject import AGENT, FILES_VOLUME
from injector.core.manifest import parse_stream
from tests.conftest import injector
from tests.support.descriptor import REPO, CsiDriver, package_reachable, shared_directory, unprivileged
from tests.support.kube_apiserver import ADMIN, Account, ApiServer, free_port, rule
from tests.support.manifests import config_map, secret
from tests.support.mounting import requires_fuse, wait_for
from tests.test_kube_source import kubeconfig

pytestmark = [pytest.mark.fuse, requires_fuse()]

SA_TOKEN = "pod-token"
SA_USER = "system:serviceaccount:shop:web-0"

OBJECTS = [
    secret("db", {"password": "s3cret-pw", "username": "shop", "blob": bytes(range(250, 256))}),
    secret("tls", {"tls.crt": "CERT", "tls.key": "KEY"}),
    secret("api", {"TOKEN": "api-token-value"}),
    config_map("settings", {"mode": "prod", "level": "debug\n"}),
]

ORIGINAL: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "securityContext": {"fsGroup": 2000},
        "initContainers": [
            {"name": "migrate", "image": "m", "volumeMounts": [{"name": "config", "mountPath": "/config"}]},
        ],
        "containers": [
            {
                "name": "app",
                "image": "example/app",
                "volumeMounts": [
                    {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
                    {"name": "creds", "mountPath": "/etc/app/password", "subPath": "password"},
                    {"name": "tls", "mountPath": "/etc/tls-keys", "subPath": "keys"},
                    {"name": "all", "mountPath": "/etc/all"},
                    {"name": "scratch", "mountPath": "/tmp"},
                ],
            },
            {
                "name": "worker",
                "image": "example/worker",
                "command": ["/usr/bin/env", "-0"],
                "env": [
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                    {"name": "DSN", "value": "postgres://$(USER):$(PASSWORD)@db"},
                    {"name": "USER", "value": "shop"},
                ],
                "envFrom": [{"secretRef": {"name": "api"}, "prefix": "API_"}],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}],
            },
        ],
        "volumes": [
            {"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400}},
            {
                "name": "tls",
                "secret": {
                    "secretName": "tls",
                    "items": [
                        {"key": "tls.crt", "path": "tls.crt"},
                        {"key": "tls.key", "path": "keys/tls.key", "mode": 0o600},
                    ],
                },
            },
            {
                "name": "all",
                "projected": {
                    "sources": [
                        {"secret": {"name": "db", "items": [{"key": "username", "path": "db/username"}]}},
                        {"configMap": {"name": "settings"}},
                        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    ]
                },
            },
            {"name": "config", "configMap": {"name": "settings"}},
            {"name": "scratch", "emptyDir": {}},
        ],
    },
}


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def render_files(pod_file: Path, secrets_file: Path, container: str) -> dict[str, Any]:
    result = injector(
        "render", "files", "--pod", str(pod_file), "--secrets", str(secrets_file), "-c", container, "--show-values"
    )
    assert 0 == result.returncode, result.stderr.decode()
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def file_entry(path: Path, *, with_gid: bool) -> dict[str, Any]:
    """What ``render files`` says of a file, read from the file itself (symlinks followed, as a reader does)."""
    info = path.stat()
    data = path.read_bytes()
    entry: dict[str, Any] = {"mode": f"{info.st_mode & 0o7777:04o}", "size": len(data)}
    if with_gid:
        entry["gid"] = info.st_gid
    try:
        entry["value"] = data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(data).decode("ascii")
    return entry


def tree_entries(root: Path, *, with_gid: bool) -> dict[str, Any]:
    """Every file a reader finds under ``root``, by relative path (names the atomic writer reserves skipped)."""
    found = {}
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs[:] = [name for name in subdirs if not name.startswith("..")]
        for name in files:
            if not name.startswith(".."):
                path = Path(directory) / name
                found[path.relative_to(root).as_posix()] = file_entry(path, with_gid=with_gid)
    return found


def kubelet_env(container: dict[str, Any], pod: dict[str, Any]) -> dict[str, str]:
    """The env the kubelet gives ``container``: literal values and downward-API fieldRefs (all the injected
    containers keep; ConfigMap references are resolved by ``injector run`` as well, so they are left out)."""
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "fieldRef" in entry.get("valueFrom", {}):
            field = entry["valueFrom"]["fieldRef"]["fieldPath"]
            env[entry["name"]] = {"metadata.name": pod["metadata"]["name"], "metadata.namespace": "shop"}[field]
    return env


@pytest.mark.parametrize("fuse", ["privileged", "csi"])
def test_an_injected_pod_shows_each_container_what_the_original_showed_it(tmp_path: Path, fuse: str) -> None:
    """``--fuse csi``: the test also plays meta-fuse-csi-plugin (mounts the files volume on a descriptor and
    sends it over the socket in the pod's emptyDir), and the agent runs as its runAsUser with no capability."""
    with contextlib.ExitStack() as stack:
        if fuse == "csi":
            tmp_path = stack.enter_context(shared_directory())  # readable by the agent's uid
            stack.enter_context(package_reachable())
        check_injected_pod(tmp_path, fuse)


def check_injected_pod(tmp_path: Path, fuse: str) -> None:
    original_file = tmp_path / "original.yaml"
    original_file.write_text(dump_yaml(ORIGINAL))
    secrets_file = tmp_path / "objects.yaml"
    secrets_file.write_text("".join("---\n" + dump_yaml(obj) for obj in OBJECTS))
    injected = injector("inject", "-f", str(original_file), "--rbac", "--env", "worker", "--fuse", fuse)
    assert 0 == injected.returncode, injected.stderr.decode()
    account, role, binding, pod = [doc.body for doc in parse_stream(injected.stdout, "out.yaml")[0]]
    assert isinstance(pod, dict) and isinstance(role, dict) and isinstance(account, dict) and isinstance(binding, dict)
    assert "web-0" == pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert ([{"kind": "ServiceAccount", "name": "web-0", "namespace": "shop"}], role["metadata"]["name"]) == (
        binding["subjects"],
        binding["roleRef"]["name"],
    )

    # The stand-in API server: the injected pod, its objects, and exactly the Role inject wrote.
    granted = tuple(rule(r["verbs"], r["resources"], r.get("resourceNames"), namespace="shop") for r in role["rules"])
    api = ApiServer({"admin-token": Account("admin", ADMIN), SA_TOKEN: Account(SA_USER, granted)}, tls=True).start()
    try:
        api.put(pod)
        for obj in OBJECTS:
            api.put(obj)
        config = kubeconfig(tmp_path / "kubeconfig", api, SA_TOKEN)
        check_pod_as_the_kubelet_runs_it(tmp_path, pod, original_file, secrets_file, config)
    finally:
        api.stop()
    assert {(method, path.split("?")[0]) for method, path, user in api.requests if user == SA_USER} <= {
        ("GET", "/api/v1/namespaces/shop/pods/web-0"),
        *(("GET", f"/api/v1/namespaces/shop/secrets/{name}") for name in ("db", "tls", "api")),
        ("GET", "/api/v1/namespaces/shop/secrets"),  # the watches, by fieldSelector=metadata.name
        ("GET", "/api/v1/namespaces/shop/configmaps/settings"),
        ("GET", "/api/v1/namespaces/shop/configmaps"),
    }


def check_pod_as_the_kubelet_runs_it(
    tmp_path: Path, pod: dict[str, Any], original_file: Path, secrets_file: Path, config: Path
) -> None:
    (agent,) = [c for c in pod["spec"]["initContainers"] if c["name"] == AGENT]
    volumes = {m["mountPath"]: tmp_path / "volumes" / m["name"] for m in agent["volumeMounts"]}
    for directory in volumes.values():
        directory.mkdir(parents=True)
    files = tmp_path / "volumes" / FILES_VOLUME
    files.mkdir(exist_ok=True)
    (csi,) = [v.get("csi") for v in pod["spec"]["volumes"] if v["name"] == FILES_VOLUME]
    prefix: list[str] = []
    with contextlib.ExitStack() as stack:
        if csi is not None:
            # The CSI driver's part: a socket in the emptyDir the volume's attributes name, the mount on handover.
            attributes = csi["volumeAttributes"]
            uid = agent["securityContext"]["runAsUser"]
            socket_path = tmp_path / "volumes" / attributes["fdPassingEmptyDirName"] / attributes["fdPassingSocketName"]
            stack.callback(CsiDriver(socket_path, files, uid, volume=FILES_VOLUME).close)
            prefix = unprivileged(uid)
            assert {"drop": ["ALL"]} == agent["securityContext"]["capabilities"]
        run_agent(
            agent,
            pod,
            volumes=volumes,
            files=files,
            prefix=prefix,
            original_file=original_file,
            secrets_file=secrets_file,
            config=config,
        )


def on_host(arg: str, volumes: dict[str, Path]) -> str:
    """An agent argument with its container paths (a mountPath, or a socket under one) mapped onto the host."""
    if arg in volumes:
        return str(volumes[arg])
    scheme, _, path = arg.rpartition(":")
    for mount_path, directory in volumes.items():
        if scheme == "fd-socket" and path.startswith(mount_path + "/"):
            return f"fd-socket:{directory}{path[len(mount_path) :]}"
    return arg


def run_agent(
    agent: dict[str, Any],
    pod: dict[str, Any],
    *,
    volumes: dict[str, Path],
    files: Path,
    prefix: list[str],
    original_file: Path,
    secrets_file: Path,
    config: Path,
) -> None:
    args = [on_host(arg, volumes) for arg in agent["args"]]
    port = free_port()
    args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
    probe = agent["startupProbe"]["httpGet"]["path"]
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "injector", *args],
        cwd=REPO,
        env={**os.environ, **kubelet_env(agent, pod), "KUBECONFIG": str(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}{probe}") == 200 or process.poll() is not None, 60)
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        for container in [*pod["spec"]["initContainers"], *pod["spec"]["containers"]]:
            if container["name"] in ("injector", "injector-install"):
                continue
            seen = {m["mountPath"]: m for m in container.get("volumeMounts", []) if m["name"] == FILES_VOLUME}
            expected = {
                m["mountPath"]: m for m in render_files(original_file, secrets_file, container["name"])["mounts"]
            }
            assert expected.keys() == seen.keys(), container["name"]
            for mount_path, mount in expected.items():
                at = files / seen[mount_path]["subPath"]
                with_gid = True  # the pod has an fsGroup: render files gives every file's group
                if mount["type"] == "file":
                    assert mount["file"] == file_entry(at, with_gid=with_gid), mount_path
                else:
                    assert mount["files"] == tree_entries(at, with_gid=with_gid), mount_path
        check_env_container(pod, original_file, secrets_file, config)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert 0 == process.returncode, err.decode()
    if not prefix:  # the agent's own mount is gone with it; a CSI driver's is the driver's to remove
        assert not os.path.ismount(files)


def check_env_container(pod: dict[str, Any], original_file: Path, secrets_file: Path, config: Path) -> None:
    """The ``--env`` container's wrapped command, run with the env the kubelet gives it: the command sees the
    original container's env, as ``render env`` gives it for the original pod."""
    (worker,) = [c for c in pod["spec"]["containers"] if c["name"] == "worker"]
    command = worker["command"]
    assert "/opt/injector/bin/injector" == command[0]  # the runtime the install container copies (tested in CI's image)
    result = subprocess.run(
        [sys.executable, "-m", "injector", *command[1:], *worker.get("args", [])],
        env={"PATH": os.environ["PATH"], **kubelet_env(worker, pod), "KUBECONFIG": str(config)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert 0 == result.returncode, result.stderr.decode()
    seen = dict(line.split("=", 1) for line in result.stdout.decode().split("\0") if line)
    rendered = injector(
        "render", "env", "--pod", str(original_file), "--secrets", str(secrets_file), "-c", "worker", "--format", "json"
    )
    expected = json.loads(rendered.stdout)
    assert {"PASSWORD", "MODE", "DSN", "USER", "API_TOKEN"} == expected.keys()
    assert expected == {name: seen.get(name) for name in expected}
