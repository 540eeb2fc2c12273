"""Pull-secret parsing and merging follow pkg/credentialprovider (config.go, secrets.go)."""

from __future__ import annotations

import base64
import json

import pytest

from injector.core.dockerconfig import (
    Credential,
    DockerConfigError,
    decode_auth,
    merge,
    parse_dockercfg,
    parse_dockerconfigjson,
    render_config_json,
)
from tests.support.manifests import container, pod, resolve, secret


def creds(config: dict[str, Credential]) -> dict[str, tuple[bytes, bytes]]:
    return {registry: (c.username, c.password) for registry, c in config.items()}


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("Zm9vOmJhcg==", (b"foo", b"bar")),  # padded
        ("Zm9vOmJhcg", (b"foo", b"bar")),  # unpadded: RawStdEncoding
        ("Zm9vOmJhcjpiYXo=", (b"foo", b"bar:baz")),  # split at the first colon
        ("Zm9vOmJhcgo=", (b"foo", b"bar\n")),  # decoded bytes are kept as they are
        ("OmJhcg==", (b"", b"bar")),
        ("Zm9vOg==", (b"foo", b"")),
    ],
)
def test_auth_decodes_like_config_go(auth: str, expected: tuple[bytes, bytes]) -> None:
    assert expected == decode_auth(auth, "r")


@pytest.mark.parametrize("auth", ["Zm9vOmJhcg== ", "!!!", "Zm9vYmFy", "Zm9vOmJhcg=x"])
def test_bad_auth_is_an_error(auth: str) -> None:
    """Trailing space (decode runs untrimmed), bad base64, no colon."""
    with pytest.raises(DockerConfigError):
        decode_auth(auth, "r")


def test_auth_replaces_username_and_password() -> None:
    data = json.dumps({"auths": {"r.io": {"username": "u", "password": "p", "auth": "Zm9vOmJhcg=="}}}).encode()

    assert {"r.io": (b"foo", b"bar")} == creds(parse_dockerconfigjson(data))


def test_field_names_match_case_insensitively_and_unknown_fields_are_ignored() -> None:
    data = json.dumps({"Auths": {"r.io": {"USERNAME": "u", "Password": "p", "identitytoken": "x"}}}).encode()

    assert {"r.io": (b"u", b"p")} == creds(parse_dockerconfigjson(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"{}", {}), (b'{"auths": null}', {}), (b"null", {}), (b'{"other": 1}', {})],
)
def test_dockerconfigjson_without_auths_is_empty(data: bytes, expected: dict) -> None:  # type: ignore[type-arg]
    assert expected == parse_dockerconfigjson(data)


@pytest.mark.parametrize(
    "data",
    [b'{"auths": []}', b'{"auths": {"r": "x"}}', b'{"auths": {"r": {"username": 1}}}', b"not json"],
)
def test_wrong_json_types_fail_the_whole_document(data: bytes) -> None:
    with pytest.raises(DockerConfigError):
        parse_dockerconfigjson(data)


def test_legacy_dockercfg_has_no_auths_wrapper() -> None:
    assert {"r.io": (b"u", b"p")} == creds(parse_dockercfg(b'{"r.io": {"username": "u", "password": "p"}}'))


def test_merge_keeps_first_secret_for_same_registry() -> None:
    first = {"r.io": Credential(b"a", b"1", ""), "x.io": Credential(b"x", b"2", "")}
    second = {"r.io": Credential(b"b", b"3", ""), "y.io": Credential(b"y", b"4", "")}

    assert {"r.io": (b"a", b"1"), "x.io": (b"x", b"2"), "y.io": (b"y", b"4")} == creds(merge([first, second]))


def test_rendered_config_carries_auth_and_username_password() -> None:
    rendered = json.loads(render_config_json({"r.io": Credential(b"u", b"p:w", "e@x")}))

    assert {
        "auths": {
            "r.io": {"auth": base64.b64encode(b"u:p:w").decode(), "username": "u", "password": "p:w", "email": "e@x"}
        }
    } == rendered


def pull_secret(name: str, registry: str, user: str, legacy: bool = False) -> dict:  # type: ignore[type-arg]
    entries = {registry: {"auth": base64.b64encode(f"{user}:pw".encode()).decode()}}
    if legacy:
        return secret(name, {".dockercfg": json.dumps(entries)}, type="kubernetes.io/dockercfg")
    return secret(name, {".dockerconfigjson": json.dumps({"auths": entries})}, type="kubernetes.io/dockerconfigjson")


def test_pull_secrets_merge_in_listed_order_and_missing_one_is_a_warning() -> None:
    body = pod(container(), pull_secrets=["legacy", "missing", "modern"])
    resolution = resolve(
        body,
        pull_secret("modern", "r.io", "modern"),
        pull_secret("legacy", "r.io", "legacy", True),
        pull_secret("other", "o.io", "o"),
    )

    assert [] == list(resolution.errors)
    assert {"r.io": (b"legacy", b"pw")} == creds(dict(resolution.registry_credentials))
    assert [
        "pod.yaml: Pod/shop/web-0: spec.imagePullSecrets: FailedToRetrieveImagePullSecret: Unable to retrieve some "
        "image pull secrets (missing); attempting to pull the image may not succeed."
    ] == [str(w) for w in resolution.warnings]


def test_pull_secret_with_wrong_type_is_ignored_with_warning() -> None:
    resolution = resolve(pod(container(), pull_secrets=["opaque"]), secret("opaque", {".dockerconfigjson": "{}"}))

    assert {} == dict(resolution.registry_credentials)
    assert "is not a usable pull secret" in str(resolution.warnings[0])


def test_broken_pull_secret_json_is_an_error_naming_the_secret() -> None:
    bad = secret(
        "bad", {".dockerconfigjson": '{"auths": {"r.io": {"auth": "!!"}}}'}, type="kubernetes.io/dockerconfigjson"
    )
    resolution = resolve(pod(container(), pull_secrets=["bad"]), bad)

    assert [
        "secrets.yaml (document 1): Secret/shop/bad: data[.dockerconfigjson]: auth of registry 'r.io' is not valid "
        "base64"
    ] == [str(e) for e in resolution.errors]
