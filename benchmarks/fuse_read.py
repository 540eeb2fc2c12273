"""FUSE read performance against tmpfs, as ratios measured in the same run.

Mounts a one-Secret volume three times over (default: key files; --key-symlinks; --audit) and
compares it with a tmpfs mounted beside it (same depth, same mount options), holding the same bytes
twice: as a plain file, and in the kubelet's layout (``key -> ..data/key``, ``..data ->
..<timestamp>``). Measured: open+read+close of a 100-byte file (median, p99), stat (median, p99),
and 1 MiB read throughput. The targets are measured in interleaved rounds, so that drift (CPU
frequency, caches, other load) hits them all alike. Needs root and /dev/fuse.
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


def measure_round(small: str, large: str, iterations: int, results: dict[str, list[float]]) -> None:
    clock = time.perf_counter_ns
    for _ in range(20):
        open_read_close(small)
        os.stat(small)
    for _ in range(iterations):
        start = clock()
        open_read_close(small)
        results["open+read+close"].append(clock() - start)
        start = clock()
        os.stat(small)
        results["stat"].append(clock() - start)
    for _ in range(max(1, iterations // 100)):
        start = clock()
        with open(large, "rb", buffering=0) as handle:
            while handle.read(1 << 20):
                pass
        results["1MiB read"].append(clock() - start)


def measure(targets: dict[str, tuple[str, str]], iterations: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per target, the samples of each metric, taken in ``rounds`` interleaved rounds."""
    figures: dict[str, dict[str, list[float]]] = {
        name: {"open+read+close": [], "stat": [], "1MiB read": []} for name in targets
    }
    per_round = max(1, iterations // rounds)
    for _ in range(rounds):
        for name, (small, large) in targets.items():
            measure_round(small, large, per_round, figures[name])
    return figures


def kubelet_layout(root: Path, files: dict[str, bytes]) -> None:
    """The kubelet's atomic writer's layout of ``files`` in ``root``."""
    version = "..2026_01_01_00_00_00.000000000"
    (root / version).mkdir()
    for name, data in files.items():
        (root / version / name).write_bytes(data)
        (root / name).symlink_to(f"..data/{name}")
    (root / "..data").symlink_to(version)


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
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="injector-bench-src-"))
    mount_args = write_fixture(work)
    # the tmpfs baseline, beside the FUSE mountpoints, with the bytes the mount serves
    shm = Path(tempfile.mkdtemp(prefix="injector-bench-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "nosuid,nodev,noexec,noatime", "tmpfs", str(shm)], check=True)
    served = {"small": SMALL, "large": LARGE.hex()[: 1024 * 1024 - 200].encode()}
    for name, data in served.items():
        (shm / f"plain-{name}").write_bytes(data)
    kubelet_layout(shm, served)
    targets = {
        "tmpfs": (str(shm / "plain-small"), str(shm / "plain-large")),
        "kubelet": (str(shm / "small"), str(shm / "large")),
    }
    processes: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for name, extra in (
            ("fuse", []),
            ("fuse, symlinks", ["--key-symlinks"]),
            ("fuse+audit", ["--audit", os.devnull]),
        ):
            process, root = mounted(mount_args, extra)
            processes.append((process, root))
            targets[name] = (os.path.join(root, "small"), os.path.join(root, "large"))
        figures = measure(targets, args.iterations, args.rounds)
    finally:
        for process, root in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
            os.rmdir(root)
        subprocess.run(["umount", str(shm)], check=False)
        shm.rmdir()
        shutil.rmtree(work)
    base = figures["tmpfs"]
    compared = ("kubelet", "fuse", "fuse, symlinks", "fuse+audit")
    print(f"iterations: {args.iterations} in {args.rounds} interleaved rounds (1 MiB reads: {len(base['1MiB read'])})")
    print(
        "tmpfs: a plain file; kubelet: the kubelet's layout on tmpfs (key -> ..data/key); fuse: the mount's key"
        " (a second name of ..data/key); fuse, symlinks: the mount with --key-symlinks (the kubelet's symlinks)"
    )
    for metric in ("open+read+close", "stat"):
        base_median, base_p99 = median(base[metric]), percentile(base[metric], 0.99)
        print(f"{metric}: tmpfs median {base_median / 1000:.2f} us, p99 {base_p99 / 1000:.2f} us")
        for name in compared:
            mid, p99 = median(figures[name][metric]), percentile(figures[name][metric], 0.99)
            print(
                f"  {name:14s} median {mid / 1000:7.2f} us ({mid / base_median:5.2f}x)"
                f"   p99 {p99 / 1000:7.2f} us ({p99 / base_p99:5.2f}x)"
            )
    metric = "1MiB read"
    tmpfs_rate = (1 << 20) / median(base[metric]) * 1e9 / (1 << 20)
    print(f"{metric}: tmpfs {tmpfs_rate:.0f} MiB/s")
    for name in compared:
        rate = (1 << 20) / median(figures[name][metric]) * 1e9 / (1 << 20)
        print(f"  {name:14s} {rate:7.0f} MiB/s ({tmpfs_rate / rate:5.2f}x slower)")
    base_median = median(base["open+read+close"])
    ratio, kubelet, symlinks = (
        median(figures[name]["open+read+close"]) / base_median for name in ("fuse", "kubelet", "fuse, symlinks")
    )
    print(
        f"ratio fuse/tmpfs open+read+close median: {ratio:.2f}x (goal <= 1.5x; the kubelet's layout on tmpfs:"
        f" {kubelet:.2f}x; --key-symlinks: {symlinks:.2f}x)"
    )


if __name__ == "__main__":
    main()
