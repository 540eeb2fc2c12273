"""What the agent tells its probes and Prometheus: /healthz, /readyz and /metrics.

Everything is read from the live objects at request time, so nothing is counted twice and nothing
goes stale: the follower's API errors and watch restarts, the mount's opens and reads, the reloads'
results and rotation latency. Names, codes and numbers only, never a value.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from injector.serve import Mounted, ReloadStats
from injector.shell.failover import Failover
from injector.shell.http import Response, Routes
from injector.shell.kubewatch import Follower

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class AgentStatus:
    """The agent's parts as they come up: what the probes and the metrics look at."""

    stats: ReloadStats = field(default_factory=ReloadStats)
    follower: Follower | Failover | None = None
    mounted: Mounted | None = None
    ready: bool = False
    """The mount serves, and every required reference resolved at least once."""


class AgentCollector:
    """A Prometheus collector over an AgentStatus."""

    def __init__(self, status: AgentStatus) -> None:
        self.status = status

    def collect(self) -> Iterator[Any]:
        status = self.status
        resolutions = CounterMetricFamily(
            "injector_resolutions", "Resolutions of the pod's references", labels=["result"]
        )
        for result, count in status.stats.resolutions.items():
            resolutions.add_metric([result], count)
        yield resolutions
        follower = status.follower
        errors = CounterMetricFamily("injector_api_errors", "Kubernetes API errors, by HTTP status", labels=["code"])
        restarts = CounterMetricFamily("injector_watch_restarts", "Watches re-established after a fault")
        age = GaugeMetricFamily(
            "injector_secret_last_update_age_seconds",
            "Seconds since each object last changed",
            labels=["kind", "namespace", "name"],
        )
        served = GaugeMetricFamily(
            "injector_object_cluster",
            "1 for the cluster (kubeconfig context) each object is served from",
            labels=["kind", "namespace", "name", "cluster"],
        )
        if follower is not None:
            for key, cluster in sorted(follower.sources().items()):
                served.add_metric([key.kind, key.namespace, key.name, cluster], 1)
            for code, count in sorted(follower.api_errors.items()):
                errors.add_metric([str(code)], count)
            restarts.add_metric([], follower.watch_restarts)
            now = time.time()
            for key, when in sorted(follower.updated_at.items()):
                age.add_metric([key.kind, key.namespace, key.name], now - when)
        else:
            restarts.add_metric([], 0)
        yield errors
        yield restarts
        yield age
        yield served
        fs = status.mounted.fs if status.mounted is not None else None
        opens = CounterMetricFamily("injector_fuse_opens", "Files opened in the mount")
        reads = CounterMetricFamily("injector_fuse_reads", "Read requests served by the mount")
        opens.add_metric([], fs.opens if fs else 0)
        reads.add_metric([], fs.reads if fs else 0)
        yield opens
        yield reads
        rotation = status.stats.rotation
        buckets = [(str(bound), count) for bound, count in zip(rotation.BOUNDS, rotation.counts, strict=True)]
        buckets.append(("+Inf", rotation.count))
        yield HistogramMetricFamily(
            "injector_rotation_latency_seconds",
            "From a change seen to the new content served",
            buckets=buckets,
            sum_value=rotation.sum,
        )


def metrics_text(status: AgentStatus) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(status))
    return bytes(generate_latest(registry))


def routes(status: AgentStatus) -> Routes:
    """The agent's HTTP endpoints."""

    def ready() -> Response:
        if not status.ready:
            return Response("503 Service Unavailable", b"not ready\n")
        served = status.follower.sources() if status.follower is not None else {}
        lines = [f"{key.kind}/{key.namespace}/{key.name}: {cluster}\n" for key, cluster in sorted(served.items())]
        return Response("200 OK", ("ready\n" + "".join(lines)).encode())

    return {
        "/healthz": lambda: Response("200 OK", b"ok\n"),
        "/readyz": ready,
        "/metrics": lambda: Response("200 OK", metrics_text(status), PROMETHEUS_TEXT),
    }
