"""Several clusters as one source: follow each, serve from the first that answers (I/O shell).

``--kube --context A --context B`` on a serving command: a Follower per cluster, all kept current
(one get and one watch per object in each, so that a switch needs no fetch), and the objects taken
from the first cluster in the order given that is healthy. A cluster is unhealthy once it has not
answered for ``failover_after`` seconds; then the next healthy one serves, and the first serves
again as soon as it answers. While none answers, the last good content stays (it is in memory).

    follow_clusters        owns every client (closed on exit) and the tasks below
    ├── keep_following     per cluster: Follower.run, restarted after a refusal at start (403...)
    ├── forward            per cluster: its changes, when it serves, become a change of the whole
    └── watch_health       which cluster serves: re-decided every tick and on each change
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence

import trio

from injector.core.objects import ObjectKey, ObjectSet
from injector.errors import InjectorError, Setting, SourceError
from injector.settings import KubeSettings
from injector.shell.kube import open_client
from injector.shell.kubewatch import BACKOFF_CAP, Follower, context_label
from injector.shell.loop import leaves
from injector.shell.report import Reporter

HEALTH_TICK = 0.25
"""Seconds between two looks at the clusters' health (a switch takes at most this long past the delay)."""


class Failover:
    """Followers in order of preference; ``snapshot()`` is the serving one's, changes are counted."""

    def __init__(self, followers: Sequence[Follower], *, failover_after: float, reporter: Reporter) -> None:
        self.followers = tuple(followers)
        self.failover_after = failover_after
        self.serving: Follower | None = None
        """The follower whose objects are served; None until one has fetched them all."""
        self.ready = {id(follower): trio.Event() for follower in self.followers}
        self.refused: dict[int, InjectorError] = {}
        self.generation = 0
        self._changed = trio.Event()
        self._reporter = reporter

    # -- what a Follower offers, for the whole ---------------------------------------------------------

    def snapshot(self) -> ObjectSet:
        return self.serving.snapshot() if self.serving is not None else ObjectSet({}, [])

    async def wait_changed(self, seen: int) -> None:
        while self.generation == seen:
            await self._changed.wait()

    def _notify(self) -> None:
        self.generation += 1
        self._changed.set()
        self._changed = trio.Event()

    @property
    def api_errors(self) -> dict[int, int]:
        total: dict[int, int] = {}
        for follower in self.followers:
            for code, count in follower.api_errors.items():
                total[code] = total.get(code, 0) + count
        return total

    @property
    def watch_restarts(self) -> int:
        return sum(follower.watch_restarts for follower in self.followers)

    @property
    def updated_at(self) -> Mapping[ObjectKey, float]:
        return self.serving.updated_at if self.serving is not None else {}

    def sources(self) -> dict[ObjectKey, str]:
        """Which cluster serves each object (for /metrics and /readyz)."""
        serving = self.serving
        return {} if serving is None else dict.fromkeys(serving.keys, serving.label)

    # -- deciding ---------------------------------------------------------------------------------

    def healthy(self, follower: Follower, now: float) -> bool:
        if not self.ready[id(follower)].is_set() or id(follower) in self.refused:
            return False
        since = follower.unreachable_since
        return since is None or now - since < self.failover_after

    def decide(self) -> None:
        """Serve from the first healthy cluster; keep the current one while none is."""
        now = trio.current_time()
        chosen = next((follower for follower in self.followers if self.healthy(follower, now)), None)
        if chosen is None or chosen is self.serving:
            return
        previous = self.serving
        self.serving = chosen
        if previous is not None:
            self._reporter.event("failover", serving=chosen.label, instead_of=previous.label)
        self._notify()

    # -- the tasks --------------------------------------------------------------------------------

    async def keep_following(self, follower: Follower) -> None:
        """Follow one cluster; a refusal at start (RBAC...) is reported and tried again, not fatal."""
        while True:
            refusal: SourceError | None = None
            try:
                await follower.run(task_status=_Fetched(self, follower))
            except* SourceError as group:  # raised from inside the follower's nursery: in a group
                refusal = next(leaf for leaf in leaves(group) if isinstance(leaf, SourceError))
            if refusal is None:
                return  # run ends only when it has nothing to follow
            self.refused[id(follower)] = refusal
            self._reporter.event("cluster-refused", cluster=follower.label, message=self._reporter.describe(refusal))
            await trio.sleep(BACKOFF_CAP / 3)

    def fetched(self, follower: Follower) -> None:
        """``follower`` holds every object once: it may serve."""
        self.refused.pop(id(follower), None)
        self.ready[id(follower)].set()
        self.decide()

    async def forward(self, follower: Follower) -> None:
        seen = follower.generation
        while True:
            await follower.wait_changed(seen)
            seen = follower.generation
            if follower is self.serving:
                self._notify()

    async def watch_health(self) -> None:
        while True:
            self.decide()
            await trio.sleep(HEALTH_TICK)


class _Fetched:
    """Follower.run's task status: tells the failover when that cluster has every object."""

    def __init__(self, failover: Failover, follower: Follower) -> None:
        self._failover = failover
        self._follower = follower

    def started(self, value: None = None) -> None:
        self._failover.fetched(self._follower)


async def follow_clusters(
    clusters: Sequence[KubeSettings],
    keys: Iterable[ObjectKey],
    reporter: Reporter,
    *,
    wait_timeout: float,
    failover_after: float,
    task_status: trio.TaskStatus[Failover] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Follow ``keys`` in every cluster until cancelled; ``started(failover)`` once one has them all.

    No cluster answering within ``wait_timeout`` seconds is a SourceError (the first refusal, if any).
    """
    wanted = sorted(set(keys))
    async with contextlib.AsyncExitStack() as stack:
        followers = []
        for settings in clusters:
            client = await stack.enter_async_context(open_client(settings))
            followers.append(Follower(client, wanted, reporter, label=context_label(settings)))
        failover = Failover(followers, failover_after=failover_after, reporter=reporter)
        async with trio.open_nursery() as nursery:
            for follower in followers:
                nursery.start_soon(failover.keep_following, follower)
                nursery.start_soon(failover.forward, follower)
            with trio.move_on_after(wait_timeout):
                await failover.wait_changed(0)  # the first decision: a cluster serves
            if failover.serving is None:
                if failover.refused:
                    raise next(iter(failover.refused.values()))
                raise SourceError(
                    ("no API server answered within ", f"{wait_timeout:g} s (", Setting("wait_timeout"), ")"),
                    source=", ".join(follower.label for follower in followers),
                )
            nursery.start_soon(failover.watch_health)
            task_status.started(failover)
