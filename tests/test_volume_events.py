"""A volume's update, seen by real watchers on the mount, is the kubelet's: the same updates are made
on tmpfs by a port of the kubelet's atomic writer in the same test, and ``inotifywait`` and a watchdog
observer must see the same events on both, for every kind of update."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from tests.conftest import write_manifests
from tests.support.atomic_writer import AtomicWriter, FileProjection
from tests.support.events import InotifyWait, WatchdogRecorder
from tests.support.kube_apiserver import ApiServer, injector_accounts
from tests.support.manifests import container, pod, secret
from tests.support.mounting import Mount, replace_file, requires_fuse, visible
from tests.test_kube_source import kubeconfig

pytestmark = [pytest.mark.fuse, requires_fuse()]

if shutil.which("inotifywait") is None and not os.environ.get("CI"):
    pytestmark.append(pytest.mark.skip(reason="inotifywait is not installed (Debian package inotify-tools)"))

State = Mapping[str, str] | None
"""The Secret's data, or None when it is deleted."""


class Case(NamedTuple):
    states: list[State]
    """The first is there before the watchers start; each next one is an update."""
    items: list[dict[str, str]] | None = None
    """The volume's items (key -> path); None: every key at its own name."""
    watched: str = "key"
    """A path in the volume whose file a watcher follows (inotifywait follows the symlinks)."""


CASES = {
    "a value changes": Case([{"key": "v1", "other": "o1"}, {"key": "v2", "other": "o1"}, {"key": "v3", "other": "o1"}]),
    "a key is added": Case([{"key": "v1"}, {"key": "v1", "new": "n1"}]),
    "a key is removed": Case([{"key": "v1", "gone": "g1"}, {"key": "v1"}]),
    "nested paths change and go": Case(
        [{"a": "1", "b": "1", "c": "1"}, {"a": "2", "b": "1", "c": "1"}, {"a": "2", "c": "1"}],
        items=[{"key": "a", "path": "conf/a.txt"}, {"key": "b", "path": "conf/deep/b.txt"}, {"key": "c", "path": "c"}],
        watched="conf/a.txt",
    ),
    "the optional secret is deleted, then made again": Case([{"key": "v1", "other": "o1"}, None, {"key": "v2"}]),
}


def payload(state: State, items: list[dict[str, str]] | None) -> dict[str, FileProjection]:
    """What the kubelet writes for the Secret in ``state`` (an optional volume: missing keys skipped)."""
    if state is None:
        return {}
    if items is None:
        return {key: FileProjection(value.encode()) for key, value in state.items()}
    return {item["path"]: FileProjection(state[item["key"]].encode()) for item in items if item["key"] in state}


def set_state(manifest: Path, state: State) -> None:
    if state is None:
        manifest.unlink()
    else:
        replace_file(manifest, yaml.safe_dump(secret("app", dict(state))))


def content(volume: Path) -> dict[str, bytes]:
    """Every file the volume shows, by its visible path."""
    found = {}
    for top in visible(volume):
        path = volume / top
        if path.is_dir():
            found.update({str(p.relative_to(volume)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()})
        else:
            found[top] = path.read_bytes()
    return found


class Watchers:
    """inotifywait on the volume, on the watched key and on ``..data``; watchdog on the volume."""

    def __init__(self, volume: Path, watched: str, sentinels: Path) -> None:
        self.sentinels = sentinels
        self.inotify = [
            InotifyWait(volume, sentinels, "VOL"),
            InotifyWait(volume / watched, sentinels, "KEY"),
            InotifyWait(volume / "..data", sentinels, "DATA"),
        ]
        self.watchdog = WatchdogRecorder(volume)
        self.marks = 0

    def settle(self, *, retired: int = 0) -> None:
        """Read everything the watchers were sent so far (once ``retired`` old versions were removed)."""
        if retired:
            self.inotify[0].read_until_seen("DELETE,ISDIR", retired)
        self.marks += 1
        mark = f"mark-{id(self)}-{self.marks}"
        (self.sentinels / mark).touch()
        for watcher in self.inotify:
            watcher.read_until(mark)

    def close(self) -> None:
        for watcher in self.inotify:
            watcher.close()
        self.watchdog.close()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sentinels"
    path.mkdir()
    yield path


def pod_with_volume(tmp_path: Path, case: Case) -> Path:
    volume_spec: dict[str, Any] = {"secretName": "app", "optional": True}
    if case.items is not None:
        volume_spec["items"] = case.items
    return write_manifests(
        tmp_path / "pod.yaml",
        pod(container(mounts=[{"name": "v", "mountPath": "/v"}]), volumes=[{"name": "v", "secret": volume_spec}]),
    )


def kubelets_events(tmp_path: Path, case: Case, sentinels: Path) -> tuple[list[list[str]], list[str]]:
    """What the watchers see of the kubelet making ``case``'s updates on tmpfs: each inotifywait's
    changes, and watchdog's."""
    volume = Path(tmp_path / "kubelet" / "v")
    volume.mkdir(parents=True)
    writer = AtomicWriter(str(volume))
    writer.write(payload(case.states[0], case.items))
    watchers = Watchers(volume, case.watched, sentinels)
    try:
        for state in case.states[1:]:
            writer.write(payload(state, case.items))
            watchers.settle()
        (volume / ".sentinel").touch()  # the watchdog observer reads it after all the rest
        watchers.watchdog.wait_for("FileCreatedEvent", ".sentinel")
    finally:
        watchers.close()
    return [w.changes() for w in watchers.inotify], watchers.watchdog.changes(before=("FileCreatedEvent", ".sentinel"))


def mounts_events(
    mount: Mount, volume: Path, case: Case, sentinels: Path, *, expected_watchdog: int, change: Callable[[State], None]
) -> tuple[list[list[str]], list[str]]:
    """The same, of injector's mount following ``change`` (each state made in the source)."""
    watchers = Watchers(volume, case.watched, sentinels)
    try:
        for number, state in enumerate(case.states[1:], 1):
            change(state)
            mount.wait_said("injector: updated", number)
            watchers.settle(retired=number)  # the old version goes a moment after the swap
            assert content(volume) == {path: p.data for path, p in payload(state, case.items).items()}
        watchers.watchdog.wait_for_count(expected_watchdog)
    finally:
        watchers.close()
    return [w.changes() for w in watchers.inotify], watchers.watchdog.changes()


@pytest.mark.parametrize(
    ("view", "keys"), [("--volume", "key files"), ("default view", "key files"), ("--volume", "--key-symlinks")]
)
@pytest.mark.parametrize("name", list(CASES))
def test_watchers_see_the_kubelets_events(name: str, view: str, keys: str, tmp_path: Path, sentinels: Path) -> None:
    case = CASES[name]
    pod_file = pod_with_volume(tmp_path, case)
    manifest = write_manifests(tmp_path / "secrets" / "app.yaml", secret("app", dict(case.states[0] or {})))
    expected, expected_watchdog = kubelets_events(tmp_path, case, sentinels)

    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    args = ["--pod", str(pod_file), "--secrets", str(manifest.parent), "--watch"]
    args += ["--volume", "v"] if view == "--volume" else []
    args += [keys] if keys.startswith("--") else []
    with Mount(mountpoint, args) as mount:
        volume = mountpoint if view == "--volume" else mountpoint / "v"
        seen, seen_watchdog = mounts_events(
            mount,
            volume,
            case,
            sentinels,
            expected_watchdog=len(expected_watchdog),
            change=lambda state: set_state(manifest, state),
        )

    assert expected == seen
    assert expected_watchdog == seen_watchdog
    assert "VOL/ MOVED_TO ..data" in seen[0]


def test_a_rotation_in_the_api_gives_the_kubelets_events(tmp_path: Path, sentinels: Path) -> None:
    case = CASES["the optional secret is deleted, then made again"]
    api = ApiServer(injector_accounts("app"), tls=True, bookmark_interval=0.5).start()
    try:

        def change(state: State) -> None:
            if state is None:
                api.remove("Secret", "shop", "app")
            else:
                api.put(secret("app", string_data=dict(state)))

        change(case.states[0])
        pod_file = pod_with_volume(tmp_path, case)
        config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
        expected, expected_watchdog = kubelets_events(tmp_path, case, sentinels)
        mountpoint = tmp_path / "mnt"
        mountpoint.mkdir()
        args = ["--pod", str(pod_file), "--kube", "--kubeconfig", str(config), "--watch", "--volume", "v"]
        with Mount(mountpoint, args) as mount:
            seen, seen_watchdog = mounts_events(
                mount, mountpoint, case, sentinels, expected_watchdog=len(expected_watchdog), change=change
            )
    finally:
        api.stop()

    assert expected == seen
    assert expected_watchdog == seen_watchdog
