"""Small builders for Kubernetes manifests used across the tests (plain dicts, like the API's JSON)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from injector.core.manifest import Document
from injector.core.objects import index_objects
from injector.core.podspec import parse_pod, select_container
from injector.core.resolve import Resolution, resolve_container
from injector.core.versions import CURRENT, KubernetesVersion


def b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def secret(
    name: str,
    data: Mapping[str, bytes | str] | None = None,
    *,
    string_data: dict[str, str] | None = None,
    type: str | None = None,  # noqa: A002 - the Kubernetes field
    namespace: str | None = "shop",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if namespace:
        body["metadata"]["namespace"] = namespace
    if data is not None:
        body["data"] = {key: b64(value) for key, value in data.items()}
    if string_data is not None:
        body["stringData"] = string_data
    if type is not None:
        body["type"] = type
    body.update(extra)
    return body


def config_map(
    name: str,
    data: dict[str, str] | None = None,
    *,
    binary: dict[str, bytes] | None = None,
    namespace: str | None = "shop",
) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if namespace:
        body["metadata"]["namespace"] = namespace
    if data is not None:
        body["data"] = data
    if binary is not None:
        body["binaryData"] = {key: b64(value) for key, value in binary.items()}
    return body


def container(
    name: str = "app",
    *,
    env: list[Any] | None = None,
    env_from: list[Any] | None = None,
    mounts: list[Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "image": "example/app"}
    if env is not None:
        body["env"] = env
    if env_from is not None:
        body["envFrom"] = env_from
    if mounts is not None:
        body["volumeMounts"] = mounts
    return body


def pod(
    *containers: dict[str, Any],
    volumes: list[Any] | None = None,
    pull_secrets: list[str] | None = None,
    namespace: str = "shop",
    fs_group: int | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers) or [container()]}
    if volumes is not None:
        spec["volumes"] = volumes
    if pull_secrets is not None:
        spec["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    if fs_group is not None:
        spec["securityContext"] = {"fsGroup": fs_group}
    meta = {"name": "web-0", "namespace": namespace, **metadata}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def tls_items_volume(name: str = "tls") -> dict[str, Any]:
    """A secret volume of Secret ``tls`` projecting ``tls.crt`` at the top and ``tls.key`` under ``keys/``."""
    items = [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "keys/tls.key"}]
    return {"name": name, "secret": {"secretName": "tls", "items": items}}


def secret_key_ref(
    var: str, name: str, key: str, *, optional: bool | None = None, kind: str = "secretKeyRef"
) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"name": var, "valueFrom": {kind: ref}}


def value(var: str, text: str) -> dict[str, Any]:
    return {"name": var, "value": text}


def env_from(
    name: str, *, prefix: str | None = None, optional: bool | None = None, kind: str = "secretRef"
) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name}
    if optional is not None:
        ref["optional"] = optional
    body: dict[str, Any] = {kind: ref}
    if prefix is not None:
        body["prefix"] = prefix
    return body


def resolve(
    pod_body: dict[str, Any],
    *objects: dict[str, Any],
    container_name: str | None = None,
    version: KubernetesVersion = CURRENT,
) -> Resolution:
    """Resolve in memory, the way `injector` does after reading files; parse problems included."""
    pod_spec, pod_errors = parse_pod(Document("pod.yaml", pod_body), "default", version)
    found = index_objects(
        [Document(f"secrets.yaml (document {i})", body) for i, body in enumerate(objects, 1)], pod_spec.namespace
    )
    object_errors = found.errors
    resolution = resolve_container(
        pod_spec,
        select_container(pod_spec, container_name),
        found.objects,
        invalid=found.invalid,
        version=version,
    )
    return resolution._replace(errors=(*pod_errors, *object_errors, *resolution.errors))


def env_of(resolution: Resolution) -> dict[str, bytes]:
    assert not resolution.errors, [str(e) for e in resolution.errors]
    return {name: entry.value for name, entry in resolution.env.items()}


def error_lines(resolution: Resolution) -> list[str]:
    return [str(error) for error in resolution.errors]
