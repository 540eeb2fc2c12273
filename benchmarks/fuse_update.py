"""Time from a manifest change on disk to the new content being readable in the mount, and to the
kubelet's ``MOVED_TO ..data`` event reaching a watcher of the volume (inotifywait, as reloaders watch).

Mounts a pod with --watch, then 100 times: rename a new Secret manifest into place, read the file
through the mount until the new value shows, and wait for inotifywait's ``..data`` line. Prints
median and p99 of both. Goal: p99 under 200 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median, percentile


def secret_yaml(value: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"},
            "stringData": {"token": value},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="injector-update-"))
    (work / "secrets").mkdir()
    manifest = work / "secrets" / "s.yaml"
    manifest.write_text(secret_yaml("value-initial"))
    (work / "pod.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [{"name": "app", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                    "volumes": [{"name": "v", "secret": {"secretName": "s"}}],
                },
            }
        )
    )
    mountpoint = work / "mnt"
    mountpoint.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "injector",
            "mount",
            "--watch",
            "--volume",
            "v",
            "--pod",
            str(work / "pod.yaml"),
            "--secrets",
            str(work / "secrets"),
            str(mountpoint),
        ],
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    while b"serving" not in process.stderr.readline():
        if process.poll() is not None:
            raise SystemExit("mount failed")
    target = mountpoint / "token"
    latencies, events = [], []
    watcher = subprocess.Popen(
        ["inotifywait", "-m", "-q", "-e", "moved_to", "--format", "%f", str(mountpoint)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert watcher.stdout is not None and watcher.stderr is not None
    time.sleep(0.5)  # inotifywait -q says nothing once its watch is set: give it the time to set it
    try:
        for change in range(args.changes):
            value = f"value-{change:05d}"
            staging = work / "secrets" / ".s.yaml.tmp"
            staging.write_text(secret_yaml(value))
            start = time.perf_counter()
            os.replace(staging, manifest)
            expected = value.encode()
            deadline = start + 10
            while target.read_bytes() != expected:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"change {change} not visible after 10 s")
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - start)
            while watcher.stdout.readline().strip() != b"..data":
                pass
            events.append(time.perf_counter() - start)
    finally:
        watcher.kill()
        watcher.wait()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    print(f"changes: {len(latencies)}")
    print(
        f"change on disk -> readable in mount: median {median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms (goal p99 < 200 ms)"
    )
    print(
        f"change on disk -> MOVED_TO ..data seen by inotifywait: median {median(events) * 1000:.1f} ms, "
        f"p99 {percentile(events, 0.99) * 1000:.1f} ms (goal p99 < 200 ms)"
    )


if __name__ == "__main__":
    main()
