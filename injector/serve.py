"""Serve a container's secrets, kept current: the ``mount`` command and the parts ``run`` and
``agent`` share.

    serve                  one nursery; nothing left running on return
    ├── serve_mount        mount the layout; update it; unmount on the way out (fuse.mount.serve)
    ├── watch_files        inotify -> a change notice      (--watch)
    ├── forward_changes    the API follower -> a notice    (--kube --watch)
    ├── keep_current       notice -> reload -> the mount updated, the command told   (--watch)
    └── until(...)         the command (run), or a wait for SIGTERM/SIGINT (mount, agent)

The objects come from ``open_sources``: the files, and with ``--kube`` the API (fetched once, or
followed by a Follower for as long as the block runs).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import NamedTuple, Protocol, TypeVar

import trio

from fuse.filesystem import Filesystem
from fuse.handover import HandoverError, receive_descriptor, socket_of
from fuse.mount import (
    MountError,
    Session,
    SwapError,
    check_descriptor,
    descriptor_of,
    fast_paths_missing,
    fuse_unavailable,
    mount_options,
    prepare_mountpoint,
)
from fuse.mount import serve as serve_fuse
from fuse.mount import update as update_fuse
from fuse.tree import Layout
from injector.core.filetree import mount_view
from injector.core.resolve import EVERY_PART, Part, Resolution
from injector.errors import InjectorError, InjectorWarning, UsageError
from injector.inputs import ApiObjects, PodInput, fetch_api, plan, read_inputs, read_pod, resolve, without_errors
from injector.settings import InputSettings, MountSettings
from injector.shell.audit import AuditLog
from injector.shell.failover import Failover, follow_clusters
from injector.shell.files import is_manifest_name
from injector.shell.inotify import Watcher
from injector.shell.kubewatch import Follower, follow_objects
from injector.shell.process import FORWARDED_SIGNALS, STOP_SIGNALS, harden_process
from injector.shell.report import Reporter

T = TypeVar("T")


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


class ReloadStats:
    """What keeping a mount current has done (plain counters, no values)."""

    def __init__(self) -> None:
        self.resolutions = {"ok": 0, "failed": 0}
        self.rotation = LatencyHistogram()
        """Time from a change seen in a source to the new content being served."""


# -- the sources of a serving command ----------------------------------------------------------------


class Sources:
    """Where a serving command's objects come from: now, and again on every reload."""

    def __init__(
        self,
        settings: InputSettings,
        pod_input: PodInput,
        *,
        follower: Follower | Failover | None = None,
        fetched: ApiObjects | None = None,
        serves: frozenset[Part] = EVERY_PART,
    ) -> None:
        self.settings = settings
        self.pod_input = pod_input
        self.follower = follower
        self._fetched = fetched
        self.serves = serves
        """The parts of a resolution the command serves: problems of the others are warnings."""

    def api(self) -> ApiObjects | None:
        """What the API holds now: the follower's live objects, or those fetched once."""
        return self.follower.snapshot() if self.follower is not None else self._fetched

    def resolve(self, *, reread: bool = False) -> Resolution:
        """Resolve against the files and the API; ``reread`` reads the pod file again too.

        Problems are in the resolution's ``errors``, for the caller to raise as it must.
        """
        pod_input = self.pod_input
        if reread and self.settings.pod_file not in (None, "-"):
            pod_input = read_pod(self.settings)
        return resolve(read_inputs(self.settings, pod_input), self.settings, self.api(), serves=self.serves)


@asynccontextmanager
async def open_sources(
    settings: InputSettings,
    pod_input: PodInput,
    reporter: Reporter,
    *,
    watch: bool,
    wait_timeout: float,
    failover_after: float = 10.0,
    serves: frozenset[Part] = EVERY_PART,
) -> AsyncIterator[Sources]:
    """The sources of a serving command. With ``--kube --watch`` a Follower (one get and one watch
    per referenced object) runs until the block ends, one per cluster with several ``--context``
    (served from the first healthy one); with ``--kube`` alone, objects are got once."""
    clusters = settings.kube_contexts or ((settings.kube,) if settings.kube is not None else ())
    if not clusters:
        yield Sources(settings, pod_input, serves=serves)
        return
    inputs = read_inputs(settings, pod_input)
    if not watch:
        yield Sources(settings, pod_input, fetched=await fetch_api(clusters, plan(inputs)), serves=serves)
        return
    if len(clusters) == 1:
        follow = partial(follow_objects, clusters[0], plan(inputs), reporter, wait_timeout=wait_timeout)
    else:
        follow = partial(
            follow_clusters,
            clusters,
            plan(inputs),
            reporter,
            wait_timeout=wait_timeout,
            failover_after=failover_after,
        )
    async with trio.open_nursery() as nursery:
        follower = await nursery.start(follow)
        yield Sources(settings, pod_input, follower=follower, serves=serves)
        nursery.cancel_scope.cancel()


# -- the mount -------------------------------------------------------------------------------------


async def claim_mount(settings: MountSettings, reporter: Reporter) -> MountSettings:
    """The mount settings with a descriptor received where the mountpoint says so
    (``fd-socket:PATH``: from a FUSE CSI driver), checked as ``check_can_mount`` does."""
    path = socket_of(settings.mountpoint)
    if path is not None:
        try:
            descriptor, volume = await trio.to_thread.run_sync(receive_descriptor, path, settings.wait_timeout)
        except HandoverError as exc:
            raise UsageError(str(exc)) from None  # it names the socket; `mount` has no --mount
        reporter.event("received", descriptor=descriptor, volume=volume or "", socket=path)
        settings = settings._replace(mountpoint=f"/dev/fd/{descriptor}")
    check_can_mount(settings)
    return settings


def check_can_mount(settings: MountSettings) -> None:
    """Fail at once, before reading or fetching anything, where this process cannot mount FUSE."""
    if descriptor_of(settings.mountpoint) is not None:
        try:
            check_descriptor(settings.mountpoint)
        except MountError as exc:
            raise UsageError(str(exc)) from None
        return
    reason = fuse_unavailable()
    if reason is not None:
        raise UsageError(f"{settings.mountpoint}: cannot mount: {reason}")


def layout_of(resolution: Resolution, settings: MountSettings) -> tuple[Layout, list[InjectorWarning]]:
    """The mount's layout for ``resolution`` (the mount view, with owners), and what it leaves out."""
    view = mount_view(
        resolution, volume=settings.volume, mount_path=settings.mount_path, env_format=settings.env_format
    )
    uid = os.getuid() if settings.uid is None else settings.uid
    gid = os.getgid() if settings.gid is None else settings.gid
    layout = Layout(
        view.files,
        uid,
        gid,
        dirs=view.dirs,
        root=view.root,
        volumes=frozenset(view.volumes),
        version_dir=view.version_dir,
    )
    return layout, view.warnings


class Mounted:
    """A mount being served: its layout, and how to serve a new one."""

    def __init__(self, session: Session, reporter: Reporter) -> None:
        self.session = session
        self.reporter = reporter

    @property
    def fs(self) -> Filesystem:
        return self.session.fs

    @property
    def mountpoint(self) -> str:
        return self.session.mountpoint

    @property
    def layout(self) -> Layout:
        return self.session.fs.layout

    async def update(self, layout: Layout) -> None:
        try:
            await update_fuse(self.session, layout)
        except SwapError as exc:  # the kernel refused a call: what it was told is still whole
            self.reporter.say(f"{self.mountpoint}: {exc}")


async def serve_mount(
    settings: MountSettings,
    layout: Layout,
    fsname: str,
    reporter: Reporter,
    *,
    task_status: trio.TaskStatus[Mounted] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Mount ``layout`` at the settings' mountpoint and serve it until cancelled; ``started(mounted)``
    once it is visible. Unmounted (and the audit log closed) on the way out."""
    try:
        # A descriptor is mounted already, by whoever opened /dev/fuse (and checked by claim_mount).
        on_descriptor = descriptor_of(settings.mountpoint) is not None
        recovered = None if on_descriptor else prepare_mountpoint(settings.mountpoint)
    except MountError as exc:
        raise UsageError(str(exc)) from None
    if recovered:
        reporter.say(recovered)
    audit = AuditLog(settings.audit) if settings.audit else None
    try:
        fs = Filesystem(layout, on_open=audit, allowed_uids=settings.allowed_uids, key_symlinks=settings.key_symlinks)
        missing = fast_paths_missing()
        if missing:
            reporter.warning(
                f"pyfuse3 is not built with injector's patch (vendor/pyfuse3.patch): {'; '.join(missing)}, "
                "so reads are several times slower than they need be (build it with "
                "`sh vendor/build-pyfuse3.sh VENV/bin`, as make does)"
            )
        options = mount_options(allow_other=settings.allow_other, fsname=fsname)
        async with trio.open_nursery() as nursery:
            try:
                session = await nursery.start(serve_fuse, fs, settings.mountpoint, options)
            except MountError as exc:
                raise UsageError(str(exc)) from None
            task_status.started(Mounted(session, reporter))
    finally:
        if audit is not None:
            audit.close()


# -- keeping it current ----------------------------------------------------------------------------


def notify(notices: trio.MemorySendChannel[None]) -> None:
    """Send a change notice, unless one is already waiting (it will cover this change too)."""
    with contextlib.suppress(trio.WouldBlock):
        notices.send_nowait(None)


async def watch_files(
    paths: Sequence[str],
    notices: trio.MemorySendChannel[None],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A notice for every settled change to the files and directories ``paths`` (inotify, no polling).

    Only what injector reads counts: manifests, the files named, and the kubelet's ``..data`` swaps
    in a volume given as a directory; a log written beside them wakes nobody.
    """
    named = {os.path.basename(path) for path in paths}

    def relevant(name: str) -> bool:
        return name in named or name.startswith("..") or is_manifest_name(name)

    with Watcher(paths, relevant) as watcher:
        task_status.started()
        while True:
            await watcher.wait_for_change()
            notify(notices)


class Changing(Protocol):
    """Something whose changes are counted (the API follower)."""

    @property
    def generation(self) -> int: ...

    async def wait_changed(self, seen: int) -> None: ...


async def forward_changes(follower: Changing, notices: trio.MemorySendChannel[None]) -> None:
    """A notice for every change the follower sees."""
    seen = follower.generation
    while True:
        await follower.wait_changed(seen)
        seen = follower.generation  # before the reload reads its objects: later changes notify again
        notify(notices)


async def keep_current(
    notices: AsyncIterable[object],
    reload: Callable[[], Awaitable[T]],
    apply: Callable[[T], Awaitable[bool]],
    reporter: Reporter,
    stats: ReloadStats,
) -> None:
    """On every notice, resolve again (``reload``) and serve the result (``apply``, which says whether
    anything changed).

    A reload that fails is reported, once for as long as it fails the same way, and the last good
    content stays served.
    """
    failing = None
    async for _ in notices:
        seen = time.monotonic()
        try:
            new = await reload()
        except InjectorError as exc:
            stats.resolutions["failed"] += 1
            if reporter.describe(exc) != failing:
                failing = reporter.describe(exc)
                reporter.say(f"update not applied, still serving the last good content: {failing}")
            continue
        failing = None
        stats.resolutions["ok"] += 1
        if await apply(new):
            stats.rotation.observe(time.monotonic() - seen)


# -- the whole -------------------------------------------------------------------------------------


class View(NamedTuple):
    """What the container sees through injector at one moment: its resolution (env), and the
    mount's layout (None without a mount)."""

    resolution: Resolution
    layout: Layout | None


Until = Callable[[AsyncIterator[int], Mounted | None], Awaitable[int]]
"""What a serving command does once serving; given the signals and the mount, returns the exit status."""
OnChange = Callable[[View, View], bool]
"""Told each new view after the mount shows it (the previous and the new); says whether it acts."""


async def serve(
    settings: MountSettings | None,
    sources: Sources,
    resolution: Resolution,
    reporter: Reporter,
    until: Until,
    *,
    watch: bool,
    stats: ReloadStats | None = None,
    on_change: OnChange | None = None,
) -> int:
    """Mount ``resolution`` (unless ``settings`` is None), keep it current with ``watch``, and return
    what ``until`` returns. ``on_change`` hears of every new view that was applied.

    Signals are received from before the mount exists, so none can kill the process with the
    mount still in place; ``until`` gets the ones that arrived meanwhile. The mount is gone when
    this returns.
    """
    stats = stats or ReloadStats()
    stats.resolutions["ok"] += 1
    layout, warnings = layout_of(resolution, settings) if settings is not None else (None, [])
    for warning in warnings:
        reporter.warning(warning)
    reported = {warning.render() for warning in warnings}
    current = View(resolution, layout)

    async def reload() -> View:
        nonlocal reported
        new = without_errors(await trio.to_thread.run_sync(partial(sources.resolve, reread=True)))
        if settings is None:
            return View(new, None)
        layout, warnings = layout_of(new, settings)
        for warning in warnings:
            if warning.render() not in reported:
                reporter.warning(warning)
        reported = {warning.render() for warning in warnings}
        return View(new, layout)

    with trio.open_signal_receiver(*FORWARDED_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            mounted = None
            if settings is not None and layout is not None:
                fsname = f"injector:{resolution.pod.ref}"
                mounted = await nursery.start(serve_mount, settings, layout, fsname, reporter)

            async def apply(view: View) -> bool:
                nonlocal current
                changed = False
                if mounted is not None and view.layout is not None and view.layout != mounted.layout:
                    await mounted.update(view.layout)
                    reporter.say(f"updated {mounted.mountpoint}")
                    changed = True
                previous, current = current, view
                if on_change is not None:
                    changed = on_change(previous, view) or changed
                return changed

            if watch:
                send, receive = trio.open_memory_channel[None](1)
                await nursery.start(watch_files, sources.settings.watched_paths, send)
                if sources.follower is not None:
                    nursery.start_soon(forward_changes, sources.follower, send)
                nursery.start_soon(keep_current, receive, reload, apply, reporter, stats)
            status = await until(signals, mounted)
            nursery.cancel_scope.cancel()
    return status


async def wait_for_stop(signals: AsyncIterator[int]) -> None:
    async for signum in signals:
        if signum in STOP_SIGNALS:
            return


async def run_mount(settings: MountSettings, inputs: InputSettings, reporter: Reporter) -> int:
    """``injector mount``: serve until SIGTERM/SIGINT, then unmount and return 0."""
    settings = await claim_mount(settings, reporter)
    harden_process(reporter, with_child=False)
    pod_input = read_pod(inputs)

    async def until_stopped(signals: AsyncIterator[int], mounted: Mounted | None) -> int:
        stop = "stop" if descriptor_of(settings.mountpoint) is not None else "unmount"
        reporter.say(f"serving {settings.mountpoint} (SIGTERM or Ctrl-C to {stop})")
        await wait_for_stop(signals)
        return 0

    async with open_sources(
        inputs,
        pod_input,
        reporter,
        watch=settings.watch,
        wait_timeout=settings.wait_timeout,
        failover_after=settings.failover_after,
    ) as sources:
        resolution = without_errors(await trio.to_thread.run_sync(sources.resolve))
        for warning in resolution.warnings:
            reporter.warning(warning)
        return await serve(settings, sources, resolution, reporter, until_stopped, watch=settings.watch)
