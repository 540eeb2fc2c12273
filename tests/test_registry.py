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


def skopeo_copy(image: str, config_json: bytes, destination: Path) -> subprocess.CompletedProcess[bytes]:
    """A real pull: the image's manifest and blobs copied into an OCI layout, credentials from a memfd."""
    policy = destination.parent / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    fd = os.memfd_create("config.json")
    try:
        os.write(fd, config_json)
        return subprocess.run(
            [
                *("skopeo", "--policy", str(policy), "copy", "--quiet", "--src-tls-verify=false"),
                *("--src-authfile", f"/proc/self/fd/{fd}", image, f"oci:{destination}:pulled"),
            ],
            capture_output=True,
            pass_fds=[fd],
            timeout=120,
            check=False,
        )
    finally:
        os.close(fd)


def unauthorized(result: subprocess.CompletedProcess[bytes]) -> bool:
    stderr = result.stderr.lower()
    return result.returncode != 0 and (b"unauthorized" in stderr or b"authentication required" in stderr)


def pull_secret_files(
    tmp_path: Path, host: str, user: str, password: str, *, legacy: bool, image: str = "example/app"
) -> list[str]:
    """A pod whose container runs ``image``, with one pull secret holding ``host``'s credential."""
    auth = {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}
    if legacy:
        body = secret("pull", {".dockercfg": json.dumps(auth)}, type="kubernetes.io/dockercfg")
    else:
        body = secret("pull", {".dockerconfigjson": json.dumps({"auths": auth})}, type="kubernetes.io/dockerconfigjson")
    app = {**container(), "image": image}
    write_manifests(tmp_path / "pod.yaml", pod(app, pull_secrets=["missing", "pull"]))
    write_manifests(tmp_path / "secrets.yaml", body)
    return ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "secrets.yaml")]


def reference(live_registry: registry.Registry) -> str:
    """The image as a container names it: ``127.0.0.1:PORT/team/app:1.0``."""
    return live_registry.image.removeprefix("docker://")


def glob_entry(live_registry: registry.Registry) -> str:
    """An entry only the kubelet's keyring matches to the registry: a glob over the address's last
    label. filepath.Match globs any label, so no host name (and no resolver) is needed."""
    return "127.0.0.*:" + live_registry.host.rpartition(":")[2]


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

    assert unauthorized(result)


def test_a_glob_entry_pulls_with_the_config_rendered_for_the_image_only(
    tmp_path: Path, live_registry: registry.Registry
) -> None:
    """The kubelet would pull this image with the glob's credential; a client given the merged
    config looks up 127.0.0.1:PORT exactly, finds nothing and is refused; the config rendered for
    the image carries the credential under the host the client looks up."""
    glob, image = glob_entry(live_registry), reference(live_registry)
    args = pull_secret_files(tmp_path, glob, registry.USER, registry.PASSWORD, legacy=False, image=image)

    merged = injector("render", "dockerconfig", *args)
    for_image = injector("render", "dockerconfig", "--image", image, *args)
    listed = injector("render", "credentials", "--image", image, "--format", "text", *args)

    assert [glob] == list(json.loads(merged.stdout)["auths"])
    assert f'registry entry "{glob}" is a glob'.encode() in merged.stderr
    assert [live_registry.host] == list(json.loads(for_image.stdout)["auths"])
    assert f"{glob}\t{registry.USER}\n".encode() == listed.stdout
    assert unauthorized(skopeo_copy(live_registry.image, merged.stdout, tmp_path / "refused"))
    pulled = skopeo_copy(live_registry.image, for_image.stdout, tmp_path / "pulled")
    assert 0 == pulled.returncode, pulled.stderr
    assert (tmp_path / "pulled" / "index.json").exists()


@requires_fuse()
@pytest.mark.fuse
def test_mounted_docker_config_authenticates_skopeo(tmp_path: Path, live_registry: registry.Registry) -> None:
    """The mount's .docker/config.json, made for the container's own image, is read by skopeo
    straight from FUSE: the only matching entry is a glob, which skopeo could not use itself."""
    image = reference(live_registry)
    args = pull_secret_files(
        tmp_path, glob_entry(live_registry), registry.USER, registry.PASSWORD, legacy=False, image=image
    )
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


@requires_fuse()
@pytest.mark.fuse
def test_run_mount_points_docker_config_at_the_config_of_the_containers_image(
    tmp_path: Path, live_registry: registry.Registry
) -> None:
    """skopeo run by ``run --mount`` finds its credentials through DOCKER_CONFIG alone."""
    image = reference(live_registry)
    args = pull_secret_files(
        tmp_path, glob_entry(live_registry), registry.USER, registry.PASSWORD, legacy=False, image=image
    )
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    home = tmp_path / "home"  # no other auth file skopeo could read
    home.mkdir()

    result = injector(
        "run",
        "--mount",
        str(mountpoint),
        *args,
        "--",
        *("skopeo", "inspect", "--tls-verify=false", live_registry.image),
        env={"HOME": str(home), "XDG_RUNTIME_DIR": str(home), "REGISTRY_AUTH_FILE": ""},
    )

    assert 0 == result.returncode, result.stderr
    assert f"{live_registry.host}/{registry.REPOSITORY}" == json.loads(result.stdout)["Name"]
