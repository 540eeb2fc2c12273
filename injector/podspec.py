"""A Pod's (or a workload's pod template's) secret-consuming fields, as typed values.

Only the fields injector acts on are read: containers' ``env``, ``envFrom`` and ``volumeMounts``,
the pod's ``volumes``, ``imagePullSecrets``, ``securityContext.fsGroup`` and what ``fieldRef`` may
name. Each is validated as the API server validates a Pod, and every value carries its field path
(``spec.containers[0].env[3]``) for messages.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from injector import names
from injector.errors import InjectorError, ManifestError, UsageError
from injector.manifest import Document
from injector.objects import object_ref

TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind keeps the pod (template) injector reads."""

MAX_MODE = 0o777
MAX_PATH_LENGTH = 4096
MAX_PATH_ELEMENT = 255


class KeyRef(NamedTuple):
    """``secretKeyRef`` / ``configMapKeyRef`` / a volume item: one key of one object."""

    kind: str
    name: str
    key: str
    optional: bool
    field: str


class FieldRef(NamedTuple):
    field_path: str
    field: str


class EnvVar(NamedTuple):
    name: str
    value: str | None
    """The literal ``value`` ("" when neither value nor valueFrom is given)."""
    key_ref: KeyRef | None
    field_ref: FieldRef | None
    unsupported: str | None
    """A valueFrom source injector cannot resolve locally (resourceFieldRef, fileKeyRef)."""
    field: str


class EnvFrom(NamedTuple):
    kind: str
    name: str
    prefix: str
    optional: bool
    field: str


class VolumeMount(NamedTuple):
    volume: str
    mount_path: str
    sub_path: str
    field: str


class Item(NamedTuple):
    """``items[]``: a key projected to a path, with an optional mode."""

    key: str
    path: str
    mode: int | None
    field: str


class DownwardItem(NamedTuple):
    path: str
    field_path: str | None
    mode: int | None
    field: str


class Projection(NamedTuple):
    """One source of a volume: a secret or configMap (a plain volume is a single source)."""

    kind: str
    """``Secret``, ``ConfigMap``, ``downwardAPI`` or ``serviceAccountToken``."""
    name: str
    items: tuple[Item, ...] | None
    downward_items: tuple[DownwardItem, ...]
    optional: bool
    field: str


class Volume(NamedTuple):
    name: str
    projections: tuple[Projection, ...]
    default_mode: int
    field: str


class Container(NamedTuple):
    name: str
    env_from: tuple[EnvFrom, ...]
    env: tuple[EnvVar, ...]
    volume_mounts: tuple[VolumeMount, ...]
    field: str


class ImagePullSecret(NamedTuple):
    name: str
    field: str


class PodSpec(NamedTuple):
    origin: str
    ref: str
    """``Kind/namespace/name`` of the document the pod came from."""
    kind: str
    name: str | None
    namespace: str
    uid: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    node_name: str | None
    service_account: str | None
    host_ip: str | None
    pod_ip: str | None
    fs_group: int | None
    containers: tuple[Container, ...]
    """Init containers, containers and ephemeral containers, in that order."""
    volumes: Mapping[str, Volume]
    image_pull_secrets: tuple[ImagePullSecret, ...]


def select_pod_document(documents: Sequence[Document], pod_name: str | None, source: str) -> Document:
    """Pick the Pod or workload among ``documents``, by ``pod_name`` when there are several."""
    candidates = [doc for doc in documents if doc.body.get("kind") in TEMPLATE_PATHS]
    if pod_name is not None:
        named = [doc for doc in candidates if _metadata_name(doc.body) == pod_name]
        if not named:
            raise UsageError(f"no Pod or workload named {pod_name!r} (found: {_names(candidates)})", source=source)
        candidates = named
    if not candidates:
        kinds = sorted({str(doc.body.get("kind")) for doc in documents})
        raise ManifestError(
            f"no Pod or workload found (kinds found: {', '.join(kinds) or 'none'}; "
            f"expected one of {', '.join(TEMPLATE_PATHS)})",
            source=source,
        )
    if len(candidates) > 1:
        raise UsageError(f"several Pods or workloads, pick one with --pod-name: {_names(candidates)}", source=source)
    return candidates[0]


def _metadata_name(body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _names(documents: Sequence[Document]) -> str:
    return ", ".join(f"{doc.body.get('kind')}/{_metadata_name(doc.body)}" for doc in documents) or "none"


class _Reader:
    """Typed access to a raw document that records a ManifestError for each bad field."""

    def __init__(self, origin: str, ref: str) -> None:
        self.origin = origin
        self.ref = ref
        self.errors: list[InjectorError] = []

    def error(self, message: str, field: str) -> None:
        self.errors.append(ManifestError(message, source=self.origin, obj=self.ref, field=field))

    def mapping(self, raw: object, field: str) -> Mapping[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error("must be an object", field)
            return {}
        return raw

    def sequence(self, raw: object, field: str) -> Sequence[Any]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("must be a list", field)
            return ()
        return raw

    def string(self, raw: object, field: str, *, required: bool = False) -> str | None:
        if raw is None or raw == "":
            if required:
                self.error("Required value", field)
            return None if raw is None else ""
        if not isinstance(raw, str):
            self.error("must be a string", field)
            return None
        return raw

    def boolean(self, raw: object, field: str) -> bool:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            self.error("must be a boolean", field)
            return False
        return raw

    def mode(self, raw: object, field: str) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_MODE:
            self.error("Invalid value: must be a number between 0 and 0777 (octal), both inclusive", field)
            return None
        return raw

    def string_map(self, raw: object, field: str) -> Mapping[str, str]:
        result = {}
        for key, value in self.mapping(raw, field).items():
            if isinstance(key, str) and isinstance(value, str):
                result[key] = value
            else:
                self.error("must map strings to strings", field)
        return result


def parse_pod(document: Document, default_namespace: str) -> tuple[PodSpec, list[InjectorError]]:
    """Read the pod (template) of ``document``; returns the spec and every problem found."""
    body = document.body
    kind = str(body.get("kind"))
    reader = _Reader(document.origin, object_ref(body, default_namespace))
    outer_metadata = reader.mapping(body.get("metadata"), "metadata")
    template: Mapping[str, Any] = body
    prefix = ""
    for step in TEMPLATE_PATHS[kind]:
        prefix = f"{prefix}.{step}" if prefix else step
        template = reader.mapping(template.get(step), prefix)
    at = f"{prefix}." if prefix else ""
    metadata = reader.mapping(template.get("metadata"), f"{at}metadata") if prefix else outer_metadata
    spec = reader.mapping(template.get("spec"), f"{at}spec")
    namespace = reader.string(outer_metadata.get("namespace"), "metadata.namespace") or default_namespace

    containers: list[Container] = []
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, raw in enumerate(reader.sequence(spec.get(group), f"{at}spec.{group}")):
            containers.append(_parse_container(reader, raw, f"{at}spec.{group}[{index}]"))
    if not any(c.field.startswith(f"{at}spec.containers[") for c in containers):
        reader.error("Required value: at least one container", f"{at}spec.containers")

    volumes: dict[str, Volume] = {}
    for index, raw in enumerate(reader.sequence(spec.get("volumes"), f"{at}spec.volumes")):
        volume = _parse_volume(reader, raw, f"{at}spec.volumes[{index}]")
        if volume is not None:
            if volume.name in volumes:
                reader.error(f"Duplicate value: {volume.name!r}", f"{at}spec.volumes[{index}].name")
            volumes[volume.name] = volume

    pull_secrets = []
    for index, raw in enumerate(reader.sequence(spec.get("imagePullSecrets"), f"{at}spec.imagePullSecrets")):
        field = f"{at}spec.imagePullSecrets[{index}]"
        name = reader.string(reader.mapping(raw, field).get("name"), f"{field}.name")
        if name:  # the kubelet skips entries with an empty name
            pull_secrets.append(ImagePullSecret(name, field))

    security = reader.mapping(spec.get("securityContext"), f"{at}spec.securityContext")
    fs_group = security.get("fsGroup")
    if fs_group is not None and (isinstance(fs_group, bool) or not isinstance(fs_group, int) or fs_group < 0):
        reader.error("must be a non-negative integer", f"{at}spec.securityContext.fsGroup")
        fs_group = None
    status = reader.mapping(body.get("status"), "status") if kind == "Pod" else {}
    pod = PodSpec(
        origin=document.origin,
        ref=reader.ref,
        kind=kind,
        name=reader.string(outer_metadata.get("name"), "metadata.name") if kind == "Pod" else None,
        namespace=namespace,
        uid=reader.string(outer_metadata.get("uid"), "metadata.uid") if kind == "Pod" else None,
        labels=reader.string_map(metadata.get("labels"), f"{at}metadata.labels"),
        annotations=reader.string_map(metadata.get("annotations"), f"{at}metadata.annotations"),
        node_name=reader.string(spec.get("nodeName"), f"{at}spec.nodeName"),
        service_account=reader.string(spec.get("serviceAccountName"), f"{at}spec.serviceAccountName"),
        host_ip=reader.string(status.get("hostIP"), "status.hostIP"),
        pod_ip=reader.string(status.get("podIP"), "status.podIP"),
        fs_group=fs_group,
        containers=tuple(containers),
        volumes=volumes,
        image_pull_secrets=tuple(pull_secrets),
    )
    return pod, reader.errors


def select_container(pod: PodSpec, name: str | None) -> Container:
    """The container called ``name``, or the only regular container when ``name`` is None."""
    if name is not None:
        for container in pod.containers:
            if container.name == name:
                return container
        raise UsageError(
            f"no container named {name!r}; containers: {', '.join(c.name for c in pod.containers) or 'none'}",
            source=pod.origin,
            obj=pod.ref,
        )
    regular = [c for c in pod.containers if ".containers[" in c.field]
    if len(regular) == 1:
        return regular[0]
    raise UsageError(
        f"the pod has {len(regular)} containers, pick one with --container: {', '.join(c.name for c in regular)}",
        source=pod.origin,
        obj=pod.ref,
    )


def _parse_container(reader: _Reader, raw: object, field: str) -> Container:
    body = reader.mapping(raw, field)
    name = reader.string(body.get("name"), f"{field}.name", required=True) or ""
    env_from = []
    for index, entry in enumerate(reader.sequence(body.get("envFrom"), f"{field}.envFrom")):
        parsed = _parse_env_from(reader, entry, f"{field}.envFrom[{index}]")
        if parsed is not None:
            env_from.append(parsed)
    env = []
    for index, entry in enumerate(reader.sequence(body.get("env"), f"{field}.env")):
        parsed_var = _parse_env_var(reader, entry, f"{field}.env[{index}]")
        if parsed_var is not None:
            env.append(parsed_var)
    mounts = []
    for index, entry in enumerate(reader.sequence(body.get("volumeMounts"), f"{field}.volumeMounts")):
        at = f"{field}.volumeMounts[{index}]"
        mount = reader.mapping(entry, at)
        volume = reader.string(mount.get("name"), f"{at}.name", required=True)
        path = reader.string(mount.get("mountPath"), f"{at}.mountPath", required=True)
        sub_path = reader.string(mount.get("subPath"), f"{at}.subPath") or ""
        if volume and path:
            mounts.append(VolumeMount(volume, path, sub_path, at))
    return Container(name, tuple(env_from), tuple(env), tuple(mounts), field)


def _parse_env_from(reader: _Reader, raw: object, field: str) -> EnvFrom | None:
    body = reader.mapping(raw, field)
    prefix = reader.string(body.get("prefix"), f"{field}.prefix") or ""
    prefix_problems = names.relaxed_env_var_name_problems(prefix) if prefix else []
    for message in prefix_problems:
        reader.error(f"Invalid value: {message}", f"{field}.prefix")
    sources = [key for key in ("secretRef", "configMapRef") if body.get(key) is not None]
    if len(sources) != 1:
        if sources:
            reader.error("may not have more than one field specified at a time", field)
        else:
            reader.error("must specify one of: `configMapRef` or `secretRef`", field)
        return None
    at = f"{field}.{sources[0]}"
    ref = reader.mapping(body.get(sources[0]), at)
    name = reader.string(ref.get("name"), f"{at}.name", required=True)
    optional = reader.boolean(ref.get("optional"), f"{at}.optional")
    if not name or prefix_problems:
        return None
    for message in names.dns_subdomain_problems(name):
        reader.error(f"Invalid value: {message}", f"{at}.name")
    kind = "Secret" if sources[0] == "secretRef" else "ConfigMap"
    return EnvFrom(kind, name, prefix, optional, at)


_VALUE_FROM = ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef", "fileKeyRef")


def _parse_env_var(reader: _Reader, raw: object, field: str) -> EnvVar | None:
    body = reader.mapping(raw, field)
    name = reader.string(body.get("name"), f"{field}.name", required=True)
    if not name:
        return None
    for message in names.relaxed_env_var_name_problems(name):
        reader.error(f"Invalid value: {message}", f"{field}.name")
    value = reader.string(body.get("value"), f"{field}.value")
    value_from = body.get("valueFrom")
    if value_from is None:
        return EnvVar(name, value or "", None, None, None, field)
    if value:
        reader.error("Invalid value: may not be specified when `value` is not empty", f"{field}.valueFrom")
        return None
    at = f"{field}.valueFrom"
    sources = [key for key in _VALUE_FROM if reader.mapping(value_from, at).get(key) is not None]
    if len(sources) != 1:
        reader.error("may not have more than one field specified at a time" if sources else "Required value", at)
        return None
    source = sources[0]
    ref = reader.mapping(value_from[source], f"{at}.{source}")
    if source in ("secretKeyRef", "configMapKeyRef"):
        ref_name = reader.string(ref.get("name"), f"{at}.{source}.name", required=True)
        key = reader.string(ref.get("key"), f"{at}.{source}.key", required=True)
        optional = reader.boolean(ref.get("optional"), f"{at}.{source}.optional")
        key_problems = names.config_map_key_problems(key) if key else []
        for message in key_problems:
            reader.error(f"Invalid value: {message}", f"{at}.{source}.key")
        if not ref_name or not key or key_problems:
            return None
        kind = "Secret" if source == "secretKeyRef" else "ConfigMap"
        return EnvVar(name, None, KeyRef(kind, ref_name, key, optional, f"{at}.{source}"), None, None, field)
    if source == "fieldRef":
        path = reader.string(ref.get("fieldPath"), f"{at}.fieldRef.fieldPath", required=True)
        if not path:
            return None
        return EnvVar(name, None, None, FieldRef(path, f"{at}.fieldRef"), None, field)
    return EnvVar(name, None, None, None, source, field)


def _parse_volume(reader: _Reader, raw: object, field: str) -> Volume | None:
    body = reader.mapping(raw, field)
    name = reader.string(body.get("name"), f"{field}.name", required=True)
    if not name:
        return None
    for message in names.dns_label_problems(name):
        reader.error(f"Invalid value: {message}", f"{field}.name")
    if body.get("secret") is not None or body.get("configMap") is not None:
        source = "secret" if body.get("secret") is not None else "configMap"
        at = f"{field}.{source}"
        spec = reader.mapping(body[source], at)
        default_mode = reader.mode(spec.get("defaultMode"), f"{at}.defaultMode")
        projection = _parse_key_projection(
            reader,
            spec,
            "Secret" if source == "secret" else "ConfigMap",
            at,
            name_field="secretName" if source == "secret" else "name",
        )
        single = (projection,) if projection else ()
        return Volume(name, single, 0o644 if default_mode is None else default_mode, field)
    if body.get("projected") is not None:
        at = f"{field}.projected"
        spec = reader.mapping(body["projected"], at)
        default_mode = reader.mode(spec.get("defaultMode"), f"{at}.defaultMode")
        projections: list[Projection] = []
        seen_paths: set[str] = set()
        for index, raw_source in enumerate(reader.sequence(spec.get("sources"), f"{at}.sources")):
            projection = _parse_projection_source(reader, raw_source, f"{at}.sources[{index}]")
            if projection is None:
                continue
            paths = [item.path for item in projection.items or ()] + [item.path for item in projection.downward_items]
            for path in paths:
                if path in seen_paths:
                    reader.error(f"Invalid value: {path!r}: conflicting duplicate paths", projection.field)
                seen_paths.add(path)
            projections.append(projection)
        return Volume(name, tuple(projections), 0o644 if default_mode is None else default_mode, field)
    return Volume(name, (), 0o644, field)  # a volume of another type: not injector's business


def _parse_projection_source(reader: _Reader, raw: object, field: str) -> Projection | None:
    body = reader.mapping(raw, field)
    kinds = [
        key
        for key in ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle", "podCertificate")
        if body.get(key) is not None
    ]
    if len(kinds) != 1:
        reader.error(
            "may not specify more than 1 volume type" if kinds else "must specify exactly 1 volume type", field
        )
        return None
    kind = kinds[0]
    at = f"{field}.{kind}"
    spec = reader.mapping(body[kind], at)
    if kind in ("secret", "configMap"):
        return _parse_key_projection(reader, spec, "Secret" if kind == "secret" else "ConfigMap", at, name_field="name")
    if kind == "downwardAPI":
        items = []
        for index, raw_item in enumerate(reader.sequence(spec.get("items"), f"{at}.items")):
            item_at = f"{at}.items[{index}]"
            item = reader.mapping(raw_item, item_at)
            path = reader.string(item.get("path"), f"{item_at}.path", required=True)
            field_ref = reader.mapping(item.get("fieldRef"), f"{item_at}.fieldRef")
            field_path = reader.string(field_ref.get("fieldPath"), f"{item_at}.fieldRef.fieldPath")
            mode = reader.mode(item.get("mode"), f"{item_at}.mode")
            if path and _check_item_path(reader, path, f"{item_at}.path"):
                items.append(DownwardItem(path, field_path, mode, item_at))
        return Projection("downwardAPI", "", None, tuple(items), False, at)
    path = reader.string(spec.get("path"), f"{at}.path") or ""
    return Projection(kind, "", None, (DownwardItem(path, None, None, at),) if path else (), False, at)


def _parse_key_projection(
    reader: _Reader, spec: Mapping[str, Any], kind: str, at: str, *, name_field: str
) -> Projection | None:
    name = reader.string(spec.get(name_field), f"{at}.{name_field}", required=True)
    optional = reader.boolean(spec.get("optional"), f"{at}.optional")
    items = None
    if spec.get("items") is not None:
        items = []
        for index, raw_item in enumerate(reader.sequence(spec.get("items"), f"{at}.items")):
            item_at = f"{at}.items[{index}]"
            item = reader.mapping(raw_item, item_at)
            key = reader.string(item.get("key"), f"{item_at}.key", required=True)
            path = reader.string(item.get("path"), f"{item_at}.path", required=True)
            mode = reader.mode(item.get("mode"), f"{item_at}.mode")
            if key and path and _check_item_path(reader, path, f"{item_at}.path"):
                items.append(Item(key, path, mode, item_at))
    if not name:
        return None
    for message in names.dns_subdomain_problems(name):
        reader.error(f"Invalid value: {message}", f"{at}.{name_field}")
    return Projection(kind, name, None if items is None else tuple(items), (), optional, at)


def _check_item_path(reader: _Reader, path: str, field: str) -> bool:
    """validateLocalNonReservedPath plus the kubelet's atomic-writer limits."""
    problems = []
    if posixpath.isabs(path):
        problems.append("must be a relative path")
    if ".." in path.split("/"):
        problems.append("must not contain '..'")
    elif path.startswith(".."):
        problems.append("must not start with '..'")
    if len(path) > MAX_PATH_LENGTH:
        problems.append(f"must be no more than {MAX_PATH_LENGTH} characters")
    if any(len(element) > MAX_PATH_ELEMENT for element in path.split("/")):
        problems.append(f"path elements must be no more than {MAX_PATH_ELEMENT} characters")
    if "\0" in path:
        problems.append("must not contain NUL")
    for problem in problems:
        reader.error(f"Invalid value: {path!r}: {problem}", field)
    return not problems
