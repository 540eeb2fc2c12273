"""Reading a pod (template): container roles, field paths, and choosing a container (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from injector.core.fields import FieldPath
from injector.core.manifest import Document
from injector.core.objects import CONFIG_MAP, SECRET
from injector.core.podspec import PodSpec, parse_pod, select_container, select_pod_document
from injector.errors import Setting, UsageError
from tests.support.manifests import container, env_from, pod, secret_key_ref


def parsed(body: dict[str, Any]) -> PodSpec:
    spec, errors = parse_pod(Document("pod.yaml", body), "default")
    assert [] == [str(error) for error in errors]
    return spec


def test_containers_carry_their_role_in_start_order() -> None:
    body = pod(container("app"))
    body["spec"]["initContainers"] = [container("migrate")]
    body["spec"]["ephemeralContainers"] = [container("debug")]

    spec = parsed(body)

    assert [("migrate", "init"), ("app", "regular"), ("debug", "ephemeral")] == [
        (c.name, c.role) for c in spec.containers
    ]
    assert ("app",) == tuple(c.name for c in spec.regular_containers)


def test_references_carry_their_kind_and_field_path() -> None:
    spec = parsed(
        pod(
            container(
                env=[secret_key_ref("A", "db", "password")],
                env_from=[env_from("settings", kind="configMapRef")],
            )
        )
    )
    (app,) = spec.containers
    ref = app.env[0].key_ref
    assert ref is not None

    assert (SECRET, "spec.containers[0].env[0].valueFrom.secretKeyRef") == (ref.kind, str(ref.at))
    assert (CONFIG_MAP, "spec.containers[0].envFrom[0].configMapRef") == (
        app.env_from[0].kind,
        str(app.env_from[0].at),
    )


def test_workload_template_paths_prefix_every_field() -> None:
    template = {"spec": pod(container(env=[secret_key_ref("A", "db", "k")]))["spec"]}
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"jobTemplate": {"spec": {"template": template}}},
    }

    spec = parsed(body)

    assert FieldPath.of("spec", "jobTemplate", "spec", "template", "spec", "containers", 0) == spec.containers[0].at


def test_choosing_among_several_containers_points_at_the_setting_not_a_flag() -> None:
    """The core names the setting; how it is spelled (--container) is the command line's business."""
    spec = parsed(pod(container("app"), container("proxy")))

    with pytest.raises(UsageError) as info:
        select_container(spec, None)

    assert Setting("container") in info.value.parts
    assert "the pod has 2 containers, pick one with container: app, proxy" == info.value.problem
    assert "pick one with --container: app" in info.value.describe(lambda s: f"--{s.name}")


def test_init_containers_are_chosen_by_name_only() -> None:
    body = pod(container("app"))
    body["spec"]["initContainers"] = [container("migrate")]
    spec = parsed(body)

    assert "app" == select_container(spec, None).name
    assert "migrate" == select_container(spec, "migrate").name


def test_several_pods_in_one_file_need_a_name() -> None:
    documents = [Document("all.yaml", pod(name="a")), Document("all.yaml", pod(name="b"))]

    with pytest.raises(UsageError) as info:
        select_pod_document(documents, None, "all.yaml")

    assert Setting("pod_name") in info.value.parts
    assert "Pod/b" == f"Pod/{select_pod_document(documents, 'b', 'all.yaml').body['metadata']['name']}"


def errors_of(body: dict[str, Any]) -> list[str]:
    _, errors = parse_pod(Document("pod.yaml", body), "default")
    return [f"{error.field}: {error.problem}" for error in errors]


@pytest.mark.parametrize(
    ("mounts", "expected"),
    [
        pytest.param(
            [{"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/a", "subPath": "x"}],
            ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique'],
            id="duplicate-mount-path",
        ),
        pytest.param(
            [{"name": "v", "mountPath": "/a", "subPath": "/abs"}],
            ['spec.containers[0].volumeMounts.subPath: Invalid value: "/abs": must be a relative path'],
            id="absolute-sub-path",
        ),
        pytest.param(
            [{"name": "v", "mountPath": "/a", "subPath": "x/../../y"}],
            ["spec.containers[0].volumeMounts.subPath: Invalid value: \"x/../../y\": must not contain '..'"],
            id="backstep-sub-path",
        ),
        pytest.param(
            [{"name": "v", "mountPath": "/a", "subPath": "..x/y"}],
            [],
            id="dotdot-prefixed-name-is-fine",
        ),
        pytest.param(
            [{"name": "v", "mountPath": "/a", "subPath": "x", "subPathExpr": "$(POD)"}],
            [
                'spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: "$(POD)": subPathExpr and subPath '
                "are mutually exclusive"
            ],
            id="sub-path-and-expr",
        ),
    ],
)
def test_volume_mounts_are_validated_as_the_api_server_does(mounts: list[Any], expected: list[str]) -> None:
    body = pod(container(mounts=mounts), volumes=[{"name": "v", "secret": {"secretName": "s"}}])

    assert expected == errors_of(body)


def test_a_mount_of_a_missing_volume_is_an_error_in_any_container() -> None:
    body = pod(container("app"), container("proxy", mounts=[{"name": "ghost", "mountPath": "/g"}]))

    assert ['spec.containers[1].volumeMounts[0].name: Not found: "ghost"'] == errors_of(body)


def test_the_service_account_volume_is_recognised() -> None:
    projected = {
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        ]
    }
    spec = parsed(
        pod(
            container(),
            volumes=[
                {"name": "kube-api-access-8k2xq", "projected": projected},
                {"name": "mine", "projected": projected},
            ],
        )
    )

    assert [True, False] == [volume.service_account for volume in spec.volumes.values()]


def located_errors(body: dict[str, Any]) -> list[str]:
    return [str(error) for error in parse_pod(Document("pod.yaml", body), "default")[1]]


def test_a_statefulsets_claim_templates_are_volumes_its_containers_may_mount() -> None:
    """The StatefulSet controller adds a persistentVolumeClaim volume per claim template to each pod
    (stateful_set_utils.go, updateStorage): mounting one is not a mount of a missing volume."""
    template = pod(container(mounts=[{"name": "data", "mountPath": "/var/lib/mysql"}]))
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "mysql", "namespace": "shop"},
        "spec": {"template": {"spec": template["spec"]}, "volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
    }

    assert [] == located_errors(body)
    body["spec"]["volumeClaimTemplates"] = []
    assert [
        'pod.yaml: StatefulSet/shop/mysql: spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"'
    ] == located_errors(body)


SUBDOMAIN = (
    "Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "Invalid value: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        # validateSecretKeySelector / validateConfigMapKeySelector, and the envFrom and volume sources: a name
        # no object can have is the manifest's error (and the only one: not also "not found").
        (
            lambda b: b["spec"]["containers"][0].update(env=[secret_key_ref("A", "<DB>", "k")]),
            "spec.containers[0].env[0].valueFrom.secretKeyRef.name",
            SUBDOMAIN,
        ),
        # ValidateObjectMeta on the pod itself, and the containers' names (validateContainers).
        (lambda b: b["metadata"].update(name="<APP>"), "metadata.name", SUBDOMAIN),
        (lambda b: b["metadata"].pop("name"), "metadata.name", "Required value: name or generateName is required"),
        (lambda b: b["metadata"].update(namespace="Bad_NS"), "metadata.namespace", LABEL),
        (lambda b: b["spec"]["containers"][0].update(name="App"), "spec.containers[0].name", LABEL),
        (
            lambda b: b["spec"].update(initContainers=[container("app")]),
            "spec.containers[0].name",
            'Duplicate value: "app"',
        ),
    ],
)
def test_names_are_checked_as_the_api_server_checks_them(edit: Any, field: str | None, message: str | None) -> None:
    body = pod(container("app"))
    edit(body)

    errors = located_errors(body)

    assert ([] if field is None else [f"{field}: {message}"]) == [error.split(": ", 2)[2] for error in errors]


def test_a_generate_name_stands_for_the_name() -> None:
    body = pod(container())
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"

    assert [] == located_errors(body)
