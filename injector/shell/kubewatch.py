"""Follow referenced objects in the Kubernetes API: one get, then one watch per object (I/O shell).

Each object is watched by name (``fieldSelector=metadata.name=``), so RBAC with
``resourceNames`` suffices. Faults are survived: a closed or reset watch resumes from the last
resourceVersion; ``410 Gone`` re-gets and re-watches; 401 re-reads the credentials (a token file
is read again on every 401); an unreachable API server is retried with capped exponential
backoff and jitter. What was fetched last is kept in memory only.

    follow_objects          owns the client (closed on exit) and the Follower's tasks
    └── Follower.run        one task per object: get, then watch, until cancelled
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import Any

import httpx2 as httpx
import trio
from lightkube.core.exceptions import ApiError
from lightkube.types import on_error_raise

from injector.core.objects import DATA_KINDS, DataObject, ObjectKey, ObjectSet
from injector.errors import InjectorError, Setting, SourceError
from injector.settings import KubeSettings
from injector.shell.kube import (
    RESOURCE_TYPES,
    KubeClient,
    describe_api_error,
    get_object,
    open_client,
    server_of,
    to_data_object,
    unreachable,
)
from injector.shell.report import Reporter

BACKOFF_START = 0.2
BACKOFF_CAP = 30.0
WATCH_TIMEOUT = 290
"""Seconds a watch request lives on the server before it is renewed (below the usual 5 min cap)."""


def backoff(attempt: int) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_START * 2**attempt))


class Follower:
    """The live state of some objects: ``objects`` (present ones), ``problems`` and change events."""

    def __init__(self, client: KubeClient, keys: Iterable[ObjectKey], reporter: Reporter, *, label: str = "") -> None:
        self.client = client
        self.label = label
        """Which cluster this is, for reports (its kubeconfig context)."""
        self.unreachable_since: float | None = None
        """When (trio clock) the server stopped answering, if it has since it last did."""
        self.keys = sorted(set(keys))
        self.objects: dict[ObjectKey, DataObject] = {}
        self.problems: dict[ObjectKey, InjectorError] = {}
        self.versions: dict[ObjectKey, str] = {}
        self.updated_at: dict[ObjectKey, float] = {}
        """When each object was last seen to change (wall clock), for the last-update-age metric."""
        self.generation = 0
        """Bumped on every change: a reader that saw generation N knows whether it missed one."""
        self._changed = trio.Event()
        self.watch_restarts = 0
        self.api_errors: dict[int, int] = {}
        self._reporter = reporter
        self.server = server_of(client)

    def snapshot(self) -> ObjectSet:
        """The objects held now, and the problems of those that do not validate (as ``kube.fetch``)."""
        return ObjectSet(dict(self.objects), list(self.problems.values()), frozenset(self.problems))

    def sources(self) -> dict[ObjectKey, str]:
        """Which cluster serves each object: this one."""
        return dict.fromkeys(self.keys, self.label)

    def _answered(self) -> None:
        self.unreachable_since = None

    def _failed(self) -> None:
        if self.unreachable_since is None:
            self.unreachable_since = trio.current_time()

    def _notify(self) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self, seen: int) -> None:
        """Return once ``generation`` has moved past ``seen`` (at once if it already has): a change
        that came while the caller was busy is never missed."""
        while self.generation == seen:
            await self._changed.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fetch every object once (``started()`` then), then follow each until cancelled."""
        async with trio.open_nursery() as nursery:
            for key in self.keys:
                await nursery.start(self._follow, key)
            task_status.started()

    async def _get(self, key: ObjectKey) -> None:
        try:
            raw = await get_object(self.client, key)
        except ApiError as exc:
            self._count(exc.status.code)
            raise
        if raw is None:
            self._count(404)
            self.objects.pop(key, None)
            self.problems.pop(key, None)
            self.versions.pop(key, None)
            return
        self._store(key, raw)

    def _store(self, key: ObjectKey, raw: dict[str, Any]) -> None:
        self.updated_at[key] = time.time()
        obj, problems = to_data_object(raw, key.kind, self.server)
        self.versions[key] = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        if obj is None:
            self.objects.pop(key, None)
            self.problems[key] = problems[0]
        else:
            self.objects[key] = obj
            self.problems.pop(key, None)

    def _count(self, code: int | None) -> None:
        self.api_errors[code or 0] = self.api_errors.get(code or 0, 0) + 1

    async def _retry_after_fault(self, attempt: int, event: str | None = None, **fields: object) -> None:
        """Wait before trying again; the delay reported is the delay slept."""
        delay = backoff(attempt)
        if event is not None:
            self._reporter.event(event, **fields, retry_in=round(delay, 2))
        await trio.sleep(delay)

    async def _follow(self, key: ObjectKey, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        resource = DATA_KINDS[key.kind].resource
        attempt = 0
        started = False
        need_get = True
        while True:
            try:
                if need_get:
                    await self._get(key)
                    self._answered()
                    need_get = False
                    if not started:
                        task_status.started()
                        started = True
                    else:
                        self._notify()
                attempt = 0
                stream = self.client.watch(
                    RESOURCE_TYPES[key.kind],
                    namespace=key.namespace,
                    fields={"metadata.name": key.name},
                    resource_version=self.versions.get(key) or None,
                    server_timeout=WATCH_TIMEOUT,
                    on_error=on_error_raise,
                )
                async for event, obj in stream:
                    self._answered()
                    raw = obj.to_dict()
                    if event == "BOOKMARK":
                        self.versions[key] = str(raw["metadata"]["resourceVersion"])
                        continue
                    if event == "DELETED":
                        self.objects.pop(key, None)
                        self.problems.pop(key, None)
                        self.updated_at[key] = time.time()
                        self.versions[key] = str(raw["metadata"]["resourceVersion"])
                    else:
                        self._store(key, raw)
                    self._reporter.event(
                        "object-changed", change=event.lower(), object=f"{key.kind}/{key.namespace}/{key.name}"
                    )
                    self._notify()
            except ApiError as exc:
                self._count(exc.status.code)
                self.watch_restarts += 1
                if exc.status.code == 410:
                    need_get = True  # the version expired: get the object again, then watch from there
                    continue
                self._failed()  # it answers, but not with the objects: as good as unreachable
                if exc.status.code == 403:
                    error = SourceError(
                        describe_api_error(exc, "watch", resource, key.namespace, key.name), source=self.server
                    )
                    if not started:
                        raise error from None
                    await self._retry_after_fault(attempt, "api-error", code=403, message=str(error))
                elif exc.status.code == 401:
                    await self._retry_after_fault(
                        attempt, "api-error", code=401, message="credentials rejected; re-reading them"
                    )
                else:
                    await self._retry_after_fault(attempt)
                attempt += 1
            except (httpx.HTTPError, OSError) as exc:
                self.watch_restarts += 1
                self._failed()
                need_get = True  # once it answers again, a get tells what changed meanwhile
                await self._retry_after_fault(attempt, "api-unreachable", error=unreachable(exc))
                attempt += 1


def context_label(settings: KubeSettings) -> str:
    return settings.context or "the current context"


async def follow_objects(
    settings: KubeSettings,
    keys: Iterable[ObjectKey],
    reporter: Reporter,
    *,
    wait_timeout: float,
    task_status: trio.TaskStatus[Follower] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Fetch ``keys`` and follow them until cancelled; ``started(follower)`` once each was fetched.

    Owns its client, closed on the way out. An API server that does not answer within
    ``wait_timeout`` seconds (retried meanwhile) is a SourceError.
    """
    async with open_client(settings) as client:
        follower = Follower(client, keys, reporter, label=context_label(settings))
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(wait_timeout) as waited:
                await nursery.start(follower.run)
            if waited.cancelled_caught:
                raise SourceError(
                    ("the API server did not answer within ", f"{wait_timeout:g} s (", Setting("wait_timeout"), ")"),
                    source=follower.server,
                )
            task_status.started(follower)
