"""Resolve a container's (or a whole pod's) references against a snapshot of objects, as the kubelet does.

Pure: the snapshot is fetched first (by a source), then everything here is deterministic.
Every problem is collected (``check`` lists them all); a Resolution with errors must not be used.
A command fails only for what it serves: problems of the parts it does not serve (the volumes,
for ``render env``) are warnings.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Literal, NamedTuple, TypeVar

from injector.core import dockerconfig, names
from injector.core.expand import expand
from injector.core.fields import FieldPath, Problems, quoted
from injector.core.keyring import InvalidImageError, Keyring, PullSecretConfig, normalize_image
from injector.core.objects import SECRET, DataKind, DataObject, ObjectKey
from injector.core.podspec import Container, DownwardItem, PodSpec, Projection, Volume, VolumeMount
from injector.core.versions import CURRENT, KubernetesVersion
from injector.errors import InjectorError, InjectorWarning, ManifestError, ResolutionError

Snapshot = Mapping[ObjectKey, DataObject]

P = TypeVar("P", InjectorError, InjectorWarning)
Part = Literal["env", "volumes", "credentials", "image"]
"""What a resolution serves: the environment, the volumes' files, the registry credentials, and the
container's image (the mount serves its pull credentials)."""
EVERY_PART: frozenset[Part] = frozenset(("env", "volumes", "credentials", "image"))


class EnvEntry(NamedTuple):
    name: str
    value: bytes
    sensitive: bool
    """True when the value came from a Secret."""

    def __repr__(self) -> str:
        return f"EnvEntry({self.name!r}, [{'secure' if self.sensitive else 'value'}])"


class File(NamedTuple):
    path: str
    data: bytes
    mode: int
    gid: int | None
    sensitive: bool

    def __repr__(self) -> str:
        return f"File({self.path!r}, mode={self.mode:04o}, {len(self.data)} bytes)"


class VolumeFiles(NamedTuple):
    """The files a secret, configMap, projected or downwardAPI volume holds, and where the container mounts it."""

    name: str
    mounts: tuple[VolumeMount, ...]
    """The container's mounts of this volume (mountPath, and subPath when it mounts a part)."""
    files: Mapping[str, File]
    """Cleaned relative path -> file, in a stable order."""
    source: str = "secret"
    """The volume's type (``secret``, ``configMap``, ``downwardAPI``, ``projected``)."""

    @property
    def mount_paths(self) -> tuple[str, ...]:
        return tuple(mount.mount_path for mount in self.mounts)

    def seen_at(self, mount: VolumeMount) -> tuple[str, Mapping[str, File]]:
        """What the container sees at ``mount``: ``("directory", files by relative path)``, or for a
        subPath naming a file ``("file", {"": file})``. A subPath the volume lacks is an empty
        directory (the kubelet creates it)."""
        prefix = posixpath.normpath(mount.sub_path) if mount.sub_path else ""
        if not prefix or prefix == ".":
            return "directory", self.files
        if prefix in self.files:
            return "file", {"": self.files[prefix]}
        below = {path[len(prefix) + 1 :]: file for path, file in self.files.items() if path.startswith(prefix + "/")}
        return "directory", below


class Resolution(NamedTuple):
    pod: PodSpec
    container: Container
    env: Mapping[str, EnvEntry]
    volumes: tuple[VolumeFiles, ...]
    keyring: Keyring
    """The pull secrets' docker configs in imagePullSecrets order: merged, or looked up per image."""
    errors: tuple[InjectorError, ...]
    warnings: tuple[InjectorWarning, ...]

    @property
    def has_pull_secrets(self) -> bool:
        return bool(self.pod.image_pull_secrets)

    def sensitive_values(self) -> dict[bytes, str]:
        """Every secret-derived value with the first env name or file path that carries it."""
        found: dict[bytes, str] = {}
        for entry in self.env.values():
            if entry.sensitive and entry.value:
                found.setdefault(entry.value, entry.name)
        for volume in self.volumes:
            for file in volume.files.values():
                if file.sensitive and file.data:
                    found.setdefault(file.data, f"{volume.name}/{file.path}")
        return found


_REFERENCE = re.compile(r"\$\(([^)]*)\)")
_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]\Z", re.S)


class _Resolver:
    """One pass over a pod's references; problems are kept apart by the part they concern."""

    def __init__(
        self, pod: PodSpec, snapshot: Snapshot, *, invalid: frozenset[ObjectKey], version: KubernetesVersion
    ) -> None:
        self.pod = pod
        self.snapshot = snapshot
        self.invalid = invalid
        self.version = version
        self.env_problems = Problems(pod.origin, pod.ref)
        self.volume_problems = Problems(pod.origin, pod.ref)
        self.credential_problems = Problems(pod.origin, pod.ref)
        self.image_problems = Problems(pod.origin, pod.ref)

    def lookup(self, kind: DataKind, name: str) -> DataObject | None:
        return self.snapshot.get(ObjectKey(kind.kind, self.pod.namespace, name))

    def not_found(self, problems: Problems, kind: DataKind, name: str, at: FieldPath, *, context: str = "") -> None:
        if ObjectKey(kind.kind, self.pod.namespace, name) in self.invalid:
            return  # it exists but does not validate: reported as such already, once
        problems.error(f'{context}{kind.noun} "{name}" not found', at, ResolutionError)

    def outcome(self, serves: frozenset[Part]) -> tuple[list[InjectorError], list[InjectorWarning]]:
        """Errors of the parts served; the other parts' errors become warnings."""
        parts: dict[Part, Problems] = {
            "env": self.env_problems,
            "volumes": self.volume_problems,
            "credentials": self.credential_problems,
            "image": self.image_problems,
        }
        errors: list[InjectorError] = []
        warnings: list[InjectorWarning] = []
        for part, problems in parts.items():
            if part in serves:
                errors += problems.errors
            else:
                warnings += (
                    InjectorWarning(error.parts, source=error.source, obj=error.obj, field=error.field)
                    for error in problems.errors
                )
            warnings += problems.warnings
        return errors, warnings

    # -- env (kubelet_pods.go makeEnvironmentVariables) -----------------------------------------

    def env(self, container: Container) -> dict[str, EnvEntry]:
        problems = self.env_problems
        env: dict[str, EnvEntry] = {}
        for source in container.env_from:
            obj = self.lookup(source.kind, source.name)
            if obj is None:
                if not source.optional:
                    self.not_found(problems, source.kind, source.name, source.at)
                continue
            invalid = []
            for key in sorted(obj.env_keys):
                name = source.prefix + key
                if self.version.skips_invalid_env_from_keys and not names.is_env_var_name(name):
                    invalid.append(name)
                    continue
                env[name] = EnvEntry(name, obj.data[key], source.kind is SECRET)
            if invalid:
                problems.warn(
                    f"InvalidEnvironmentVariableNames: Keys [{', '.join(invalid)}] from the EnvFrom "
                    f"{source.kind.env_from_noun} {obj.namespace}/{obj.name} were "
                    "skipped since they are considered invalid environment variable names.",
                    source.at,
                )

        def lookup(name: bytes) -> bytes | None:
            entry = env.get(name.decode("utf-8", "surrogateescape"))
            return None if entry is None else entry.value

        for var in container.env:
            if var.value is not None:
                value = expand(var.value.encode("utf-8"), lookup, whole_runes=self.version.expands_whole_runes)
                # An expanded reference to a secret value carries that secret (an escaped `$$(` is
                # counted too: erring on the side of masking).
                sensitive = "$(" in var.value and any(
                    (entry := env.get(name)) is not None and entry.sensitive for name in _REFERENCE.findall(var.value)
                )
                env[var.name] = EnvEntry(var.name, value, sensitive)
            elif var.key_ref is not None:
                ref = var.key_ref
                obj = self.lookup(ref.kind, ref.name)
                if obj is None:
                    if not ref.optional:
                        self.not_found(problems, ref.kind, ref.name, ref.at)
                    continue
                if ref.key not in obj.env_keys:
                    if not ref.optional:
                        problems.error(
                            f"couldn't find key {ref.key} in {ref.kind.kind} {obj.namespace}/{obj.name}",
                            ref.at,
                            ResolutionError,
                        )
                    continue
                env[var.name] = EnvEntry(var.name, obj.data[ref.key], ref.kind is SECRET)
            elif var.field_ref is not None:
                field_value = self.field_value(var.field_ref.field_path, var.field_ref.at, problems, env_var=True)
                if field_value is not None:
                    env[var.name] = EnvEntry(var.name, field_value.encode("utf-8"), False)
            else:
                problems.warn(
                    f"valueFrom.{var.unsupported} cannot be resolved outside a node; {var.name} not set", var.at
                )
        return env

    def field_value(self, path: str, at: FieldPath, problems: Problems, *, env_var: bool) -> str | None:
        """A downward-API fieldRef; None (with a warning) when the manifest does not know it."""
        pod = self.pod
        known: dict[str, str | None] = {
            "metadata.name": pod.name,
            "metadata.namespace": pod.namespace,
            "metadata.uid": pod.uid,
            "spec.nodeName": pod.node_name,
            "spec.serviceAccountName": pod.service_account or "default",
            "status.hostIP": pod.host_ip,
            "status.hostIPs": pod.host_ip,
            "status.podIP": pod.pod_ip,
            "status.podIPs": pod.pod_ip,
        }
        if not env_var:
            for label_field, values in (("metadata.labels", pod.labels), ("metadata.annotations", pod.annotations)):
                # fieldpath.FormatMap: sorted `key=%q` lines joined by newlines, with no newline at the end.
                known[label_field] = "\n".join(f"{k}={quoted(v)}" for k, v in sorted(values.items()))
        subscript = _SUBSCRIPT.match(path)
        if subscript:
            values = pod.labels if subscript.group(1) == "labels" else pod.annotations
            if subscript.group(2) in values or pod.kind == "Pod":
                return values.get(subscript.group(2), "")  # the kubelet gives "" for a key the pod lacks
            # A workload's controller adds labels and annotations of its own to the pods it makes
            # (pod-template-hash, batch.kubernetes.io/job-completion-index...): unknown here.
            problems.warn(
                f"fieldRef {path} is not known from the manifest (the {pod.kind}'s controller may set it on "
                "the pods it makes); not set",
                at,
            )
            return None
        if path not in known:
            problems.error(f"Unsupported value: {path!r}", at / "fieldPath")
            return None
        value = known[path]
        if value is None:
            problems.warn(f"fieldRef {path} is not known from the manifest (a {pod.kind} does not say it); not set", at)
        return value

    # -- volumes (pkg/volume/secret, configmap, projected) ---------------------------------------

    def volumes(self, container: Container) -> tuple[VolumeFiles, ...]:
        """The secret, configMap, projected and downwardAPI volumes ``container`` mounts, with their files."""
        mounts: dict[str, list[VolumeMount]] = {}
        for mount in container.volume_mounts:
            volume = self.pod.volumes.get(mount.volume)  # a mount of no volume: the pod spec is invalid
            if volume is not None and volume.projections:
                mounts.setdefault(volume.name, []).append(mount)
        found = []
        for name, its_mounts in mounts.items():
            files = self.volume_files(self.pod.volumes[name])
            if files is not None:
                found.append(VolumeFiles(name, tuple(its_mounts), files, self.pod.volumes[name].source))
        return tuple(found)

    def volume_files(self, volume: Volume) -> dict[str, File] | None:
        """The files of ``volume``; None for the service-account volume, which is never served."""
        if volume.service_account:
            self.volume_problems.warn(
                "the service-account volume the API server adds (token, kube-root-ca.crt, namespace) is not "
                "served: its token is issued to a Pod on a node",
                volume.at,
            )
            return None
        files: dict[str, File] = {}
        for projection in volume.projections:
            for file in self.projection_files(projection, volume):
                files[file.path] = file  # a later source overwrites the same path
        ordered = dict(sorted(files.items()))
        for path in ordered:
            parent = posixpath.dirname(path)
            while parent:
                if parent in ordered:
                    self.volume_problems.error(
                        f"path {parent!r} is both a file and the directory of {path!r}", volume.at
                    )
                parent = posixpath.dirname(parent)
        if self.pod.fs_group is not None:
            ordered = {
                path: file._replace(mode=file.mode | 0o440, gid=self.pod.fs_group) for path, file in ordered.items()
            }
        return ordered

    def projection_files(self, projection: Projection, volume: Volume) -> list[File]:
        if projection.source == "downwardAPI":
            return self.downward_files(projection, volume)
        kind = projection.kind
        if kind is None:
            self.volume_problems.warn(
                f"{projection.source} projections cannot be served outside a node; skipped", projection.at
            )
            return []
        obj = self.lookup(kind, projection.name)
        if obj is None:
            if not projection.optional:
                self.not_found(
                    self.volume_problems,
                    kind,
                    projection.name,
                    projection.at,
                    context=f'MountVolume.SetUp failed for volume "{volume.name}": ',
                )
            return []
        sensitive = kind is SECRET
        if projection.items is None:
            return [
                self.file(key, obj.data[key], None, volume, projection.at, sensitive=sensitive)
                for key in sorted(obj.data)
            ]
        files: list[File] = []
        for item in projection.items:
            if item.key not in obj.data:
                if not projection.optional:
                    self.volume_problems.error(kind.missing_item(item.key), item.at, ResolutionError)
                continue
            files.append(self.file(item.path, obj.data[item.key], item.mode, volume, item.at, sensitive=sensitive))
        return files

    def downward_files(self, projection: Projection, volume: Volume) -> list[File]:
        files = []
        for item in projection.downward_items:
            data = self.downward_value(item)
            if data is not None:
                files.append(self.file(item.path, data, item.mode, volume, item.at, sensitive=False))
        return files

    def downward_value(self, item: DownwardItem) -> bytes | None:
        if item.field_path is None:
            self.volume_problems.warn("only fieldRef downward API items can be served outside a node; skipped", item.at)
            return None
        value = self.field_value(item.field_path, item.at / "fieldRef", self.volume_problems, env_var=False)
        return None if value is None else value.encode("utf-8")

    def file(self, path: str, data: bytes, mode: int | None, volume: Volume, at: FieldPath, *, sensitive: bool) -> File:
        cleaned = posixpath.normpath(path)
        if cleaned in (".", "") or cleaned.startswith(".."):
            self.volume_problems.error(f"Invalid value: {path!r}: not a file path", at)
        return File(cleaned, data, volume.default_mode if mode is None else mode, None, sensitive)

    # -- imagePullSecrets (pkg/credentialprovider/secrets) ---------------------------------------

    def keyring(self) -> Keyring:
        problems = self.credential_problems
        configs = []
        missing = []
        for pull_secret in self.pod.image_pull_secrets:
            obj = self.lookup(SECRET, pull_secret.name)
            if obj is None:
                if ObjectKey(SECRET.kind, self.pod.namespace, pull_secret.name) not in self.invalid:
                    missing.append(pull_secret.name)
                continue
            key = dockerconfig.pull_secret_document(obj.type, obj.data)
            if key is None:
                problems.warn(
                    f"Secret {obj.namespace}/{obj.name} is not a usable pull secret (type {obj.type}); ignored",
                    pull_secret.at,
                )
                continue
            try:
                entries = dockerconfig.parse_document(key, obj.data[key])
            except dockerconfig.DockerConfigError as exc:
                problems.errors.append(
                    ManifestError(str(exc), source=obj.origin, obj=obj.ref, field=FieldPath.of("data").key(key))
                )
                continue
            configs.append(PullSecretConfig(obj.origin, obj.ref, key, entries))
        if missing:
            problems.warn(
                f"FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets ({', '.join(missing)}); "
                "attempting to pull the image may not succeed.",
                FieldPath.of("spec", "imagePullSecrets"),
            )
        keyring = Keyring(tuple(configs))
        for config, registry, problem in keyring.entry_problems():
            if problem == "invalid":
                problems.warnings.append(
                    InjectorWarning(
                        f"Entry {quoted(registry)} in dockercfg invalid, ignoring: it does not parse as a URL",
                        source=config.origin,
                        obj=config.ref,
                        field=FieldPath.of("data").key(config.key),
                    )
                )
        return keyring

    def image(self, container: Container) -> None:
        """The container's image as the kubelet meets it before pulling (its InvalidImageName)."""
        if container.image is None:
            return
        try:
            normalize_image(container.image)
        except InvalidImageError as exc:
            self.image_problems.error(
                f"InvalidImageName: Failed to apply default image tag {quoted(container.image)}: {exc}",
                container.at / "image",
            )


def referenced_objects(pod: PodSpec, container: Container | None) -> set[ObjectKey]:
    """Every Secret and ConfigMap that ``container`` (or, with None, the whole pod: every container
    and every volume) references, and the pod's pull secrets: what a source must fetch, by name,
    before resolving. The service-account volume the API server adds is not served, so not fetched."""
    containers = pod.containers if container is None else (container,)
    keys = {ObjectKey(ref.kind.kind, pod.namespace, ref.name) for c in containers for ref in c.env_from}
    keys |= {
        ObjectKey(var.key_ref.kind.kind, pod.namespace, var.key_ref.name)
        for c in containers
        for var in c.env
        if var.key_ref
    }
    if container is None:
        volumes = list(pod.volumes.values())
    else:
        volumes = [pod.volumes[m.volume] for m in container.volume_mounts if m.volume in pod.volumes]
    for volume in volumes:
        if not volume.service_account:
            keys |= {ObjectKey(p.kind.kind, pod.namespace, p.name) for p in volume.projections if p.kind is not None}
    keys |= {ObjectKey(SECRET.kind, pod.namespace, pull.name) for pull in pod.image_pull_secrets}
    return keys


def resolve_container(
    pod: PodSpec,
    container: Container,
    snapshot: Snapshot,
    *,
    invalid: frozenset[ObjectKey] = frozenset(),
    serves: frozenset[Part] = EVERY_PART,
    version: KubernetesVersion = CURRENT,
) -> Resolution:
    """Resolve env, volume files and registry credentials of ``container``.

    ``invalid``: objects that exist but failed validation (reported already; never also "not
    found"). ``serves``: the parts the caller serves; the others' errors are warnings.
    ``version``: whose kubelet rules apply where they changed (envFrom keys, ``$`` expansion).
    """
    resolver = _Resolver(pod, snapshot, invalid=invalid, version=version)
    env = resolver.env(container)
    volumes = resolver.volumes(container)
    keyring = resolver.keyring()
    resolver.image(container)
    errors, warnings = resolver.outcome(serves)
    return Resolution(pod, container, env, volumes, keyring, tuple(errors), tuple(warnings))


def check_pod(
    pod: PodSpec,
    snapshot: Snapshot,
    *,
    invalid: frozenset[ObjectKey] = frozenset(),
    version: KubernetesVersion = CURRENT,
) -> tuple[list[InjectorError], list[InjectorWarning]]:
    """Every problem of the whole pod, as the kubelet would meet them starting it: the env of every
    container (init and ephemeral ones too), every volume (the kubelet sets up all of them, mounted
    or not) and the pull secrets. Each problem once."""
    resolver = _Resolver(pod, snapshot, invalid=invalid, version=version)
    for container in pod.containers:
        resolver.env(container)
        resolver.image(container)
    for volume in pod.volumes.values():
        if volume.projections:
            resolver.volume_files(volume)
    resolver.keyring()
    errors, warnings = resolver.outcome(EVERY_PART)
    return _once(errors), _once(warnings)


def _once(problems: list[P]) -> list[P]:
    seen: set[str] = set()
    unique = []
    for problem in problems:
        line = problem.render()
        if line not in seen:
            seen.add(line)
            unique.append(problem)
    return unique
