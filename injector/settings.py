"""Every setting of a command, made once from the parsed command line and the process environment.

This is the only module that reads the environment (``INJECTOR_AGE_IDENTITY``, ``KUBECONFIG``, the
in-cluster ``KUBERNETES_SERVICE_*``, the downward API's ``POD_NAME``/``POD_NAMESPACE``, and the
parent environment ``run`` passes on) and the parsed arguments. What it builds is immutable and
passed down; nothing below reads ``os.environ`` or ``argparse``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import NamedTuple

from injector.core import names
from injector.core.fields import quoted
from injector.core.versions import CURRENT, KubernetesVersion, parse_version
from injector.errors import Setting, UsageError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
MOUNT_ONLY = {
    "--volume": "volume",
    "--mount-path": "mount_path",
    "--uid": "uid",
    "--gid": "gid",
    "--allow-other": "allow_other",
    "--allowed-uid": "allowed_uid",
    "--audit": "audit",
}
"""``run`` options that only mean something with ``--mount``."""
DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeSettings(NamedTuple):
    """Where the Kubernetes API is and how to authenticate to it."""

    kubeconfig: str | None = None
    """``--kubeconfig``; None: in-cluster when running in a Pod, else ``$KUBECONFIG`` or ~/.kube/config."""
    context: str | None = None
    kubeconfig_env: str | None = None
    """The first file of ``$KUBECONFIG``."""
    service_host: str | None = None
    """``$KUBERNETES_SERVICE_HOST``: set by the kubelet in every Pod."""
    service_port: str = "443"
    service_account_dir: str = SERVICE_ACCOUNT_DIR

    @property
    def kubeconfig_file(self) -> str:
        """The kubeconfig file to read when not in a cluster."""
        return os.path.expanduser(self.kubeconfig or self.kubeconfig_env or DEFAULT_KUBECONFIG)


def kube_settings(
    environ: Mapping[str, str],
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
) -> KubeSettings:
    kubeconfig_env = environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    return KubeSettings(
        kubeconfig=kubeconfig,
        context=context,
        kubeconfig_env=kubeconfig_env,
        service_host=environ.get("KUBERNETES_SERVICE_HOST") or None,
        service_port=environ.get("KUBERNETES_SERVICE_PORT") or "443",
        service_account_dir=service_account_dir,
    )


class InputSettings(NamedTuple):
    """What to read: the pod, the sources of Secrets and ConfigMaps, and how to resolve."""

    pod_file: str | None
    """A file, ``-`` for stdin, or None when the pod comes from the API (``agent --self``)."""
    pod_name: str | None = None
    container: str | None = None
    namespace: str | None = None
    secrets: tuple[str, ...] = ()
    age_identities: tuple[str, ...] = ()
    version: KubernetesVersion = CURRENT
    """Whose rules apply where Kubernetes changed them (``--kubelet-version``)."""
    kube: KubeSettings | None = None
    """Also fetch the referenced objects from the Kubernetes API."""
    own_pod: tuple[str, str] | None = None
    """``--self``: (namespace, name) of this process's own Pod, read from the API (downward API names)."""

    @property
    def watched_paths(self) -> tuple[str, ...]:
        """Files and directories whose changes matter to ``--watch``."""
        pod = () if self.pod_file in (None, "-") else (str(self.pod_file),)
        return (*pod, *self.secrets, *self.age_identities)


class MountSettings(NamedTuple):
    mountpoint: str
    volume: str | None = None
    mount_path: str | None = None
    """Serve what the container sees at this mountPath (a volume, or the part its subPath names)."""
    env_format: str = "dotenv"
    watch: bool = False
    uid: int | None = None
    gid: int | None = None
    allow_other: bool = False
    allowed_uids: frozenset[int] | None = None
    audit: str | None = None
    wait_timeout: float = 60.0
    """Seconds to wait for the API server at start (``--kube --watch``): retried with backoff until then."""


class RunSettings(NamedTuple):
    argv: tuple[str, ...]
    clean_env: bool = False
    mask: bool = False
    parent_env: Mapping[bytes, bytes] = {}
    """The environment the command inherits (before the container's is laid over it)."""
    as_init: bool = False
    """injector is PID 1 (a container's init): it must stay, reap orphans and forward signals."""


class RenderSettings(NamedTuple):
    what: str
    """``env``, ``dockerconfig`` or ``files``."""
    format: str = "dotenv"
    show_values: bool = False
    output: str | None = None


class AgentSettings(NamedTuple):
    listen: tuple[str, int] | None = None
    """Where to serve /healthz, /readyz and /metrics: (host, port)."""
    own_pod: tuple[str, str] | None = None
    """``--self``: (namespace, name) of the agent's own Pod, from the downward API."""


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "0.0.0.0", int(port)  # a Pod's probes come from the node: all addresses
    except ValueError:
        raise UsageError((Setting("listen"), f" takes [HOST]:PORT, not {listen!r}")) from None


def _version(text: str) -> KubernetesVersion:
    try:
        return parse_version(text)
    except ValueError as exc:
        raise UsageError((Setting("kubelet_version"), f": {text!r} is not a version injector knows ({exc})")) from None


def _own_pod(environ: Mapping[str, str]) -> tuple[str, str]:
    name, namespace = environ.get("POD_NAME"), environ.get("POD_NAMESPACE")
    if not name or not namespace:
        raise UsageError(
            (Setting("own_pod"), " needs POD_NAME and POD_NAMESPACE in the environment (downward API fieldRefs)")
        )
    return namespace, name


class InjectSettings(NamedTuple):
    """``injector inject``: where the manifests come from and what to wire in."""

    file: str
    """A file, or ``-`` for stdin."""
    image: str
    env_containers: tuple[str, ...] = ()
    rbac: bool = False
    fuse: str | None = None
    """Who mounts FUSE (``privileged`` or ``csi``); None: each pod's annotation, else privileged."""


class WebhookSettings(NamedTuple):
    """``injector webhook``: where to listen, with which certificate, and what to wire in."""

    listen: tuple[str, int]
    tls_cert: str
    tls_key: str
    image: str
    fuse: str | None = None


class Settings(NamedTuple):
    command: str
    inputs: InputSettings
    mount: MountSettings | None = None
    run: RunSettings | None = None
    render: RenderSettings | None = None
    agent: AgentSettings | None = None
    inject: InjectSettings | None = None
    webhook: WebhookSettings | None = None


def from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of the command ``args`` were parsed for; ``environ``: the process environment."""
    environ = os.environ if environ is None else environ
    command = args.command
    if command == "inject":
        inject = InjectSettings(args.filename, args.image, tuple(args.env), args.rbac, args.fuse)
        return Settings(command, InputSettings(pod_file=args.filename), inject=inject)
    if command == "webhook":
        webhook = WebhookSettings(parse_listen(args.listen), args.tls_cert, args.tls_key, args.image, args.fuse)
        return Settings(command, InputSettings(pod_file=None), webhook=webhook)
    agent = command == "agent"
    identities = tuple(args.age_identity) or (
        (environ["INJECTOR_AGE_IDENTITY"],) if environ.get("INJECTOR_AGE_IDENTITY") else ()
    )
    if args.namespace is not None:
        for message in names.dns_label_problems(args.namespace):
            raise UsageError((Setting("namespace"), f": Invalid value: {quoted(args.namespace)}: {message}"))
    kube = None
    own_pod = _own_pod(environ) if getattr(args, "own_pod", False) else None
    if agent or own_pod or args.kube or args.kubeconfig or args.context:  # the agent always follows the API
        kube = kube_settings(environ, kubeconfig=args.kubeconfig, context=args.context)
    inputs = InputSettings(
        pod_file=args.pod,
        pod_name=args.pod_name,
        container=args.container,
        namespace=args.namespace,
        secrets=tuple(args.secrets),
        age_identities=identities,
        version=_version(args.kubelet_version),
        kube=kube,
        own_pod=own_pod,
    )
    mountpoint = {"mount": "mountpoint", "run": "mount", "agent": "mount"}.get(command)
    mount = None
    if mountpoint is not None and getattr(args, mountpoint, None):
        mount = MountSettings(
            mountpoint=os.path.abspath(getattr(args, mountpoint)),
            volume=args.volume,
            mount_path=args.mount_path,
            env_format=args.env_format,
            watch=agent or args.watch,
            uid=args.uid,
            gid=args.gid,
            allow_other=args.allow_other,
            allowed_uids=frozenset(args.allowed_uid) if args.allowed_uid else None,
            audit=args.audit,
            wait_timeout=args.wait_timeout,
        )
    settings = Settings(command, inputs, mount)
    if command == "run" and mount is None:
        given = [flag for flag, value in MOUNT_ONLY.items() if getattr(args, value) not in (None, False)]
        if given:
            raise UsageError((f"{', '.join(given)}: only with ", Setting("mount"), " DIR"))
    if command == "run":
        argv = list(args.argv)
        if argv[:1] == ["--"]:
            argv = argv[1:]
        parent_env = {} if args.clean_env else {os.fsencode(k): os.fsencode(v) for k, v in environ.items()}
        run = RunSettings(tuple(argv), args.clean_env, args.mask, parent_env, as_init=os.getpid() == 1)
        return Settings(command, inputs, mount, run=run)
    if command == "render":
        render = RenderSettings(
            args.what, getattr(args, "format", "dotenv"), getattr(args, "show_values", False), args.output
        )
        return Settings(command, inputs, mount, render=render)
    if agent:
        listen = parse_listen(args.listen) if args.listen else None
        return Settings(command, inputs, mount, agent=AgentSettings(listen, own_pod))
    return settings
