"""``injector inject``: manifests in, manifests out, every document accounted for, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from injector.core.emit import dump_yaml
from injector.core.inject import AGENT, FILES_VOLUME
from injector.core.manifest import parse_stream
from tests.conftest import assert_no_traceback, injector
from tests.core.test_inject import MOUNTED, workload
from tests.support.validate import strict_problems

IMAGE = "registry.example/injector:1.0"

CONFIG_MAP = """\
# Settings, written by hand: kept exactly as they are.
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}   # flow style, a comment
data:
  mode: "0o400"
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  ports: [{port: 80}]
"""


def deployment_text() -> str:
    return "# The app.\n" + dump_yaml(workload("Deployment", json.loads(json.dumps(MOUNTED))))


def documents(data: bytes) -> list[dict[str, Any]]:
    """The documents of ``data`` as kubectl reads them (go-yaml's scalars)."""
    return [doc.body for doc in parse_stream(data, "out.yaml")[0] if isinstance(doc.body, dict)]


def test_other_documents_pass_through_as_written_and_rbac_comes_before_its_workload(tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(f"{CONFIG_MAP}---\n{deployment_text()}---\n{SERVICE}")

    result = injector("inject", "-f", str(manifest), "--image", IMAGE, "--rbac")

    assert 0 == result.returncode, result.stderr.decode()
    out = result.stdout.decode()
    assert out.startswith(CONFIG_MAP)
    assert out.endswith(f"---\n{SERVICE}")
    kinds = [doc["kind"] for doc in documents(result.stdout)]
    assert ["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Deployment", "Service"] == kinds
    assert "---\n# The app.\napiVersion: apps/v1\n" in out  # the changed document keeps its leading comment
    assert [] == strict_problems(documents(result.stdout)[1:5])
    assert b"" == result.stderr


def test_inject_of_its_own_output_is_the_same_bytes(tmp_path: Path) -> None:
    body = workload("CronJob", json.loads(json.dumps(MOUNTED)))
    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] = ["/job"]
    manifest = tmp_path / "cron.yaml"
    manifest.write_text(dump_yaml(body))
    args = ("--image", IMAGE, "--rbac", "--env", "app")

    first = injector("inject", "-f", str(manifest), *args)
    second = injector("inject", *args, input=first.stdout)

    assert (0, 0) == (first.returncode, second.returncode), first.stderr + second.stderr
    assert first.stdout == second.stdout


def test_a_list_is_injected_item_by_item_with_rbac_items_before(tmp_path: Path) -> None:
    items = [*documents(CONFIG_MAP.encode()), workload("Pod", json.loads(json.dumps(MOUNTED)))]
    manifest = tmp_path / "list.yaml"
    manifest.write_text(dump_yaml({"apiVersion": "v1", "kind": "List", "items": items}))

    result = injector("inject", "-f", str(manifest), "--rbac")

    (out,) = documents(result.stdout)
    assert ["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Pod"] == [item["kind"] for item in out["items"]]
    assert items[0] == out["items"][0]
    assert AGENT == out["items"][4]["spec"]["initContainers"][0]["name"]


def test_json_in_json_out(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(workload("Pod", json.loads(json.dumps(MOUNTED)))))

    plain = injector("inject", "-f", str(manifest))
    with_rbac = injector("inject", "-f", str(manifest), "--rbac")

    pod = json.loads(plain.stdout)
    assert FILES_VOLUME == pod["spec"]["containers"][0]["volumeMounts"][0]["name"]
    listed = json.loads(with_rbac.stdout)
    assert ("List", ["ServiceAccount", "Role", "RoleBinding", "Pod"]) == (
        listed["kind"],
        [item["kind"] for item in listed["items"]],
    )


def test_a_file_with_nothing_to_inject_is_written_back_byte_for_byte_with_a_warning(tmp_path: Path) -> None:
    body = workload("Deployment", {"containers": [{"name": "app", "image": "example/app"}]})
    data = f"{CONFIG_MAP}---\n{dump_yaml(body)}".encode()

    result = injector("inject", input=data)

    assert (0, data) == (result.returncode, result.stdout)
    assert result.stderr.decode().startswith(
        "injector: warning: <stdin> (document 2): Deployment/shop/web: nothing to inject: no container mounts"
    )


FAILURES: list[tuple[str, Callable[[dict[str, Any]], object], tuple[str, ...], int, str]] = [
    (
        "a misspelled field",
        lambda body: body["spec"]["template"]["spec"]["containers"][0].update(volumemounts=[]),
        (),
        3,
        "deploy.yaml (document 2): Deployment/shop/web: spec.template.spec.containers[0].volumemounts: unknown field "
        '(did you mean "volumeMounts"?)',
    ),
    (
        "a mount of a missing volume",
        lambda body: body["spec"]["template"]["spec"].pop("volumes"),
        (),
        3,
        "deploy.yaml (document 2): Deployment/shop/web: spec.template.spec.containers[0].volumeMounts[0].name: Not "
        'found: "creds"',
    ),
    (
        "--env of a container with no command",
        lambda body: None,
        ("--env", "app"),
        2,
        "deploy.yaml (document 2): Deployment/shop/web: spec.template.spec.containers[0].command: --env app: the "
        "container has no command to wrap",
    ),
]


def test_failures_are_one_line_each_with_their_exit_code_and_nothing_on_stdout(tmp_path: Path) -> None:
    for what, break_it, args, code, message in FAILURES:
        body = workload("Deployment", json.loads(json.dumps(MOUNTED)))
        break_it(body)
        manifest = tmp_path / "deploy.yaml"
        manifest.write_text(f"{CONFIG_MAP}---\n{dump_yaml(body)}")

        result = injector("inject", "-f", str(manifest), *args)

        assert (code, b"") == (result.returncode, result.stdout), what
        assert_no_traceback(result.stderr)
        (line,) = result.stderr.decode().splitlines()
        assert line.startswith(f"injector: {tmp_path}/{message}"), (what, line)


def test_an_unreadable_file_is_exit_5() -> None:
    result = injector("inject", "-f", "/nonexistent/deploy.yaml")

    assert 5 == result.returncode
    assert "injector: /nonexistent/deploy.yaml: cannot read: No such file or directory\n" == result.stderr.decode()
