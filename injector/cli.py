"""The ``injector`` command line: its parser, and the one place errors become messages and exit codes.

Everything else is elsewhere: settings are made from the parsed arguments in ``settings``; the
commands are ``commands`` (run, render, check), ``serve`` (mount) and ``agent``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from injector import __version__
from injector.core.envfile import FORMATS as ENV_FORMATS
from injector.core.versions import CURRENT
from injector.errors import CombinedError, InjectorError, Setting, UsageError

if TYPE_CHECKING:
    from injector.settings import Settings
    from injector.shell.report import Reporter

PROG = "injector"

FLAGS = {
    "container": "--container",
    "pod_name": "--pod-name",
    "age_identity": "--age-identity (or INJECTOR_AGE_IDENTITY)",
    "wait_timeout": "--wait-timeout",
    "failover_after": "--failover-after",
    "listen": "--listen",
    "own_pod": "--self",
    "output": "--output",
    "namespace": "--namespace",
    "mount": "--mount",
    "volume": "--volume",
    "kubelet_version": "--kubelet-version",
    "image": "--image",
    "watch": "--watch",
    "on_change": "--on-change",
    "stop_signal": "--stop-signal",
    "grace": "--grace",
    "splay": "--splay",
}
"""How the command line spells each setting a message may point at."""


def spell(setting: Setting) -> str:
    return FLAGS.get(setting.name, setting.name)


EXIT_CODES = {
    0: "success",
    1: "check found errors",
    2: "usage: the command line or the environment is wrong (unknown container, no FUSE...)",
    3: "a manifest is malformed or fails Kubernetes validation",
    4: "a reference does not resolve (the kubelet's CreateContainerConfigError)",
    5: "a source cannot be read, decrypted or reached",
    6: "the result cannot be written in the format asked",
    7: "secret: a conflict: the Secret exists already, or changed since it was read (nothing overwritten)",
    8: "secret delete: not confirmed",
    70: "internal error (a bug in injector)",
    126: "the command cannot be executed",
    127: "the command is not found",
}
COMMAND_EXIT_CODES = {
    "run": (2, 3, 4, 5, 6, 70, 126, 127),
    "render": (0, 2, 3, 4, 5, 6, 70),
    "mount": (0, 2, 3, 4, 5, 6, 70),
    "agent": (0, 2, 3, 4, 5, 6, 70),
    "check": (0, 1, 2, 70),
    "secret": (0, 1, 2, 3, 5, 6, 7, 8, 70, 126, 127),
    "inject": (0, 2, 3, 5, 70),
    "webhook": (0, 2, 5, 70),
}


def _epilog(command: str) -> str:
    lines = [f"  {code:<4} {EXIT_CODES[code]}" for code in COMMAND_EXIT_CODES[command]]
    if command == "secret":
        lines[1] = "  1    edit: the editor exited with a failure (nothing was changed)"
    if command == "run":
        lines.insert(0, "  the command's own status (128+N when signal N ended it), or:")
    return "exit codes:\n" + "\n".join(lines)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and the compression modules it
    brings in): argparse makes a formatter for every option it adds, so every start would pay for them."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default, and keeps the exit-code lists as written."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        # argparse's own default: the terminal's width less 2
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.option_strings
            and "%(default)" not in text
            and action.default not in (None, False, [], "==SUPPRESS==")
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's parser: an unknown option is reported with the usage of the subcommand it
    was given to (not the top-level one), and help shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _pod_source(parser: argparse.ArgumentParser, pod_help: str) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pod", metavar="FILE", help=pod_help)
    source.add_argument(
        "--self",
        dest="own_pod",
        action="store_true",
        help="read this process's own Pod from the API (POD_NAME, POD_NAMESPACE; implies --kube)",
    )


def _common(parser: argparse.ArgumentParser, *, pod_option: bool = True) -> None:
    if pod_option:
        parser.add_argument(
            "--pod", required=True, metavar="FILE", help="Pod or workload manifest (YAML/JSON; - for stdin)"
        )
    parser.add_argument("--pod-name", metavar="NAME", help="which Pod/workload when the file holds several")
    parser.add_argument(
        "--container",
        "-c",
        metavar="NAME",
        help="container (init and ephemeral ones too); optional when the pod has one (check: default the whole pod)",
    )
    parser.add_argument(
        "--secrets",
        "-s",
        action="append",
        default=[],
        metavar="PATH",
        help="Secret/ConfigMap manifest file or directory (repeatable); *.age files are decrypted in memory",
    )
    parser.add_argument("--namespace", "-n", metavar="NS", help="namespace when the pod manifest names none")
    parser.add_argument(
        "--age-identity",
        action="append",
        default=[],
        metavar="FILE",
        help="age identity file for *.age manifests (repeatable; default $INJECTOR_AGE_IDENTITY)",
    )
    _kube_options(
        parser,
        kube="also fetch referenced Secrets/ConfigMaps from the Kubernetes API (by name)",
        kubeconfig="kubeconfig for --kube (default: in-cluster, $KUBECONFIG, ~/.kube/config)",
        context="kubeconfig context for --kube; repeat it for several clusters: check compares them, mount, agent "
        "and run serve from the first that answers (failover)",
    )
    parser.add_argument(
        "--kubelet-version",
        default=str(CURRENT),
        metavar="1.MINOR",
        help="follow this Kubernetes release where its rules differ (envFrom keys, env names, $ expansion)",
    )


def _kube_options(parser: argparse.ArgumentParser, *, kube: str, kubeconfig: str, context: str) -> None:
    """``--kube``, ``--kubeconfig`` and the repeatable ``--context``, with what they mean to this command."""
    parser.add_argument("--kube", action="store_true", help=kube)
    parser.add_argument("--kubeconfig", metavar="FILE", help=kubeconfig)
    parser.add_argument("--context", action="append", metavar="NAME", help=context)


_DESCRIPTOR_MOUNT = (
    "/dev/fd/N, a /dev/fuse descriptor already mounted (fd=N) by a privileged component, served with no "
    "privilege; or fd-socket:PATH, that descriptor received from a FUSE CSI driver on the unix socket PATH"
)


def _mount_options(parser: argparse.ArgumentParser, *, for_run: bool, watch: bool = True) -> None:
    if for_run:
        parser.add_argument("--mount", metavar="DIR", help="also serve the files as a FUSE mount at DIR while CMD runs")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--volume", metavar="NAME", help="the mount's root is this one volume, as at its mountPath")
    view.add_argument(
        "--mount-path",
        metavar="PATH",
        help="the mount's root is what the container sees at this mountPath (a volume, or its subPath's part)",
    )
    if watch:
        parser.add_argument("--watch", action="store_true", help="follow changes to the manifests (inotify)")
    parser.add_argument(
        "--env-format",
        default="dotenv",
        choices=ENV_FORMATS,
        help="format of the .env file in the mount",
    )
    parser.add_argument("--uid", type=int, metavar="UID", help="owner of the files (default: the invoking user)")
    parser.add_argument("--gid", type=int, metavar="GID", help="group of the files (default: the invoking group)")
    parser.add_argument(
        "--allow-other",
        action="store_true",
        help="let other users in (the kernel then checks modes); default: only you and root",
    )
    parser.add_argument(
        "--allowed-uid",
        type=int,
        action="append",
        metavar="UID",
        help="only these uids (and root) may open files (repeatable); denials are audited",
    )
    parser.add_argument("--audit", metavar="FILE|-", help="one JSON line per open (who, what; never content)")
    parser.add_argument(
        "--key-symlinks",
        action="store_true",
        help="each key of a volume a symlink key -> ..data/key, as the kubelet makes it (default: a second name of "
        "..data/key, the same file with no symlink to follow: opens are faster, readlink differs)",
    )
    parser.add_argument(
        "--wait-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --kube --watch: how long to retry an unreachable API server at start; with fd-socket: how long "
        "to wait for the descriptor",
    )
    parser.add_argument(
        "--failover-after",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --kube --watch and several --context: how long the serving cluster may not answer before "
        "the next one serves",
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, that command's options alone (the others are named, with no
    options: parsing a command line needs its own command's, and building them all costs a start-up)."""
    parser = _Parser(
        prog=PROG,
        description="Resolve a Pod's Secret references and hand them to a process, without touching disk.",
        epilog="exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an internal error, show Python's traceback (it may show values: keep it off in production)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, (summary, build) in _SUBCOMMANDS.items():
        command = commands.add_parser(name, help=summary, epilog=_epilog(name))
        if only is None or only == name:
            build(command)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command a command line names (its first word that is not an option), if injector has it."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in _SUBCOMMANDS else None
    return None


def _run_parser(run: argparse.ArgumentParser) -> None:
    _pod_source(run, "pod manifest (YAML/JSON; - for stdin)")
    _common(run, pod_option=False)
    run.add_argument("--clean-env", action="store_true", help="start from an empty environment, not injector's")
    run.add_argument(
        "--mask", action="store_true", help="replace secret values in the child's output with <redacted:NAME>"
    )
    _mount_options(run, for_run=True)
    run.add_argument(
        "--on-change",
        metavar="ACTION",
        help="with --watch, when what the command sees changes: restart, signal:SIG, exec:CMD or none "
        "(default: restart when its env changed; a change to files only updates the mount)",
    )
    run.add_argument(
        "--stop-signal",
        metavar="SIG",
        help="with --watch: the signal that stops the command for a restart (default: TERM)",
    )
    run.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="with --watch: how long a stopped command may take before SIGKILL (default: 30)",
    )
    run.add_argument(
        "--splay",
        type=float,
        metavar="SECONDS",
        help="with --watch: delay each restart by a random part of this, so that replicas do not restart together",
    )
    run.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND ...",
        help="the command (without it: the container's command and args, $(VAR) expanded)",
    )


def _render_parser(render: argparse.ArgumentParser) -> None:
    what = render.add_subparsers(dest="what", required=True, metavar="WHAT")
    env = what.add_parser("env", help="the container's environment as an env-file", epilog=_epilog("render"))
    _common(env)
    env.add_argument("--format", "-f", default="dotenv", choices=ENV_FORMATS, help="for which reader")
    dockerconfig = what.add_parser(
        "dockerconfig", help="imagePullSecrets as a docker config.json", epilog=_epilog("render")
    )
    _common(dockerconfig)
    dockerconfig.add_argument(
        "--image",
        metavar="IMAGE",
        help="only this image's registry host, with the first credential the kubelet tries (default: all merged)",
    )
    files = what.add_parser(
        "files", help="the files of the container's secret/configMap/projected volumes", epilog=_epilog("render")
    )
    _common(files)
    files.add_argument("--format", "-f", default="json", choices=("json",), help="output format")
    files.add_argument("--show-values", action="store_true", help="include file contents (as text or base64)")
    credentials = what.add_parser(
        "credentials",
        help="the pull credentials the kubelet tries for an image, in its order",
        epilog=_epilog("render"),
    )
    _common(credentials)
    credentials.add_argument("--image", required=True, metavar="IMAGE", help="the image, as a container names it")
    credentials.add_argument(
        "--format",
        "-f",
        default="json",
        choices=("json", "text"),
        help="json: registry, username, password; text: registry entries and usernames only",
    )
    for sub in (env, dockerconfig, files, credentials):
        sub.add_argument(
            "--output",
            "-o",
            metavar="PATH",
            help="write to a FIFO or /dev/fd/N instead of stdout (regular files are refused: no plaintext on disk)",
        )


def _mount_parser(mount: argparse.ArgumentParser) -> None:
    _common(mount)
    _mount_options(mount, for_run=False)
    mount.add_argument("mountpoint", metavar="MOUNTPOINT", help=f"an empty directory; or {_DESCRIPTOR_MOUNT}")


def _agent_parser(agent: argparse.ArgumentParser) -> None:
    _pod_source(agent, "pod spec file (e.g. from a mounted ConfigMap)")
    _common(agent, pod_option=False)
    agent.add_argument(
        "--mount", required=True, metavar="DIR", help=f"where to mount: a directory; or {_DESCRIPTOR_MOUNT}"
    )
    agent.add_argument("--listen", metavar="[HOST]:PORT", help="serve /healthz, /readyz and /metrics")
    _mount_options(agent, for_run=False, watch=False)  # the agent always follows its sources


def _inject_parser(inject: argparse.ArgumentParser) -> None:
    inject.add_argument(
        "-f",
        "--filename",
        default="-",
        metavar="FILE",
        help="manifests: YAML or JSON, multi-document or List (- for stdin)",
    )
    _inject_options(inject)
    inject.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="CONTAINER",
        help="also wrap this container's command in `injector run`, which gives it its Secret env (repeatable)",
    )
    inject.add_argument(
        "--rbac", action="store_true", help="also write the ServiceAccount, Role and RoleBinding the agent needs"
    )


def _webhook_parser(webhook: argparse.ArgumentParser) -> None:
    webhook.add_argument("--listen", default=":8443", metavar="[HOST]:PORT", help="where to serve HTTPS")
    webhook.add_argument(
        "--tls-cert", required=True, metavar="FILE", help="certificate (chain), PEM; re-read when it changes"
    )
    webhook.add_argument(
        "--tls-key", required=True, metavar="FILE", help="its private key, PEM; re-read when it changes"
    )
    _inject_options(webhook)


def _check_parser(check: argparse.ArgumentParser) -> None:
    _common(check)


def _secret_parser(secret: argparse.ArgumentParser) -> None:
    """``injector secret create|edit|get|delete``: write Secrets as the consoles' wizards do."""
    actions = secret.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser, *, destination: bool, identity: bool) -> None:
        parser.add_argument(
            "--namespace",
            "-n",
            metavar="NS",
            help="the Secret's namespace (default: the context's with --kube, else default)",
        )
        _kube_options(
            parser,
            kube="in the cluster(s) of --context (by the Kubernetes API)",
            kubeconfig="kubeconfig for --kube (default: $KUBECONFIG, ~/.kube/config)",
            context="kubeconfig context (repeatable: every cluster, dry-run first)",
        )
        if identity:
            parser.add_argument(
                "--age-identity",
                action="append",
                metavar="FILE",
                help="age identity file to decrypt FILE.age (repeatable; default $INJECTOR_AGE_IDENTITY)",
            )
        if destination:
            parser.add_argument(
                "--age-recipient",
                "-r",
                dest="recipients",
                action="append",
                metavar="R",
                help="encrypt to this age recipient (age1... or an SSH public key; repeatable)",
            )
            parser.add_argument(
                "--age-recipients-file",
                "-R",
                dest="recipients_files",
                action="append",
                metavar="FILE",
                help="encrypt to the recipients in FILE (one a line, as age -R)",
            )
            parser.add_argument(
                "--dry-run",
                action="store_true",
                help="show what would change, by key and sha256 fingerprint; write nothing",
            )

    create = actions.add_parser(
        "create", help="a new Secret, from files, stdin or the terminal", epilog=_epilog("secret")
    )
    kinds = create.add_subparsers(dest="kind", required=True, metavar="TYPE")
    helps = {
        "generic": "Opaque (or --type) from files, an env-file, stdin or prompts",
        "tls": "kubernetes.io/tls from a PEM certificate and its key",
        "docker-registry": "kubernetes.io/dockerconfigjson for one registry",
        "basic-auth": "kubernetes.io/basic-auth: username and password",
        "ssh-auth": "kubernetes.io/ssh-auth from an SSH private key",
    }
    for kind, text in helps.items():
        sub = kinds.add_parser(kind, help=text, epilog=_epilog("secret"))
        sub.add_argument("name", metavar="NAME", help="the Secret's name")
        common(sub, destination=True, identity=False)
        sub.add_argument(
            "--output", "-o", metavar="FILE.age", help="write an age-encrypted manifest (needs --age-recipient)"
        )
        sub.add_argument("--label", dest="labels", action="append", metavar="K=V", help="a label (repeatable)")
        sub.add_argument("--annotation", dest="annotations", action="append", metavar="K=V", help="an annotation")
        sub.add_argument("--immutable", action="store_true", help="immutable: true (the API refuses any later change)")
        if kind == "generic":
            sub.add_argument("--type", dest="secret_type", metavar="TYPE", help="a custom type (default Opaque)")
            sub.add_argument(
                "--from-file", dest="from_files", action="append", metavar="[KEY=]PATH", help="a key from a file"
            )
            sub.add_argument(
                "--from-env-file",
                dest="from_env_files",
                action="append",
                metavar="PATH",
                help="KEY=VALUE lines, as kubectl",
            )
            sub.add_argument("--from-stdin", metavar="KEY", help="a key whose value is all of standard input")
            sub.add_argument(
                "--prompt",
                dest="prompt_keys",
                action="append",
                metavar="KEY",
                help="ask for this key's value (no echo)",
            )
        elif kind == "tls":
            sub.add_argument("--cert", metavar="PATH", help="PEM certificate (chain), the leaf first")
            sub.add_argument("--key", metavar="PATH", help="its PEM private key (unencrypted)")
        elif kind == "ssh-auth":
            sub.add_argument("--ssh-key", metavar="PATH", help="SSH private key (OpenSSH or PEM, no passphrase)")
            sub.add_argument("--known-hosts", metavar="PATH", help="also a known_hosts key (for git over SSH)")
        else:
            if kind == "docker-registry":
                sub.add_argument("--server", metavar="HOST", help="the registry (host[:port]), as in image names")
                sub.add_argument("--email", metavar="E", help="an email, for old registries")
                sub.add_argument("--verify", action="store_true", help="log in to the registry's /v2/ first")
            sub.add_argument("--username", metavar="U", help="the user name")
            sub.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
            sub.add_argument("--prompt", dest="prompt_password", action="store_true", help="ask for the password")

    edit = actions.add_parser(
        "edit", help="change a Secret in $EDITOR (in memory) or key by key", epilog=_epilog("secret")
    )
    edit.add_argument("target", metavar="FILE.age|NAME", help="an encrypted manifest, or with --kube the Secret's name")
    common(edit, destination=True, identity=True)
    edit.add_argument(
        "--set", dest="set_keys", action="append", metavar="KEY", help="set KEY (value from stdin or asked)"
    )
    edit.add_argument("--set-file", dest="set_files", action="append", metavar="KEY=PATH", help="set KEY from a file")
    edit.add_argument("--unset", dest="unset_keys", action="append", metavar="KEY", help="remove KEY")

    get = actions.add_parser(
        "get", help="type, keys, sizes and sha256 fingerprints (never values)", epilog=_epilog("secret")
    )
    get.add_argument("target", metavar="FILE.age|NAME", help="an encrypted manifest, or with --kube the Secret's name")
    common(get, destination=False, identity=True)

    delete = actions.add_parser("delete", help="delete a Secret (asks first)", epilog=_epilog("secret"))
    delete.add_argument("name", metavar="NAME", help="the Secret's name")
    common(delete, destination=True, identity=True)
    delete.add_argument("--file", metavar="FILE.age", help="delete it from this encrypted manifest")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask (needed without a terminal)")


def _secret(settings: Settings, reporter: Reporter) -> int:
    from injector.secret import run_secret

    assert settings.secret is not None
    return run_secret(settings.secret, reporter)


def _inject_options(parser: argparse.ArgumentParser) -> None:
    from injector.core.inject import DEFAULT_IMAGE, FUSE_MODES

    parser.add_argument("--image", default=DEFAULT_IMAGE, metavar="IMAGE", help="injector's image, for the sidecar")
    parser.add_argument(
        "--fuse",
        choices=FUSE_MODES,
        help="who mounts FUSE: the agent itself (privileged) or a FUSE CSI driver handing it a descriptor "
        "(csi: no privilege); default: each pod's injector.io/fuse annotation, else privileged",
    )


def _inject(settings: Settings, reporter: Reporter) -> int:
    from injector.injection import run_inject

    assert settings.inject is not None
    return run_inject(settings.inject, reporter)


def _webhook(settings: Settings, reporter: Reporter) -> int:
    from functools import partial

    from injector.shell.loop import run_trio
    from injector.webhook import run_webhook

    assert settings.webhook is not None
    return run_trio(partial(run_webhook, settings.webhook, reporter))


def _run(settings: Settings, reporter: Reporter) -> int:
    from injector.commands import run

    if settings.mount is not None:
        require_fuse()
    return run(settings, reporter)


def _render(settings: Settings, reporter: Reporter) -> int:
    from injector.commands import render

    return render(settings, reporter)


def _check(settings: Settings, reporter: Reporter) -> int:
    from injector.commands import check

    return check(settings, reporter)


def require_fuse() -> None:
    """The commands that mount need pyfuse3 and libfuse3: say so in one line when they are missing."""
    from fuse import unloadable

    reason = unloadable()
    if reason is not None:
        raise UsageError(reason)


def _mount(settings: Settings, reporter: Reporter) -> int:
    from functools import partial

    require_fuse()
    from injector.serve import run_mount
    from injector.shell.loop import run_trio

    assert settings.mount is not None
    return run_trio(partial(run_mount, settings.mount, settings.inputs, reporter))


def _agent(settings: Settings, reporter: Reporter) -> int:
    from functools import partial

    require_fuse()
    from injector.agent import run_agent
    from injector.shell.loop import run_trio

    assert settings.agent is not None and settings.mount is not None
    return run_trio(partial(run_agent, settings.agent, settings.inputs, settings.mount, reporter))


COMMANDS: dict[str, Callable[[Settings, Reporter], int]] = {
    "run": _run,
    "render": _render,
    "check": _check,
    "mount": _mount,
    "agent": _agent,
    "secret": _secret,
    "inject": _inject,
    "webhook": _webhook,
}


_SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": ("run a command with the container's environment", _run_parser),
    "render": ("print the resolved env, docker config, file tree or pull credentials", _render_parser),
    "mount": ("serve the container's secrets as a read-only FUSE mount", _mount_parser),
    "agent": ("sidecar: mount the container's secrets and follow them in the API", _agent_parser),
    "secret": (
        "write Secrets (wizard per type, edit, delete) as age-encrypted manifests or into clusters",
        _secret_parser,
    ),
    "inject": (
        "wire injector into Pods and workloads: manifests in, manifests out (kubectl apply -f -)",
        _inject_parser,
    ),
    "webhook": ("a mutating admission webhook that injects Pods as inject does", _webhook_parser),
    "check": ("list every problem of the pod (or of one container); exit 1 if any is an error", _check_parser),
}
"""Each command, in the order help lists them: its summary, and what adds its parser."""


def main(argv: Sequence[str] | None = None) -> int:
    from injector.settings import from_args
    from injector.shell.report import Reporter

    words = sys.argv[1:] if argv is None else argv
    args = build_parser(command_of(words)).parse_args(words)
    reporter = Reporter(json_lines=args.command in ("agent", "webhook"), spell=spell, prog=PROG)
    try:
        return COMMANDS[args.command](from_args(args), reporter)
    except CombinedError as failed:
        for error in failed.errors:
            reporter.error(error)
        return failed.exit_code
    except InjectorError as exc:
        reporter.error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        if args.debug:
            raise
        # The type only: an exception's text may quote what it was given, a value among them.
        reporter.say(f"internal error: {type(exc).__name__} (a bug in injector: run again with --debug to see where)")
        return INTERNAL_ERROR


INTERNAL_ERROR = 70
"""EX_SOFTWARE: injector itself failed, not the input or the environment."""


def run() -> NoReturn:
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # whoever read our output went away: nothing more to say, and no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = status or 1
    sys.exit(status)
