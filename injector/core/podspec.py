"""A Pod's (or a workload's pod template's) secret-consuming fields, as typed values.

Only the fields injector acts on are read: containers' ``env``, ``envFrom`` and ``volumeMounts``,
the pod's ``volumes``, ``imagePullSecrets``, ``securityContext.fsGroup`` and what ``fieldRef`` may
name. Each is validated as the API server validates a Pod, and every value carries its field path
(``spec.containers[0].env[3]``) for messages.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from injector.core import names
from injector.core.fields import FieldPath, Problems, quoted
from injector.core.manifest import Document
from injector.core.meta import read_labels
from injector.core.objects import CONFIG_MAP, SECRET, DataKind, object_ref
from injector.core.versions import CURRENT, KubernetesVersion
from injector.errors import InjectorError, ManifestError, Setting, UsageError

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

SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"
MAX_MODE = 0o777
MAX_PATH_LENGTH = 4096
MAX_PATH_ELEMENT = 255

ContainerRole = Literal["init", "regular", "ephemeral"]
CONTAINER_GROUPS: tuple[tuple[str, ContainerRole], ...] = (
    ("initContainers", "init"),
    ("containers", "regular"),
    ("ephemeralContainers", "ephemeral"),
)
"""The pod's container lists in the order the kubelet starts them, with the role of each."""


class KeyRef(NamedTuple):
    """``secretKeyRef`` / ``configMapKeyRef``: one key of one object."""

    kind: DataKind
    name: str
    key: str
    optional: bool
    at: FieldPath


class FieldRef(NamedTuple):
    field_path: str
    at: FieldPath


class EnvVar(NamedTuple):
    name: str
    value: str | None
    """The literal ``value`` ("" when neither value nor valueFrom is given)."""
    key_ref: KeyRef | None
    field_ref: FieldRef | None
    unsupported: str | None
    """A valueFrom source injector cannot resolve locally (resourceFieldRef, fileKeyRef)."""
    at: FieldPath


class EnvFrom(NamedTuple):
    kind: DataKind
    name: str
    prefix: str
    optional: bool
    at: FieldPath


class VolumeMount(NamedTuple):
    volume: str
    mount_path: str
    sub_path: str
    at: FieldPath


class Item(NamedTuple):
    """``items[]``: a key projected to a path, with an optional mode."""

    key: str
    path: str
    mode: int | None
    at: FieldPath


class DownwardItem(NamedTuple):
    path: str
    field_path: str | None
    mode: int | None
    at: FieldPath


class Projection(NamedTuple):
    """One source of a volume: a secret or configMap (a plain volume is a single source)."""

    source: str
    """``secret``, ``configMap``, ``downwardAPI``, ``serviceAccountToken``..."""
    kind: DataKind | None
    """The object kind a secret or configMap source reads; None for the others."""
    name: str
    items: tuple[Item, ...] | None
    downward_items: tuple[DownwardItem, ...]
    optional: bool
    at: FieldPath


class Volume(NamedTuple):
    name: str
    projections: tuple[Projection, ...]
    """Its sources: one for a secret, configMap or downwardAPI volume, several for a projected one;
    none for a volume of another type (emptyDir, persistentVolumeClaim...): not injector's business."""
    default_mode: int
    at: FieldPath
    service_account: bool = False
    """The ``kube-api-access-*`` volume the ServiceAccount admission plugin adds to every Pod."""
    source: str = ""
    """Its type: ``secret``, ``configMap``, ``downwardAPI`` or ``projected`` (empty for the others)."""


class Container(NamedTuple):
    name: str
    role: ContainerRole
    env_from: tuple[EnvFrom, ...]
    env: tuple[EnvVar, ...]
    volume_mounts: tuple[VolumeMount, ...]
    at: FieldPath
    image: str | None = None
    """The image reference as written (its pull credentials are served per image)."""
    command: tuple[str, ...] = ()
    """``command`` (the image's entrypoint when empty), before ``$(VAR)`` expansion."""
    args: tuple[str, ...] = ()


class ImagePullSecret(NamedTuple):
    name: str
    at: FieldPath


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

    @property
    def regular_containers(self) -> tuple[Container, ...]:
        return tuple(container for container in self.containers if container.role == "regular")


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
        raise UsageError(
            ("several Pods or workloads, pick one with ", Setting("pod_name"), f": {_names(candidates)}"),
            source=source,
        )
    return candidates[0]


def _metadata_name(body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _names(documents: Sequence[Document]) -> str:
    return ", ".join(f"{doc.body.get('kind')}/{_metadata_name(doc.body)}" for doc in documents) or "none"


class _Reader:
    """Typed access to a raw document; each bad field is recorded in ``problems``; ``version``
    decides the rules that changed between Kubernetes releases."""

    def __init__(self, problems: Problems, version: KubernetesVersion) -> None:
        self.problems = problems
        self.version = version

    def env_name_problems(self, name: str) -> list[str]:
        """An env name or envFrom prefix: relaxed from 1.32 on (RelaxedEnvironmentVariableValidation)."""
        if self.version.relaxed_env_var_names:
            return names.relaxed_env_var_name_problems(name)
        return names.env_var_name_problems(name)

    def error(self, message: str, at: FieldPath) -> None:
        self.problems.error(message, at)

    def mapping(self, raw: object, at: FieldPath) -> Mapping[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error("must be an object", at)
            return {}
        return raw

    def sequence(self, raw: object, at: FieldPath) -> Sequence[Any]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("must be a list", at)
            return ()
        return raw

    def string(self, raw: object, at: FieldPath, *, required: bool = False) -> str | None:
        if raw is None or raw == "":
            if required:
                self.error("Required value", at)
            return None if raw is None else ""
        if not isinstance(raw, str):
            self.error("must be a string", at)
            return None
        return raw

    def boolean(self, raw: object, at: FieldPath) -> bool:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            self.error("must be a boolean", at)
            return False
        return raw

    def mode(self, raw: object, at: FieldPath) -> int | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_MODE:
            self.error("Invalid value: must be a number between 0 and 0777 (octal), both inclusive", at)
            return None
        return raw


def parse_pod(
    document: Document, default_namespace: str, version: KubernetesVersion = CURRENT
) -> tuple[PodSpec, list[InjectorError]]:
    """Read the pod (template) of ``document``; returns the spec and every problem found."""
    body = document.body
    kind = str(body.get("kind"))
    problems = Problems(document.origin, object_ref(body, default_namespace))
    reader = _Reader(problems, version)
    outer_metadata = reader.mapping(body.get("metadata"), FieldPath.of("metadata"))
    _check_object_name(reader, outer_metadata)
    template: Mapping[str, Any] = body
    at = FieldPath()
    for step in TEMPLATE_PATHS[kind]:
        at = at / step
        template = reader.mapping(template.get(step), at)
    metadata = reader.mapping(template.get("metadata"), at / "metadata") if at else outer_metadata
    spec_at = at / "spec"
    spec = reader.mapping(template.get("spec"), spec_at)
    namespace = reader.string(outer_metadata.get("namespace"), FieldPath.of("metadata", "namespace"))

    containers: list[Container] = []
    for group, role in CONTAINER_GROUPS:
        for index, raw in enumerate(reader.sequence(spec.get(group), spec_at / group)):
            containers.append(_parse_container(reader, raw, role, spec_at / group / index))
    # validateContainers / validateInitContainers / validateEphemeralContainers: DNS labels, unique in the pod.
    seen_names: set[str] = set()
    for container in containers:
        for message in names.dns_label_problems(container.name) if container.name else ():
            reader.error(f"Invalid value: {message}", container.at / "name")
        if container.name in seen_names:
            reader.error(f"Duplicate value: {quoted(container.name)}", container.at / "name")
        seen_names.add(container.name)
    if not any(container.role == "regular" for container in containers):
        reader.error("Required value: at least one container", spec_at / "containers")

    volumes: dict[str, Volume] = {}
    for index, raw in enumerate(reader.sequence(spec.get("volumes"), spec_at / "volumes")):
        volume = _parse_volume(reader, raw, spec_at / "volumes" / index)
        if volume is not None:
            if volume.name in volumes:
                reader.error(f"Duplicate value: {quoted(volume.name)}", spec_at / "volumes" / index / "name")
            volumes[volume.name] = volume
    if kind == "StatefulSet":
        volumes.update(_claim_template_volumes(reader, body.get("spec")))
    for container in containers:
        for mount in container.volume_mounts:
            if mount.volume not in volumes:
                reader.error(f"Not found: {quoted(mount.volume)}", mount.at / "name")

    pull_secrets = []
    for index, raw in enumerate(reader.sequence(spec.get("imagePullSecrets"), spec_at / "imagePullSecrets")):
        item_at = spec_at / "imagePullSecrets" / index
        name = reader.string(reader.mapping(raw, item_at).get("name"), item_at / "name")
        if name:  # the kubelet skips entries with an empty name
            pull_secrets.append(ImagePullSecret(name, item_at))

    security = reader.mapping(spec.get("securityContext"), spec_at / "securityContext")
    fs_group = security.get("fsGroup")
    if fs_group is not None and (isinstance(fs_group, bool) or not isinstance(fs_group, int) or fs_group < 0):
        reader.error("must be a non-negative integer", spec_at / "securityContext" / "fsGroup")
        fs_group = None
    is_pod = kind == "Pod"
    template_labels = read_labels(metadata, at / "metadata", problems)
    if at:  # a workload: its own metadata is checked too
        read_labels(outer_metadata, FieldPath.of("metadata"), problems)
    status = reader.mapping(body.get("status"), FieldPath.of("status")) if is_pod else {}
    pod = PodSpec(
        origin=document.origin,
        ref=problems.obj,
        kind=kind,
        name=reader.string(outer_metadata.get("name"), FieldPath.of("metadata", "name")) if is_pod else None,
        namespace=namespace or default_namespace,
        uid=reader.string(outer_metadata.get("uid"), FieldPath.of("metadata", "uid")) if is_pod else None,
        labels=template_labels.labels,
        annotations=template_labels.annotations,
        node_name=reader.string(spec.get("nodeName"), spec_at / "nodeName"),
        service_account=reader.string(spec.get("serviceAccountName"), spec_at / "serviceAccountName"),
        host_ip=reader.string(status.get("hostIP"), FieldPath.of("status", "hostIP")),
        pod_ip=reader.string(status.get("podIP"), FieldPath.of("status", "podIP")),
        fs_group=fs_group,
        containers=tuple(containers),
        volumes=volumes,
        image_pull_secrets=tuple(pull_secrets),
    )
    return pod, problems.errors


def _check_object_name(reader: _Reader, metadata: Mapping[str, Any]) -> None:
    """ValidateObjectMeta's rule for the pod or workload's own name: a DNS subdomain, or absent when a
    generateName asks the API server to make one."""
    name, generate_name = metadata.get("name"), metadata.get("generateName")
    at = FieldPath.of("metadata", "name")
    if isinstance(name, str) and name:
        for message in names.dns_subdomain_problems(name):
            reader.error(f"Invalid value: {message}", at)
    elif not (isinstance(generate_name, str) and generate_name):
        reader.error("Required value: name or generateName is required", at)
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and namespace:
        for message in names.dns_label_problems(namespace):
            reader.error(f"Invalid value: {message}", FieldPath.of("metadata", "namespace"))


def _claim_template_volumes(reader: _Reader, spec: object) -> dict[str, Volume]:
    """The volumes a StatefulSet's controller adds to each of its pods: one persistentVolumeClaim volume per
    claim template, named after it, in place of a template volume of that name (stateful_set_utils.go,
    updateStorage). The API server checks the template's mounts only against these and the template's volumes
    together, on the pods the controller creates."""
    if not isinstance(spec, dict):  # reported where the template is read
        return {}
    claims_at = FieldPath.of("spec", "volumeClaimTemplates")
    volumes = {}
    for index, raw in enumerate(reader.sequence(spec.get("volumeClaimTemplates"), claims_at)):
        claim_at = claims_at / index
        metadata = reader.mapping(reader.mapping(raw, claim_at).get("metadata"), claim_at / "metadata")
        name = reader.string(metadata.get("name"), claim_at / "metadata" / "name")
        if name:
            volumes[name] = Volume(name, (), 0o644, claim_at)
    return volumes


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
    regular = pod.regular_containers
    if len(regular) == 1:
        return regular[0]
    raise UsageError(
        (
            f"the pod has {len(regular)} containers, pick one with ",
            Setting("container"),
            f": {', '.join(c.name for c in regular)}",
        ),
        source=pod.origin,
        obj=pod.ref,
    )


def _parse_container(reader: _Reader, raw: object, role: ContainerRole, at: FieldPath) -> Container:
    body = reader.mapping(raw, at)
    name = reader.string(body.get("name"), at / "name", required=True) or ""
    env_from = []
    for index, entry in enumerate(reader.sequence(body.get("envFrom"), at / "envFrom")):
        parsed = _parse_env_from(reader, entry, at / "envFrom" / index)
        if parsed is not None:
            env_from.append(parsed)
    env = []
    for index, entry in enumerate(reader.sequence(body.get("env"), at / "env")):
        parsed_var = _parse_env_var(reader, entry, at / "env" / index)
        if parsed_var is not None:
            env.append(parsed_var)
    mounts = []
    mount_paths: set[str] = set()
    for index, entry in enumerate(reader.sequence(body.get("volumeMounts"), at / "volumeMounts")):
        mount_at = at / "volumeMounts" / index
        mount = reader.mapping(entry, mount_at)
        volume = reader.string(mount.get("name"), mount_at / "name", required=True)
        path = reader.string(mount.get("mountPath"), mount_at / "mountPath", required=True)
        sub_path = reader.string(mount.get("subPath"), mount_at / "subPath") or ""
        if path in mount_paths:
            reader.error(f"Invalid value: {quoted(path)}: must be unique", mount_at / "mountPath")
        mount_paths.add(path or "")
        if sub_path:
            # The API server reports these at volumeMounts.subPath, without the mount's index.
            _check_descending_path(reader, sub_path, at / "volumeMounts" / "subPath")
            if mount.get("subPathExpr"):
                reader.error(
                    f"Invalid value: {quoted(str(mount['subPathExpr']))}: subPathExpr and subPath are mutually "
                    "exclusive",
                    mount_at / "subPathExpr",
                )
        if volume and path:
            mounts.append(VolumeMount(volume, path, sub_path, mount_at))
    image = reader.string(body.get("image"), at / "image") or None
    command = tuple(
        reader.string(part, at / "command" / index) or ""
        for index, part in enumerate(reader.sequence(body.get("command"), at / "command"))
    )
    args = tuple(
        reader.string(part, at / "args" / index) or ""
        for index, part in enumerate(reader.sequence(body.get("args"), at / "args"))
    )
    return Container(name, role, tuple(env_from), tuple(env), tuple(mounts), at, image, command, args)


def _check_descending_path(reader: _Reader, path: str, at: FieldPath) -> None:
    """validateLocalDescendingPath: relative, and no '..' element."""
    if posixpath.isabs(path):
        reader.error(f"Invalid value: {quoted(path)}: must be a relative path", at)
    if ".." in path.split("/"):
        reader.error(f"Invalid value: {quoted(path)}: must not contain '..'", at)


def _parse_env_from(reader: _Reader, raw: object, at: FieldPath) -> EnvFrom | None:
    body = reader.mapping(raw, at)
    prefix = reader.string(body.get("prefix"), at / "prefix") or ""
    prefix_problems = reader.env_name_problems(prefix) if prefix else []
    for message in prefix_problems:
        reader.error(f"Invalid value: {message}", at / "prefix")
    given = [kind for kind in (SECRET, CONFIG_MAP) if body.get(kind.env_from_field) is not None]
    if len(given) != 1:
        if given:
            reader.error("may not have more than one field specified at a time", at)
        else:
            reader.error("must specify one of: `configMapRef` or `secretRef`", at)
        return None
    kind = given[0]
    ref_at = at / kind.env_from_field
    ref = reader.mapping(body.get(kind.env_from_field), ref_at)
    name = reader.string(ref.get("name"), ref_at / "name", required=True)
    optional = reader.boolean(ref.get("optional"), ref_at / "optional")
    if not name or prefix_problems:
        return None
    name_problems = names.dns_subdomain_problems(name)
    for message in name_problems:
        reader.error(f"Invalid value: {message}", ref_at / "name")
    return None if name_problems else EnvFrom(kind, name, prefix, optional, ref_at)


_VALUE_FROM = ("secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef", "fileKeyRef")
_KEY_REF_KIND = {SECRET.key_ref_field: SECRET, CONFIG_MAP.key_ref_field: CONFIG_MAP}


def _parse_env_var(reader: _Reader, raw: object, at: FieldPath) -> EnvVar | None:
    body = reader.mapping(raw, at)
    name = reader.string(body.get("name"), at / "name", required=True)
    if not name:
        return None
    for message in reader.env_name_problems(name):
        reader.error(f"Invalid value: {message}", at / "name")
    value = reader.string(body.get("value"), at / "value")
    value_from = body.get("valueFrom")
    if value_from is None:
        return EnvVar(name, value or "", None, None, None, at)
    from_at = at / "valueFrom"
    if value:
        reader.error("Invalid value: may not be specified when `value` is not empty", from_at)
        return None
    sources = [key for key in _VALUE_FROM if reader.mapping(value_from, from_at).get(key) is not None]
    if len(sources) != 1:
        reader.error("may not have more than one field specified at a time" if sources else "Required value", from_at)
        return None
    source = sources[0]
    source_at = from_at / source
    ref = reader.mapping(value_from[source], source_at)
    kind = _KEY_REF_KIND.get(source)
    if kind is not None:
        ref_name = reader.string(ref.get("name"), source_at / "name", required=True)
        key = reader.string(ref.get("key"), source_at / "key", required=True)
        optional = reader.boolean(ref.get("optional"), source_at / "optional")
        # validateSecretKeySelector / validateConfigMapKeySelector: the name is a DNS subdomain, the key a
        # ConfigMap key; a name that cannot exist is the manifest's error, not a reference that is "not found".
        name_problems = names.dns_subdomain_problems(ref_name) if ref_name else []
        for message in name_problems:
            reader.error(f"Invalid value: {message}", source_at / "name")
        key_problems = names.config_map_key_problems(key) if key else []
        for message in key_problems:
            reader.error(f"Invalid value: {message}", source_at / "key")
        if not ref_name or not key or name_problems or key_problems:
            return None
        return EnvVar(name, None, KeyRef(kind, ref_name, key, optional, source_at), None, None, at)
    if source == "fieldRef":
        path = reader.string(ref.get("fieldPath"), source_at / "fieldPath", required=True)
        if not path:
            return None
        return EnvVar(name, None, None, FieldRef(path, source_at), None, at)
    return EnvVar(name, None, None, None, source, at)


def _parse_volume(reader: _Reader, raw: object, at: FieldPath) -> Volume | None:
    body = reader.mapping(raw, at)
    name = reader.string(body.get("name"), at / "name", required=True)
    if not name:
        return None
    for message in names.dns_label_problems(name):
        reader.error(f"Invalid value: {message}", at / "name")
    kind = next((kind for kind in (SECRET, CONFIG_MAP) if body.get(kind.volume_field) is not None), None)
    if kind is not None:
        source_at = at / kind.volume_field
        spec = reader.mapping(body[kind.volume_field], source_at)
        default_mode = reader.mode(spec.get("defaultMode"), source_at / "defaultMode")
        projection = _parse_key_projection(reader, spec, kind, source_at, name_field=kind.volume_name_field)
        single = (projection,) if projection else ()
        return Volume(name, single, 0o644 if default_mode is None else default_mode, at, source=kind.volume_field)
    if body.get("downwardAPI") is not None:
        spec = reader.mapping(body["downwardAPI"], at / "downwardAPI")
        default_mode = reader.mode(spec.get("defaultMode"), at / "downwardAPI" / "defaultMode")
        downward = _parse_downward_items(reader, spec, at)
        mode = 0o644 if default_mode is None else default_mode
        return Volume(name, (downward,), mode, at, source="downwardAPI")
    if body.get("projected") is not None:
        projected_at = at / "projected"
        spec = reader.mapping(body["projected"], projected_at)
        default_mode = reader.mode(spec.get("defaultMode"), projected_at / "defaultMode")
        projections: list[Projection] = []
        seen_paths: set[str] = set()
        for index, raw_source in enumerate(reader.sequence(spec.get("sources"), projected_at / "sources")):
            projection = _parse_projection_source(reader, raw_source, projected_at / "sources" / index)
            if projection is None:
                continue
            # validateProjectionSources: one set of paths for all sources (serviceAccountToken's aside); a
            # repeat is reported with the source's object name (downwardAPI, clusterTrustBundle: the path).
            paths = [item.path for item in projection.items or ()]
            if projection.source != "serviceAccountToken":
                paths += [item.path for item in projection.downward_items]
            for path in paths:
                if path in seen_paths:
                    shown = projection.name if projection.kind is not None else path
                    reader.error(f"Invalid value: {quoted(shown)}: conflicting duplicate paths", projected_at)
                seen_paths.add(path)
            projections.append(projection)
        service_account = name.startswith(SERVICE_ACCOUNT_VOLUME_PREFIX) and any(
            p.source == "serviceAccountToken" for p in projections
        )
        mode = 0o644 if default_mode is None else default_mode
        return Volume(name, tuple(projections), mode, at, service_account, source="projected")
    return Volume(name, (), 0o644, at)


_PROJECTION_SOURCES = (
    "secret",
    "configMap",
    "downwardAPI",
    "serviceAccountToken",
    "clusterTrustBundle",
    "podCertificate",
)


def _parse_projection_source(reader: _Reader, raw: object, at: FieldPath) -> Projection | None:
    body = reader.mapping(raw, at)
    given = [key for key in _PROJECTION_SOURCES if body.get(key) is not None]
    if len(given) != 1:
        reader.error("may not specify more than 1 volume type" if given else "must specify exactly 1 volume type", at)
        return None
    source = given[0]
    source_at = at / source
    spec = reader.mapping(body[source], source_at)
    kind = {SECRET.volume_field: SECRET, CONFIG_MAP.volume_field: CONFIG_MAP}.get(source)
    if kind is not None:
        return _parse_key_projection(reader, spec, kind, source_at, name_field="name")
    if source == "downwardAPI":
        return _parse_downward_items(reader, spec, at)
    path = reader.string(spec.get("path"), source_at / "path") or ""
    unsupported = (DownwardItem(path, None, None, source_at),) if path else ()
    return Projection(source, None, "", None, unsupported, False, source_at)


def _parse_downward_items(reader: _Reader, spec: Mapping[str, Any], at: FieldPath) -> Projection:
    """A downwardAPI volume or projection source (``at`` is where its ``downwardAPI`` field is)."""
    source_at = at / "downwardAPI"
    items = []
    for index, raw_item in enumerate(reader.sequence(spec.get("items"), source_at / "items")):
        item_at = source_at / "items" / index
        item = reader.mapping(raw_item, item_at)
        path = reader.string(item.get("path"), item_at / "path", required=True)
        field_ref = reader.mapping(item.get("fieldRef"), item_at / "fieldRef")
        field_path = reader.string(field_ref.get("fieldPath"), item_at / "fieldRef" / "fieldPath")
        mode = reader.mode(item.get("mode"), item_at / "mode")
        if path and _check_item_path(reader, path, item_at / "path"):
            items.append(DownwardItem(path, field_path, mode, item_at))
    return Projection("downwardAPI", None, "", None, tuple(items), False, source_at)


def _parse_key_projection(
    reader: _Reader, spec: Mapping[str, Any], kind: DataKind, at: FieldPath, *, name_field: str
) -> Projection | None:
    name = reader.string(spec.get(name_field), at / name_field, required=True)
    optional = reader.boolean(spec.get("optional"), at / "optional")
    items = None
    if spec.get("items") is not None:
        items = []
        for index, raw_item in enumerate(reader.sequence(spec.get("items"), at / "items")):
            item_at = at / "items" / index
            item = reader.mapping(raw_item, item_at)
            key = reader.string(item.get("key"), item_at / "key", required=True)
            path = reader.string(item.get("path"), item_at / "path", required=True)
            mode = reader.mode(item.get("mode"), item_at / "mode")
            if key and path and _check_item_path(reader, path, item_at / "path"):
                items.append(Item(key, path, mode, item_at))
    if not name:
        return None
    name_problems = names.dns_subdomain_problems(name)
    for message in name_problems:
        reader.error(f"Invalid value: {message}", at / name_field)
    if name_problems:  # no such object can exist: one error, not also "not found"
        return None
    return Projection(kind.volume_field, kind, name, None if items is None else tuple(items), (), optional, at)


def _check_item_path(reader: _Reader, path: str, at: FieldPath) -> bool:
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
        reader.error(f"Invalid value: {path!r}: {problem}", at)
    return not problems
