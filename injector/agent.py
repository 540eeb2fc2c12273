"""``injector agent``: the sidecar. Serves the mount, follows the API, answers probes and metrics.

    run_agent              one nursery, opened here; nothing left running on return
    ├── serve_http         /healthz, /readyz, /metrics on --listen (from the start, so probes
    │                      answer while the rest comes up)
    ├── follow_objects     one get and one watch per referenced object   (serve.open_sources)
    └── serve              the FUSE mount, kept current, until SIGTERM/SIGINT

Logs are JSON objects, one per line, with names and codes only, never values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio

from injector.inputs import read_any_pod, without_errors
from injector.metrics import AgentStatus, routes
from injector.serve import Mounted, claim_mount, open_sources, serve, wait_for_stop
from injector.settings import AgentSettings, InputSettings, MountSettings
from injector.shell.http import serve_http
from injector.shell.process import harden_process
from injector.shell.report import Reporter


async def run_agent(agent: AgentSettings, inputs: InputSettings, mount: MountSettings, reporter: Reporter) -> int:
    """Serve until SIGTERM/SIGINT; returns 0 after unmounting and closing every watch."""
    assert inputs.kube is not None  # the agent always follows the API
    mount = await claim_mount(mount, reporter)
    pod_input = await read_any_pod(inputs)
    origin = pod_input.pod.origin
    reporter.event("starting", pod=origin, mount=mount.mountpoint)
    harden_process(reporter, with_child=False)
    status = AgentStatus()

    async def until_stopped(signals: AsyncIterator[int], mounted: Mounted | None) -> int:
        status.mounted = mounted
        status.ready = True
        reporter.event("serving", mount=mount.mountpoint)
        await wait_for_stop(signals)
        status.ready = False
        return 0

    async with trio.open_nursery() as nursery:
        if agent.listen is not None:
            await nursery.start(serve_http, agent.listen, routes(status), reporter)
        async with open_sources(
            inputs,
            pod_input,
            reporter,
            watch=True,
            wait_timeout=mount.wait_timeout,
            failover_after=mount.failover_after,
        ) as sources:
            status.follower = sources.follower
            resolution = without_errors(await trio.to_thread.run_sync(sources.resolve))
            for warning in resolution.warnings:
                reporter.warning(warning)
            code = await serve(mount, sources, resolution, reporter, until_stopped, watch=True, stats=status.stats)
        nursery.cancel_scope.cancel()
    reporter.event("stopped")
    return code
