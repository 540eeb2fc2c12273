"""The commands that resolve and hand the result on: ``run``, ``render`` and ``check``.

Each resolves once (``resolve_once``: read, plan, fetch, resolve) and hands the result on: to a
command it execs or supervises, to stdout (never a regular file), or as a list of problems.
``run --watch`` or ``--mount`` stays the command's parent and keeps what it sees current
(``serve``), restarting, signalling or reloading it as ``--on-change`` says. A plain ``run`` never
imports trio: it costs more than everything else ``run`` does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

from injector.core.command import container_argv
from injector.core.envfile import as_environ
from injector.core.podspec import select_container
from injector.core.resolve import Part, Resolution
from injector.errors import CombinedError, InjectorError, InjectorWarning, ManifestError, UsageError
from injector.inputs import (
    ApiObjects,
    Inputs,
    PodInput,
    fetch_api,
    plan,
    read_any_pod,
    read_inputs,
    read_own_pod,
    read_pod,
    resolve,
    without_errors,
)
from injector.inputs import check as check_inputs
from injector.settings import MountSettings, RunSettings, Settings
from injector.shell.loop import run_trio
from injector.shell.output import open_output, write_all
from injector.shell.process import Launch, exec_command, harden_process
from injector.shell.report import Reporter

if TYPE_CHECKING:
    from injector.serve import Mounted, View

RENDERED_PART: dict[str, Part] = {
    "env": "env",
    "dockerconfig": "credentials",
    "files": "volumes",
    "credentials": "credentials",
}


def read_pod_once(settings: Settings) -> PodInput:
    """The pod: from its file, or with ``--self`` from the API."""
    if settings.inputs.own_pod is not None:
        return run_trio(partial(read_own_pod, settings.inputs))
    return read_pod(settings.inputs)


def read_once(
    settings: Settings, *, whole_pod: bool = False, pod_input: PodInput | None = None
) -> tuple[Inputs, ApiObjects | None]:
    """Read the inputs once and fetch what the API must give for them (``--kube``): from the first
    cluster that answers among several ``--context`` (check compares them instead: the first only)."""
    pod_input = pod_input or read_pod_once(settings)
    inputs = read_inputs(settings.inputs, pod_input, whole_pod=whole_pod)
    kube = settings.inputs.kube
    if kube is None:
        return inputs, None
    clusters = (kube,) if whole_pod else settings.inputs.kube_contexts or (kube,)
    api = run_trio(partial(fetch_api, clusters, plan(inputs)))
    return inputs, api


def resolve_once(
    settings: Settings, reporter: Reporter, serves: frozenset[Part], *, pod_input: PodInput | None = None
) -> Resolution:
    """Read, fetch, resolve; warnings reported, errors raised (every one)."""
    inputs, api = read_once(settings, pod_input=pod_input)
    resolution = resolve(inputs, settings.inputs, api, serves=serves)
    for warning in resolution.warnings:
        reporter.warning(warning)
    return without_errors(resolution, every_error=True)


def child_env(resolution: Resolution, run: RunSettings, mount: MountSettings | None = None) -> dict[bytes, bytes]:
    """The command's environment: the parent's (unless ``--clean-env``) overlaid with the container's."""
    env = dict(run.parent_env)
    env.update(as_environ([(entry.name, entry.value) for entry in resolution.env.values()]))
    if mount is not None:
        env[b"INJECTOR_MOUNT"] = os.fsencode(mount.mountpoint)
        if resolution.has_pull_secrets and mount.volume is None and mount.mount_path is None:
            env[b"DOCKER_CONFIG"] = os.fsencode(os.path.join(mount.mountpoint, ".docker"))
    return env


def require_command(settings: Settings, pod_input: PodInput) -> None:
    """Without ``-- CMD`` the container's own command runs: it must have one."""
    assert settings.run is not None
    if settings.run.argv:
        return
    container = select_container(pod_input.pod, settings.inputs.container)
    if not container.command:
        raise UsageError(
            f"container {container.name!r} has no command (its image's entrypoint would run, which injector cannot "
            "know): give one after --",
            source=pod_input.pod.origin,
            obj=pod_input.pod.ref,
            field=container.at,
        )


def launch_of(resolution: Resolution, settings: Settings) -> Launch:
    """How the command starts for ``resolution``: ``-- CMD`` as given (``$(VAR)`` stays literal), or
    the container's ``command`` and ``args`` expanded against its env, as the kubelet does."""
    run = settings.run
    assert run is not None
    argv = run.argv
    if not argv:
        expanded = container_argv(
            resolution.container, resolution.env, whole_runes=settings.inputs.version.expands_whole_runes
        )
        if expanded is None:
            raise UsageError(f"container {resolution.container.name!r} has no command any more")
        argv = tuple(os.fsdecode(part) for part in expanded)
    env = child_env(resolution, run, settings.mount)
    return Launch(argv, env, resolution.sensitive_values() if run.mask else None)


def run(settings: Settings, reporter: Reporter) -> int:
    """``injector run``: exec the command with the container's env, or stay its parent to mask,
    mount, watch or reap (as PID 1)."""
    run = settings.run
    assert run is not None
    if settings.mount is not None or run.watch:
        return run_trio(partial(run_served, settings, reporter))
    pod_input = read_pod_once(settings)
    require_command(settings, pod_input)
    resolution = resolve_once(settings, reporter, frozenset(("env",)), pod_input=pod_input)
    launch = launch_of(resolution, settings)
    if run.mask or run.as_init:
        harden_process(reporter, with_child=True)
        return run_trio(partial(supervise_once, launch, reporter))
    exec_command(launch.argv, launch.env)


async def supervise_once(launch: Launch, reporter: Reporter) -> int:
    """``run --mask`` or as PID 1: the command as a child, until it exits."""
    import trio

    from injector.shell.supervise import FORWARDED_SIGNALS, Supervisor

    with trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
        return await Supervisor(launch, reporter).run(signals)


async def run_served(settings: Settings, reporter: Reporter) -> int:
    """``run --watch`` and ``run --mount``: the command runs while what it sees is served and kept
    current; its status is returned, the mount gone."""
    import trio

    from injector.serve import check_can_mount, open_sources, serve
    from injector.shell.supervise import Supervisor

    run, mount = settings.run, settings.mount
    assert run is not None
    if mount is not None:
        check_can_mount(mount)
    harden_process(reporter, with_child=True)
    pod_input = await read_any_pod(settings.inputs)
    require_command(settings, pod_input)
    serves: frozenset[Part] = frozenset(("env",)) if mount is None else frozenset(("env", "volumes", "credentials"))
    async with open_sources(
        settings.inputs,
        pod_input,
        reporter,
        watch=run.watch,
        wait_timeout=run.wait_timeout,
        failover_after=run.failover_after,
        serves=serves,
    ) as sources:
        resolution = await trio.to_thread.run_sync(sources.resolve)
        for warning in resolution.warnings:
            reporter.warning(warning)
        resolution = without_errors(resolution, every_error=True)
        supervisor = Supervisor(
            launch_of(resolution, settings),
            reporter,
            policy=run.on_change,
            stop_signal=run.stop_signal,
            grace=run.grace,
            splay=run.splay,
        )

        def on_change(previous: View, view: View) -> bool:
            try:
                launch = launch_of(view.resolution, settings)
            except InjectorError as exc:
                reporter.say(f"not applied to the command: {reporter.describe(exc)}")
                return False
            return supervisor.offer(launch, files_changed=previous.layout != view.layout)

        async def until_child_exits(signals: AsyncIterator[int], mounted: Mounted | None) -> int:
            return await supervisor.run(signals)

        return await serve(
            mount, sources, resolution, reporter, until_child_exits, watch=run.watch, on_change=on_change
        )


def render(settings: Settings, reporter: Reporter) -> int:
    """``injector render``: the env-file, docker config, file tree or an image's pull credentials, to
    stdout or a FIFO."""
    render = settings.render
    assert render is not None
    resolution = resolve_once(settings, reporter, frozenset((RENDERED_PART[render.what],)))
    holds_values = True
    warnings: list[InjectorWarning] = []
    if render.what == "env":
        from injector.core.envfile import render_env

        data = render_env([(entry.name, entry.value) for entry in resolution.env.values()], render.format)
    elif render.what == "dockerconfig":
        from injector.core.dockerconfig import render_config_json
        from injector.core.pullcredentials import docker_config

        auths, warnings = docker_config(resolution.keyring, render.image)
        data = render_config_json(auths)
    elif render.what == "credentials":
        from injector.core.pullcredentials import image_credentials, render_credentials

        assert render.image is not None  # required by the parser, checked by the settings
        found, warnings = image_credentials(resolution.keyring, render.image)
        data, holds_values = render_credentials(found, render.format), render.format == "json"
    else:
        from injector.core.filetree import render_files_json

        data = render_files_json(resolution, show_values=render.show_values)
        holds_values = render.show_values
    for warning in warnings:
        reporter.warning(warning)
    write_all(open_output(render.output, reporter, values=holds_values), data)
    return 0


def check(settings: Settings, reporter: Reporter) -> int:
    """``injector check``: every problem on stdout, one per line; 1 if any is an error. With several
    ``--context``, the clusters are compared too (the first is the one resolved against)."""
    try:
        inputs, api = read_once(settings, whole_pod=True)
        errors, warnings = check_inputs(inputs, settings.inputs, api)
        if len(settings.inputs.kube_contexts) > 1:
            errors += cluster_drift(settings, inputs, api)
    except InjectorError as exc:
        for error in exc.errors if isinstance(exc, CombinedError) else (exc,):
            print(_located(error, "error", reporter))
        return 1
    for error in errors:
        print(_located(error, "error", reporter))
    for warning in warnings:
        print(_located(warning, "warning", reporter))
    return 1 if errors else 0


def cluster_drift(settings: Settings, inputs: Inputs, first: ApiObjects | None) -> list[InjectorError]:
    """Every referenced Secret and ConfigMap compared across the clusters of ``--context``, by key and
    sha256: one error per differing key, naming the first context and the other. Objects a cluster
    could not give (forbidden, unreachable) are errors of their own."""
    from injector.core.authoring import drift
    from injector.core.objects import DATA_KINDS

    contexts = settings.inputs.kube_contexts
    keys = sorted(plan(inputs))
    fetched = [first] + [run_trio(partial(fetch_api, (kube,), keys)) for kube in contexts[1:]]
    labels = [kube.context or "(current)" for kube in contexts]
    problems: list[InjectorError] = []
    for objects in fetched[1:]:
        assert objects is not None
        problems += objects.errors
    for key in keys:
        sides = []
        for label, objects in zip(labels, fetched, strict=True):
            assert objects is not None
            obj = objects.objects.get(key)
            sides.append((label, obj.data if obj is not None else None))
        if all(side is None for _, side in sides) or any(key in objects.invalid for objects in fetched if objects):
            continue
        problems += drift(f"{key.kind}/{key.namespace}/{key.name}", "data", sides)
        types = {
            label: objects.objects[key].type
            for label, objects in zip(labels, fetched, strict=True)
            if objects and key in objects.objects
        }
        if key.kind == DATA_KINDS["Secret"].kind and len(set(types.values())) > 1:
            listed = ", ".join(f"context {label} has {kind}" for label, kind in types.items())
            problems.append(
                ManifestError(f"differs: {listed}", obj=f"{key.kind}/{key.namespace}/{key.name}", field="type")
            )
    return problems


def _located(problem: InjectorError | InjectorWarning, severity: str, reporter: Reporter) -> str:
    return ": ".join([*problem.where(), severity, problem.describe(reporter.spell)])
