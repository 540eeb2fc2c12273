"""Keeping a mount current, without a mount: change notices, reloads, swaps and reports (virtual time)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from injector.errors import ManifestError
from injector.inputs import read_pod
from injector.serve import ReloadStats, Sources, forward_changes, keep_current, notify
from injector.settings import InputSettings
from injector.shell.report import Reporter
from tests.conftest import write_manifests
from tests.support.manifests import container, pod, secret, secret_key_ref, value


class FakeMount:
    """Holds content the way a mount does; records every replacement."""

    def __init__(self, current: bytes) -> None:
        self.content = current
        self.replaced: list[bytes] = []

    async def apply(self, new: bytes) -> bool:
        if new == self.content:
            return False
        self.content = new
        self.replaced.append(new)
        return True


def capturing_reporter() -> tuple[Reporter, io.StringIO]:
    stream = io.StringIO()
    return Reporter(stream=stream), stream


async def run_keep_current(contents: list[bytes | Exception], notices: int) -> tuple[FakeMount, ReloadStats, str]:
    mount = FakeMount(b"v0")
    stats = ReloadStats()
    reporter, stream = capturing_reporter()
    results = iter(contents)

    async def reload() -> bytes:
        await trio.sleep(0.5)  # a reload takes time (virtual)
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    async def apply(new: bytes) -> bool:
        changed = await mount.apply(new)
        if changed:
            reporter.say("updated /mnt")
        return changed

    send, receive = trio.open_memory_channel[None](1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keep_current, receive, reload, apply, reporter, stats)
        for _ in range(notices):
            await send.send(None)
            await trio.sleep(1)
        nursery.cancel_scope.cancel()
    return mount, stats, stream.getvalue()


def test_each_change_is_reloaded_and_swapped_in() -> None:
    async def main() -> None:
        mount, stats, reported = await run_keep_current([b"v1", b"v2"], notices=2)

        assert [b"v1", b"v2"] == mount.replaced
        assert {"ok": 2, "failed": 0} == stats.resolutions
        assert 2 == stats.rotation.count
        assert "injector: updated /mnt\ninjector: updated /mnt\n" == reported

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_failed_reload_keeps_the_last_good_tree_and_is_reported() -> None:
    async def main() -> None:
        failure = ManifestError("invalid YAML", source="s.yaml")
        mount, stats, reported = await run_keep_current([failure, b"v2"], notices=2)

        assert [b"v2"] == mount.replaced
        assert {"ok": 1, "failed": 1} == stats.resolutions
        assert reported.startswith(
            "injector: update not applied, still serving the last good content: s.yaml: invalid YAML\n"
        )

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_an_unchanged_tree_is_not_swapped() -> None:
    async def main() -> None:
        mount, stats, reported = await run_keep_current([b"v0"], notices=1)

        assert ([], "", 0) == (mount.replaced, reported, stats.rotation.count)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_notices_coalesce_while_one_is_waiting() -> None:
    """A burst of changes while a notice waits costs one reload, not one per change."""

    async def main() -> None:
        send, receive = trio.open_memory_channel[None](1)
        for _ in range(5):
            notify(send)
        send.close()

        assert [None] == [notice async for notice in receive]

    trio.run(main)


def test_a_change_seen_by_the_follower_becomes_a_notice() -> None:
    class FakeFollower:
        generation = 0

        def __init__(self) -> None:
            self.changed = trio.Event()

        async def wait_changed(self, seen: int) -> None:
            while self.generation == seen:
                await self.changed.wait()
                self.changed = trio.Event()

        def change(self) -> None:
            self.generation += 1
            self.changed.set()

    async def main() -> None:
        follower = FakeFollower()
        send, receive = trio.open_memory_channel[None](1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(forward_changes, follower, send)
            await trio.sleep(1)
            follower.change()
            with trio.fail_after(5):
                await receive.receive()
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_pod_from_stdin_is_read_once_and_kept_for_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = pod(container(env=[secret_key_ref("A", "api", "token"), value("B", "b")]))
    stdin = io.BytesIO(write_manifests(tmp_path / "pod.yaml", body).read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": "t1"}))
    settings = InputSettings(pod_file="-", secrets=(str(tmp_path / "secrets"),))
    sources = Sources(settings, read_pod(settings))
    assert b"" == stdin.read()  # all of it was read

    first = sources.resolve()
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": "t2"}))
    again = sources.resolve(reread=True)

    assert (b"t1", b"t2") == (first.env["A"].value, again.env["A"].value)


def test_a_reload_that_keeps_failing_the_same_way_is_reported_once() -> None:
    async def main() -> None:
        first = ManifestError("invalid YAML", source="s.yaml")
        other = ManifestError("illegal base64 data", source="s.yaml")
        mount, stats, reported = await run_keep_current([first, first, first, other, b"v1", first], notices=6)

        assert [b"v1"] == mount.replaced
        assert {"ok": 1, "failed": 5} == stats.resolutions
        assert [
            "injector: update not applied, still serving the last good content: s.yaml: invalid YAML",
            "injector: update not applied, still serving the last good content: s.yaml: illegal base64 data",
            "injector: updated /mnt",
            "injector: update not applied, still serving the last good content: s.yaml: invalid YAML",
        ] == reported.splitlines()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
