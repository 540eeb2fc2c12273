"""Admission review latency of ``injector webhook``, as the API server sees it (client side, over TLS).

A Deployment's pod (three containers, four secret/configMap/projected volumes, the service-account volume)
is reviewed --reviews times on one kept-alive connection, as the API server's client reuses connections,
then --fresh times with a new connection (and TLS handshake) each. Goal: p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median, percentile  # noqa: E402

from tests.support.kube_apiserver import free_port, self_signed  # noqa: E402
from tests.test_webhook import as_admitted, review  # noqa: E402


def pod() -> dict[str, object]:
    mounts = [
        {"name": "creds", "mountPath": "/etc/creds"},
        {"name": "tls", "mountPath": "/etc/tls"},
        {"name": "config", "mountPath": "/etc/config"},
        {"name": "all", "mountPath": "/etc/all"},
    ]
    containers = [
        {"name": name, "image": "example/app", "volumeMounts": list(mounts)} for name in ("app", "log", "proxy")
    ]
    volumes = [
        {"name": "creds", "secret": {"secretName": "db"}},
        {"name": "tls", "secret": {"secretName": "web-tls"}},
        {"name": "config", "configMap": {"name": "settings"}},
        {"name": "all", "projected": {"sources": [{"secret": {"name": "api"}}, {"configMap": {"name": "flags"}}]}},
    ]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": containers, "volumes": volumes},
    }
    return as_admitted(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--fresh", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="injector-webhook-"))
    cert, key = self_signed("injector-webhook", server=True)
    (work / "tls.crt").write_bytes(cert)
    (work / "tls.key").write_bytes(key)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "injector",
            "webhook",
            "--listen",
            f"127.0.0.1:{port}",
            "--tls-cert",
            str(work / "tls.crt"),
            "--tls-key",
            str(work / "tls.key"),
        ],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cadata=cert.decode())
    body = review(pod())

    def post(connection: http.client.HTTPSConnection) -> int:
        """One review; returns the number of patch operations."""
        connection.request("POST", "/mutate", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and answer["response"]["allowed"]
        return len(json.loads(base64.b64decode(answer["response"]["patch"])))

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
                patch_operations = post(probe)
                probe.close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the webhook did not start") from None
                time.sleep(0.05)
        kept = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
        for _ in range(50):  # warm-up
            post(kept)
        latencies = []
        for _ in range(args.reviews):
            start = time.perf_counter()
            post(kept)
            latencies.append(time.perf_counter() - start)
        kept.close()
        fresh = []
        for _ in range(args.fresh):
            start = time.perf_counter()
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
            post(connection)
            connection.close()
            fresh.append(time.perf_counter() - start)
        print(f"review of a 3-container, 4-volume pod ({len(body)} bytes in, {patch_operations} patch operations out)")
        print(
            f"kept-alive connection, {len(latencies)} reviews: p50 {median(latencies) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms (goal p99 < 20 ms)"
        )
        print(
            f"new connection (TLS handshake) each, {len(fresh)} reviews: p50 {median(fresh) * 1000:.2f} ms, "
            f"p99 {percentile(fresh, 0.99) * 1000:.2f} ms"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
