"""The stand-in API server (tests/kube_apiserver.py) is faithful enough for the real kubectl."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kube_apiserver import ADMIN, Account, ApiServer, rule

needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed (Debian package kubernetes-client)"
)


@pytest.fixture
def api() -> Iterator[ApiServer]:
    accounts = {
        "admin-token": Account("admin", ADMIN),
        "reader-token": Account(
            "system:serviceaccount:shop:injector",
            (rule(["get", "watch", "list"], ["secrets"], names=["db"], namespace="shop"),),
        ),
    }
    server = ApiServer(accounts, tls=True, bookmark_interval=0.2).start()
    yield server
    server.stop()


@pytest.fixture
def kubectl(api: ApiServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [
            {
                "name": "test",
                "cluster": {"server": api.url, "certificate-authority-data": base64.b64encode(api.ca_pem).decode()},
            }
        ],
        "users": [
            {"name": "admin", "user": {"token": "admin-token"}},
            {"name": "reader", "user": {"token": "reader-token"}},
        ],
        "contexts": [
            {"name": "test", "context": {"cluster": "test", "user": "admin", "namespace": "shop"}},
            {"name": "reader", "context": {"cluster": "test", "user": "reader", "namespace": "shop"}},
        ],
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(config))
    env = {"PATH": os.environ["PATH"], "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}

    def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            ["kubectl", *args], capture_output=True, text=True, env=env, timeout=60, check=False, **kwargs
        )
        return result

    run.env = env  # type: ignore[attr-defined]
    return run


@needs_kubectl
def test_kubectl_create_get_delete_secrets(kubectl, api: ApiServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "api.yaml"
    manifest.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: api}\nstringData: {token: abc}\n")

    created = kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2")
    from_file = kubectl("create", "--validate=false", "-f", str(manifest))
    listed = kubectl("get", "secrets", "-o", "name")
    fetched = json.loads(kubectl("get", "secret", "db", "-o", "json").stdout)
    deleted = kubectl("delete", "secret", "db")
    missing = kubectl("get", "secret", "db")

    assert (0, 0) == (created.returncode, from_file.returncode), created.stderr + from_file.stderr
    assert ["secret/api", "secret/db"] == listed.stdout.split()
    assert "hunter2" == base64.b64decode(fetched["data"]["password"]).decode()
    assert 0 == deleted.returncode, deleted.stderr
    assert 'Error from server (NotFound): secrets "db" not found' in missing.stderr
    assert "abc" == base64.b64decode(api.store.objects[("secrets", "shop", "api")]["data"]["token"]).decode()


@needs_kubectl
def test_kubectl_get_watch_sees_changes(kubectl, api: ApiServer) -> None:  # type: ignore[no-untyped-def]
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "1"}})
    watcher = subprocess.Popen(
        ["kubectl", "get", "secrets", "-w", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env,
    )
    try:
        assert "secret/db\n" == watcher.stdout.readline()  # type: ignore[union-attr]
        api.put({"kind": "Secret", "metadata": {"name": "new", "namespace": "shop"}, "stringData": {"k": "2"}})
        assert "secret/new\n" == watcher.stdout.readline()  # type: ignore[union-attr]
        api.remove("Secret", "shop", "db")
        assert "secret/db\n" == watcher.stdout.readline()  # type: ignore[union-attr]
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


@needs_kubectl
def test_kubectl_sees_rbac_denial_as_the_real_server_words_it(kubectl, api: ApiServer) -> None:  # type: ignore[no-untyped-def]
    api.put({"kind": "Secret", "metadata": {"name": "other", "namespace": "shop"}, "data": {}})

    denied = kubectl("--context", "reader", "get", "secret", "other")
    allowed = kubectl("--context", "reader", "get", "secret", "db")

    assert (
        'Error from server (Forbidden): secrets "other" is forbidden: User "system:serviceaccount:shop:injector" '
        'cannot get resource "secrets" in API group "" in the namespace "shop"'
    ) in denied.stderr
    assert 'Error from server (NotFound): secrets "db" not found' in allowed.stderr


def request(api: ApiServer, path: str, token: str = "admin-token") -> tuple[int, dict]:  # type: ignore[type-arg]
    import ssl

    context = ssl.create_default_context(cadata=api.ca_pem.decode())
    req = urllib.request.Request(api.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_errors_are_status_objects(api: ApiServer) -> None:
    unauthorized = request(api, "/api/v1/namespaces/shop/secrets/x", token="nope")
    assert (401, "Unauthorized") == (unauthorized[0], unauthorized[1]["reason"])
    code, body = request(api, "/api/v1/namespaces/shop/secrets/x")
    assert (
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'secrets "x" not found',
            "reason": "NotFound",
            "details": {"name": "x", "kind": "secrets"},
            "code": 404,
        },
    ) == (code, body)


def test_resource_names_rule_allows_list_only_with_field_selector(api: ApiServer) -> None:
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {}})

    unrestricted = request(api, "/api/v1/namespaces/shop/secrets", token="reader-token")
    selected = request(api, "/api/v1/namespaces/shop/secrets?fieldSelector=metadata.name%3Ddb", token="reader-token")

    assert 403 == unrestricted[0]
    assert (200, ["db"]) == (selected[0], [item["metadata"]["name"] for item in selected[1]["items"]])


def watch_lines(api: ApiServer, query: str, count: int) -> list[dict]:  # type: ignore[type-arg]
    import ssl

    context = ssl.create_default_context(cadata=api.ca_pem.decode())
    req = urllib.request.Request(
        f"{api.url}/api/v1/namespaces/shop/secrets?watch=true&{query}", headers={"Authorization": "Bearer admin-token"}
    )
    events = []
    with urllib.request.urlopen(req, context=context, timeout=10) as response:
        for line in response:
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


def test_watch_resumes_from_resource_version_with_bookmarks(api: ApiServer) -> None:
    first = api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "1"}})
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "2"}})

    events = watch_lines(api, f"resourceVersion={first['metadata']['resourceVersion']}&allowWatchBookmarks=true", 2)

    assert ["MODIFIED", "BOOKMARK"] == [event["type"] for event in events]


def test_watch_from_compacted_version_gets_410_expired(api: ApiServer) -> None:
    first = api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {}})
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {"k": ""}})
    api.compact()

    (event,) = watch_lines(api, f"resourceVersion={first['metadata']['resourceVersion']}", 1)

    assert ("ERROR", 410, "Expired") == (event["type"], event["object"]["code"], event["object"]["reason"])


def test_injected_faults_and_restart(api: ApiServer) -> None:
    api.faults.fail_next = [500, 429]
    assert 500 == request(api, "/api/v1/namespaces/shop/secrets")[0]
    assert 429 == request(api, "/api/v1/namespaces/shop/secrets")[0]
    assert 200 == request(api, "/api/v1/namespaces/shop/secrets")[0]
    before = api.store.version
    api.restart(down_for=0.1)
    time.sleep(0.05)
    assert 200 == request(api, "/api/v1/namespaces/shop/secrets")[0]
    assert before == api.store.oldest


def test_plain_http_mode_serves_too() -> None:
    server = ApiServer({"t": Account("u", ADMIN)}, tls=False).start()
    try:
        req = urllib.request.Request(
            f"{server.url}/api/v1/namespaces/shop/secrets", headers={"Authorization": "Bearer t"}
        )
        with urllib.request.urlopen(req, timeout=10) as response:
            body = json.loads(response.read())
    finally:
        server.stop()

    assert ("SecretList", []) == (body["kind"], body["items"])


@needs_kubectl
def test_kubectl_server_dry_run_stores_nothing(kubectl, api: ApiServer) -> None:  # type: ignore[no-untyped-def]
    dry = kubectl("create", "secret", "generic", "db", "--from-literal=k=v", "--dry-run=server", "-o", "json")
    created = kubectl("create", "secret", "generic", "db", "--from-literal=k=v")
    deleted_dry = kubectl("delete", "secret", "db", "--dry-run=server")

    assert 0 == dry.returncode, dry.stderr
    assert "dg==" == json.loads(dry.stdout)["data"]["k"]
    assert 0 == created.returncode, created.stderr
    assert 0 == deleted_dry.returncode, deleted_dry.stderr
    assert ("secrets", "shop", "db") in api.store.objects
    assert [] == [path for method, path, _ in api.requests if method == "POST" and "dryRun" not in path][1:]


@needs_kubectl
def test_kubectl_replace_with_a_stale_resource_version_is_a_conflict(kubectl, api: ApiServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "1"}})
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"k": "2"}})
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**first, "data": {"k": "Mw=="}}))

    replaced = kubectl("replace", "-f", str(stale))

    assert 1 == replaced.returncode
    assert (
        'Error from server (Conflict): error when replacing "' + str(stale) + '": Operation cannot be fulfilled on '
        'secrets "db": the object has been modified; please apply your changes to the latest version and try again'
    ) in replaced.stderr
    assert "Mg==" == api.store.objects[("secrets", "shop", "db")]["data"]["k"]


@needs_kubectl
def test_kubectl_sees_secret_validation_as_the_real_server_words_it(kubectl, api: ApiServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "tls.yaml"
    manifest.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata: {}\n")

    refused = kubectl("create", "-f", str(manifest))

    assert 1 == refused.returncode
    assert 'The Secret "tls" is invalid: \n* data[tls.crt]: Required value\n* data[tls.key]: Required value' in (
        refused.stderr
    )


def test_delete_preconditions_are_checked(api: ApiServer) -> None:
    import ssl

    stored = api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "data": {}})
    context = ssl.create_default_context(cadata=api.ca_pem.decode())

    def delete(preconditions: dict[str, str]) -> int:
        req = urllib.request.Request(
            api.url + "/api/v1/namespaces/shop/secrets/db",
            data=json.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions}).encode(),
            method="DELETE",
            headers={"Authorization": "Bearer admin-token", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert 409 == delete({"resourceVersion": "1"})
    assert 409 == delete({"uid": "other"})
    assert 200 == delete({"uid": stored["metadata"]["uid"], "resourceVersion": stored["metadata"]["resourceVersion"]})
