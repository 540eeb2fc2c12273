"""Every setting of a command, made once from the parsed command line and the process environment.

This is the only module that reads the environment (``INJECTOR_AGE_IDENTITY``, ``KUBECONFIG``, the
in-cluster ``KUBERNETES_SERVICE_*``, the downward API's ``POD_NAME``/``POD_NAMESPACE``, and the
parent environment ``run`` passes on) and the parsed arguments. What it builds is immutable and
passed down; nothing below reads ``os.environ`` or ``argparse``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, cast

from injector.core import names
from injector.core.fields import quoted
from injector.core.keyring import InvalidImageError, normalize_image
from injector.core.onchange import OnChange
from injector.core.versions import CURRENT, KubernetesVersion, parse_version
from injector.errors import Setting, UsageError

if TYPE_CHECKING:
    from injector.core.inject import FuseMode

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
MOUNT_ONLY = {
    "--volume": "volume",
    "--mount-path": "mount_path",
    "--uid": "uid",
    "--gid": "gid",
    "--allow-other": "allow_other",
    "--allowed-uid": "allowed_uid",
    "--audit": "audit",
    "--key-symlinks": "key_symlinks",
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


def kube_contexts(
    environ: Mapping[str, str], *, kubeconfig: str | None = None, contexts: tuple[str, ...] = ()
) -> tuple[KubeSettings, ...]:
    """One KubeSettings per ``--context`` (in the order given; the current context when none is)."""
    return tuple(kube_settings(environ, kubeconfig=kubeconfig, context=context) for context in contexts or (None,))


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
    """Also fetch the referenced objects from the Kubernetes API (the first ``--context``)."""
    kube_contexts: tuple[KubeSettings, ...] = ()
    """Every ``--context`` given: ``check`` compares their clusters (the first is ``kube``)."""
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
    key_symlinks: bool = False
    """Each key of a volume a symlink through ``..data`` (the kubelet's), not a second name of its file."""
    wait_timeout: float = 60.0
    """Seconds to wait for the API server at start (``--kube --watch``): retried with backoff until then."""
    failover_after: float = 10.0
    """With several ``--context``: seconds a serving cluster may stay unreachable before the next serves."""


class RunSettings(NamedTuple):
    argv: tuple[str, ...]
    """The command after ``--``; empty: the container's own ``command`` and ``args``."""
    clean_env: bool = False
    mask: bool = False
    parent_env: Mapping[bytes, bytes] = {}
    """The environment the command inherits (before the container's is laid over it)."""
    as_init: bool = False
    """injector is PID 1 (a container's init): it must stay, reap orphans and forward signals."""
    watch: bool = False
    """Follow the sources (files with inotify, the API with watches), with or without a mount."""
    on_change: OnChange = OnChange()
    stop_signal: int = signal.SIGTERM
    """What stops the command for a restart (then SIGKILL after ``grace`` seconds)."""
    grace: float = 30.0
    splay: float = 0.0
    """A restart waits a random part of this many seconds, so that replicas do not restart together."""
    wait_timeout: float = 60.0
    """Seconds to wait for the API server at start (``--kube --watch``)."""
    failover_after: float = 10.0
    """With several ``--context``: seconds a serving cluster may stay unreachable before the next serves."""


class RenderSettings(NamedTuple):
    what: str
    """``env``, ``dockerconfig``, ``files`` or ``credentials``."""
    format: str = "dotenv"
    show_values: bool = False
    output: str | None = None
    image: str | None = None
    """``--image``: the image whose pull credentials are rendered (a valid reference)."""


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


WATCH_ONLY = {"--on-change": "on_change", "--stop-signal": "stop_signal", "--grace": "grace", "--splay": "splay"}
"""``run`` options that only mean something with ``--watch``."""


def parse_signal(text: str, setting: str) -> int:
    """``HUP``, ``SIGHUP`` or ``1``."""
    name = text.strip().upper()
    try:
        if name.isdigit():
            return int(signal.Signals(int(name)))
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except (ValueError, KeyError):
        raise UsageError((Setting(setting), f": {text!r} is not a signal")) from None


def parse_on_change(text: str) -> OnChange:
    """``restart``, ``signal:SIG``, ``exec:CMD`` or ``none``."""
    kind, _, rest = text.partition(":")
    if kind in ("restart", "none") and not rest:
        return OnChange(kind)  # type: ignore[arg-type] # one of the two literals
    if kind == "signal" and rest:
        return OnChange("signal", signal=parse_signal(rest, "on_change"))
    if kind == "exec" and rest.strip():
        return OnChange("exec", command=rest)
    raise UsageError(
        (Setting("on_change"), f" takes restart, signal:SIG, exec:CMD or none, not {text!r}"),
    )


def _version(text: str) -> KubernetesVersion:
    try:
        return parse_version(text)
    except ValueError as exc:
        raise UsageError((Setting("kubelet_version"), f": {text!r} is not a version injector knows ({exc})")) from None


FD_SOCKET = "fd-socket:"
"""``--mount fd-socket:PATH``: the /dev/fuse descriptor comes over the unix socket at PATH."""


def _on_descriptor(given: str) -> bool:
    """A mountpoint that names a mounted /dev/fuse descriptor: ``/dev/fd/N`` (libfuse's form) or
    ``fd-socket:PATH``."""
    return given.startswith(FD_SOCKET) or re.fullmatch(r"/dev/fd/[0-9]+", given) is not None


def _mountpoint(given: str) -> str:
    """A directory or socket made absolute; ``/dev/fd/N`` as it is."""
    if given.startswith(FD_SOCKET):
        if given == FD_SOCKET:
            raise UsageError(f"{given}: the unix socket's path is missing (fd-socket:PATH)")
        return FD_SOCKET + os.path.abspath(given[len(FD_SOCKET) :])
    return given if _on_descriptor(given) else os.path.abspath(given)


def _fuse_mode(given: str | None) -> FuseMode | None:
    """``--fuse``: one of the modes its ``choices`` allow, or not given."""
    return cast("FuseMode | None", given)


def _seconds(value: float, name: str, *, zero: bool = True) -> float:
    """A duration flag: finite, positive (or zero where ``zero`` allows it)."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "more than 0"
        raise UsageError((Setting(name), f": must be a number of seconds, {least}"))
    return value


def _image(image: str | None) -> str | None:
    """``--image``, refused at once when the kubelet could not parse it."""
    if image is not None:
        try:
            normalize_image(image)
        except InvalidImageError as exc:
            raise UsageError((Setting("image"), f": {exc}")) from None
    return image


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
    fuse: FuseMode | None = None
    """Who mounts FUSE (``privileged`` or ``csi``); None: each pod's annotation, else privileged."""


class WebhookSettings(NamedTuple):
    """``injector webhook``: where to listen, with which certificate, and what to wire in."""

    listen: tuple[str, int]
    tls_cert: str
    tls_key: str
    image: str
    fuse: FuseMode | None = None


class Settings(NamedTuple):
    command: str
    inputs: InputSettings
    mount: MountSettings | None = None
    run: RunSettings | None = None
    render: RenderSettings | None = None
    agent: AgentSettings | None = None
    secret: SecretSettings | None = None
    inject: InjectSettings | None = None
    webhook: WebhookSettings | None = None


class SecretSettings(NamedTuple):
    """``injector secret ACTION``: what to write, from where, to where. Values are never settings:
    they are read from files, stdin or the terminal by the command."""

    action: str
    """``create``, ``edit``, ``get`` or ``delete``."""
    name: str | None = None
    """The Secret's name (create, delete, and edit/get with ``--kube``)."""
    kind: str | None = None
    """create: ``generic``, ``tls``, ``docker-registry``, ``basic-auth`` or ``ssh-auth``."""
    namespace: str | None = None
    """``-n``; None: the context's namespace with ``--kube``, else default."""
    file: str | None = None
    """edit/get: the age-encrypted manifest; delete: ``--file``."""
    secret_type: str | None = None
    from_files: tuple[str, ...] = ()
    from_env_files: tuple[str, ...] = ()
    from_stdin: str | None = None
    prompt_keys: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    immutable: bool = False
    cert: str | None = None
    key: str | None = None
    server: str | None = None
    username: str | None = None
    email: str | None = None
    password_stdin: bool = False
    prompt_password: bool = False
    verify: bool = False
    ssh_key: str | None = None
    known_hosts: str | None = None
    set_keys: tuple[str, ...] = ()
    set_files: tuple[str, ...] = ()
    unset_keys: tuple[str, ...] = ()
    output: str | None = None
    recipients: tuple[str, ...] = ()
    recipients_files: tuple[str, ...] = ()
    age_identities: tuple[str, ...] = ()
    kube: tuple[KubeSettings, ...] = ()
    """``--kube``: one per ``--context``; empty: files or stdout."""
    yes: bool = False
    dry_run: bool = False
    editor: tuple[str, ...] = ("vi",)
    """``$INJECTOR_EDITOR``, else ``$EDITOR``, else vi, split as a shell would."""


def editor_command(environ: Mapping[str, str]) -> tuple[str, ...]:
    import shlex

    text = environ.get("INJECTOR_EDITOR") or environ.get("EDITOR") or "vi"
    try:
        words = tuple(shlex.split(text))
    except ValueError:
        raise UsageError(f"EDITOR cannot be split into words: {text!r}") from None
    return words or ("vi",)


def secret_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> SecretSettings:
    """The settings of ``injector secret ACTION``."""
    action = args.action
    namespace = args.namespace
    if namespace is not None:
        for message in names.dns_label_problems(namespace):
            raise UsageError((Setting("namespace"), f": Invalid value: {quoted(namespace)}: {message}"))
    identities = tuple(getattr(args, "age_identity", None) or ()) or (
        (environ["INJECTOR_AGE_IDENTITY"],) if environ.get("INJECTOR_AGE_IDENTITY") else ()
    )
    contexts = tuple(getattr(args, "context", None) or ())
    kubeconfig = getattr(args, "kubeconfig", None)
    kube = getattr(args, "kube", False)
    if (contexts or kubeconfig) and not kube:
        raise UsageError("--context and --kubeconfig only with --kube")
    target = getattr(args, "target", None)
    name, file = args.name if "name" in args else None, getattr(args, "file", None)
    if action in ("edit", "get"):
        name, file = (target, None) if kube else (None, target)
    if action == "delete" and not kube and file is None:
        raise UsageError("delete needs --kube (a cluster) or --file FILE.age (an encrypted manifest)")
    if action == "delete" and kube and file is not None:
        raise UsageError("delete takes --kube or --file, not both")
    output = getattr(args, "output", None)
    if kube and output is not None:
        raise UsageError("--output and --kube are two destinations: choose one")
    values = {key: getattr(args, key) for key in SecretSettings._fields if key in args and key not in ("name", "file")}
    values.update(
        action=action,
        name=name,
        file=file,
        namespace=namespace,
        age_identities=identities,
        kube=kube_contexts(environ, kubeconfig=kubeconfig, contexts=contexts) if kube else (),
        editor=editor_command(environ),
    )
    for key in (
        "from_files",
        "from_env_files",
        "prompt_keys",
        "labels",
        "annotations",
        "recipients",
        "recipients_files",
        "set_keys",
        "set_files",
        "unset_keys",
    ):
        values[key] = tuple(values.get(key) or ())
    return SecretSettings(**values)


def from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of the command ``args`` were parsed for; ``environ``: the process environment."""
    environ = os.environ if environ is None else environ
    command = args.command
    if command == "secret":
        return Settings(command, InputSettings(pod_file=None), secret=secret_settings(args, environ))
    if command == "inject":
        inject = InjectSettings(args.filename, args.image, tuple(args.env), args.rbac, _fuse_mode(args.fuse))
        return Settings(command, InputSettings(pod_file=args.filename), inject=inject)
    if command == "webhook":
        webhook = WebhookSettings(
            parse_listen(args.listen), args.tls_cert, args.tls_key, args.image, _fuse_mode(args.fuse)
        )
        return Settings(command, InputSettings(pod_file=None), webhook=webhook)
    agent = command == "agent"
    identities = tuple(args.age_identity) or (
        (environ["INJECTOR_AGE_IDENTITY"],) if environ.get("INJECTOR_AGE_IDENTITY") else ()
    )
    if args.namespace is not None:
        for message in names.dns_label_problems(args.namespace):
            raise UsageError((Setting("namespace"), f": Invalid value: {quoted(args.namespace)}: {message}"))
    kube = None
    contexts: tuple[KubeSettings, ...] = ()
    own_pod = _own_pod(environ) if getattr(args, "own_pod", False) else None
    if agent or own_pod or args.kube or args.kubeconfig or args.context:  # the agent always follows the API
        contexts = kube_contexts(environ, kubeconfig=args.kubeconfig, contexts=tuple(args.context or ()))
        kube = contexts[0]
    inputs = InputSettings(
        pod_file=args.pod,
        pod_name=args.pod_name,
        container=args.container,
        namespace=args.namespace,
        secrets=tuple(args.secrets),
        age_identities=identities,
        version=_version(args.kubelet_version),
        kube=kube,
        kube_contexts=contexts,
        own_pod=own_pod,
    )
    mountpoint = {"mount": "mountpoint", "run": "mount", "agent": "mount"}.get(command)
    mount = None
    if mountpoint is not None and getattr(args, mountpoint, None):
        given = getattr(args, mountpoint)
        on_descriptor = _on_descriptor(given)
        if command == "run" and on_descriptor:
            raise UsageError(
                f"--mount {args.mount}: run needs a directory, where CMD reads the files "
                "(a descriptor mount is for `injector mount` and `injector agent`)"
            )
        if args.allow_other and on_descriptor:
            raise UsageError(
                f"--allow-other: {given} is mounted already, with its maker's options "
                "(allow_other belongs in that mount's options)"
            )
        mount = MountSettings(
            mountpoint=_mountpoint(given),
            volume=args.volume,
            mount_path=args.mount_path,
            env_format=args.env_format,
            watch=agent or args.watch,
            uid=args.uid,
            gid=args.gid,
            allow_other=args.allow_other,
            allowed_uids=frozenset(args.allowed_uid) if args.allowed_uid else None,
            audit=args.audit,
            key_symlinks=args.key_symlinks,
            wait_timeout=_seconds(args.wait_timeout, "wait_timeout"),
            failover_after=_seconds(args.failover_after, "failover_after", zero=False),
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
        if not args.watch:
            given = [flag for flag, value in WATCH_ONLY.items() if getattr(args, value) is not None]
            if given:
                raise UsageError((f"{', '.join(given)}: only with ", Setting("watch")))
        parent_env = {} if args.clean_env else {os.fsencode(k): os.fsencode(v) for k, v in environ.items()}
        run = RunSettings(
            tuple(argv),
            args.clean_env,
            args.mask,
            parent_env,
            as_init=os.getpid() == 1,
            watch=args.watch,
            on_change=parse_on_change(args.on_change) if args.on_change is not None else OnChange(),
            stop_signal=parse_signal(args.stop_signal, "stop_signal") if args.stop_signal else signal.SIGTERM,
            grace=_seconds(args.grace, "grace") if args.grace is not None else 30.0,
            splay=_seconds(args.splay, "splay") if args.splay is not None else 0.0,
            wait_timeout=_seconds(args.wait_timeout, "wait_timeout"),
            failover_after=_seconds(args.failover_after, "failover_after", zero=False),
        )
        return Settings(command, inputs, mount, run=run)
    if command == "render":
        render = RenderSettings(
            args.what,
            getattr(args, "format", "dotenv"),
            getattr(args, "show_values", False),
            args.output,
            _image(getattr(args, "image", None)),
        )
        return Settings(command, inputs, mount, render=render)
    if agent:
        listen = parse_listen(args.listen) if args.listen else None
        return Settings(command, inputs, mount, agent=AgentSettings(listen, own_pod))
    return settings
