"""Load: 32 reader processes x 10,000 open+read+close while the tree is replaced every 10 ms."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mounting import requires_fuse

pytestmark = [pytest.mark.fuse, pytest.mark.slow, requires_fuse()]

SERVER = Path(__file__).resolve().parent / "load_server.py"
READERS = 32
OPENS = 10_000
FILE_SIZE = 8192

READER = """
import os, sys
path, count = sys.argv[1], int(sys.argv[2])
errors = torn = 0
versions = set()
for _ in range(count):
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, 1 << 20)
        finally:
            os.close(fd)
    except OSError:
        errors += 1
        continue
    header = data[:8]
    if not header.startswith(b"v") or data != header * (len(data) // 8) or len(data) != SIZE:
        torn += 1
    versions.add(header)
print(errors, torn, len(versions))
""".replace("SIZE", str(FILE_SIZE // 8 * 8))


def test_readers_see_no_error_and_no_torn_read_while_tree_churns(tmp_path: Path) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    server = subprocess.Popen(
        [sys.executable, str(SERVER), str(mountpoint), str(FILE_SIZE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert server.stdout is not None
    try:
        assert b"ready\n" == server.stdout.readline()
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", READER, str(mountpoint / "token"), str(OPENS)], stdout=subprocess.PIPE
            )
            for _ in range(READERS)
        ]
        results = [tuple(int(n) for n in reader.communicate(timeout=900)[0].split()) for reader in readers]
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    figures = json.loads(out.decode().splitlines()[-1])
    errors = sum(r[0] for r in results)
    torn = sum(r[1] for r in results)
    growth = figures["rss_kb_under_load"] / figures["rss_kb_after_warmup"] - 1
    print(
        f"\nload: {READERS} readers x {OPENS} opens, {figures['replacements']} replacements in "
        f"{figures['seconds']:.1f} s, {figures['opens']} opens served; errors {errors}, torn {torn}; "
        f"versions seen per reader {min(r[2] for r in results)}-{max(r[2] for r in results)}; RSS "
        f"{figures['rss_kb_after_warmup']} kB after warm-up, "
        f"{figures['rss_kb_under_load']} kB at the end of the load "
        f"({figures['releases_pending']} RELEASEs still queued by the kernel), {figures['rss_kb_at_end']} kB once "
        f"drained; growth over the run {growth:+.1%}; old inodes still held {figures['retired_inodes_held']}"
    )

    assert (0, 0) == (errors, torn), err.decode()
    assert all(r[2] > 1 for r in results)  # every reader really read across replacements
    assert growth < 0.10
    assert 0 == figures["retired_inodes_held"]  # every old version freed once the kernel released it
