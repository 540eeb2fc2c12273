"""core.inject: a pod or workload rewired to injector, its way back, and the RBAC it needs (pure)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from injector.core import inject
from injector.core.emit import dump_yaml
from injector.core.inject import AGENT, FILES_VOLUME, INJECTED, InjectOptions, as_served, inject_document, restore
from injector.core.manifest import Document, parse_documents, parse_stream
from injector.core.podspec import TEMPLATE_PATHS
from injector.errors import ManifestError, UsageError
from tests.support.validate import strict_problems

IMAGE = "registry.example/injector:1.0"
OPTIONS = InjectOptions(IMAGE)


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "example/app", **fields}


def spec(*containers: dict[str, Any], volumes: list[Any] | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers) or [app()]}
    if volumes is not None:
        body["volumes"] = volumes
    body.update(fields)
    return body


def workload(kind: str, pod_spec: dict[str, Any], *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A minimal valid ``kind`` whose pod (template) has ``pod_spec``."""
    template: dict[str, Any] = {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}
    if annotations is not None:
        template["metadata"]["annotations"] = annotations
    metadata = {"name": "web", "namespace": "shop"}
    selector = {"matchLabels": {"app": "web"}}
    if kind == "Pod":
        pod_metadata = {"name": "web-0", "namespace": "shop", **template["metadata"]}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata, "spec": pod_spec}
    if kind in ("Job", "CronJob"):
        pod_spec.setdefault("restartPolicy", "Never")
    if kind == "CronJob":
        job = {"template": template}
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": metadata,
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": job}},
        }
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": metadata, "spec": {"template": template}}
    if kind == "ReplicationController":
        return {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": metadata,
            "spec": {"selector": {"app": "web"}, "template": template},
        }
    if kind == "PodTemplate":
        return {"apiVersion": "v1", "kind": kind, "metadata": metadata, "template": template}
    extra = {"serviceName": "web"} if kind == "StatefulSet" else {}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"selector": selector, "template": template, **extra},
    }


def pod_template(body: dict[str, Any]) -> dict[str, Any]:
    node = body
    for step in TEMPLATE_PATHS[body["kind"]]:
        node = node[step]
    return node


def secret_volume(name: str = "creds", secret: str = "db", **fields: Any) -> dict[str, Any]:
    return {"name": name, "secret": {"secretName": secret, **fields}}


MOUNTED = spec(
    app(volumeMounts=[{"name": "creds", "mountPath": "/etc/creds", "readOnly": True}]),
    volumes=[secret_volume()],
)


def injected(body: dict[str, Any], options: InjectOptions = OPTIONS) -> inject.Injection:
    return inject_document(Document("deploy.yaml", body), options)


# -- what an injected pod holds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
def test_every_workload_kind_gets_a_native_sidecar_and_validates_strictly(kind: str) -> None:
    body = workload(kind, copy.deepcopy(MOUNTED))

    result = injected(body, InjectOptions(IMAGE, rbac=True))

    pod = pod_template(result.body)["spec"]
    agent = pod["initContainers"][0]
    assert (AGENT, IMAGE, "Always") == (agent["name"], agent["image"], agent["restartPolicy"])
    assert "/readyz" == agent["startupProbe"]["httpGet"]["path"]
    assert "/healthz" == agent["livenessProbe"]["httpGet"]["path"]
    assert {"requests", "limits"} <= agent["resources"].keys()
    assert [{"name": FILES_VOLUME, "mountPath": "/injector", "mountPropagation": "Bidirectional"}] == agent[
        "volumeMounts"
    ]
    assert ["agent", "--self", "--container", AGENT, "--mount", "/injector"] == agent["args"][:6]
    assert {"name": FILES_VOLUME, "emptyDir": {}} in pod["volumes"]
    assert [
        {
            "name": FILES_VOLUME,
            "mountPath": "/etc/creds",
            "subPath": "creds",
            "readOnly": True,
            "mountPropagation": "HostToContainer",
        }
    ] == pod["containers"][0]["volumeMounts"]
    assert secret_volume() in pod["volumes"]  # kept, mounted by nobody: the kubelet skips it
    assert [] == strict_problems([result.body, *result.rbac])


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "CronJob"])
def test_the_csi_mode_takes_the_mount_from_a_fuse_csi_driver_with_no_privilege(kind: str) -> None:
    body = workload(kind, copy.deepcopy(MOUNTED))

    result = injected(body, InjectOptions(IMAGE, rbac=True, fuse="csi"))

    pod = pod_template(result.body)["spec"]
    agent = pod["initContainers"][0]
    assert ["agent", "--self", "--container", AGENT, "--mount", "fd-socket:/injector-fd/injector.sock"] == agent[
        "args"
    ][:6]
    assert "--allow-other" not in agent["args"]  # the driver's mount has allow_other itself
    assert ["--uid", "0", "--gid", "0"] == agent["args"][-4:]  # root's files, as the kubelet writes them
    security = agent["securityContext"]
    assert (65534, 65534, True, False) == (
        security["runAsUser"],
        security["runAsGroup"],
        security["runAsNonRoot"],
        security["allowPrivilegeEscalation"],
    )
    assert {"drop": ["ALL"]} == security["capabilities"] and "privileged" not in security
    assert [{"name": "injector-fd", "mountPath": "/injector-fd"}] == agent["volumeMounts"]
    (files,) = [volume for volume in pod["volumes"] if volume["name"] == FILES_VOLUME]
    assert {
        "driver": "meta-fuse-csi-plugin.csi.storage.pfn.io",
        "readOnly": True,
        "volumeAttributes": {"fdPassingEmptyDirName": "injector-fd", "fdPassingSocketName": "injector.sock"},
    } == files["csi"]
    assert {"name": "injector-fd", "emptyDir": {}} in pod["volumes"]
    assert [] == strict_problems([result.body, *result.rbac])
    again = inject_document(Document("deploy.yaml", result.body), InjectOptions(IMAGE, rbac=True, fuse="csi"))
    assert result.body == again.body


def test_each_mount_keeps_its_path_and_subpath_in_the_agents_view() -> None:
    mounts = [
        {"name": "creds", "mountPath": "/etc/creds"},
        {"name": "creds", "mountPath": "/etc/app/password", "subPath": "password"},
        {"name": "config", "mountPath": "/etc/app/conf.d", "subPathExpr": "$(POD_NAME)"},
        {"name": "data", "mountPath": "/data"},
    ]
    volumes = [secret_volume(), {"name": "config", "configMap": {"name": "settings"}}, {"name": "data", "emptyDir": {}}]
    body = workload("Deployment", spec(app(volumeMounts=mounts), volumes=volumes))

    rewired = pod_template(injected(body).body)["spec"]["containers"][0]["volumeMounts"]

    assert [("/etc/creds", "creds"), ("/etc/app/password", "creds/password")] == [
        (m["mountPath"], m["subPath"]) for m in rewired[:2]
    ]
    assert "config/$(POD_NAME)" == rewired[2]["subPathExpr"]
    assert {"name": "data", "mountPath": "/data"} == rewired[3]


SERVED = [
    ("secret", secret_volume("v"), True),
    ("configMap", {"name": "v", "configMap": {"name": "settings"}}, True),
    (
        "projected secret, configMap and fieldRef",
        {
            "name": "v",
            "projected": {
                "sources": [
                    {"secret": {"name": "db"}},
                    {"configMap": {"name": "settings"}},
                    {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                ]
            },
        },
        True,
    ),
    (
        "projected with a service-account token",
        {"name": "v", "projected": {"sources": [{"secret": {"name": "db"}}, {"serviceAccountToken": {"path": "t"}}]}},
        False,
    ),
    (
        "projected with a resourceFieldRef",
        {
            "name": "v",
            "projected": {
                "sources": [
                    {
                        "downwardAPI": {
                            "items": [
                                {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}}
                            ]
                        }
                    }
                ]
            },
        },
        False,
    ),
    (
        "downwardAPI",
        {"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        False,
    ),
    ("emptyDir", {"name": "v", "emptyDir": {}}, False),
]


@pytest.mark.parametrize(("what", "volume", "served"), SERVED, ids=[row[0] for row in SERVED])
def test_a_volume_is_served_when_injector_can_serve_it_as_the_kubelet_would(
    what: str, volume: dict[str, Any], served: bool
) -> None:
    body = workload("Pod", spec(app(volumeMounts=[{"name": "v", "mountPath": "/v"}]), volumes=[volume]))

    result = injected(body)

    assert served == result.changed, what
    if not served:
        assert result.body == body
        assert ["nothing to inject"] == [w.problem.split(":")[0] for w in result.warnings]


# -- opting out --------------------------------------------------------------------------------------------------


def test_a_pod_annotated_inject_false_is_left_as_it_is() -> None:
    body = workload("Deployment", copy.deepcopy(MOUNTED), annotations={inject.INJECT: "false"})

    assert not injected(body).changed


def test_an_injected_pod_annotated_inject_false_gets_its_original_back() -> None:
    original = workload("Deployment", copy.deepcopy(MOUNTED))
    again = injected(original).body
    pod_template(again)["metadata"]["annotations"][inject.INJECT] = "false"

    result = injected(again)

    expected = copy.deepcopy(original)
    pod_template(expected)["metadata"]["annotations"] = {inject.INJECT: "false"}
    assert expected == result.body


def test_skipped_containers_and_volumes_stay_with_the_kubelet() -> None:
    mounts = [{"name": "creds", "mountPath": "/etc/creds"}, {"name": "tls", "mountPath": "/etc/tls"}]
    pod_spec = spec(
        app(volumeMounts=mounts),
        {"name": "legacy", "image": "example/legacy", "volumeMounts": [mounts[0]]},
        volumes=[secret_volume(), secret_volume("tls", "web-tls")],
    )
    annotations = {inject.SKIP_CONTAINERS: "legacy", inject.SKIP_VOLUMES: "tls"}
    body = workload("Deployment", pod_spec, annotations=annotations)

    pod = pod_template(injected(body).body)["spec"]

    assert [FILES_VOLUME, "tls"] == [m["name"] for m in pod["containers"][0]["volumeMounts"]]
    assert [mounts[0]] == pod["containers"][1]["volumeMounts"]
    assert ["creds"] == json.loads(pod_template(injected(body).body)["metadata"]["annotations"][INJECTED])["served"]


# -- the way back ------------------------------------------------------------------------------------------------

SHAPES = {
    "secret volume": copy.deepcopy(MOUNTED),
    "no metadata in the template": MOUNTED,
    "init containers, several apps, subPaths": spec(
        app(
            volumeMounts=[{"name": "creds", "mountPath": "/etc/creds", "subPath": "db"}],
            env=[{"name": "A", "value": "1"}],
        ),
        {
            "name": "worker",
            "image": "w",
            "volumeMounts": [{"name": "creds", "mountPath": "/run/creds", "readOnly": True}],
        },
        volumes=[secret_volume(), {"name": "scratch", "emptyDir": {}}],
        initContainers=[{"name": "migrate", "image": "m", "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}],
    ),
    "env container, automount off, no volumes": spec(
        app(
            command=["/app", "--serve"],
            args=["--port", "8080"],
            env=[
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "MODE", "value": "prod"},
            ],
            envFrom=[{"secretRef": {"name": "api"}}, {"configMapRef": {"name": "settings"}}],
        ),
        automountServiceAccountToken=False,
    ),
}


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "CronJob"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_restore_gives_the_original_back_and_inject_of_its_output_changes_nothing(kind: str, shape: str) -> None:
    body = workload(kind, copy.deepcopy(SHAPES[shape]))
    if shape == "no metadata in the template" and kind != "Pod":
        del pod_template(body)["metadata"]
    options = InjectOptions(IMAGE, env_containers=("app",) if shape.startswith("env") else (), rbac=True)

    first = injected(body, options)
    second = injected(first.body, options)

    assert first.changed
    assert body == restore(Document("x", first.body))
    assert not second.changed and first.body == second.body
    assert first.rbac == second.rbac
    assert dump_yaml(first.body) == dump_yaml(second.body)  # the same keys in the same order
    assert [] == strict_problems([first.body, *first.rbac])


def test_a_record_inject_did_not_write_is_an_error_naming_the_annotation() -> None:
    body = workload("Deployment", copy.deepcopy(MOUNTED), annotations={INJECTED: '{"version": 1}'})

    with pytest.raises(ManifestError) as failed:
        injected(body)

    assert str(failed.value).startswith(
        "deploy.yaml: Deployment/shop/web: spec.template.metadata.annotations[injector.io/injected]: not a record"
    )


# -- --env -------------------------------------------------------------------------------------------------------


def test_env_wraps_the_command_and_leaves_secret_env_to_injector() -> None:
    body = workload("Deployment", copy.deepcopy(SHAPES["env container, automount off, no volumes"]))

    pod = pod_template(injected(body, InjectOptions(IMAGE, env_containers=("app",))).body)["spec"]

    container = pod["containers"][0]
    assert ["/opt/injector/bin/injector", "run", "--self", "--container", "app", "--", "/app", "--serve"] == container[
        "command"
    ]
    assert ["--port", "8080"] == container["args"]
    assert ["MODE", "POD_NAME", "POD_NAMESPACE"] == [e["name"] for e in container["env"]]
    assert [{"configMapRef": {"name": "settings"}}] == container["envFrom"]
    assert {"/opt/injector", "/var/run/secrets/kubernetes.io/serviceaccount"} == {
        m["mountPath"] for m in container["volumeMounts"]
    }
    assert ["injector-install"] == [c["name"] for c in pod["initContainers"]]  # no volume: no agent
    assert {"medium": "Memory", "sizeLimit": inject.RUNTIME_SIZE} == pod["volumes"][0]["emptyDir"]


def test_the_env_annotation_asks_for_what_env_asks_for() -> None:
    pod_spec = copy.deepcopy(SHAPES["env container, automount off, no volumes"])
    by_option = injected(workload("Deployment", copy.deepcopy(pod_spec)), InjectOptions(IMAGE, env_containers=("app",)))
    by_annotation = injected(workload("Deployment", pod_spec, annotations={inject.ENV_CONTAINERS: "app"}))

    option_spec = pod_template(by_option.body)["spec"]
    assert option_spec == pod_template(by_annotation.body)["spec"]


ENV_ERRORS = [
    (
        "app",
        app(
            command=["/app", "--password=$(PASSWORD)"],
            env=[{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
        ),
        "--env app: $(PASSWORD) in command or args is a Secret value the kubelet would expand; injector run passes "
        "the command as written: read the variable in the program (or sh -c '... \"$VAR\"')",
        "spec.template.spec.containers[0]",
    ),
    ("ghost", app(command=["/app"]), "--env ghost: no such container (containers: app)", "spec.template.spec"),
    (
        "app",
        app(),
        "--env app: the container has no command to wrap (give it its image's entrypoint as command: injector does "
        "not look images up)",
        "spec.template.spec.containers[0].command",
    ),
    (
        "app",
        app(command=["/app"], env=[{"name": "POD_NAME", "value": "web"}]),
        "--env app: POD_NAME is injector's (the downward API's metadata.name); the container sets it otherwise",
        "spec.template.spec.containers[0].env",
    ),
]


@pytest.mark.parametrize(("name", "container", "message", "field"), ENV_ERRORS)
def test_env_errors_name_the_container_and_field(
    name: str, container: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(UsageError) as failed:
        injected(workload("Deployment", spec(container)), InjectOptions(IMAGE, env_containers=(name,)))

    assert (field, message) == (failed.value.field, failed.value.problem)


# -- names and ports injector takes ------------------------------------------------------------------------------


def test_a_name_injector_uses_is_an_error() -> None:
    body = workload(
        "Deployment",
        spec(app(volumeMounts=[{"name": FILES_VOLUME, "mountPath": "/x"}]), volumes=[secret_volume(FILES_VOLUME)]),
    )

    with pytest.raises(UsageError, match="volume name 'injector-files' is injector's: rename it"):
        injected(body)


def test_the_agent_port_moves_with_an_annotation_when_the_app_uses_it() -> None:
    taken = copy.deepcopy(MOUNTED)
    taken["containers"][0]["ports"] = [{"containerPort": inject.DEFAULT_PORT}]

    with pytest.raises(UsageError, match=r"port 9477 is the agent's: set annotation injector.io/port to a free port"):
        injected(workload("Deployment", copy.deepcopy(taken)))
    moved = injected(workload("Deployment", taken, annotations={inject.PORT_ANNOTATION: "9500"}))

    agent = pod_template(moved.body)["spec"]["initContainers"][0]
    assert (":9500", 9500) == (
        agent["args"][agent["args"].index("--listen") + 1],
        agent["startupProbe"]["httpGet"]["port"],
    )


def test_the_key_symlinks_annotation_gives_the_agent_the_kubelets_symlinks() -> None:
    default = pod_template(injected(workload("Deployment", copy.deepcopy(MOUNTED))).body)
    asked = pod_template(
        injected(workload("Deployment", copy.deepcopy(MOUNTED), annotations={inject.KEY_SYMLINKS: "true"})).body
    )

    assert "--key-symlinks" not in default["spec"]["initContainers"][0]["args"]
    assert "--key-symlinks" in asked["spec"]["initContainers"][0]["args"]
    with pytest.raises(UsageError, match=r"annotation injector.io/key-symlinks: 'yes' is not true or false"):
        injected(workload("Deployment", copy.deepcopy(MOUNTED), annotations={inject.KEY_SYMLINKS: "yes"}))


# -- RBAC --------------------------------------------------------------------------------------------------------


def test_rbac_grants_get_on_the_pod_and_get_watch_on_each_object_by_name() -> None:
    pod_spec = spec(
        app(
            command=["/app"],
            env=[{"name": "K", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}}],
            volumeMounts=[{"name": "creds", "mountPath": "/c"}, {"name": "all", "mountPath": "/all"}],
        ),
        volumes=[
            secret_volume(),
            {
                "name": "all",
                "projected": {"sources": [{"secret": {"name": "tls"}}, {"configMap": {"name": "settings"}}]},
            },
        ],
        imagePullSecrets=[{"name": "registry"}],
    )
    options = InjectOptions(IMAGE, env_containers=("app",), rbac=True)

    account, role, binding = injected(workload("Pod", pod_spec), options).rbac

    assert {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web-0", "namespace": "shop"}} == account
    assert [
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web-0"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["api", "db", "tls"], "verbs": ["get", "watch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"], "verbs": ["get", "watch"]},
    ] == role["rules"]
    assert {"kind": "Role", "name": "injector-web-0", "apiGroup": "rbac.authorization.k8s.io"} == binding["roleRef"]
    assert [{"kind": "ServiceAccount", "name": "web-0", "namespace": "shop"}] == binding["subjects"]


def test_rbac_of_a_workload_cannot_name_its_pods_and_keeps_a_named_service_account() -> None:
    pod_spec = copy.deepcopy(MOUNTED)
    pod_spec["serviceAccountName"] = "shop-web"

    result = injected(workload("StatefulSet", pod_spec), InjectOptions(IMAGE, rbac=True))

    assert "shop-web" == pod_template(result.body)["spec"]["serviceAccountName"]
    assert "shop-web" == result.rbac[0]["metadata"]["name"]
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]} == result.rbac[1]["rules"][0]


# -- what the agent and run --self read --------------------------------------------------------------------------


def test_the_served_view_restores_the_apps_and_mounts_every_served_volume_in_the_agent() -> None:
    pod_spec = copy.deepcopy(SHAPES["init containers, several apps, subPaths"])
    pod_spec["imagePullSecrets"] = [{"name": "registry"}]
    body = workload("Pod", pod_spec)

    served = as_served(Document("Pod/shop/web-0", injected(body).body))

    expected = copy.deepcopy(body)
    del expected["spec"]["imagePullSecrets"]
    agent = {
        "name": AGENT,
        "image": "injector",
        "volumeMounts": [{"name": "creds", "mountPath": "/injector-served/creds", "readOnly": True}],
    }
    expected["spec"]["initContainers"].insert(0, agent)
    assert expected == served


def test_a_pod_inject_did_not_write_is_read_as_it_is() -> None:
    body = workload("Pod", copy.deepcopy(MOUNTED))

    assert body == as_served(Document("Pod/shop/web-0", body))


# -- writing it back ---------------------------------------------------------------------------------------------

_TRICKY = st.sampled_from(
    ["0o400", "0400", "1e3", "1_000", "0x1A", "+1", ".5", "yes", "on", "n", "~", "null", "2026-01-01", "a: b", "- x"]
)
_TEXT = st.one_of(_TRICKY, st.text(max_size=20), st.text(alphabet="ab\n \t:#'\"", max_size=12))
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), _TEXT)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, min_size=1, max_size=5))
def test_written_yaml_reads_back_as_the_same_object_as_kubectl_reads_it(body: dict[str, Any]) -> None:
    text = dump_yaml(body)

    assert [body] == [document.body for document in parse_documents(text.encode(), "out.yaml")]


def test_a_stream_is_cut_into_documents_whose_texts_give_the_file_back() -> None:
    data = "# head\nkind: A\n---\n# two\nkind: B\nx: 'é'\n...\n---\nkind: C\n--- {kind: D}\n# tail\n"

    documents, trailing = parse_stream(data.encode(), "s.yaml")

    assert data == "".join(str(d.text) for d in documents) + trailing
    assert [{"kind": k} for k in "ABCD"] == [{"kind": d.body["kind"]} for d in documents]  # type: ignore[index]
