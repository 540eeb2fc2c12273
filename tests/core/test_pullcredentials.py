"""The pod's pull secrets as clients get them: the keyring a resolution holds, a config.json merged or
for one image (the mount's is for the container's own image), and the credentials listed for an image."""

from __future__ import annotations

import json
from typing import Any

import pytest

from injector.core.dockerconfig import Credential
from injector.core.filetree import mount_view
from injector.core.keyring import InvalidImageError
from injector.core.manifest import Document
from injector.core.podspec import parse_pod
from injector.core.pullcredentials import docker_config, render_credentials
from injector.core.resolve import Resolution, resolve_container
from tests.support.manifests import b64, container, pod, resolve, secret


def pull_secret(name: str, entries: dict[str, str], *, legacy: bool = False) -> dict[str, Any]:
    """A pull secret whose entries give ``registry: username`` (password ``pw-<username>``)."""
    auths = {registry: {"auth": b64(f"{user}:pw-{user}")} for registry, user in entries.items()}
    if legacy:
        return secret(name, {".dockercfg": json.dumps(auths)}, type="kubernetes.io/dockercfg")
    return secret(name, {".dockerconfigjson": json.dumps({"auths": auths})}, type="kubernetes.io/dockerconfigjson")


def cred(user: str) -> Credential:
    return Credential(user.encode(), f"pw-{user}".encode(), "")


SECRETS = (
    pull_secret("hub", {"https://index.docker.io/v1/": "hub", "registry.io": "first"}),
    pull_secret("team", {"registry.io/team": "team", "registry.io": "second", "*.corp.example": "corp"}, legacy=True),
)


def resolved(*pull_secrets: str, image: str | None = "registry.io/team/app:1", objects: Any = SECRETS) -> Resolution:
    app = container()
    if image is None:
        del app["image"]
    else:
        app["image"] = image
    return resolve(pod(app, pull_secrets=list(pull_secrets)), *objects)


def users(resolution: Resolution, image: str) -> list[str]:
    return [c.credential.username.decode() for c in resolution.keyring.for_image(image)]


# -- one keyring, in imagePullSecrets order --------------------------------------------------------


def test_the_keyring_keeps_each_pull_secret_in_image_pull_secrets_order() -> None:
    resolution = resolved("team", "missing", "hub")

    assert ["Secret/shop/team", "Secret/shop/hub"] == [config.ref for config in resolution.keyring.configs]
    assert [".dockercfg", ".dockerconfigjson"] == [config.key for config in resolution.keyring.configs]


def test_merged_and_per_image_views_come_from_the_same_secrets() -> None:
    """Merged: first secret wins per entry as written. Per image: every matching entry, most specific first."""
    resolution = resolved("team", "hub")

    assert {
        "registry.io/team": cred("team"),
        "registry.io": cred("second"),
        "*.corp.example": cred("corp"),
        "https://index.docker.io/v1/": cred("hub"),
    } == resolution.keyring.merged()
    assert ["team", "second", "first"] == users(resolution, "registry.io/team/app:1")
    assert ["second", "first"] == users(resolution, "registry.io/other")
    assert ["corp"] == users(resolution, "a.corp.example/x")
    assert ["hub"] == users(resolution, "nginx")


def test_the_order_of_the_secrets_decides_among_credentials_of_one_key() -> None:
    assert ["team", "first", "second"] == users(resolved("hub", "team"), "registry.io/team/app")


def test_an_entry_go_cannot_parse_is_ignored_with_the_kubelets_warning() -> None:
    resolution = resolved("bad", objects=[pull_secret("bad", {"reg io": "x", "registry.io": "ok"})])

    assert ["ok"] == users(resolution, "registry.io/app")
    assert [
        'secrets.yaml (document 1): Secret/shop/bad: data[.dockerconfigjson]: Entry "reg io" in dockercfg invalid, '
        "ignoring: it does not parse as a URL"
    ] == [str(warning) for warning in resolution.warnings]


# -- the container's image -------------------------------------------------------------------------

INVALID_IMAGE = (
    "pod.yaml: Pod/shop/web-0: spec.containers[0].image: InvalidImageName: Failed to apply default image tag "
    '"Registry.io/Team/app": couldn\'t parse image name "Registry.io/Team/app": invalid reference format: '
    "repository name (Team/app) must be lowercase"
)


def test_an_invalid_image_is_the_kubelets_invalid_image_name() -> None:
    assert [INVALID_IMAGE] == [str(error) for error in resolved("hub", image="Registry.io/Team/app").errors]


def test_an_invalid_image_is_only_a_warning_where_the_image_is_not_served() -> None:
    spec, _ = parse_pod(Document("pod.yaml", pod({**container(), "image": "Registry.io/Team/app"})), "default")
    resolution = resolve_container(spec, spec.containers[0], {}, serves=frozenset(("env",)))

    assert ([], [INVALID_IMAGE]) == (list(resolution.errors), [str(w) for w in resolution.warnings])


def test_every_container_without_an_image_is_fine() -> None:
    assert [] == list(resolved("hub", image=None).errors)


# -- config.json: merged, or for one image ---------------------------------------------------------

FOR_IMAGE = [
    ("the host of the image", "registry.io/x", {"registry.io": "second"}),
    ("the most specific entry first", "registry.io/team/app", {"registry.io": "team"}),
    ("a glob entry under the image's host", "a.corp.example/x:1", {"a.corp.example": "corp"}),
    ("Docker Hub under the key docker looks up", "nginx:1.27", {"https://index.docker.io/v1/": "hub"}),
    ("docker.io written out", "docker.io/library/nginx", {"https://index.docker.io/v1/": "hub"}),
    ("another port is another registry", "registry.io:5000/x", {}),
    ("nothing matches", "quay.io/x", {}),
]


@pytest.mark.parametrize(("image", "expected"), [row[1:] for row in FOR_IMAGE], ids=[row[0] for row in FOR_IMAGE])
def test_the_config_for_an_image_has_its_host_with_the_first_credential(image: str, expected: dict[str, str]) -> None:
    auths, warnings = docker_config(resolved("team", "hub").keyring, image)

    assert {host: cred(user) for host, user in expected.items()} == auths
    silent = bool(expected)  # a config without the image's host says why
    assert silent == (warnings == []), [str(w) for w in warnings]


def test_the_config_for_an_invalid_image_is_refused() -> None:
    with pytest.raises(InvalidImageError, match="must be lowercase"):
        docker_config(resolved("hub").keyring, "Nginx")


def test_the_merged_config_warns_of_each_entry_exact_host_clients_do_not_use_as_the_kubelet() -> None:
    auths, warnings = docker_config(resolved("team", "hub").keyring, None)

    assert len(auths) == 4
    assert [
        'secrets.yaml (document 2): Secret/shop/team: data[.dockercfg]: registry entry "registry.io/team" is scoped '
        "to a path: the kubelet uses it only for images under that path, clients that look hosts up exactly use it "
        "for the whole host or not at all; render the config of one image with image",
        'secrets.yaml (document 2): Secret/shop/team: data[.dockercfg]: registry entry "*.corp.example" is a glob: '
        "only the kubelet expands it, clients look hosts up exactly and never use it; render the config of one "
        "image with image",
    ] == [str(warning) for warning in warnings]


# -- the mount's .docker/config.json ---------------------------------------------------------------


def mounted_config(resolution: Resolution) -> tuple[dict[str, Any], list[str]]:
    assert not resolution.errors, [str(e) for e in resolution.errors]
    view = mount_view(resolution)
    return json.loads(view.files[".docker/config.json"].data), [str(w) for w in view.warnings]


def test_the_mount_serves_the_config_of_the_containers_own_image() -> None:
    config, warnings = mounted_config(resolved("team", "hub", image="a.corp.example/app:2"))

    assert {"a.corp.example": {"auth": b64("corp:pw-corp"), "username": "corp", "password": "pw-corp"}} == config[
        "auths"
    ]
    assert [] == warnings


def test_the_mount_of_an_image_no_secret_matches_has_empty_auths_and_says_so() -> None:
    config, warnings = mounted_config(resolved("hub", image="quay.io/x"))

    assert {"auths": {}} == config
    assert [
        'no pull secret has a credential for image "quay.io/x": the kubelet pulls it without credentials'
    ] == warnings


def test_a_container_without_an_image_gets_every_pull_secret_merged() -> None:
    config, _ = mounted_config(resolved("team", "hub", image=None))

    assert ["registry.io/team", "registry.io", "*.corp.example", "https://index.docker.io/v1/"] == list(config["auths"])


# -- render credentials ----------------------------------------------------------------------------


def test_credentials_render_as_json_in_the_kubelets_order_and_as_text_without_passwords() -> None:
    found = resolved("team", "hub").keyring.for_image("registry.io/team/app")

    assert [
        {"registry": "registry.io/team", "username": "team", "password": "pw-team"},
        {"registry": "registry.io", "username": "second", "password": "pw-second"},
        {"registry": "registry.io", "username": "first", "password": "pw-first"},
    ] == json.loads(render_credentials(found, "json"))
    assert b"registry.io/team\tteam\nregistry.io\tsecond\nregistry.io\tfirst\n" == render_credentials(found, "text")
    assert b"[]\n" == render_credentials([], "json")
