"""``injector inject`` and the webhook: a Pod (or a workload's pod template) rewired to get its secrets
from injector, and the way back (pure).

    inject_document    the document with injector wired in, and the RBAC it needs
    restore            the document as it was before injection (exact, from the record annotation)
    as_served          the pod as injector reads it at run time (the agent's and ``run --self``'s view)

What an injected pod looks like (one agent per pod):

- The secret, configMap and projected volumes the containers mount stay in ``volumes`` but no container
  mounts them any more, so the kubelet does not set them up (it skips unused volumes).
- The agent runs as a native sidecar (an init container with ``restartPolicy: Always``, first among
  the init containers) and serves its default view, one directory per volume, through FUSE into the
  ``injector-files`` emptyDir, mounted with ``Bidirectional`` propagation.
- Each app mount of such a volume becomes a mount of that emptyDir at the same ``mountPath`` with
  ``subPath: VOLUME[/SUBPATH]`` and ``HostToContainer`` propagation: the app sees at each path what
  the kubelet would have shown there.
- ``--env`` containers: their Secret env is left out of the spec (the kubelet does not resolve it) and
  their command is wrapped in ``injector run --self``, which resolves the container's original env; the
  runtime is copied by the ``injector-install`` init container into a memory-backed emptyDir.
- The ``injector.io/injected`` annotation records the original value of everything changed, so
  ``restore`` gives the original back exactly, ``inject`` of its own output changes nothing, and the
  agent learns the original references from the injected pod itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from injector import __version__
from injector.core import names
from injector.core.expand import expand
from injector.core.fields import ROOT, FieldPath
from injector.core.manifest import Document
from injector.core.objects import CONFIG_MAP, SECRET, object_ref
from injector.core.podspec import TEMPLATE_PATHS, parse_pod
from injector.core.resolve import referenced_objects
from injector.errors import InjectorWarning, ManifestError, UsageError

PREFIX = "injector.io/"
INJECT = PREFIX + "inject"
"""Pod (template) annotation: ``"false"`` leaves the pod as it is."""
INJECTED = PREFIX + "injected"
"""Pod (template) annotation written by inject: what it changed, and the original values (JSON)."""
SKIP_CONTAINERS = PREFIX + "skip-containers"
"""Comma-separated container names whose mounts and env are left to the kubelet."""
SKIP_VOLUMES = PREFIX + "skip-volumes"
"""Comma-separated volume names left to the kubelet."""
ENV_CONTAINERS = PREFIX + "env-containers"
"""Comma-separated container names whose command is wrapped in ``injector run`` (as ``--env``)."""
PORT_ANNOTATION = PREFIX + "port"
"""The agent's probe and metrics port, when the default is taken by the app."""
FUSE_ANNOTATION = PREFIX + "fuse"
"""Who mounts FUSE: ``privileged`` (the agent, default) or ``csi`` (a FUSE CSI driver passes a descriptor)."""
KEY_SYMLINKS = PREFIX + "key-symlinks"
"""``"true"``: the agent serves each key as the kubelet's symlink ``key -> ..data/key`` (``--key-symlinks``), for
apps that readlink their keys; ``"false"`` (default): as the file that symlink leads to."""
ANNOTATIONS = (
    INJECT,
    SKIP_CONTAINERS,
    SKIP_VOLUMES,
    ENV_CONTAINERS,
    PORT_ANNOTATION,
    FUSE_ANNOTATION,
    KEY_SYMLINKS,
)

AGENT = "injector"
"""The agent's container (a native sidecar)."""
INSTALL = "injector-install"
"""The init container that copies injector's runtime for ``--env`` containers."""
FILES_VOLUME = "injector-files"
RUNTIME_VOLUME = "injector-runtime"
API_ACCESS_VOLUME = "injector-api-access"
FD_VOLUME = "injector-fd"
RESERVED_CONTAINERS = (INSTALL, AGENT)
RESERVED_VOLUMES = (FILES_VOLUME, RUNTIME_VOLUME, API_ACCESS_VOLUME, FD_VOLUME)

DEFAULT_IMAGE = f"injector:{__version__}"
"""The image ``docker build -t injector:VERSION .`` makes; ``--image`` names the one you pushed."""
DEFAULT_PORT = 9477
FILES_DIR = "/injector"
"""Where the agent mounts the FUSE view (the emptyDir's mount in the agent's container)."""
RUNTIME_DIR = "/opt/injector"
"""Where the runtime lives, in the image and in the containers it is copied to."""
RUNTIME_COMMAND = RUNTIME_DIR + "/bin/injector"
SERVED_DIR = "/injector-served"
"""Where the agent's container mounts each volume it serves, in ``as_served``'s view (never run)."""
FD_DIR = "/injector-fd"
FD_SOCKET = "injector.sock"
CSI_DRIVER = "meta-fuse-csi-plugin.csi.storage.pfn.io"
"""The FUSE CSI driver whose fd passing ``--fuse csi`` uses (pfnet-research/meta-fuse-csi-plugin)."""
NOBODY = 65534
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_EXPIRATION = 3607
"""The kubelet's default for the service-account token it projects (BoundServiceAccountTokenVolume)."""

AGENT_RESOURCES: Mapping[str, Any] = {"requests": {"cpu": "10m", "memory": "48Mi"}, "limits": {"memory": "128Mi"}}
INSTALL_RESOURCES: Mapping[str, Any] = {"requests": {"cpu": "10m", "memory": "96Mi"}, "limits": {"memory": "192Mi"}}
"""The copy is charged to the container that writes it: the runtime (~60 MB) must fit in its limit."""
RUNTIME_SIZE = "128Mi"
"""sizeLimit of the memory-backed emptyDir the runtime is copied into (the runtime is ~60 MB)."""

FuseMode = Literal["privileged", "csi"]
FUSE_MODES: tuple[FuseMode, ...] = ("privileged", "csi")
"""Who mounts FUSE: the agent itself (privileged), or a FUSE CSI driver that hands the agent a mounted
descriptor over a socket (``--mount fd-socket:PATH``; the agent then needs no privilege at all)."""
RECORD_VERSION = 1


class InjectOptions(NamedTuple):
    image: str
    env_containers: tuple[str, ...] = ()
    """Containers whose command is wrapped in ``injector run`` (``--env``)."""
    rbac: bool = False
    """Also make the ServiceAccount, Role and RoleBinding the agent needs (and name the ServiceAccount)."""
    fuse: FuseMode | None = None
    """Who mounts FUSE; None: the pod's annotation, else ``privileged``."""


class Injection(NamedTuple):
    body: dict[str, Any]
    """The document as inject writes it: injected, or as it was (restored when it was injected and now opts out)."""
    changed: bool
    """Whether ``body`` differs from the document given."""
    rbac: tuple[dict[str, Any], ...]
    """ServiceAccount, Role, RoleBinding (``--rbac``), to be applied before the workload."""
    warnings: tuple[InjectorWarning, ...]


# -- reading the document --------------------------------------------------------------------------


class _Where(NamedTuple):
    source: str
    obj: str


def _template(body: dict[str, Any]) -> tuple[dict[str, Any] | None, FieldPath]:
    """The pod (template) inside ``body`` (None when it has none), and where it is."""
    node = body
    at = FieldPath()
    for step in TEMPLATE_PATHS.get(str(body.get("kind")), ()):
        child = node.get(step)
        if not isinstance(child, dict):
            return None, at
        node = child
        at = at / step
    return node, at


def _list(owner: Mapping[str, Any], key: str) -> list[Any]:
    value = owner.get(key)
    return value if isinstance(value, list) else []


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _annotations(template: Mapping[str, Any]) -> dict[str, Any]:
    metadata = template.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _servable(volume: Mapping[str, Any]) -> bool:
    """A volume injector serves as the kubelet would: a secret or configMap, or a projected volume made of
    those (and downward-API fieldRefs). Anything issued to a node (a service-account token, a trust
    bundle) is left to the kubelet."""
    if isinstance(volume.get("secret"), dict) or isinstance(volume.get("configMap"), dict):
        return True
    projected = volume.get("projected")
    if not isinstance(projected, dict):
        return False
    sources = _list(projected, "sources")
    if not sources:
        return False
    for source in sources:
        if not isinstance(source, dict):
            return False
        kinds = [key for key, value in source.items() if value is not None]
        if kinds in (["secret"], ["configMap"]):
            continue
        if kinds == ["downwardAPI"] and all(
            isinstance(item, dict) and item.get("fieldRef") is not None and item.get("resourceFieldRef") is None
            for item in _list(source["downwardAPI"], "items")
        ):
            continue
        return False
    return True


# -- the record ------------------------------------------------------------------------------------


class _Record:
    """What inject changed, as the ``injected`` annotation holds it.

    A changed field of a container or of the pod spec is recorded before its first change: ``was`` holds its
    original value, ``absent`` the fields that did not exist. Lists inject only adds to (init containers,
    volumes) are not copied: what was added is listed by name, and whether the list existed.
    """

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.spec: dict[str, Any] = {"was": {}, "absent": []}
        self.template: dict[str, Any] = {"was": {}, "absent": []}
        """The pod template's own fields (``metadata``, when it had none) and ``metadata.annotations``."""
        self.added: dict[str, list[str]] = {"initContainers": [], "volumes": []}
        self.served: list[str] = []
        self.env: list[str] = []

    @staticmethod
    def keep(entry: dict[str, Any], owner: Mapping[str, Any], field: str, *, value: bool = True) -> None:
        if field in entry["was"] or field in entry["absent"]:
            return
        if field not in owner:
            entry["absent"].append(field)
        elif value:
            entry["was"][field] = copy.deepcopy(owner[field])

    def container(self, container: Mapping[str, Any], field: str) -> None:
        entry = self.containers.setdefault(str(container.get("name")), {"was": {}, "absent": []})
        self.keep(entry, container, field)

    def to_json(self) -> str:
        record = {
            "version": RECORD_VERSION,
            "containers": self.containers,
            "spec": self.spec,
            "template": self.template,
            "added": self.added,
            "served": self.served,
            "env": self.env,
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"))


def _read_record(template: Mapping[str, Any], where: _Where, at: FieldPath) -> dict[str, Any] | None:
    text = _annotations(template).get(INJECTED)
    if text is None:
        return None
    try:
        record = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        record = None
    if not (isinstance(record, dict) and record.get("version") == RECORD_VERSION and _record_shape(record)):
        raise ManifestError(
            "not a record of what inject changed (remove the annotation to inject afresh)",
            source=where.source,
            obj=where.obj,
            field=(at / "metadata" / "annotations").key(INJECTED),
        )
    return record


def _record_shape(record: Mapping[str, Any]) -> bool:
    def changes(entry: object) -> bool:
        return (
            isinstance(entry, dict)
            and isinstance(entry.get("was"), dict)
            and isinstance(entry.get("absent"), list)
            and all(isinstance(field, str) for field in entry["absent"])
        )

    containers, added = record.get("containers"), record.get("added")
    return (
        isinstance(containers, dict)
        and all(changes(entry) for entry in containers.values())
        and changes(record.get("spec"))
        and changes(record.get("template"))
        and isinstance(added, dict)
        and all(isinstance(added.get(key), list) for key in ("initContainers", "volumes"))
        and isinstance(record.get("served"), list)
        and all(isinstance(name, str) for name in record["served"])
        and isinstance(record.get("env"), list)
        and all(isinstance(name, str) for name in record["env"])
    )


def _put_back(owner: dict[str, Any], entry: Mapping[str, Any]) -> None:
    for field, value in entry["was"].items():
        owner[field] = copy.deepcopy(value)
    for field in entry["absent"]:
        owner.pop(field, None)


def _restore_template(template: dict[str, Any], record: Mapping[str, Any]) -> None:
    spec = template.get("spec")
    if isinstance(spec, dict):
        for field in ("initContainers", "volumes"):
            added = record["added"][field]
            if isinstance(spec.get(field), list):
                spec[field] = [x for x in spec[field] if not (isinstance(x, dict) and x.get("name") in added)]
        for group in ("initContainers", "containers"):
            for container in _list(spec, group):
                if isinstance(container, dict) and container.get("name") in record["containers"]:
                    _put_back(container, record["containers"][container["name"]])
        _put_back(spec, record["spec"])
    metadata = template.get("metadata")
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(INJECTED, None)
        if "annotations" in record["template"]["absent"] and not annotations:  # unless others came since
            metadata.pop("annotations", None)
    if "metadata" in record["template"]["absent"] and not metadata:
        template.pop("metadata", None)


def restore(document: Document) -> dict[str, Any]:
    """The document as it was before inject (a copy); the same document when inject did not write it."""
    body = copy.deepcopy(document.body)
    template, at = _template(body)
    if template is not None:
        record = _read_record(template, _Where(document.origin, object_ref(body, "default")), at)
        if record is not None:
            _restore_template(template, record)
    return body


def is_injected(body: Mapping[str, Any]) -> bool:
    """Whether a Pod (or workload) carries inject's record."""
    template, _ = _template(dict(body))
    return template is not None and INJECTED in _annotations(template)


def as_served(document: Document) -> dict[str, Any]:
    """The Pod ``document`` as injector reads it at run time: the original pod, in which the agent's container
    mounts every volume it serves (so that its default view has one directory per volume), and without
    ``imagePullSecrets`` (the kubelet pulls images: neither the agent nor ``run`` needs registry credentials).
    A pod inject did not write is returned as it is."""
    body = copy.deepcopy(document.body)
    record = _read_record(body, _Where(document.origin, object_ref(body, "default")), FieldPath())
    if record is None:
        return body
    original = restore(document)
    _serve_view(original, record["served"])
    return original


def _serve_view(template: dict[str, Any], served: Sequence[str]) -> None:
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return
    spec.pop("imagePullSecrets", None)
    mounts = [{"name": name, "mountPath": f"{SERVED_DIR}/{name}", "readOnly": True} for name in served]
    agent = {"name": AGENT, "image": "injector", "volumeMounts": mounts}
    spec["initContainers"] = [agent, *_list(spec, "initContainers")]


# -- injecting -------------------------------------------------------------------------------------


class _Injector:
    def __init__(
        self, body: dict[str, Any], template: dict[str, Any], at: FieldPath, options: InjectOptions, where: _Where
    ) -> None:
        self.body = body
        self.options = options
        self.where = where
        self.template, self.template_at = template, at
        self.spec_at = at / "spec"
        spec = template.get("spec")
        self.spec: dict[str, Any] = spec if isinstance(spec, dict) else {}
        self.record = _Record()
        self.warnings: list[InjectorWarning] = []

    def usage(self, message: str, at: FieldPath = ROOT) -> UsageError:
        return UsageError(message, source=self.where.source, obj=self.where.obj, field=at)

    def warn(self, message: str, at: FieldPath = ROOT) -> None:
        self.warnings.append(InjectorWarning(message, source=self.where.source, obj=self.where.obj, field=at))

    # -- settings from the options and the annotations

    def annotation_names(self, key: str) -> list[str]:
        value = _annotations(self.template).get(key)
        return _names(value) if isinstance(value, str) else []

    def containers(self) -> list[tuple[dict[str, Any], FieldPath]]:
        found = []
        for group in ("initContainers", "containers"):
            for index, container in enumerate(_list(self.spec, group)):
                if isinstance(container, dict):
                    found.append((container, self.spec_at / group / index))
        return found

    def fuse_mode(self) -> FuseMode:
        if self.options.fuse is not None:
            return self.options.fuse
        value = _annotations(self.template).get(FUSE_ANNOTATION, "privileged")
        if value not in FUSE_MODES:
            raise self.usage(
                f"annotation {FUSE_ANNOTATION}: {value!r} is not one of {', '.join(FUSE_MODES)}",
                self.template_at / "metadata" / "annotations",
            )
        return value  # type: ignore[no-any-return]

    def key_symlinks(self) -> bool:
        value = _annotations(self.template).get(KEY_SYMLINKS, "false")
        if value not in ("true", "false"):
            raise self.usage(
                f"annotation {KEY_SYMLINKS}: {value!r} is not true or false",
                self.template_at / "metadata" / "annotations",
            )
        return bool(value == "true")

    def port(self) -> int:
        text = _annotations(self.template).get(PORT_ANNOTATION)
        if text is None:
            port = DEFAULT_PORT
        else:
            try:
                port = int(text)
            except (TypeError, ValueError):
                port = 0
            if not 1 <= port <= 65535:
                raise self.usage(
                    f"annotation {PORT_ANNOTATION}: must be a port number (1-65535)",
                    self.template_at / "metadata" / "annotations",
                )
        for container, at in self.containers():
            for index, declared in enumerate(_list(container, "ports")):
                if isinstance(declared, dict) and declared.get("containerPort") == port:
                    raise self.usage(
                        f"port {port} is the agent's: set annotation {PORT_ANNOTATION} to a free port",
                        at / "ports" / index / "containerPort",
                    )
        return port

    def check_reserved(self) -> None:
        for container, at in self.containers():
            if container.get("name") in RESERVED_CONTAINERS:
                raise self.usage(f"container name {container['name']!r} is injector's: rename it", at / "name")
        for index, volume in enumerate(_list(self.spec, "volumes")):
            if isinstance(volume, dict) and volume.get("name") in RESERVED_VOLUMES:
                raise self.usage(
                    f"volume name {volume['name']!r} is injector's: rename it",
                    self.spec_at / "volumes" / index / "name",
                )

    # -- the rewiring

    def run(self) -> bool:
        """Inject in place; False when there is nothing to serve or wrap (the document is left as it is)."""
        self.check_reserved()
        by_name = {c.get("name"): (c, at) for c, at in self.containers()}
        env_names = list(dict.fromkeys([*self.options.env_containers, *self.annotation_names(ENV_CONTAINERS)]))
        for name in env_names:
            if name not in by_name:
                known = ", ".join(str(n) for n in by_name) or "none"
                raise self.usage(f"--env {name}: no such container (containers: {known})", self.spec_at)
        skip_containers = set(self.annotation_names(SKIP_CONTAINERS))
        skip_volumes = set(self.annotation_names(SKIP_VOLUMES))
        volumes = {
            v["name"]: v
            for v in _list(self.spec, "volumes")
            if isinstance(v, dict) and isinstance(v.get("name"), str) and v["name"] not in skip_volumes and _servable(v)
        }
        served: set[str] = set()
        for container, _ in self.containers():
            if container.get("name") in skip_containers:
                continue
            mounts = _list(container, "volumeMounts")
            if not any(isinstance(m, dict) and m.get("name") in volumes for m in mounts):
                continue
            self.record.container(container, "volumeMounts")
            container["volumeMounts"] = [self.rewire_mount(m) if _mounts(m, volumes) else m for m in mounts]
            served |= {m["name"] for m in mounts if _mounts(m, volumes)}
        self.record.served = [v["name"] for v in _list(self.spec, "volumes") if v.get("name") in served]
        for name in env_names:
            if name in skip_containers:
                raise self.usage(f"--env {name}: the container is opted out ({SKIP_CONTAINERS})", self.spec_at)
            self.wrap_command(*by_name[name])
        self.record.env = env_names
        if not served and not env_names:
            self.warn("nothing to inject: no container mounts a secret, configMap or projected volume, and no --env")
            return False
        port = self.port()
        mode = self.fuse_mode()
        key_symlinks = self.key_symlinks()
        init: list[dict[str, Any]] = []
        new_volumes: list[dict[str, Any]] = []
        api_access = self.spec.get("automountServiceAccountToken") is False
        if env_names:
            init.append(self.install_container())
            new_volumes.append({"name": RUNTIME_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": RUNTIME_SIZE}})
        if served:
            init.append(self.agent_container(port, mode, api_access, key_symlinks=key_symlinks))
            if mode == "csi":
                attributes = {"fdPassingEmptyDirName": FD_VOLUME, "fdPassingSocketName": FD_SOCKET}
                csi = {"driver": CSI_DRIVER, "readOnly": True, "volumeAttributes": attributes}
                new_volumes += [{"name": FILES_VOLUME, "csi": csi}, {"name": FD_VOLUME, "emptyDir": {}}]
            else:
                new_volumes.append({"name": FILES_VOLUME, "emptyDir": {}})
        if api_access:
            new_volumes.append(_api_access_volume())
        self.record.keep(self.record.spec, self.spec, "initContainers", value=False)
        self.spec["initContainers"] = [*init, *_list(self.spec, "initContainers")]
        self.record.added["initContainers"] = [c["name"] for c in init]
        self.record.keep(self.record.spec, self.spec, "volumes", value=False)
        self.spec["volumes"] = [*_list(self.spec, "volumes"), *new_volumes]
        self.record.added["volumes"] = [v["name"] for v in new_volumes]
        if self.options.rbac:
            self.name_service_account()
        self.annotate()
        return True

    def rewire_mount(self, mount: Mapping[str, Any]) -> dict[str, Any]:
        """A mount of a served volume, as a mount of the agent's view at the same path (its part of it)."""
        rewired: dict[str, Any] = {"name": FILES_VOLUME, "mountPath": mount.get("mountPath")}
        sub_path, expression = mount.get("subPath"), mount.get("subPathExpr")
        if isinstance(expression, str) and expression:
            rewired["subPathExpr"] = f"{mount['name']}/{expression}"
        else:
            rewired["subPath"] = (
                f"{mount['name']}/{sub_path}" if isinstance(sub_path, str) and sub_path else mount["name"]
            )
        rewired["readOnly"] = True
        rewired["mountPropagation"] = "HostToContainer"
        return rewired

    def wrap_command(self, container: dict[str, Any], at: FieldPath) -> None:
        name = str(container.get("name"))
        command = container.get("command")
        if not isinstance(command, list) or not command:
            raise self.usage(
                f"--env {name}: the container has no command to wrap (give it its image's entrypoint as "
                "command: injector does not look images up)",
                at / "command",
            )
        self.check_expansions(container, at)
        for field in ("command", "env", "envFrom", "volumeMounts"):
            self.record.container(container, field)
        container["command"] = [RUNTIME_COMMAND, "run", "--self", "--container", name, "--", *command]
        env = [e for e in _list(container, "env") if not _secret_env(e)]
        for var, field_path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
            existing = [e for e in env if isinstance(e, dict) and e.get("name") == var]
            wanted = {"name": var, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}
            if not existing:
                env.append(wanted)
            elif not all(_field_ref(e) == field_path for e in existing):
                raise self.usage(
                    f"--env {name}: {var} is injector's (the downward API's {field_path}); the container sets "
                    "it otherwise",
                    at / "env",
                )
        container["env"] = env
        if "envFrom" in container:
            container["envFrom"] = [e for e in _list(container, "envFrom") if not _secret_env_from(e)]
        mounts = _list(container, "volumeMounts")
        mounts.append({"name": RUNTIME_VOLUME, "mountPath": RUNTIME_DIR, "readOnly": True})
        if self.spec.get("automountServiceAccountToken") is False:
            mounts.append({"name": API_ACCESS_VOLUME, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
        container["volumeMounts"] = mounts

    def check_expansions(self, container: Mapping[str, Any], at: FieldPath) -> None:
        """The kubelet expands ``$(VAR)`` in command and args with the env it knows; once the Secret env is
        injector's, such a reference would reach the program as written."""
        used: list[str] = []

        def record(name: bytes) -> bytes | None:
            used.append(name.decode("utf-8", "replace"))
            return None

        for text in [*_list(container, "command"), *_list(container, "args")]:
            if isinstance(text, str):
                expand(text.encode("utf-8"), record)
        env = [e for e in _list(container, "env") if isinstance(e, dict)]
        secret = {e.get("name") for e in env if _secret_env(e)}
        kept = {e.get("name") for e in env if not _secret_env(e)}
        name = container.get("name")
        for var in used:
            if var in secret and var not in kept:
                raise self.usage(
                    f"--env {name}: $({var}) in command or args is a Secret value the kubelet would expand; injector "
                    "run passes the command as written: read the variable in the program (or sh -c '... \"$VAR\"')",
                    at,
                )
        from_secrets = any(_secret_env_from(e) for e in _list(container, "envFrom"))
        unknown = sorted({var for var in used if var not in kept and var not in secret})
        if from_secrets and unknown:
            self.warn(
                f"--env {name}: $({unknown[0]}) in command or args may come from a Secret's envFrom, which the "
                "kubelet no longer expands: the program would get it as written",
                at,
            )

    def install_container(self) -> dict[str, Any]:
        return {
            "name": INSTALL,
            "image": self.options.image,
            "command": ["cp", "-a", f"{RUNTIME_DIR}/.", "/runtime/"],
            "resources": copy.deepcopy(dict(INSTALL_RESOURCES)),
            "volumeMounts": [{"name": RUNTIME_VOLUME, "mountPath": "/runtime"}],
        }

    def agent_container(self, port: int, mode: FuseMode, api_access: bool, *, key_symlinks: bool) -> dict[str, Any]:
        view = ["agent", "--self", "--container", AGENT]
        serve = ["--listen", f":{port}", "--uid", "0", "--gid", "0", *(["--key-symlinks"] if key_symlinks else [])]
        env = [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ]
        if mode == "csi":
            # The CSI driver opens /dev/fuse, mounts it on the pod's injector-files volume (with allow_other
            # and default_permissions) and hands the descriptor over the socket it made in injector-fd: no
            # privilege here, no propagation to set. It owns that socket as nobody (65534), so only nobody
            # may connect. The files stay root's (--uid 0 --gid 0), as the kubelet writes them.
            args = [*view, "--mount", f"fd-socket:{FD_DIR}/{FD_SOCKET}", *serve]
            security: dict[str, Any] = {
                "runAsUser": NOBODY,
                "runAsGroup": NOBODY,
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
            }
            mounts: list[dict[str, Any]] = [{"name": FD_VOLUME, "mountPath": FD_DIR}]
        else:
            args = [*view, "--mount", FILES_DIR, "--allow-other", *serve]
            # Mounting FUSE needs CAP_SYS_ADMIN and /dev/fuse; root mounts directly (no setuid helper).
            security = {"privileged": True, "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False}
            mounts = [{"name": FILES_VOLUME, "mountPath": FILES_DIR, "mountPropagation": "Bidirectional"}]
        if api_access:
            mounts.append({"name": API_ACCESS_VOLUME, "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True})
        return {
            "name": AGENT,
            "image": self.options.image,
            "args": args,
            "env": env,
            "resources": copy.deepcopy(dict(AGENT_RESOURCES)),
            "restartPolicy": "Always",
            "securityContext": security,
            "startupProbe": {"httpGet": {"path": "/readyz", "port": port}, "periodSeconds": 1, "failureThreshold": 120},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 10},
            "volumeMounts": mounts,
        }

    def name_service_account(self) -> None:
        current = self.spec.get("serviceAccountName") or self.spec.get("serviceAccount")
        if current and current != "default":
            return
        self.record.keep(self.record.spec, self.spec, "serviceAccountName")
        self.spec["serviceAccountName"] = _workload_name(self.body)

    def annotate(self) -> None:
        template = self.template
        if not isinstance(template.get("metadata"), dict):
            self.record.keep(self.record.template, template, "metadata", value=False)
            template["metadata"] = {}
        metadata = template["metadata"]
        self.record.keep(self.record.template, metadata, "annotations", value=False)
        if not isinstance(metadata.get("annotations"), dict):
            metadata["annotations"] = {}
        metadata["annotations"][INJECTED] = self.record.to_json()
        total = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in metadata["annotations"].items())
        if total > names.TOTAL_ANNOTATION_SIZE:
            raise self.usage(
                f"the record of what inject changed does not fit in the pod's annotations "
                f"({names.TOTAL_ANNOTATION_SIZE} bytes)",
                self.template_at / "metadata" / "annotations",
            )


def _mounts(mount: object, volumes: Mapping[str, Any]) -> bool:
    return isinstance(mount, dict) and mount.get("name") in volumes


def _secret_env(entry: object) -> bool:
    value_from = entry.get("valueFrom") if isinstance(entry, dict) else None
    return isinstance(value_from, dict) and value_from.get("secretKeyRef") is not None


def _secret_env_from(entry: object) -> bool:
    return isinstance(entry, dict) and entry.get("secretRef") is not None


def _field_ref(entry: Mapping[str, Any]) -> object:
    value_from = entry.get("valueFrom")
    ref = value_from.get("fieldRef") if isinstance(value_from, dict) else None
    return ref.get("fieldPath") if isinstance(ref, dict) else None


def _api_access_volume() -> dict[str, Any]:
    """What the ServiceAccount admission plugin projects when the token is automounted (kube-api-access-*):
    given to injector's containers alone when the pod turns automounting off."""
    namespace_item = {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
    sources = [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [namespace_item]}},
    ]
    return {"name": API_ACCESS_VOLUME, "projected": {"defaultMode": 0o644, "sources": sources}}


def _workload_name(body: Mapping[str, Any]) -> str:
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if isinstance(name, str) and name:
        return name
    generate = metadata.get("generateName") if isinstance(metadata, dict) else None
    return str(generate).rstrip("-") if isinstance(generate, str) and generate.rstrip("-") else "injector"


def _namespace(body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) and namespace else None


# -- RBAC ------------------------------------------------------------------------------------------


def _rbac(
    body: Mapping[str, Any], original: Mapping[str, Any], record: Mapping[str, Any]
) -> tuple[dict[str, Any], ...]:
    """The ServiceAccount, Role and RoleBinding the agent and ``run --self`` need: ``get`` on the pod (by name
    for a Pod; a workload's pods are named when they are made), ``get`` and ``watch`` on each Secret and
    ConfigMap they read, by name. ``body``: the injected document; ``original``: its pod template before."""
    template, _ = _template(dict(body))
    spec = template.get("spec") if template is not None else None
    spec = spec if isinstance(spec, dict) else {}
    account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    namespace = _namespace(body)
    served = copy.deepcopy(dict(original))
    _serve_view(served, record["served"])
    pod_body = {"apiVersion": "v1", "kind": "Pod", "metadata": served.get("metadata") or {}, "spec": served.get("spec")}
    pod, _ = parse_pod(Document("", pod_body), namespace or "default")
    readers = [c for c in pod.containers if c.name == AGENT or c.name in record["env"]]
    keys = {key for container in readers for key in referenced_objects(pod, container)}
    metadata: dict[str, Any] = {"name": f"injector-{_workload_name(body)}"}
    account_meta: dict[str, Any] = {"name": account}
    subject: dict[str, Any] = {"kind": "ServiceAccount", "name": account}
    if namespace:
        metadata["namespace"] = account_meta["namespace"] = subject["namespace"] = namespace
    pods_rule: dict[str, Any] = {"apiGroups": [""], "resources": ["pods"]}
    if body.get("kind") == "Pod" and isinstance(body.get("metadata"), dict) and body["metadata"].get("name"):
        pods_rule["resourceNames"] = [body["metadata"]["name"]]
    pods_rule["verbs"] = ["get"]
    rules = [pods_rule]
    for kind in (SECRET, CONFIG_MAP):
        objects = sorted({key.name for key in keys if key.kind == kind.kind})
        if objects:
            rules.append(
                {"apiGroups": [""], "resources": [kind.resource], "resourceNames": objects, "verbs": ["get", "watch"]}
            )
    return (
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account_meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": dict(metadata), "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(metadata),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": metadata["name"]},
            "subjects": [subject],
        },
    )


# -- the whole -------------------------------------------------------------------------------------


def inject_document(document: Document, options: InjectOptions) -> Injection:
    """``document`` (a valid Pod or workload) as inject writes it. A document inject wrote is injected again
    from its original, so that inject of its own output changes nothing; one that now opts out (or has
    nothing left to inject) gets its original back."""
    where = _Where(document.origin, object_ref(document.body, "default"))
    original = restore(document)
    body = copy.deepcopy(original)
    template, at = _template(body)
    if template is None or str(_annotations(template).get(INJECT, "")).lower() == "false":
        return Injection(original, original != document.body, (), ())
    injector = _Injector(body, template, at, options, where)
    if not injector.run():
        return Injection(original, original != document.body, (), tuple(injector.warnings))
    record = json.loads(_annotations(template)[INJECTED])
    original_template, _ = _template(original)
    rbac = _rbac(body, original_template or {}, record) if options.rbac else ()
    return Injection(body, body != document.body, rbac, tuple(injector.warnings))
