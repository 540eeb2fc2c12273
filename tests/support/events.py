"""Record what real watchers see of a directory: ``inotifywait`` (inotify-tools) and a watchdog observer.

Each recording is normalized so that two of them can be compared: read events (OPEN, ACCESS,
CLOSE_NOWRITE, which differ with how often a writer reads and how inotify merges them) are left out,
version directories are named by the order they appear in (``..V1``...), and a run of events that
differ only by name is sorted (the kubelet's order there is Go's map order, which is random).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

VERSION = re.compile(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+")
READ_EVENTS = {"OPEN", "ACCESS", "CLOSE_NOWRITE", "CLOSE", "ISDIR"}
WATCHDOG_READS = {"FileOpenedEvent", "FileClosedNoWriteEvent", "DirOpenedEvent"}


def name_versions(lines: Iterable[str]) -> list[str]:
    """Version directories named ``..V1``, ``..V2``... in the order they first appear."""
    names: dict[str, str] = {}

    def rename(match: re.Match[str]) -> str:
        return names.setdefault(match.group(), f"..V{len(names) + 1}")

    return [VERSION.sub(rename, line) for line in lines]


def sort_runs(lines: list[tuple[str, str]], follower: tuple[str, str] | None = None) -> list[str]:
    """``(kind, name)`` pairs; runs of one kind are sorted by name. A ``follower`` (watchdog's
    ``DirModifiedEvent .``, which comes after each change in the directory) stays with the event
    it follows."""
    units: list[list[tuple[str, str]]] = []
    for line in lines:
        if units and line == follower:
            units[-1].append(line)
        else:
            units.append([line])
    out: list[str] = []
    run: list[list[tuple[str, str]]] = []
    for unit in [*units, [("", "")]]:
        if run and unit[0][0] != run[0][0][0]:
            out += [f"{kind} {name}".rstrip() for each in sorted(run) for kind, name in each]
            run = []
        run.append(unit)
    return out


def _fields(line: str) -> tuple[str, str, str]:
    """inotifywait's ``WATCHED EVENTS [NAME]``."""
    watched, _, rest = line.partition(" ")
    events, _, name = rest.partition(" ")
    return watched, events, name


class InotifyWait:
    """``inotifywait -m PATH SENTINEL``: what it printed for PATH up to each sentinel file created.

    The sentinel directory shares the watcher's inotify queue, so once the sentinel's CREATE is read,
    every event of PATH that came before it has been read too.
    """

    def __init__(self, path: Path, sentinels: Path, label: str) -> None:
        self.path = str(path)
        self.sentinels = str(sentinels)
        self.label = label
        self.lines: list[str] = []
        self._buffer = b""
        self.process = subprocess.Popen(
            ["stdbuf", "-oL", "inotifywait", "-m", self.path, self.sentinels],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        said = b""
        while b"Watches established" not in said:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"inotifywait could not watch {path}: {said.decode()}")
            said += line

    def read_until(self, sentinel: str, timeout: float = 30) -> None:
        """Read what came before the sentinel file ``sentinel`` was created."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._next_line(deadline, f"sentinel {sentinel}")
            watched, events, name = _fields(line)
            if watched.rstrip("/") == self.sentinels:
                if "CREATE" in events.split(",") and name == sentinel:
                    return
                continue
            self.lines.append(line)

    def read_until_seen(self, events: str, times: int, timeout: float = 30) -> None:
        """Read until ``events`` (``DELETE,ISDIR``) came ``times`` times in all."""
        deadline = time.monotonic() + timeout
        while sum(1 for line in self.lines if _fields(line)[1] == events) < times:
            line = self._next_line(deadline, f"{times} x {events}")
            if _fields(line)[0].rstrip("/") != self.sentinels:
                self.lines.append(line)

    def _next_line(self, deadline: float, waiting_for: str) -> str:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()  # read unbuffered: select() sees nothing a buffer holds
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"inotifywait on {self.path}: no {waiting_for} in time")
            self._buffer += os.read(fd, 65536)
        raw, self._buffer = self._buffer.split(b"\n", 1)
        return os.fsdecode(raw)

    def changes(self) -> list[str]:
        """The change events, normalized (the watched path shown as the label)."""
        kept = []
        for line in self.lines:
            watched, events, name = _fields(line)
            if set(events.split(",")) <= READ_EVENTS:
                continue
            kept.append(f"{self.label}{watched[len(self.path) :]} {events}|{name}")
        pairs = [tuple(line.split("|", 1)) for line in name_versions(kept)]
        return sort_runs([(kind, name) for kind, name in pairs])

    def close(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


class WatchdogRecorder:
    """A watchdog observer (inotify) on a directory, not recursive, as reloaders set it up."""

    def __init__(self, path: Path) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers.inotify import InotifyObserver

        self.path = str(path)
        self.events: list[tuple[str, str]] = []
        events = self.events
        base = self.path

        class Recorder(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                def relative(value: Any) -> str:
                    return os.path.relpath(os.fsdecode(value), base) if value else ""

                destination = relative(getattr(event, "dest_path", ""))
                events.append(
                    (type(event).__name__, relative(event.src_path) + (f" -> {destination}" if destination else ""))
                )

        self.observer = InotifyObserver()
        self.observer.schedule(Recorder(), self.path, recursive=False)
        self.observer.start()

    def wait_for(self, kind: str, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (kind, name) not in self.events:
            if time.monotonic() > deadline:
                raise AssertionError(f"watchdog on {self.path}: no {kind} {name} in {timeout} s")
            time.sleep(0.01)

    def wait_for_count(self, count: int, timeout: float = 30, settle: float = 0.3) -> None:
        """Until at least ``count`` change events came, then ``settle`` seconds for any more."""
        deadline = time.monotonic() + timeout
        while len(self.changes()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(settle)

    def changes(self, before: tuple[str, str] | None = None) -> list[str]:
        """The change events, normalized; only those that came ``before`` that event, if given."""
        events = list(self.events)
        if before is not None and before in events:
            events = events[: events.index(before)]
        kept = [f"{kind}|{name}" for kind, name in events if kind not in WATCHDOG_READS]
        pairs = [tuple(line.split("|", 1)) for line in name_versions(kept)]
        return sort_runs([(kind, name) for kind, name in pairs], follower=("DirModifiedEvent", "."))

    def close(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=10)
