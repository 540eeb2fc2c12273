"""The API follower's bookkeeping, without a server: changes are never missed."""

from __future__ import annotations

import trio

from injector.shell.kubewatch import Follower
from injector.shell.report import Reporter


def test_a_change_during_a_reload_is_not_missed() -> None:
    """Changes notified while nobody waits are seen by the next wait (the reload that lost update 72)."""

    class FakeClient:
        class config:  # noqa: N801 - the shape of lightkube's SingleConfig
            class cluster:  # noqa: N801
                server = "https://fake"

    follower = Follower(FakeClient(), [], Reporter())  # type: ignore[arg-type]
    seen = follower.generation
    follower._notify()

    async def wait() -> None:
        with trio.fail_after(1):
            await follower.wait_changed(seen)

    trio.run(wait)
