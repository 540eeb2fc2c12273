"""``injector agent``: the sidecar. Serves the mount, follows the API, answers health and metrics.

    run_agent
    ├── HTTP on --listen: /healthz (alive), /readyz (mount serving, every required reference
    │   resolved at least once), /metrics (Prometheus text format)
    ├── Follower: one get and one watch per referenced object
    └── the FUSE mount, kept current (serve.mount_and_serve)

Logs are JSON objects, one per line, with names and codes only, never values.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from injector.errors import SourceError, UsageError
from injector.kube import KubeClient, KubeSettings, load_config
from injector.load import Request
from injector.serve import LogFormat, MountSettings, ServeState, log_event, mount_and_serve

MAX_REQUEST = 8192


class AgentCollector:
    """Reads the live state at scrape time: nothing is counted twice, nothing goes stale."""

    def __init__(self, state: ServeState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        state = self.state
        resolutions = CounterMetricFamily(
            "injector_resolutions", "Resolutions of the pod's references", labels=["result"]
        )
        for result, count in state.resolutions.items():
            resolutions.add_metric([result], count)
        yield resolutions
        follower = state.follower
        errors = CounterMetricFamily("injector_api_errors", "Kubernetes API errors, by HTTP status", labels=["code"])
        restarts = CounterMetricFamily("injector_watch_restarts", "Watches re-established after a fault")
        age = GaugeMetricFamily(
            "injector_secret_last_update_age_seconds",
            "Seconds since each object last changed",
            labels=["kind", "namespace", "name"],
        )
        if follower is not None:
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
        opens = CounterMetricFamily("injector_fuse_opens", "Files opened in the mount")
        reads = CounterMetricFamily("injector_fuse_reads", "Read requests served by the mount")
        opens.add_metric([], state.fs.opens if state.fs else 0)
        reads.add_metric([], state.fs.reads if state.fs else 0)
        yield opens
        yield reads
        rotation = state.rotation
        buckets = [(str(bound), count) for bound, count in zip(rotation.BOUNDS, rotation.counts, strict=True)]
        buckets.append(("+Inf", rotation.count))
        yield HistogramMetricFamily(
            "injector_rotation_latency_seconds",
            "From a change seen to the new content served",
            buckets=buckets,
            sum_value=rotation.sum,
        )


def metrics_text(state: ServeState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(state))
    return bytes(generate_latest(registry))


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "0.0.0.0", int(port)  # a Pod's probes come from the node: all addresses
    except ValueError:
        raise UsageError(f"--listen takes [HOST]:PORT, not {listen!r}") from None


async def _respond(stream: trio.SocketStream, state: ServeState) -> None:
    request = b""
    with trio.move_on_after(5):
        while b"\r\n\r\n" not in request and len(request) < MAX_REQUEST:
            chunk = await stream.receive_some(1024)
            if not chunk:
                break
            request += chunk
    line = request.split(b"\r\n", 1)[0].split()
    path = line[1].decode("ascii", "replace").split("?")[0] if len(line) >= 2 else ""
    content_type = b"text/plain; charset=utf-8"
    if len(line) < 2 or line[0] not in (b"GET", b"HEAD"):
        code, body = b"405 Method Not Allowed", b"GET only\n"
    elif path == "/healthz":
        code, body = b"200 OK", b"ok\n"
    elif path == "/readyz":
        code, body = (b"200 OK", b"ready\n") if state.ready else (b"503 Service Unavailable", b"not ready\n")
    elif path == "/metrics":
        code, body = b"200 OK", metrics_text(state)
        content_type = b"text/plain; version=0.0.4; charset=utf-8"
    else:
        code, body = b"404 Not Found", b"not found\n"
    head = (
        b"HTTP/1.1 "
        + code
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    await stream.send_all(head + (body if line[:1] != [b"HEAD"] else b""))


async def serve_http(listen: str, state: ServeState) -> None:
    host, port = parse_listen(listen)

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError):  # the client went away: nothing to answer
                await _respond(stream, state)

    log_event(event="listening", address=f"{host}:{port}")
    await trio.serve_tcp(handle, port, host=host)


async def fetch_own_pod(settings: KubeSettings, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """``--self``: the agent's own Pod, by POD_NAME/POD_NAMESPACE (downward API)."""
    from lightkube.core.exceptions import ApiError
    from lightkube.resources.core_v1 import Pod

    name, namespace = env.get("POD_NAME"), env.get("POD_NAMESPACE")
    if not name or not namespace:
        raise UsageError("--self needs POD_NAME and POD_NAMESPACE in the environment (downward API fieldRefs)")
    client = KubeClient(config=load_config(settings, env))
    try:
        pod = await client.get(Pod, name=name, namespace=namespace)
    except ApiError as exc:
        from injector.kube import describe_api_error

        raise SourceError(
            describe_api_error(exc, "get", "pods", namespace, name), source=str(client.config.cluster.server)
        ) from None
    finally:
        await client.close()
    body = pod.to_dict()
    body["apiVersion"], body["kind"] = "v1", "Pod"
    return f"Pod/{namespace}/{name}", body


async def run_agent(request: Request, settings: MountSettings, *, listen: str | None, own_pod: bool) -> int:
    """Serve until SIGTERM/SIGINT; returns 0 after unmounting and closing every watch."""
    LogFormat.json = True
    if own_pod:
        assert request.kube is not None
        origin, body = await fetch_own_pod(request.kube, dict(os.environ))
        request = request._replace(pod_file=origin, pod_body=body)
    log_event(event="starting", pod=request.pod_file, mount=settings.mountpoint)

    async def also_serve(state: ServeState) -> None:
        if listen:
            await serve_http(listen, state)

    status = await mount_and_serve(request, settings._replace(watch=True), also_serve=also_serve)
    log_event(event="stopped")
    return status
