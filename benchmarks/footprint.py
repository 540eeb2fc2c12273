"""The sidecar's footprint: RSS of ``injector agent`` serving a Secret of 1,000 keys, and its CPU while idle.

    python benchmarks/footprint.py                      # the agent of this checkout
    python benchmarks/footprint.py --image localhost/injector:ci   # inside the image (after .ci/build-image.sh)

The agent follows the Secret in the stand-in API server (one get, one watch), mounts it as root, and is
measured from /proc: VmRSS once ready, after every file was read once, and user+system CPU time over an idle
window. In the image it runs under ``buildah run`` (chroot isolation: the host's network and PID namespace).
Goal: RSS under 64 MiB (Vault Agent's default memory request), no CPU while nothing changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.kube_apiserver import Account, ApiServer, rule  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
USER = "system:serviceaccount:bench:injector"


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as handle:
        return {key: value.strip() for key, value in (line.split(":", 1) for line in handle)}


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def mib(field: str) -> float:
    return int(field.split(maxsplit=1)[0]) / 1024


def find_agent(parent: int, timeout: float = 30) -> int:
    """The agent's Python process among ``parent``'s descendants (buildah run -> sh -> injector's loader)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"\0-m\0injector\0agent\0" in cmdline and _descends(int(entry), parent):
                return int(entry)
        time.sleep(0.1)
    raise SystemExit("the agent's process was not found")


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(status(pid)["PPid"])
        except (OSError, KeyError):
            return False
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", help="measure inside this image (buildah, as built by .ci/build-image.sh)")
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--storage", default="/tmp/injector-image/storage.conf", help="buildah's storage.conf")
    args = parser.parse_args()
    api = ApiServer(
        {"t": Account(USER, (rule(["get", "watch"], ["secrets", "pods"], namespace="bench"),))},
        tls=True,
        bookmark_interval=60,
    ).start()
    work = Path(tempfile.mkdtemp(prefix="injector-footprint-"))
    os.chmod(work, 0o755)
    (work / "kubeconfig").write_text(json.dumps(api.kubeconfig("t", namespace="bench")))
    data = {f"key-{i:04d}": os.urandom(24).hex() for i in range(args.keys)}
    api.put({"kind": "Secret", "metadata": {"name": "big", "namespace": "bench"}, "stringData": data})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "bench"},
        "spec": {
            "containers": [{"name": "app", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "big"}}],
        },
    }
    (work / "pod.json").write_text(json.dumps(pod))
    agent_args = ["agent", "--pod", "/fp/pod.json", "--kubeconfig", "/fp/kubeconfig", "--mount", "/mnt/fp"]
    agent_args += ["--allow-other"]
    env = dict(os.environ)
    container = None
    if args.image:
        env.update(CONTAINERS_STORAGE_CONF=args.storage, BUILDAH_ISOLATION="chroot")
        container = subprocess.run(
            ["buildah", "from", "--pull=never", args.image], capture_output=True, text=True, env=env, check=True
        ).stdout.strip()
        argv = [
            "buildah", "run", "--user", "0:0", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_IPC_LOCK",
            "-v", f"{work}:/fp:ro", container, "--", "sh", "-c", 'mkdir -p /mnt/fp && exec injector "$@"', "sh",
            *agent_args,
        ]  # fmt: skip
        view = None
        where = f"image {args.image}"
    else:
        (work / "mnt").mkdir()
        argv = [sys.executable, "-m", "injector", *(a.replace("/fp/", f"{work}/") for a in agent_args)]
        argv[argv.index("/mnt/fp")] = str(work / "mnt")
        view = work / "mnt"
        where = f"this checkout ({sys.executable})"
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        started = time.monotonic()
        while b"serving" not in process.stderr.readline():
            if process.poll() is not None:
                raise SystemExit(f"the agent exited: {process.stderr.read().decode()}")
        ready = time.monotonic() - started
        pid = find_agent(process.pid) if args.image else process.pid
        root = view if view is not None else Path(f"/proc/{pid}/root/mnt/fp")
        at_ready = status(pid)
        names = []  # every key, through its symlink (key -> ..data/key), as an app reads it
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = [name for name in subdirectories if not name.startswith("..")]
            names += [Path(directory, name) for name in files if not name.startswith("..")]
        for name in names:
            name.read_bytes()
        after_reads = status(pid)
        ticks, start = cpu_ticks(pid), time.monotonic()
        time.sleep(args.idle)
        idle_ticks, idle = cpu_ticks(pid) - ticks, time.monotonic() - start
        print(f"agent in {where}: {len(names)} keys served, ready {ready:.2f} s after start")
        print(
            f"RSS: {mib(at_ready['VmRSS']):.1f} MiB when ready, {mib(after_reads['VmRSS']):.1f} MiB after reading "
            f"every file once (high-water {mib(after_reads['VmHWM']):.1f} MiB; goal < 64 MiB)"
        )
        print(
            f"idle CPU over {idle:.0f} s: {idle_ticks} ticks = {idle_ticks / CLK_TCK:.2f} s "
            f"({100 * idle_ticks / CLK_TCK / idle:.3f} %)"
        )
    finally:
        if process.poll() is None:
            if args.image:
                os.kill(find_agent(process.pid), signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        if container:
            subprocess.run(["buildah", "rm", container], env=env, capture_output=True, check=False)
        api.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
