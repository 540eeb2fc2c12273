"""A FUSE mount whose tree is replaced every 10 ms, for the load test (run as a script).

Usage: python tests/fuse/load_server.py MOUNTPOINT FILE_SIZE
Prints "ready" once mounted; on SIGTERM stops, unmounts and prints a JSON line of figures.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fuse.filesystem import Filesystem
from fuse.mount import mount_options, serve, update
from fuse.tree import FileSpec, Layout

VERSIONS = 16
INTERVAL = 0.010
WARM_UP = 100
"""Replacements (about 1 s, imports and caches settled) after which memory growth is measured."""


def rss_kb() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def version(number: int, size: int) -> bytes:
    header = f"v{number:06d}:".encode()
    return header * (size // len(header))


def layout_for(number: int, size: int) -> Layout:
    files = {"token": FileSpec(version(number, size), 0o444), "stable": FileSpec(b"unchanging", 0o444)}
    return Layout(files, os.getuid(), os.getgid())


async def main(mountpoint: str, size: int) -> None:
    fs = Filesystem(layout_for(0, size))
    figures: dict[str, float] = {}
    with trio.open_signal_receiver(signal.SIGTERM) as stop:
        async with trio.open_nursery() as nursery:
            session = await nursery.start(serve, fs, mountpoint, mount_options(allow_other=False, fsname="load"))
            print("ready", flush=True)

            async def churn() -> None:
                replacements = 0
                started = trio.current_time()
                while True:
                    await trio.sleep(INTERVAL)
                    replacements += 1
                    await update(session, layout_for(replacements % VERSIONS, size))
                    if replacements == WARM_UP:
                        figures["rss_kb_after_warmup"] = rss_kb()
                    figures["replacements"] = replacements
                    figures["seconds"] = trio.current_time() - started

            nursery.start_soon(churn)
            async for _ in stop:
                break
            figures["rss_kb_under_load"] = rss_kb()
            figures["releases_pending"] = sum(fs._open_files.values())
            # The kernel sends RELEASE and FORGET in the background, at most a dozen at a time: under
            # load they lag behind the opens and keep old versions alive. Let them drain (a bounded
            # wait: a FORGET that never comes is a leak the test must see), then measure.
            with trio.move_on_after(30):
                while fs._open_files or fs._retired:
                    await trio.sleep(0.05)
            figures["rss_kb_at_end"] = rss_kb()
            figures["opens"] = fs.opens
            figures["retired_inodes_held"] = len(fs._retired)
            figures["unreachable"] = len(fs._unreachable)
            figures["lookups"] = len(fs._lookups)
            figures["open_files"] = sum(fs._open_files.values())
            nursery.cancel_scope.cancel()
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]))
