"""The ``injector`` command line: the one place that turns errors into messages and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, NoReturn

from injector import __version__
from injector.errors import InjectorError, InjectorWarning, OutputError, UsageError

if TYPE_CHECKING:
    from injector.kube import KubeSettings
    from injector.load import Request
    from injector.resolve import Resolution
    from injector.serve import MountSettings

PROG = "injector"


def _common(parser: argparse.ArgumentParser, *, pod_option: bool = True) -> None:
    if pod_option:
        parser.add_argument(
            "--pod", required=True, metavar="FILE", help="Pod or workload manifest (YAML/JSON; - for stdin)"
        )
    parser.add_argument("--pod-name", metavar="NAME", help="which Pod/workload when the file holds several")
    parser.add_argument("--container", "-c", metavar="NAME", help="container (init containers too); optional with one")
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
    parser.add_argument(
        "--kube", action="store_true", help="also fetch referenced Secrets/ConfigMaps from the Kubernetes API (by name)"
    )
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="kubeconfig for --kube (default: in-cluster, $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context for --kube")
    parser.add_argument(
        "--keep-invalid-env-keys",
        action="store_true",
        help="pass envFrom keys that are not valid env names (kubelet 1.30+) instead of skipping them (<= 1.29)",
    )


def _mount_options(parser: argparse.ArgumentParser, *, for_run: bool) -> None:
    if for_run:
        parser.add_argument("--mount", metavar="DIR", help="also serve the files as a FUSE mount at DIR while CMD runs")
    parser.add_argument("--volume", metavar="NAME", help="the mount's root is this one volume, as at its mountPath")
    parser.add_argument("--watch", action="store_true", help="follow changes to the manifests (inotify)")
    parser.add_argument(
        "--env-format",
        default="dotenv",
        choices=("docker", "dotenv", "shell", "json"),
        help="format of the .env file in the mount (default dotenv)",
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
        "--wait-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --kube --watch: how long to retry an unreachable API server at start",
    )


def _mount_settings(args: argparse.Namespace, mountpoint: str) -> MountSettings:
    from injector.serve import MountSettings

    return MountSettings(
        mountpoint=os.path.abspath(mountpoint),
        volume=args.volume,
        env_format=args.env_format,
        watch=args.watch,
        uid=args.uid,
        gid=args.gid,
        allow_other=args.allow_other,
        allowed_uids=frozenset(args.allowed_uid) if args.allowed_uid else None,
        audit=args.audit,
        wait_timeout=args.wait_timeout,
    )


def run_trio(main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main`` under trio; an injector error raised inside nurseries leaves as itself, not as a group."""
    import trio

    try:
        result: int = trio.run(main)
        return result
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        first = next((leaf for leaf in leaves if isinstance(leaf, InjectorError)), None)
        if first is not None:
            raise first from None
        if leaves and all(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            raise KeyboardInterrupt from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def cmd_mount(args: argparse.Namespace) -> int:
    from injector.serve import mount_and_serve

    return run_trio(partial(mount_and_serve, _request(args), _mount_settings(args, args.mountpoint)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Resolve a Pod's Secret references and hand them to a process, without touching disk."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a command with the container's environment")
    _common(run)
    run.add_argument("--clean-env", action="store_true", help="start from an empty environment, not injector's")
    run.add_argument(
        "--mask", action="store_true", help="replace secret values in the child's output with <redacted:NAME>"
    )
    _mount_options(run, for_run=True)
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")

    render = commands.add_parser("render", help="print the resolved env, docker config or file tree")
    what = render.add_subparsers(dest="what", required=True, metavar="WHAT")
    env = what.add_parser("env", help="the container's environment as an env-file")
    _common(env)
    env.add_argument("--format", "-f", default="dotenv", choices=("docker", "dotenv", "shell", "json"))
    dockerconfig = what.add_parser("dockerconfig", help="imagePullSecrets as a docker config.json")
    _common(dockerconfig)
    files = what.add_parser("files", help="the files of the container's secret/configMap/projected volumes")
    _common(files)
    files.add_argument("--format", "-f", default="json", choices=("json",))
    files.add_argument("--show-values", action="store_true", help="include file contents (as text or base64)")
    for sub in (env, dockerconfig, files):
        sub.add_argument(
            "--output",
            "-o",
            metavar="PATH",
            help="write to a FIFO or /dev/fd/N instead of stdout (regular files are refused: no plaintext on disk)",
        )

    mount = commands.add_parser("mount", help="serve the container's secrets as a read-only FUSE mount")
    _common(mount)
    _mount_options(mount, for_run=False)
    mount.add_argument("mountpoint", metavar="MOUNTPOINT", help="an empty directory")

    agent = commands.add_parser("agent", help="sidecar: mount the container's secrets and follow them in the API")
    source = agent.add_mutually_exclusive_group(required=True)
    source.add_argument("--pod", metavar="FILE", help="pod spec file (e.g. from a mounted ConfigMap)")
    source.add_argument(
        "--self",
        dest="own_pod",
        action="store_true",
        help="read this agent's own Pod from the API (POD_NAME, POD_NAMESPACE)",
    )
    _common(agent, pod_option=False)
    agent.add_argument("--mount", required=True, metavar="DIR", help="where to mount")
    agent.add_argument("--listen", metavar="[HOST]:PORT", help="serve /healthz, /readyz and /metrics")
    _mount_options(agent, for_run=False)

    check = commands.add_parser("check", help="list every problem; exit 1 if any is an error")
    _common(check)
    return parser


def _request(args: argparse.Namespace) -> Request:
    from injector.load import Request

    identities = list(args.age_identity)
    if not identities and os.environ.get("INJECTOR_AGE_IDENTITY"):
        identities = [os.environ["INJECTOR_AGE_IDENTITY"]]
    return Request(
        pod_file=args.pod,
        secrets=args.secrets,
        pod_name=args.pod_name,
        container=args.container,
        namespace=args.namespace,
        age_identities=identities,
        skip_invalid_env_keys=not args.keep_invalid_env_keys,
        kube=_kube_settings(args),
    )


def _kube_settings(args: argparse.Namespace) -> KubeSettings | None:
    if not (args.kube or args.kubeconfig or args.context):
        return None
    from injector.kube import KubeSettings

    return KubeSettings(kubeconfig=args.kubeconfig, context=args.context)


def _resolve(args: argparse.Namespace) -> Resolution:
    from injector.load import load

    resolution = load(_request(args))
    for warning in resolution.warnings:
        _say(f"warning: {warning}")
    if resolution.errors:
        raise _ProblemsError(resolution.errors)
    return resolution


class _ProblemsError(Exception):
    def __init__(self, errors: Sequence[InjectorError]) -> None:
        super().__init__(len(errors))
        self.errors = errors


def _say(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")


def open_output(path: str | None) -> int:
    """The descriptor to write results to. Regular files are refused: they would be plaintext on disk."""
    if path is None:
        fd = sys.stdout.fileno()
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                _say("warning: stdout is a regular file: secret values are being written to disk")
        except OSError:
            pass
        return fd
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UsageError("--output must name an existing FIFO, character device or /dev/fd/N", source=path) from None
    except OSError as exc:
        raise UsageError(f"cannot use as output: {exc.strerror}", source=path) from None
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        raise UsageError("refusing to write secrets to a regular file; use stdout, a FIFO or /dev/fd/N", source=path)
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"cannot open for writing: {exc.strerror}", source=path) from None


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def cmd_run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise UsageError("no command given: injector run [options] -- COMMAND [ARGS...]")
    resolution = _resolve(args)
    env: dict[bytes, bytes] = {} if args.clean_env else dict(os.environb)
    for entry in resolution.env.values():
        if b"\0" in entry.value:
            raise OutputError("value contains a NUL byte, which no environment can hold", field=f"env {entry.name}")
        env[entry.name.encode("ascii")] = entry.value
    if args.mount:
        from injector.serve import mount_and_serve

        mount_env = dict(env)
        mount_env[b"INJECTOR_MOUNT"] = os.fsencode(os.path.abspath(args.mount))
        if resolution.has_pull_secrets and args.volume is None:
            mount_env[b"DOCKER_CONFIG"] = os.fsencode(os.path.join(os.path.abspath(args.mount), ".docker"))
        mask = resolution.sensitive_values() if args.mask else None
        return run_trio(
            partial(
                mount_and_serve,
                _request(args),
                _mount_settings(args, args.mount),
                child=argv,
                child_env=mount_env,
                mask=mask,
            )
        )
    if args.mask or os.getpid() == 1:
        from injector.hardening import harden_process
        from injector.supervise import supervise

        harden_process(with_child=True)
        mask = resolution.sensitive_values() if args.mask else None
        return run_trio(partial(supervise, argv, env, mask))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)  # bytes keys and values are accepted on POSIX
    except FileNotFoundError:
        _say(f"{argv[0]}: command not found")
        return 127
    except PermissionError:
        _say(f"{argv[0]}: permission denied")
        return 126
    except OSError as exc:
        _say(f"{argv[0]}: cannot execute: {exc.strerror}")
        return 126


def cmd_render(args: argparse.Namespace) -> int:
    resolution = _resolve(args)
    if args.what == "env":
        from injector.envfile import render_env

        data = render_env([(entry.name, entry.value) for entry in resolution.env.values()], args.format)
    elif args.what == "dockerconfig":
        from injector.dockerconfig import render_config_json

        data = render_config_json(resolution.registry_credentials)
    else:
        data = render_files_json(resolution, show_values=args.show_values)
    fd = open_output(args.output)
    write_all(fd, data)
    return 0


def render_files_json(resolution: Resolution, *, show_values: bool) -> bytes:
    import base64

    volumes = []
    for volume in resolution.volumes:
        files: dict[str, dict[str, object]] = {}
        for path, file in volume.files.items():
            entry: dict[str, object] = {"mode": f"{file.mode:04o}", "size": len(file.data)}
            if file.gid is not None:
                entry["gid"] = file.gid
            if show_values:
                try:
                    entry["value"] = file.data.decode("utf-8")
                except UnicodeDecodeError:
                    entry["base64"] = base64.b64encode(file.data).decode("ascii")
            files[path] = entry
        volumes.append({"name": volume.name, "mountPaths": list(volume.mount_paths), "files": files})
    return json.dumps({"volumes": volumes}, indent=2).encode("utf-8") + b"\n"


def cmd_check(args: argparse.Namespace) -> int:
    from injector.load import load

    try:
        resolution = load(_request(args), every_problem=True)
    except InjectorError as exc:
        print(_located(exc, "error"))
        return 1
    for error in resolution.errors:
        print(_located(error, "error"))
    for warning in resolution.warnings:
        print(_located(warning, "warning"))
    return 1 if resolution.errors else 0


def _located(problem: InjectorError | InjectorWarning, severity: str) -> str:
    where = (problem.source, problem.obj, problem.field)
    return ": ".join([*(part for part in where if part), severity, problem.problem])


def cmd_agent(args: argparse.Namespace) -> int:
    from injector.agent import run_agent

    args.kube = True  # the agent always follows the API, --kube given or not
    request = _request(args)._replace(pod_file=args.pod or "<own pod>")
    return run_trio(
        partial(run_agent, request, _mount_settings(args, args.mount), listen=args.listen, own_pod=args.own_pod)
    )


COMMANDS = {"run": cmd_run, "render": cmd_render, "check": cmd_check, "mount": cmd_mount, "agent": cmd_agent}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except _ProblemsError as failed:
        for error in failed.errors:
            _say(str(error))
        return failed.errors[0].exit_code
    except InjectorError as exc:
        if getattr(args, "command", "") == "agent":
            from injector.serve import log_event

            log_event(event="error", message=str(exc), exit_code=exc.exit_code)
        else:
            _say(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


def run() -> NoReturn:
    sys.exit(main())
