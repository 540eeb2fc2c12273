"""Property tests: whatever the input, parsing and resolving end in a result or injector's own error."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector.core.manifest import Document, parse_documents
from injector.core.objects import index_objects
from injector.core.podspec import parse_pod, select_container
from injector.core.resolve import resolve_container
from injector.errors import InjectorError

FIELDS = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "data",
    "stringData",
    "binaryData",
    "type",
    "spec",
    "containers",
    "initContainers",
    "env",
    "envFrom",
    "value",
    "valueFrom",
    "secretKeyRef",
    "configMapKeyRef",
    "fieldRef",
    "fieldPath",
    "key",
    "optional",
    "prefix",
    "secretRef",
    "configMapRef",
    "volumes",
    "volumeMounts",
    "mountPath",
    "secret",
    "secretName",
    "items",
    "path",
    "mode",
    "defaultMode",
    "projected",
    "sources",
    "configMap",
    "downwardAPI",
    "imagePullSecrets",
    "securityContext",
    "fsGroup",
    "labels",
    "annotations",
    "template",
    "jobTemplate",
    "items",
    ".dockerconfigjson",
    "auths",
    "auth",
    "token",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-2, 2**31)
    | st.text(max_size=12)
    | st.sampled_from(
        ["v1", "Secret", "Pod", "app", "shop", "$(A)", "../x", "/abs", "kubernetes.io/dockerconfigjson", "aGVsbG8="]
    )
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_give_manifest_error(data: bytes) -> None:
    with contextlib.suppress(InjectorError):
        parse_documents(data, "m.yaml")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#\n\t ab1.$")), max_size=120))
def test_yaml_like_text_parses_or_gives_manifest_error(text: str) -> None:
    with contextlib.suppress(InjectorError):
        parse_documents(text.encode(), "m.yaml")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=values, kind=st.sampled_from(["Secret", "ConfigMap", "Pod", "Deployment", "CronJob"]))
def test_arbitrary_objects_resolve_or_give_injectors_own_errors(body: Any, kind: str) -> None:
    """Shapes no one would write still end in errors the CLI can print, never in a crash."""
    document = dict(body) if isinstance(body, dict) else {"spec": body}
    document["kind"] = kind
    found = index_objects([Document("s.yaml", document)], "default")
    snapshot = found.objects
    if kind in ("Secret", "ConfigMap"):
        return
    pod, _ = parse_pod(Document("p.yaml", document), "default")
    try:
        container = select_container(pod, None)
    except InjectorError:
        return
    resolution = resolve_container(pod, container, snapshot)
    for problem in resolution.errors:
        assert isinstance(problem, InjectorError)
        assert str(problem)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=values, env_from=values, mounts=values, volumes=values, pull=values, secret_data=values)
def test_arbitrary_pod_fields_resolve_or_give_injectors_own_errors(  # noqa: PLR0917 - one per strategy
    env: Any, env_from: Any, mounts: Any, volumes: Any, pull: Any, secret_data: Any
) -> None:
    """A well-formed pod skeleton with arbitrary env, envFrom, mounts, volumes and pull secrets."""
    container = {"name": "app", "env": env, "envFrom": env_from, "volumeMounts": mounts}
    pod_body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [container], "volumes": volumes, "imagePullSecrets": pull},
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app"},
        "data": secret_data,
        "stringData": secret_data,
        "type": "kubernetes.io/dockerconfigjson",
    }
    found = index_objects([Document("s.yaml", secret)], "default")
    snapshot = found.objects
    pod, _ = parse_pod(Document("p.yaml", pod_body), "default")

    resolution = resolve_container(pod, select_container(pod, None), snapshot)

    assert all(isinstance(problem, InjectorError) and str(problem) for problem in resolution.errors)
