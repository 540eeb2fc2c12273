"""Kubernetes configuration: in-cluster service account, token rotation, exec plugins, errors."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from injector.core.objects import ObjectKey
from injector.errors import SourceError
from injector.settings import kube_settings
from injector.shell.kube import KubeClient, fetch, load_config
from tests.support.kube_apiserver import Account, ApiServer, rule

READER = (rule(["get", "watch", "list"], ["secrets"], names=["db"], namespace="shop"),)
DB = ObjectKey("Secret", "shop", "db")


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = ApiServer({"token-a": Account("sa", READER)}, tls=True).start()
    server.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "v"}})
    yield server
    server.stop()


@pytest.fixture
def service_account(tmp_path: Path, api: ApiServer) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("token-a")
    (directory / "ca.crt").write_bytes(api.ca_pem)
    (directory / "namespace").write_text("shop")
    return directory


def in_cluster_env(api: ApiServer) -> dict[str, str]:
    return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}


def fetch_now(client: KubeClient) -> tuple[list[str], list[str]]:
    found = trio.run(fetch, client, [DB])
    return [obj.data["k"].decode() for obj in found.objects.values()], [str(error) for error in found.errors]


def test_in_cluster_config_uses_the_service_account(api: ApiServer, service_account: Path) -> None:
    config = load_config(kube_settings(in_cluster_env(api), service_account_dir=str(service_account)))

    assert (f"https://127.0.0.1:{api.port}", "shop") == (config.cluster.server, config.namespace)
    assert (["v"], []) == fetch_now(KubeClient(config))


def test_rotated_token_is_read_again_after_a_401(api: ApiServer, service_account: Path) -> None:
    """The kubelet rotates the projected token: the old one is refused, the file holds the new one."""
    client = KubeClient(load_config(kube_settings(in_cluster_env(api), service_account_dir=str(service_account))))
    assert (["v"], []) == fetch_now(client)

    api.accounts.clear()
    api.accounts["token-b"] = Account("sa", READER)
    (service_account / "token").write_text("token-b")

    api.requests.clear()

    assert (["v"], []) == fetch_now(client)
    # refused with the old token (no user), then accepted with the one read again from the file
    assert ["", "sa"] == [user for _, _, user in api.requests]


def test_exec_credential_plugin_runs_under_trio(tmp_path: Path, api: ApiServer) -> None:
    plugin = tmp_path / "plugin"
    plugin.write_text(
        f"#!{sys.executable}\nimport json\nprint(json.dumps({{'apiVersion': "
        "'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential', "
        "'status': {'token': 'token-a'}}))\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    kubeconfig = tmp_path / "kubeconfig"
    exec_plugin = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}
    kubeconfig.write_text(json.dumps(api.kubeconfig("", user=exec_plugin)))

    config = load_config(kube_settings({}, kubeconfig=str(kubeconfig)))

    assert (["v"], []) == fetch_now(KubeClient(config))


def test_missing_kubeconfig_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot load Kubernetes configuration"):
        load_config(kube_settings({}, kubeconfig=str(tmp_path / "nope")))


def test_unknown_context_is_one_clear_error(tmp_path: Path, api: ApiServer) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []})
    )

    with pytest.raises(SourceError):
        load_config(kube_settings(dict(os.environ), kubeconfig=str(kubeconfig), context="nope"))
