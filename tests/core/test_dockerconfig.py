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
    pull_secret_document,
    render_config_json,
)
from injector.core.objects import SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKERCONFIGJSON
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


# config_test.go TestDockerConfigEntryJSONDecode: (entry, username, password, email, fails)
ENTRY_DECODE = [
    (
        "just decode the fields",
        '{"username": "foo", "password": "bar", "email": "foo@example.com"}',
        "foo",
        "bar",
        False,
    ),
    (
        "auth decodes to username and password",
        '{"auth": "Zm9vOmJhcg==", "email": "foo@example.com"}',
        "foo",
        "bar",
        False,
    ),
    (
        "auth overrides username and password",
        '{"username": "foo", "password": "bar", "auth": "cGluZzpwb25n", "email": "foo@example.com"}',
        "ping",
        "pong",
        False,
    ),
    ("poorly-formatted auth fails", '{"auth": "pants", "email": "foo@example.com"}', "", "", True),
    ("invalid JSON fails", '{"email": false}', "", "", True),
]


@pytest.mark.parametrize(
    ("entry", "username", "password", "fails"), [row[1:] for row in ENTRY_DECODE], ids=[r[0] for r in ENTRY_DECODE]
)
def test_config_entries_decode_as_config_go(entry: str, username: str, password: str, fails: bool) -> None:
    document = f'{{"http://foo.example.com": {entry}}}'.encode()
    if fails:
        with pytest.raises(DockerConfigError):
            parse_dockercfg(document)
    else:
        assert {"http://foo.example.com": (username.encode(), password.encode())} == creds(parse_dockercfg(document))


@pytest.mark.parametrize(
    ("auth", "fails"),
    [("Zm9vOmJhcg==", False), ("cGFudHM=", True), ("pants", True)],
    ids=["decodes", "no colon", "bad base64"],
)
def test_decode_docker_config_field_auth(auth: str, fails: bool) -> None:
    """config_test.go TestDecodeDockerConfigFieldAuth."""
    if fails:
        with pytest.raises(DockerConfigError):
            decode_auth(auth, "r")
    else:
        assert (b"foo", b"bar") == decode_auth(auth, "r")


def test_docker_config_json_decode() -> None:
    """config_test.go TestDockerConfigJsonJSONDecode and TestDockerConfigJSONDecode."""
    entries = (
        '{"http://foo.example.com":{"username": "foo", "password": "bar", "email": "foo@example.com"}, '
        '"http://bar.example.com":{"username": "bar", "password": "baz", "email": "bar@example.com"}}'
    )
    expected = {
        "http://foo.example.com": Credential(b"foo", b"bar", "foo@example.com"),
        "http://bar.example.com": Credential(b"bar", b"baz", "bar@example.com"),
    }

    assert expected == parse_dockerconfigjson(f'{{"auths": {entries}}}'.encode())
    assert expected == parse_dockercfg(entries.encode())


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


# What does not decode into config.go's DockerConfigJSON{Auths DockerConfig; HTTPHeaders map[string]string}
# (DockerConfig = map[string]DockerConfigEntry, read through dockerConfigEntryWithAuth's four strings).
DOES_NOT_DECODE = [
    ("auths not an object", b'{"auths": []}', "auths must be an object of registry: entry"),
    ("auths a string", b'{"auths": "r.io"}', "auths must be an object of registry: entry"),
    ("an entry not an object", b'{"auths": {"r": "x"}}', "entry for registry 'r' must be an object"),
    ("an entry a list", b'{"auths": {"r": []}}', "entry for registry 'r' must be an object"),
    ("username a number", b'{"auths": {"r": {"username": 1}}}', "field 'username' of registry 'r' must be a string"),
    ("password a boolean", b'{"auths": {"r": {"password": true}}}', "field 'password' of registry 'r'"),
    ("email an object", b'{"auths": {"r": {"email": {}}}}', "field 'email' of registry 'r'"),
    ("auth a list", b'{"auths": {"r": {"auth": []}}}', "field 'auth' of registry 'r'"),
    ("a folded field name", b'{"auths": {"r": {"AUTH": 1}}}', "field 'auth' of registry 'r'"),
    ("the long s folds to s", b'{"auths": {"r": {"u\\u017fername": 1}}}', "field 'username' of registry 'r'"),
    ("HttpHeaders not an object", b'{"auths": {}, "HttpHeaders": "x"}', "HttpHeaders must be an object"),
    ("HttpHeaders of numbers", b'{"HttpHeaders": {"X-A": 1}}', "HttpHeaders must be an object"),
    ("httpheaders folded", b'{"httpheaders": [1]}', "HttpHeaders must be an object"),
    ("not JSON", b"not json", "is not valid JSON"),
    ("NaN is not JSON to Go", b'{"auths": {}, "x": NaN}', "is not valid JSON"),
    ("a byte order mark", b'\xef\xbb\xbf{"auths": {}}', "is not valid JSON"),
    ("UTF-16", '{"auths": {}}'.encode("utf-16"), "is not valid JSON"),
    ("a top-level list", b"[]", "must be a JSON object"),
    ("a bad auth after a good entry", b'{"auths": {"a": {}, "r": {"auth": "!"}}}', "auth of registry 'r'"),
]


@pytest.mark.parametrize(("data", "message"), [row[1:] for row in DOES_NOT_DECODE], ids=[r[0] for r in DOES_NOT_DECODE])
def test_a_document_that_does_not_decode_into_the_kubelets_types_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(DockerConfigError, match=message):
        parse_dockerconfigjson(data)


DECODES = [
    ("identitytoken and registrytoken ignored", {"r": {"identitytoken": "t", "registrytoken": "t"}}, (b"", b"")),
    ("unknown fields of any type ignored", {"r": {"serveraddress": 1, "x": [{}], "username": "u"}}, (b"u", b"")),
    ("null fields are empty", {"r": {"username": None, "password": None, "auth": None}}, (b"", b"")),
    ("a null entry is empty", {"r": None}, (b"", b"")),
    ("an empty auth keeps username and password", {"r": {"username": "u", "password": "p", "auth": ""}}, (b"u", b"p")),
]


@pytest.mark.parametrize(("auths", "expected"), [row[1:] for row in DECODES], ids=[row[0] for row in DECODES])
def test_what_the_kubelet_ignores_decodes(auths: dict, expected: tuple[bytes, bytes]) -> None:  # type: ignore[type-arg]
    document = json.dumps({"auths": auths, "credsStore": 1, "HttpHeaders": {"X-A": "b", "X-B": None}}).encode()

    assert {"r": expected} == creds(parse_dockerconfigjson(document))


def test_a_key_given_twice_counts_with_its_last_value_as_go_decodes_it() -> None:
    data = (
        b'{"auths": {"r": {"username": "a", "USERNAME": "b", "username": "c", "Password": "p", "password": null}},'
        b' "Auths": {"s": {"username": "s"}, "r": {"username": "d"}}}'
    )

    # null leaves a field as it was; a second auths adds to the map; a registry's last entry wins whole.
    assert {"s": (b"s", b""), "r": (b"d", b"")} == creds(parse_dockerconfigjson(data))
    assert {"r": (b"c", b"p")} == creds(parse_dockerconfigjson(data.partition(b', "Auths"')[0] + b"}"))


def test_a_null_auths_empties_what_came_before() -> None:
    assert {} == parse_dockerconfigjson(b'{"auths": {"r": {}}, "AUTHS": null}')


def test_field_names_fold_as_go_folds_them() -> None:
    """encoding/json: ToUpper(ToLower(r)), so the long s is an s and the dotless i an i; a full-width letter is not."""
    data = '{"auths": {"r": {"u\u017fername": "u", "pa\u017f\u017fword": "p", "em\u0061\u0131l": "e"}}}'.encode()

    assert Credential(b"u", b"p", "e") == parse_dockerconfigjson(data)["r"]
    assert {} == parse_dockerconfigjson(b'{"\\uff41uths": {"r": {}}}')


def test_invalid_utf8_and_lone_surrogates_become_u_fffd_as_in_go() -> None:
    data = b'{"r\xff": {"username": "a\xc3", "password": "\\ud800x"}}'

    assert {"r\ufffd": ("a\ufffd".encode(), "\ufffdx".encode())} == creds(parse_dockercfg(data))


PULL_SECRET_DOCUMENT = [
    (
        "dockerconfigjson",
        SECRET_TYPE_DOCKERCONFIGJSON,
        {".dockerconfigjson": b"{}", ".dockercfg": b"{}"},
        ".dockerconfigjson",
    ),
    ("dockercfg", SECRET_TYPE_DOCKERCFG, {".dockercfg": b"{}", ".dockerconfigjson": b"{}"}, ".dockercfg"),
    ("dockerconfigjson type, only .dockercfg", SECRET_TYPE_DOCKERCONFIGJSON, {".dockercfg": b"{}"}, None),
    ("empty value", SECRET_TYPE_DOCKERCFG, {".dockercfg": b""}, None),
    ("other type", "Opaque", {".dockerconfigjson": b"{}"}, None),
]


@pytest.mark.parametrize(
    ("secret_type", "data", "expected"),
    [row[1:] for row in PULL_SECRET_DOCUMENT],
    ids=[row[0] for row in PULL_SECRET_DOCUMENT],
)
def test_the_document_read_is_the_one_secrets_go_reads(
    secret_type: str, data: dict[str, bytes], expected: str | None
) -> None:
    assert expected == pull_secret_document(secret_type, data)


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
    assert {"r.io": (b"legacy", b"pw")} == creds(resolution.keyring.merged())
    assert [
        "pod.yaml: Pod/shop/web-0: spec.imagePullSecrets: FailedToRetrieveImagePullSecret: Unable to retrieve some "
        "image pull secrets (missing); attempting to pull the image may not succeed."
    ] == [str(w) for w in resolution.warnings]


def test_pull_secret_with_wrong_type_is_ignored_with_warning() -> None:
    resolution = resolve(pod(container(), pull_secrets=["opaque"]), secret("opaque", {".dockerconfigjson": "{}"}))

    assert {} == resolution.keyring.merged()
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
