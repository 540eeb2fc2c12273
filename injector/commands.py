"""The one-shot commands: ``run``, ``render`` and ``check``.

Each resolves once (``resolve_once``: read, plan, fetch, resolve) and hands the result on: to a
command it execs or supervises, to stdout (never a regular file), or as a list of problems.
A plain ``run`` never imports trio: it costs more than everything else ``run`` does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

from injector.core.envfile import as_environ
from injector.core.resolve import Part, Resolution
from injector.errors import CombinedError, InjectorError, InjectorWarning, UsageError
from injector.inputs import (
    ApiObjects,
    Inputs,
    PodInput,
    fetch_api,
    plan,
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
from injector.shell.process import exec_command, harden_process
from injector.shell.report import Reporter

if TYPE_CHECKING:
    from injector.serve import Mounted

RENDERED_PART: dict[str, Part] = {"env": "env", "dockerconfig": "credentials", "files": "volumes"}


def read_pod_once(settings: Settings) -> PodInput:
    """The pod: from its file, or with ``--self`` from the API."""
    if settings.inputs.own_pod is not None:
        return run_trio(partial(read_own_pod, settings.inputs))
    return read_pod(settings.inputs)


def read_once(settings: Settings, *, whole_pod: bool = False) -> tuple[Inputs, ApiObjects | None]:
    """Read the inputs once and fetch what the API must give for them (``--kube``)."""
    inputs = read_inputs(settings.inputs, read_pod_once(settings), whole_pod=whole_pod)
    kube = settings.inputs.kube
    api = run_trio(partial(fetch_api, kube, plan(inputs))) if kube is not None else None
    return inputs, api


def resolve_once(settings: Settings, reporter: Reporter, serves: frozenset[Part]) -> Resolution:
    """Read, fetch, resolve; warnings reported, errors raised (every one)."""
    inputs, api = read_once(settings)
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


def run(settings: Settings, reporter: Reporter) -> int:
    """``injector run``: exec the command with the container's env, or stay its parent to mask,
    mount or reap (as PID 1)."""
    assert settings.run is not None
    if not settings.run.argv:
        raise UsageError("no command given: injector run [options] -- COMMAND [ARGS...]")
    if settings.mount is not None:
        return run_trio(partial(run_with_mount, settings, reporter))
    resolution = resolve_once(settings, reporter, frozenset(("env",)))
    env = child_env(resolution, settings.run)
    if settings.run.mask or settings.run.as_init:
        from injector.shell.supervise import supervise

        harden_process(reporter, with_child=True)
        mask = resolution.sensitive_values() if settings.run.mask else None
        return run_trio(partial(supervise, settings.run.argv, env, mask))
    exec_command(settings.run.argv, env)


async def run_with_mount(settings: Settings, reporter: Reporter) -> int:
    """``run --mount``: the command runs while the mount serves; its status is returned, the mount gone."""
    import trio

    from injector.serve import check_can_mount, open_sources, serve
    from injector.shell.supervise import supervise

    run, mount = settings.run, settings.mount
    assert run is not None and mount is not None
    check_can_mount(mount)
    harden_process(reporter, with_child=True)
    pod_input = (
        await read_own_pod(settings.inputs) if settings.inputs.own_pod is not None else read_pod(settings.inputs)
    )
    async with open_sources(
        settings.inputs, pod_input, reporter, watch=mount.watch, wait_timeout=mount.wait_timeout
    ) as sources:
        resolution = await trio.to_thread.run_sync(sources.resolve)
        for warning in resolution.warnings:
            reporter.warning(warning)
        resolution = without_errors(resolution, every_error=True)
        env = child_env(resolution, run, mount)
        mask = resolution.sensitive_values() if run.mask else None

        async def until_child_exits(signals: AsyncIterator[int], mounted: Mounted) -> int:
            return await supervise(run.argv, env, mask, signals)

        return await serve(mount, sources, resolution, reporter, until_child_exits)


def render(settings: Settings, reporter: Reporter) -> int:
    """``injector render``: the env-file, docker config or file tree, to stdout or a FIFO."""
    render = settings.render
    assert render is not None
    resolution = resolve_once(settings, reporter, frozenset((RENDERED_PART[render.what],)))
    if render.what == "env":
        from injector.core.envfile import render_env

        data = render_env([(entry.name, entry.value) for entry in resolution.env.values()], render.format)
    elif render.what == "dockerconfig":
        from injector.core.dockerconfig import render_config_json

        data = render_config_json(resolution.registry_credentials)
    else:
        from injector.core.filetree import render_files_json

        data = render_files_json(resolution, show_values=render.show_values)
    holds_values = render.what != "files" or render.show_values
    write_all(open_output(render.output, reporter, values=holds_values), data)
    return 0


def check(settings: Settings, reporter: Reporter) -> int:
    """``injector check``: every problem on stdout, one per line; 1 if any is an error."""
    try:
        inputs, api = read_once(settings, whole_pod=True)
        errors, warnings = check_inputs(inputs, settings.inputs, api)
    except InjectorError as exc:
        for error in exc.errors if isinstance(exc, CombinedError) else (exc,):
            print(_located(error, "error", reporter))
        return 1
    for error in errors:
        print(_located(error, "error", reporter))
    for warning in warnings:
        print(_located(warning, "warning", reporter))
    return 1 if errors else 0


def _located(problem: InjectorError | InjectorWarning, severity: str, reporter: Reporter) -> str:
    return ": ".join([*problem.where(), severity, problem.describe(reporter.spell)])
