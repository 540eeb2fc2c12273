"""``run --watch``: time from a manifest change to the restarted child running with the new value.

Runs ``injector run --watch --on-change restart -- sh -c 'echo "$TOKEN"; exec sleep 1000'`` (no mount,
no --grace needed: sh dies on SIGTERM at once), then --changes times: rename a new Secret manifest into
place and wait for the new child's first line. Then changes a key the container does not reference
and counts restarts (goal: none). Prints median and p99. Goal: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median, percentile  # noqa: E402


def secret_yaml(token: str, unrelated: str = "u") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"},
            "stringData": {"token": token, "unrelated": unrelated},
        }
    )


def replace(manifest: Path, text: str) -> float:
    staging = manifest.with_name(".s.yaml.tmp")
    staging.write_text(text)
    start = time.perf_counter()
    os.replace(staging, manifest)
    return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="injector-restart-"))
    (work / "secrets").mkdir()
    manifest = work / "secrets" / "s.yaml"
    manifest.write_text(secret_yaml("value-initial"))
    env = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app", "env": env}]},
    }
    (work / "pod.yaml").write_text(yaml.safe_dump(pod))
    command = [sys.executable, "-m", "injector", "run", "--watch", "--on-change", "restart"]
    command += ["--pod", str(work / "pod.yaml"), "--secrets", str(work / "secrets")]
    command += ["--", "sh", "-c", 'echo "$TOKEN"; exec sleep 1000']
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"value-initial":
        raise SystemExit("run failed to start")
    latencies = []
    try:
        for change in range(args.changes):
            value = f"value-{change:05d}"
            start = replace(manifest, secret_yaml(value))
            line = process.stdout.readline().strip()
            if line != value.encode():
                raise SystemExit(f"change {change}: the child printed {line!r}")
            latencies.append(time.perf_counter() - start)
        replace(manifest, secret_yaml(value, unrelated="changed"))
        ready, _, _ = select.select([process.stdout], [], [], 2.0)
        restarts = 0 if not ready else 1
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        shutil.rmtree(work, ignore_errors=True)
    print(f"changes: {len(latencies)}")
    print(
        f"change on disk -> restarted child running with the new value: median {median(latencies) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms (goal p99 < 1000 ms)"
    )
    print(f"restarts for a change of a key the container does not reference: {restarts} (goal 0)")


if __name__ == "__main__":
    main()
