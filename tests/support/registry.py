"""A real registry (Debian's docker-registry, htpasswd auth, on 127.0.0.1) holding one tiny image."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

USER = "robot"
PASSWORD = "registry-pass-123"
REPOSITORY = "team/app"
TAG = "1.0"


class Registry(NamedTuple):
    host: str
    """``127.0.0.1:PORT``, the registry key used in docker configs."""
    image: str
    """``docker://HOST/team/app:1.0``"""


def available() -> str | None:
    """Why the registry tests cannot run, or None when they can."""
    for tool in ("docker-registry", "skopeo", "htpasswd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian packages docker-registry, skopeo, apache2-utils)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _blob(directory: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (directory / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _oci_image(directory: Path) -> None:
    """A one-file OCI image layout written from scratch: no network, no engine."""
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    raw_layer = layer_tar.getvalue()
    layer = _blob(directory, gzip.compress(raw_layer, mtime=0))
    config = _blob(
        directory,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw_layer).hexdigest()}"]},
            }
        ).encode(),
    )
    manifest = _blob(
        directory,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
            }
        ).encode(),
    )
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        **manifest,
                        "annotations": {"org.opencontainers.image.ref.name": TAG},
                    }
                ],
            }
        )
    )


@contextmanager
def running_registry(workdir: Path) -> Iterator[Registry]:
    port = _free_port()
    htpasswd = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True).stdout
    (workdir / "htpasswd").write_bytes(htpasswd)
    (workdir / "config.yml").write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "error"},
                "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
                "http": {"addr": f"127.0.0.1:{port}"},
                "auth": {"htpasswd": {"realm": "injector-test", "path": str(workdir / "htpasswd")}},
            }
        )
    )
    server = subprocess.Popen(
        ["docker-registry", "serve", str(workdir / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.1)
        host = f"127.0.0.1:{port}"
        _oci_image(workdir / "image")
        policy = workdir / "policy.json"
        policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        subprocess.run(
            [
                "skopeo",
                "--policy",
                str(policy),
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                "--dest-creds",
                f"{USER}:{PASSWORD}",
                f"oci:{workdir / 'image'}:{TAG}",
                f"docker://{host}/{REPOSITORY}:{TAG}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield Registry(host, f"docker://{host}/{REPOSITORY}:{TAG}")
    finally:
        server.terminate()
        server.wait(timeout=10)
