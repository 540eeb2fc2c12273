"""The rendered docker config.json works with a real registry client against a real registry."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import injector, write_manifests
from tests.support import registry
from tests.support.manifests import container, pod, secret
from tests.support.mounting import Mount, requires_fuse

pytestmark = pytest.mark.skipif(registry.available() is not None, reason=str(registry.available()))


@pytest.fixture(scope="module")
def live_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry.Registry]:
    with registry.running_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def skopeo_inspect(image: str, config_json: bytes) -> subprocess.CompletedProcess[bytes]:
    """skopeo reads the auth file from a memfd: the credentials never touch the disk."""
    fd = os.memfd_create("config.json")
    try:
        os.write(fd, config_json)
        return subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "--authfile", f"/proc/self/fd/{fd}", image],
            capture_output=True,
            pass_fds=[fd],
            timeout=60,
            check=False,
        )
    finally:
        os.close(fd)


def pull_secret_files(tmp_path: Path, host: str, user: str, password: str, *, legacy: bool) -> list[str]:
    auth = {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}
    if legacy:
        body = secret("pull", {".dockercfg": json.dumps(auth)}, type="kubernetes.io/dockercfg")
    else:
        body = secret("pull", {".dockerconfigjson": json.dumps({"auths": auth})}, type="kubernetes.io/dockerconfigjson")
    write_manifests(tmp_path / "pod.yaml", pod(container(), pull_secrets=["missing", "pull"]))
    write_manifests(tmp_path / "secrets.yaml", body)
    return ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "secrets.yaml")]


@pytest.mark.parametrize("legacy", [False, True], ids=["dockerconfigjson", "dockercfg"])
def test_rendered_config_authenticates_skopeo(tmp_path: Path, live_registry: registry.Registry, legacy: bool) -> None:
    args = pull_secret_files(tmp_path, live_registry.host, registry.USER, registry.PASSWORD, legacy=legacy)
    rendered = injector("render", "dockerconfig", *args)

    result = skopeo_inspect(live_registry.image, rendered.stdout)

    assert 0 == rendered.returncode
    assert b"FailedToRetrieveImagePullSecret" in rendered.stderr  # the missing one is only a warning
    assert 0 == result.returncode, result.stderr
    assert f"{live_registry.host}/{registry.REPOSITORY}" == json.loads(result.stdout)["Name"]


def test_wrong_credentials_are_refused_by_the_registry(tmp_path: Path, live_registry: registry.Registry) -> None:
    """Proves the registry really checks credentials, so the test above means something."""
    args = pull_secret_files(tmp_path, live_registry.host, registry.USER, "wrong", legacy=False)

    result = skopeo_inspect(live_registry.image, injector("render", "dockerconfig", *args).stdout)

    assert 0 != result.returncode
    assert b"unauthorized" in result.stderr.lower() or b"authentication required" in result.stderr.lower()


@requires_fuse()
@pytest.mark.fuse
def test_mounted_docker_config_authenticates_skopeo(tmp_path: Path, live_registry: registry.Registry) -> None:
    """The mount's .docker/config.json is read by skopeo straight from FUSE."""
    args = pull_secret_files(tmp_path, live_registry.host, registry.USER, registry.PASSWORD, legacy=False)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    with Mount(mountpoint, args):
        result = subprocess.run(
            [
                "skopeo",
                "inspect",
                "--tls-verify=false",
                "--authfile",
                str(mountpoint / ".docker" / "config.json"),
                live_registry.image,
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )

    assert 0 == result.returncode, result.stderr
