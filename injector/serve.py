"""Serve a container's secrets as a FUSE mount: mount, keep current, run a child, unmount (I/O shell).

Structure (all under one nursery, nothing left running on return):

    mount_and_serve
    ├── fuse.mount.serve            the FUSE session, until cancelled (then unmounted)
    ├── keep_current (--watch)      inotify -> reload in a worker thread -> atomic tree swap
    └── the child (run --mount) or a wait for SIGTERM/SIGINT (mount)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import trio

from fuse.filesystem import ReadOnlyFilesystem
from fuse.mount import MountError, mount_options, prepare_mountpoint, replace_tree, serve
from fuse.tree import Tree, build_tree
from injector.audit import AuditLog
from injector.errors import InjectorError, SourceError, UsageError
from injector.hardening import harden_process
from injector.load import Request, load, referenced_keys
from injector.mountview import mount_view
from injector.objects import DataObject
from injector.resolve import Resolution
from injector.supervise import FORWARDED_SIGNALS, supervise
from injector.watch import Watcher

if TYPE_CHECKING:
    from injector.kubewatch import Follower


class LatencyHistogram:
    """Cumulative bucket counts and sum, as Prometheus histograms are: constant size however long
    the process runs (a list of every observation would grow with each update)."""

    BOUNDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

    def __init__(self) -> None:
        self.counts = [0] * len(self.BOUNDS)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        for index, bound in enumerate(self.BOUNDS):
            if seconds <= bound:
                self.counts[index] += 1
        self.count += 1
        self.sum += seconds


class ServeState:
    """What a running mount has done, for health checks and metrics (plain counters, no values)."""

    def __init__(self) -> None:
        self.ready = False
        """The mount serves, and every required reference resolved at least once."""
        self.resolutions = {"ok": 0, "failed": 0}
        self.rotation = LatencyHistogram()
        """Time from a change seen in a source to the new tree being served."""
        self.fs: ReadOnlyFilesystem | None = None
        self.follower: Follower | None = None


class MountSettings(NamedTuple):
    mountpoint: str
    volume: str | None = None
    env_format: str = "dotenv"
    watch: bool = False
    uid: int | None = None
    gid: int | None = None
    allow_other: bool = False
    allowed_uids: frozenset[int] | None = None
    audit: str | None = None
    wait_timeout: float = 60.0
    """Seconds to wait for the API server at start (--kube): retried with backoff until then."""


class LogFormat:
    """How the long-running commands report: text lines (``mount``) or JSON objects (``agent``)."""

    json = False


def _say(message: str) -> None:
    if LogFormat.json:
        log_event(event="message", message=message)
        return
    sys.stderr.write(f"injector: {message}\n")
    sys.stderr.flush()


def _api_objects(follower: Follower | None) -> tuple[list[DataObject], list[InjectorError]] | None:
    return None if follower is None else follower.snapshot()


def resolve_or_raise(
    request: Request, api_objects: tuple[Sequence[DataObject], Sequence[InjectorError]] | None = None
) -> Resolution:
    resolution = load(request, api_objects=api_objects)
    if resolution.errors:
        raise resolution.errors[0]
    return resolution


def build(resolution: Resolution, settings: MountSettings, previous: Tree | None) -> Tree:
    files, dirs, root = mount_view(resolution, volume=settings.volume, env_format=settings.env_format)
    uid = os.getuid() if settings.uid is None else settings.uid
    gid = os.getgid() if settings.gid is None else settings.gid
    return build_tree(files, dirs=dirs, root=root, uid=uid, gid=gid, now_ns=time.time_ns(), previous=previous)


async def _first_of(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return as soon as one of ``waits`` returns (the others are cancelled)."""
    async with trio.open_nursery() as nursery:

        async def run(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            nursery.cancel_scope.cancel()

        for wait in waits:
            nursery.start_soon(run, wait)


async def keep_current(
    fs: ReadOnlyFilesystem,
    request: Request,
    settings: MountSettings,
    follower: Follower | None = None,
    state: ServeState | None = None,
) -> None:
    """Reload on every change of the files or of the followed API objects; swap the tree only when
    the new input is valid (otherwise the last good content stays served)."""
    state = state or ServeState()
    paths = [] if request.pod_body is not None else [request.pod_file]
    paths += [*request.secrets, *request.age_identities]
    seen_generation = follower.generation if follower is not None else 0
    with Watcher(paths) as watcher:
        while True:
            waits: list[Callable[[], Awaitable[object]]] = [watcher.wait_for_change]
            if follower is not None:
                waits.append(partial(follower.wait_changed, seen_generation))
            await _first_of(*waits)
            if follower is not None:
                seen_generation = follower.generation  # before reading its objects: later changes wake us again
            seen = time.monotonic()
            try:
                resolution = await trio.to_thread.run_sync(resolve_or_raise, request, _api_objects(follower))
                tree = build(resolution, settings, fs.tree)
            except InjectorError as exc:
                state.resolutions["failed"] += 1
                _say(f"update not applied, still serving the last good content: {exc}")
                continue
            state.resolutions["ok"] += 1
            if tree.by_path != fs.tree.by_path:
                await replace_tree(fs, tree)
                state.rotation.observe(time.monotonic() - seen)
                _say(f"updated {settings.mountpoint}")


async def mount_and_serve(
    request: Request,
    settings: MountSettings,
    *,
    child: Sequence[str] | None = None,
    child_env: Mapping[bytes, bytes] | None = None,
    mask: Mapping[bytes, str] | None = None,
    state: ServeState | None = None,
    also_serve: Callable[[ServeState], Awaitable[None]] | None = None,
) -> int:
    """Mount, then run ``child`` until it exits (returning its status) or, without a child, serve
    until SIGTERM/SIGINT (returning 0). The mount is gone when this returns.

    ``also_serve`` runs beside the mount for as long as it serves (the agent's HTTP endpoint); it
    starts before the first resolution so that health checks answer during start-up.
    """
    harden_process(with_child=child is not None)
    state = state or ServeState()
    async with trio.open_nursery() as sources:
        if also_serve is not None:
            sources.start_soon(also_serve, state)
        follower = None
        if request.kube is not None and settings.watch:
            follower = await start_follower(sources, request, settings)
            state.follower = follower
        status = await _mount_and_serve(
            request, settings, follower, child=child, child_env=child_env, mask=mask, state=state
        )
        sources.cancel_scope.cancel()
    return status


async def start_follower(nursery: trio.Nursery, request: Request, settings: MountSettings) -> Follower:
    """Fetch every referenced object and keep following them (a watch each) in ``nursery``."""
    from injector.kube import KubeClient, load_config
    from injector.kubewatch import Follower

    assert request.kube is not None
    keys = await trio.to_thread.run_sync(referenced_keys, request)
    client = KubeClient(load_config(request.kube, os.environ))
    follower = Follower(client, keys, log=report)
    with trio.move_on_after(settings.wait_timeout) as waited:
        await nursery.start(follower.run)
    if waited.cancelled_caught:
        raise SourceError(
            f"the API server did not answer within {settings.wait_timeout:g} s (--wait-timeout)",
            source=str(client.config.cluster.server),
        )
    return follower


def report(**fields: object) -> None:
    """An event as a JSON object (agent) or as ``key=value`` text (mount); names and codes, never values."""
    if LogFormat.json:
        log_event(**fields)
    else:
        _say(" ".join(f"{key}={value}" for key, value in fields.items()))


def log_event(**fields: object) -> None:
    """One JSON object per line on stderr; callers pass names and codes, never values."""
    import json

    fields = {"time": round(time.time(), 3), **fields}
    sys.stderr.write(json.dumps(fields) + "\n")
    sys.stderr.flush()


async def _mount_and_serve(
    request: Request,
    settings: MountSettings,
    follower: Follower | None,
    *,
    child: Sequence[str] | None,
    child_env: Mapping[bytes, bytes] | None,
    mask: Mapping[bytes, str] | None,
    state: ServeState,
) -> int:
    # In a worker thread: a one-shot --kube source runs its own event loop to fetch.
    resolution = await trio.to_thread.run_sync(resolve_or_raise, request, _api_objects(follower))
    for warning in resolution.warnings:
        _say(f"warning: {warning}")
    tree = build(resolution, settings, None)
    try:
        recovered = prepare_mountpoint(settings.mountpoint)
    except MountError as exc:
        raise UsageError(str(exc)) from None
    if recovered:
        _say(recovered)
    audit = AuditLog(settings.audit) if settings.audit else None
    fs = ReadOnlyFilesystem(tree, on_open=audit, allowed_uids=settings.allowed_uids)
    state.fs = fs
    state.resolutions["ok"] += 1
    options = mount_options(allow_other=settings.allow_other, fsname=f"injector:{resolution.pod.ref}")
    status = 0
    # Signals are received from before the mount exists, so none can kill the process with the
    # mount still in place; a child started later gets the ones that arrived meanwhile.
    try:
        with trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(serve, fs, settings.mountpoint, options)
                state.ready = True
                if settings.watch:
                    nursery.start_soon(keep_current, fs, request, settings, follower, state)
                if child is not None:
                    status = await supervise(child, dict(child_env or {}), mask, signals)
                else:
                    _say(f"serving {settings.mountpoint} (SIGTERM or Ctrl-C to unmount)")
                    async for signum in signals:
                        if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
                            break
                state.ready = False
                nursery.cancel_scope.cancel()
    finally:
        if audit is not None:
            audit.close()
    return status
