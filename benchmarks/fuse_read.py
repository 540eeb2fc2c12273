"""FUSE read performance against tmpfs, as ratios measured in the same run.

Mounts the bundled example twice over (default, and with --audit) and compares, against the same
files copied to /dev/shm: open+read+close of a 100-byte file (median, p99), stat (median, p99), and
1 MiB read throughput. Needs root and /dev/fuse.
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

SMALL = b"s" * 100
LARGE = bytes(range(256)) * 4096  # 1 MiB


def write_fixture(directory: Path) -> list[str]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "bench", "namespace": "default"},
        "stringData": {"small": SMALL.decode(), "large": LARGE.hex()[: 1024 * 1024 - 200]},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench"},
        "spec": {
            "containers": [{"name": "app", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "bench"}}],
        },
    }
    (directory / "secret.yaml").write_text(yaml.safe_dump(secret))
    (directory / "pod.yaml").write_text(yaml.safe_dump(pod))
    return ["--pod", str(directory / "pod.yaml"), "--secrets", str(directory / "secret.yaml"), "--volume", "v"]


def open_read_close(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 4096)
    os.close(fd)


def measure(root: str, iterations: int) -> dict[str, list[float]]:
    small, large = os.path.join(root, "small"), os.path.join(root, "large")
    for _ in range(200):
        open_read_close(small)
        os.stat(small)
    results: dict[str, list[float]] = {"open+read+close": [], "stat": [], "1MiB read": []}
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        open_read_close(small)
        results["open+read+close"].append(clock() - start)
        start = clock()
        os.stat(small)
        results["stat"].append(clock() - start)
    for _ in range(max(20, iterations // 100)):
        start = clock()
        with open(large, "rb", buffering=0) as handle:
            while handle.read(1 << 20):
                pass
        results["1MiB read"].append(clock() - start)
    return results


def mounted(args: list[str], extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    mountpoint = tempfile.mkdtemp(prefix="injector-bench-")
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "mount", *args, *extra, mountpoint], stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    output = b""
    while b"serving" not in output:
        chunk = process.stderr.readline()
        if not chunk:
            raise SystemExit(f"mount failed: {output.decode()}")
        output += chunk
    return process, mountpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="injector-bench-src-"))
    mount_args = write_fixture(work)
    shm = tempfile.mkdtemp(prefix="injector-bench-", dir="/dev/shm")
    # tmpfs baseline with the same bytes the mount serves
    Path(shm, "small").write_bytes(SMALL)
    Path(shm, "large").write_bytes(LARGE.hex()[: 1024 * 1024 - 200].encode())
    runs = {"tmpfs": (None, shm)}
    for name, extra in (("fuse", []), ("fuse+audit", ["--audit", os.devnull])):
        runs[name] = mounted(mount_args, extra)
    try:
        figures = {name: measure(root, args.iterations) for name, (_, root) in runs.items()}
    finally:
        for process, root in runs.values():
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
                os.rmdir(root)
        shutil.rmtree(shm)
        shutil.rmtree(work)
    base = figures["tmpfs"]
    print(f"iterations: {args.iterations} (1 MiB reads: {len(base['1MiB read'])})")
    for metric in ("open+read+close", "stat"):
        base_median, base_p99 = median(base[metric]), percentile(base[metric], 0.99)
        print(f"{metric}: tmpfs median {base_median / 1000:.1f} us, p99 {base_p99 / 1000:.1f} us")
        for name in ("fuse", "fuse+audit"):
            mid, p99 = median(figures[name][metric]), percentile(figures[name][metric], 0.99)
            print(
                f"  {name:11s} median {mid / 1000:7.1f} us ({mid / base_median:5.2f}x)"
                f"   p99 {p99 / 1000:7.1f} us ({p99 / base_p99:5.2f}x)"
            )
    metric = "1MiB read"
    tmpfs_rate = (1 << 20) / median(base[metric]) * 1e9 / (1 << 20)
    print(f"{metric}: tmpfs {tmpfs_rate:.0f} MiB/s")
    for name in ("fuse", "fuse+audit"):
        rate = (1 << 20) / median(figures[name][metric]) * 1e9 / (1 << 20)
        print(f"  {name:11s} {rate:7.0f} MiB/s ({tmpfs_rate / rate:5.2f}x slower)")
    ratio = median(figures["fuse"]["open+read+close"]) / median(base["open+read+close"])
    print(f"ratio fuse/tmpfs open+read+close median: {ratio:.2f}x (goal <= 2x; 1.5x stretch)")


if __name__ == "__main__":
    main()
