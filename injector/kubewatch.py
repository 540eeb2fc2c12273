"""Follow referenced objects in the Kubernetes API: one get, then one watch per object (I/O shell).

Each object is watched by name (``fieldSelector=metadata.name=``), so RBAC with
``resourceNames`` suffices. Faults are survived: a closed or reset watch resumes from the last
resourceVersion; ``410 Gone`` re-gets and re-watches; 401 re-reads the credentials (a token file
is read again on every 401); an unreachable API server is retried with capped exponential
backoff and jitter. What was fetched last is kept in memory only.
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

from injector.errors import InjectorError, SourceError
from injector.kube import RESOURCE, KubeClient, describe_api_error, to_data_object
from injector.objects import DataObject, ObjectKey

BACKOFF_START = 0.2
BACKOFF_CAP = 30.0
WATCH_TIMEOUT = 290
"""Seconds a watch request lives on the server before it is renewed (below the usual 5 min cap)."""


def backoff(attempt: int) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_START * 2**attempt))


class Follower:
    """The live state of some objects: ``objects`` (present ones), ``problems`` and change events."""

    def __init__(self, client: KubeClient, keys: Iterable[ObjectKey], *, log: Any = None) -> None:
        self.client = client
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
        self._log = log or (lambda **fields: None)
        self._server = str(client.config.cluster.server)

    def snapshot(self) -> tuple[list[DataObject], list[InjectorError]]:
        """The objects held now, and the problems of those that do not validate (as ``kube.fetch``)."""
        return list(self.objects.values()), list(self.problems.values())

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
        resource_type, _ = RESOURCE[key.kind]
        try:
            found = await self.client.get(resource_type, name=key.name, namespace=key.namespace)
        except ApiError as exc:
            self._count(exc.status.code)
            if exc.status.code == 404:
                self.objects.pop(key, None)
                self.problems.pop(key, None)
                self.versions.pop(key, None)
                return
            raise
        self._store(key, found.to_dict())

    def _store(self, key: ObjectKey, raw: dict[str, Any]) -> None:
        self.updated_at[key] = time.time()
        obj, problems = to_data_object(raw, key.kind, self._server)
        self.versions[key] = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        if obj is None:
            self.objects.pop(key, None)
            self.problems[key] = problems[0]
        else:
            self.objects[key] = obj
            self.problems.pop(key, None)

    def _count(self, code: int | None) -> None:
        self.api_errors[code or 0] = self.api_errors.get(code or 0, 0) + 1

    async def _follow(self, key: ObjectKey, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        resource_type, resource = RESOURCE[key.kind]
        attempt = 0
        started = False
        need_get = True
        while True:
            try:
                if need_get:
                    await self._get(key)
                    need_get = False
                    if not started:
                        task_status.started()
                        started = True
                    else:
                        self._notify()
                attempt = 0
                stream = self.client.watch(
                    resource_type,
                    namespace=key.namespace,
                    fields={"metadata.name": key.name},
                    resource_version=self.versions.get(key) or None,
                    server_timeout=WATCH_TIMEOUT,
                    on_error=on_error_raise,
                )
                async for event, obj in stream:
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
                    self._log(
                        event="object-changed", change=event.lower(), object=f"{key.kind}/{key.namespace}/{key.name}"
                    )
                    self._notify()
            except ApiError as exc:
                self._count(exc.status.code)
                self.watch_restarts += 1
                if exc.status.code == 410:
                    need_get = True  # the version expired: get the object again, then watch from there
                    continue
                if exc.status.code == 403:
                    error = SourceError(
                        describe_api_error(exc, "watch", resource, key.namespace, key.name), source=self._server
                    )
                    if not started:
                        raise error from None
                    self._log(event="api-error", code=403, message=str(error))
                if exc.status.code == 401:
                    self._log(event="api-error", code=401, message="credentials rejected; re-reading them")
                await trio.sleep(backoff(attempt))
                attempt += 1
            except (httpx.HTTPError, OSError) as exc:
                self.watch_restarts += 1
                self._log(event="api-unreachable", error=type(exc).__name__, retry_in=round(backoff(attempt), 2))
                await trio.sleep(backoff(attempt))
                attempt += 1
