"""``injector secret --kube`` against one, two or three stand-in API servers at once, and ``check``
comparing clusters: dry runs first everywhere, nothing written unless every cluster accepts."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import injector, write_manifests
from tests.support.keys import ssh_key, tls_pair
from tests.support.kube_apiserver import ADMIN, Account, ApiServer, rule
from tests.support.manifests import config_map, container, env_from, pod, secret_key_ref
from tests.test_secret import script_editor, vim

NAMES = ("a", "b", "c")


class Clusters:
    def __init__(self, tmp_path: Path) -> None:
        reader = rule(["get", "list", "watch"], ["secrets", "configmaps"])
        accounts = {"admin-token": Account("admin", ADMIN), "reader-token": Account("reader", (reader,))}
        self.servers = {name: ApiServer(accounts, tls=name == "c").start() for name in NAMES}
        self.kubeconfig = tmp_path / "kubeconfig"
        self.write_config()

    def write_config(self, users: dict[str, str] | None = None) -> None:
        """Contexts a, b, c, each on its own server, namespace shop; ``users``: a context's token."""
        clusters, contexts, kube_users = [], [], []
        for name, server in self.servers.items():
            cluster: dict[str, Any] = {"server": server.url}
            if server.tls:
                cluster["certificate-authority-data"] = base64.b64encode(server.ca_pem).decode()
            clusters.append({"name": name, "cluster": cluster})
            kube_users.append({"name": name, "user": {"token": (users or {}).get(name, "admin-token")}})
            contexts.append({"name": name, "context": {"cluster": name, "user": name, "namespace": "shop"}})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "a",
            "clusters": clusters,
            "users": kube_users,
            "contexts": contexts,
        }
        self.kubeconfig.write_text(json.dumps(config))

    def args(self, *names: str) -> list[str]:
        return ["--kube", "--kubeconfig", str(self.kubeconfig), *[f"--context={name}" for name in names]]

    def stored(self, name: str, secret_name: str = "db") -> dict[str, bytes] | None:
        obj = self.servers[name].store.objects.get(("secrets", "shop", secret_name))
        if obj is None:
            return None
        return {key: base64.b64decode(value) for key, value in obj["data"].items()}

    def writes(self, name: str) -> list[str]:
        """The write requests cluster ``name`` got: method and query, in order."""
        return [
            f"{method} {'dry-run' if 'dryRun=All' in path else 'real'}"
            for method, path, _ in self.servers[name].requests
            if method in ("POST", "PUT", "DELETE")
        ]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Clusters]:
    running = Clusters(tmp_path)
    yield running
    running.stop()


def secret_cli(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> Any:  # noqa: A002
    return injector("secret", *args, input=input, env=env, start_new_session=True)


def put(clusters: Clusters, name: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    return clusters.servers[name].put(
        {
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop", **extra.pop("metadata", {})},
            "stringData": data,
            **extra,
        }
    )


# -- create ---------------------------------------------------------------------------------------------------


def test_create_in_two_clusters_dry_runs_both_before_writing_either(clusters: Clusters, canary: str) -> None:
    result = secret_cli(
        "create", "generic", "db", "--from-stdin", "password", *clusters.args("a", "b"), input=canary.encode()
    )

    assert 0 == result.returncode, result.stderr
    for name in ("a", "b"):
        assert {"password": canary.encode()} == clusters.stored(name)
        assert f"created Secret shop/db in context {name} ({clusters.servers[name].url})".encode() in result.stderr
    assert ["POST dry-run"] == clusters.writes("a")[:1] == clusters.writes("b")[:1]
    assert canary.encode() not in result.stderr + result.stdout


def test_a_cluster_that_refuses_stops_every_write(clusters: Clusters) -> None:
    clusters.write_config(users={"b": "reader-token"})

    result = secret_cli("create", "generic", "db", "--from-stdin", "k", *clusters.args("a", "b"), input=b"v")

    assert 5 == result.returncode
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith(f"injector: context b ({clusters.servers['b'].url}): forbidden: ")
    assert "cannot create resource" in lines[0]
    assert lines[1] == (
        "injector: Secret/shop/db: 1 of 2 cluster(s) refused: nothing was written in any of them (a, b)"
    )
    assert (None, None) == (clusters.stored("a"), clusters.stored("b"))
    assert ["POST dry-run"] == clusters.writes("a")


def test_create_where_it_exists_is_a_conflict_and_writes_nowhere(clusters: Clusters) -> None:
    put(clusters, "b", {"k": "old"})

    result = secret_cli("create", "generic", "db", "--from-stdin", "k", *clusters.args("a", "b"), input=b"new")

    assert 7 == result.returncode
    assert b"context b" in result.stderr and b'secrets \\"db\\" already exists' not in result.stderr
    assert b'Secret/shop/db: secrets "db" already exists' in result.stderr
    assert (None, {"k": b"old"}) == (clusters.stored("a"), clusters.stored("b"))


def test_dry_run_shows_each_cluster_and_writes_nothing(clusters: Clusters) -> None:
    result = secret_cli(
        "create", "generic", "db", "--from-stdin", "k", "--dry-run", *clusters.args("a", "c"), input=b"v"
    )

    assert 0 == result.returncode, result.stderr
    assert [
        "context a: Secret shop/db: would create",
        "  + k  sha256:4c94485e0c21ae6c  (1 bytes)",
        "context c: Secret shop/db: would create",
        "  + k  sha256:4c94485e0c21ae6c  (1 bytes)",
    ] == result.stdout.decode().splitlines()
    assert (None, None) == (clusters.stored("a"), clusters.stored("c"))


def _type_args(kind: str, tmp_path: Path) -> tuple[list[str], bytes | None]:
    if kind == "tls":
        cert, key = tls_pair("shop.example")
        (tmp_path / "c").write_bytes(cert)
        (tmp_path / "k").write_bytes(key)
        return ["--cert", str(tmp_path / "c"), "--key", str(tmp_path / "k")], None
    if kind == "ssh-auth":
        (tmp_path / "id").write_bytes(ssh_key()[0])
        return ["--ssh-key", str(tmp_path / "id")], None
    if kind == "basic-auth":
        return ["--username", "admin", "--password-stdin"], b"pw"
    if kind == "docker-registry":
        return ["--server", "r.example", "--username", "robot", "--password-stdin"], b"pw"
    return ["--from-stdin", "token"], b"t"


@pytest.mark.parametrize("kind", ["generic", "tls", "basic-auth", "ssh-auth", "docker-registry"])
def test_every_type_round_trips_through_the_api(tmp_path: Path, clusters: Clusters, kind: str) -> None:
    args, stdin = _type_args(kind, tmp_path)
    created = secret_cli("create", kind, "db", *args, *clusters.args("c"), input=stdin)
    pod_file = write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(mounts=[{"name": "v", "mountPath": "/v"}]),
            volumes=[{"name": "v", "secret": {"secretName": "db"}}],
            pull_secrets=["db"] if kind == "docker-registry" else None,
        ),
    )
    rendered = injector(
        "render",
        "files",
        "--show-values",
        "--pod",
        str(pod_file),
        "--kube",
        "--kubeconfig",
        str(clusters.kubeconfig),
        "--context",
        "c",
    )

    assert 0 == created.returncode, created.stderr
    assert 0 == rendered.returncode, rendered.stderr
    files = json.loads(rendered.stdout)["volumes"][0]["files"]
    stored = clusters.stored("c")
    assert stored is not None
    assert {key: value.decode() for key, value in stored.items()} == {
        path: entry["value"] for path, entry in files.items()
    }
    if kind == "docker-registry":
        config = injector(
            "render",
            "dockerconfig",
            "--pod",
            str(pod_file),
            "--kube",
            "--kubeconfig",
            str(clusters.kubeconfig),
            "--context",
            "c",
        )
        assert {"robot"} == {entry["username"] for entry in json.loads(config.stdout)["auths"].values()}


# -- edit -----------------------------------------------------------------------------------------------------


def test_edit_updates_each_cluster_with_its_own_resource_version(clusters: Clusters, canary: str) -> None:
    put(clusters, "a", {"password": canary, "user": "admin"}, metadata={"labels": {"app": "db"}})
    put(clusters, "b", {"password": canary, "user": "admin"}, metadata={"ownerReferences": [{"name": "o"}]})

    result = secret_cli("edit", "db", *clusters.args("a", "b", "c"), env={"EDITOR": vim("%s/admin/root/", "wq")})

    assert 0 == result.returncode, result.stderr
    for name in NAMES:
        assert {"password": canary.encode(), "user": b"root"} == clusters.stored(name)
    assert [{"name": "o"}] == clusters.servers["b"].store.objects[("secrets", "shop", "db")]["metadata"][
        "ownerReferences"
    ]
    assert ["PUT dry-run", "PUT real"] == clusters.writes("a") == clusters.writes("b")
    assert ["POST dry-run", "POST real"] == clusters.writes("c")  # missing there: created
    assert b"Secret/shop/db: data[user]: differs" not in result.stderr
    assert b"exists in context a, not in context c" in result.stderr  # drift is said before editing
    assert canary.encode() not in result.stderr


def test_a_change_made_while_editing_is_a_conflict(tmp_path: Path, clusters: Clusters) -> None:
    put(clusters, "a", {"k": "1"})
    put(clusters, "b", {"k": "1"})
    url = clusters.servers["b"].url
    meddler = script_editor(
        tmp_path,
        f"""
import json, urllib.request
body = {{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": "db", "namespace": "shop"}},
        "stringData": {{"k": "other"}}}}
request = urllib.request.Request({url!r} + "/api/v1/namespaces/shop/secrets/db", data=json.dumps(body).encode(),
    method="PUT", headers={{"Authorization": "Bearer admin-token", "Content-Type": "application/json"}})
urllib.request.urlopen(request).read()
text = open(path).read().replace("k: '1'", "k: '2'")
with open(path, "r+") as f:
    f.write(text)
    f.truncate()
""",
    )

    result = secret_cli("edit", "db", *clusters.args("a", "b"), env={"EDITOR": meddler})

    assert 7 == result.returncode, result.stderr
    assert b"the object has been modified; please apply your changes to the latest version" in result.stderr
    assert ({"k": b"1"}, {"k": b"other"}) == (clusters.stored("a"), clusters.stored("b"))
    assert ["PUT dry-run"] == clusters.writes("a")


def test_an_immutable_secret_in_one_cluster_refuses_the_edit_everywhere(clusters: Clusters) -> None:
    put(clusters, "a", {"k": "1"})
    put(clusters, "b", {"k": "1"}, immutable=True)

    result = secret_cli("edit", "db", "--set", "k", *clusters.args("a", "b"), input=b"2")

    assert 3 == result.returncode
    assert b"Forbidden: field is immutable when `immutable` is set" in result.stderr
    assert ({"k": b"1"}, {"k": b"1"}) == (clusters.stored("a"), clusters.stored("b"))


def test_key_value_edit_dry_run_shows_changes_per_cluster(clusters: Clusters) -> None:
    put(clusters, "a", {"k": "1", "gone": "x"})
    put(clusters, "b", {"k": "2", "gone": "x"})

    result = secret_cli(
        "edit", "db", "--set", "k", "--unset", "gone", "--dry-run", *clusters.args("a", "b"), input=b"1"
    )

    assert 0 == result.returncode, result.stderr
    out = result.stdout.decode().splitlines()
    assert [
        "context a: Secret shop/db: would update",
        "  - gone  sha256:2d711642b726b044",
        "  = k  sha256:6b86b273ff34fce1",
    ] == out[:3]
    assert ["context b: Secret shop/db: would update", "  - gone  sha256:2d711642b726b044"] == out[3:5]
    assert out[5] == "  ~ k  sha256:d4735e3a265e16ee -> sha256:6b86b273ff34fce1  (1 bytes)"
    assert [] == clusters.writes("a")[1:]


# -- get and delete ------------------------------------------------------------------------------------------


def test_get_shows_each_cluster(clusters: Clusters) -> None:
    put(clusters, "a", {"k": "1"})

    result = secret_cli("get", "db", *clusters.args("a", "b"))

    assert 5 == result.returncode
    assert [
        "context a:",
        "Secret shop/db",
        "  type: Opaque",
        "  k  1 bytes  sha256:6b86b273ff34fce1",
        "context b: Secret shop/db not found",
    ] == result.stdout.decode().splitlines()


def test_delete_in_several_clusters(clusters: Clusters) -> None:
    put(clusters, "a", {"k": "1"})
    put(clusters, "b", {"k": "1"})

    refused = secret_cli("delete", "db", *clusters.args("a", "b", "c"))
    dry = secret_cli("delete", "db", "--dry-run", *clusters.args("a", "b", "c"))
    deleted = secret_cli("delete", "db", "--yes", *clusters.args("a", "b", "c"))

    assert 2 == refused.returncode
    assert (
        f"delete Secret shop/db in context a ({clusters.servers['a'].url}), b ({clusters.servers['b'].url}): "
        "without a terminal to ask on, give --yes"
    ).encode() in refused.stderr
    assert 0 == dry.returncode
    assert [
        "context a: Secret shop/db: would delete",
        "  - k  sha256:6b86b273ff34fce1",
        "context b: Secret shop/db: would delete",
        "  - k  sha256:6b86b273ff34fce1",
    ] == dry.stdout.decode().splitlines()
    assert 0 == deleted.returncode, deleted.stderr
    assert b"Secret shop/db is not in context c" in deleted.stderr
    assert (None, None) == (clusters.stored("a"), clusters.stored("b"))
    assert ["DELETE dry-run", "DELETE dry-run", "DELETE real"] == clusters.writes("a")


# -- check: drift between clusters ------------------------------------------------------------------------------


def test_check_compares_clusters_by_key_and_fingerprint(tmp_path: Path, clusters: Clusters, canary: str) -> None:
    pod_file = write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(env=[secret_key_ref("P", "db", "password")], env_from=[env_from("settings", kind="configMapRef")])
        ),
    )
    for name in ("a", "b"):
        clusters.servers[name].put(config_map("settings", {"MODE": "prod"}))
    put(clusters, "a", {"password": canary, "extra": "1"})
    put(clusters, "b", {"password": canary + "x"})

    drifted = injector("check", "--pod", str(pod_file), *clusters.args("a", "b"))
    put(clusters, "b", {"password": canary, "extra": "1"})
    aligned = injector("check", "--pod", str(pod_file), *clusters.args("a", "b"))

    assert 1 == drifted.returncode
    lines = drifted.stdout.decode().splitlines()
    assert [
        "Secret/shop/db: data[extra]: error: only in context a (sha256:6b86b273ff34fce1), not in context b",
        "Secret/shop/db: data[password]: error: differs: context a has sha256:",
    ] == [lines[0], lines[1][: len("Secret/shop/db: data[password]: error: differs: context a has sha256:")]]
    assert ", context b has sha256:" in lines[1]
    assert 2 == len(lines)
    assert canary.encode() not in drifted.stdout + drifted.stderr
    assert (0, b"") == (aligned.returncode, aligned.stdout)


def test_a_write_failing_after_the_dry_runs_says_how_far_it_got(clusters: Clusters) -> None:
    clusters.servers["b"].faults.fail_writes = 500

    result = secret_cli("create", "generic", "db", "--from-stdin", "k", *clusters.args("a", "b"), input=b"v")

    assert 5 == result.returncode
    assert [
        f"injector: created Secret shop/db in context a ({clusters.servers['a'].url})",
        "injector: written before this failure: context a",
        f"injector: context b ({clusters.servers['b'].url}): API error 500 (InternalError) on create shop/db",
    ] == result.stderr.decode().splitlines()
    assert ({"k": b"v"}, None) == (clusters.stored("a"), clusters.stored("b"))
