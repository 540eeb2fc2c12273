"""Secret and ConfigMap validation matches the API server (ValidateSecret / ValidateConfigMap)."""

from __future__ import annotations

import pytest

from injector.core.manifest import Document
from injector.core.objects import MAX_SECRET_SIZE, ObjectKey, index_objects
from tests.support.manifests import b64, config_map, secret


def problems(*bodies: dict) -> list[str]:  # type: ignore[type-arg]
    found = index_objects([Document("s.yaml", body) for body in bodies], "default")
    errors = found.errors
    return [str(error) for error in errors]


def data_of(body: dict) -> dict[str, bytes]:  # type: ignore[type-arg]
    found = index_objects([Document("s.yaml", body)], "default")
    snapshot = found.objects
    errors = found.errors
    assert not errors, [str(e) for e in errors]
    (obj,) = snapshot.values()
    return dict(obj.data)


def test_string_data_merges_over_data() -> None:
    """stringData keys replace data keys of the same name; others are kept."""
    body = secret("s", {"a": "from-data", "b": "kept"}, string_data={"a": "from-stringData", "c": "new"})

    assert {"a": b"from-stringData", "b": b"kept", "c": b"new"} == data_of(body)


@pytest.mark.parametrize(
    ("encoded", "ok"),
    [
        ("aGVsbG8=", True),
        ("aGVsbG8", False),  # padding required (Go StdEncoding)
        ("aGVs\nbG8=", True),  # line breaks are skipped, as Go does
        ("aGVs bG8=", False),
        ("aGVsbG8=!", False),
        ("", True),
        ("====", False),
    ],
)
def test_data_base64_is_strict(encoded: str, ok: bool) -> None:
    """data values are standard base64 with padding; anything else names the key."""
    body = secret("s")
    body["data"] = {"k": encoded}

    expected = [] if ok else ["s.yaml: Secret/shop/s: data[k]: illegal base64 data"]
    assert expected == problems(body)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("db", True),
        ("db.prod-1", True),
        ("a" * 253, True),
        ("a" * 254, False),
        ("DB", False),
        ("-db", False),
        ("db-", False),
        ("db_1", False),
        ("db..x", False),
    ],
)
def test_names_are_dns_subdomains(name: str, ok: bool) -> None:
    assert ok == (problems(secret(name, {"k": "v"})) == [])


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("password", True),
        (".key", True),
        ("a..b", True),
        ("tls.crt", True),
        ("a-b_c.D9", True),
        ("k" * 253, True),
        ("k" * 254, False),
        (".", False),
        ("..", False),
        ("..data", False),
        ("a/b", False),
        ("a b", False),
        ("é", False),
        ("", False),
    ],
)
def test_keys_follow_is_config_map_key(key: str, ok: bool) -> None:
    assert ok == (problems(secret("s", {key: "v"})) == [])


def test_invalid_key_message_names_key_and_rule() -> None:
    assert ["s.yaml: Secret/shop/s: data[..data]: Invalid value: must not start with '..'"] == problems(
        secret("s", {"..data": "v"})
    )


def test_size_limit_is_one_mebibyte_of_values() -> None:
    """Exactly 1 MiB of values is accepted; one byte more is not. Keys do not count."""
    at_limit = secret("s", {"a": b"x" * (MAX_SECRET_SIZE - 1), "b": b"y"})
    over = secret("s", {"a": b"x" * MAX_SECRET_SIZE, "b": b"y"})

    assert [] == problems(at_limit)
    assert ["s.yaml: Secret/shop/s: data: Too long: may not be more than 1048576 bytes"] == problems(over)


@pytest.mark.parametrize(
    ("type_", "data", "extra", "expected"),
    [
        ("kubernetes.io/tls", {"tls.crt": "c"}, {}, ["data[tls.key]: Required value"]),
        ("kubernetes.io/tls", {"tls.crt": "", "tls.key": ""}, {}, []),
        ("kubernetes.io/basic-auth", {}, {}, ["data[username]: Required value", "data[password]: Required value"]),
        ("kubernetes.io/basic-auth", {"password": ""}, {}, []),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": ""}, {}, ["data[ssh-privatekey]: Required value"]),
        ("kubernetes.io/ssh-auth", {"ssh-privatekey": "k"}, {}, []),
        ("kubernetes.io/dockerconfigjson", {}, {}, ["data[.dockerconfigjson]: Required value"]),
        (
            "kubernetes.io/dockerconfigjson",
            {".dockerconfigjson": "[]"},
            {},
            ["data[.dockerconfigjson]: Invalid value: must be a JSON object"],
        ),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "{}"}, {}, []),
        ("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "null"}, {}, []),
        (
            "kubernetes.io/dockercfg",
            {".dockercfg": "bad"},
            {},
            ["data[.dockercfg]: Invalid value: must be a JSON object"],
        ),
        (
            "kubernetes.io/service-account-token",
            {},
            {},
            ["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
        ),
        ("kubernetes.io/service-account-token", {}, {"annotations": {"kubernetes.io/service-account.name": "sa"}}, []),
        ("example.com/custom", {}, {}, []),
        ("Opaque", {}, {}, []),
    ],
)
def test_secret_types_require_their_keys(type_: str, data: dict[str, str], extra: dict, expected: list[str]) -> None:  # type: ignore[type-arg]
    body = secret("s", data, type=type_)
    body["metadata"].update(extra)

    assert [f"s.yaml: Secret/shop/s: {e}" for e in expected] == problems(body)


def test_config_map_binary_and_data_keys_may_not_overlap() -> None:
    body = config_map("c", {"k": "text"}, binary={"k": b"bin"})

    assert ["s.yaml: ConfigMap/shop/c: data[k]: duplicate of key present in binaryData"] == problems(body)


def test_config_map_data_must_be_strings() -> None:
    body = config_map("c")
    body["data"] = {"port": 5432}

    assert ["s.yaml: ConfigMap/shop/c: data[port]: must be a string (quote numbers and booleans)"] == problems(body)


def test_object_defined_twice_is_an_error() -> None:
    assert ["s.yaml: Secret/shop/s: defined again (first in s.yaml)"] == problems(secret("s", {}), secret("s", {}))


def test_namespace_defaults_to_the_given_one() -> None:
    snapshot = index_objects([Document("s.yaml", secret("s", {}, namespace=None))], "prod").objects

    assert [ObjectKey("Secret", "prod", "s")] == list(snapshot)


def test_other_kinds_are_ignored_but_kindless_documents_are_errors() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}

    assert [] == problems(service)
    assert ["s.yaml: kind: Required value: kind is not set"] == problems({"metadata": {"name": "x"}})


def test_repr_never_shows_values() -> None:
    snapshot = index_objects([Document("s.yaml", secret("s", {"k": "CANARY-VALUE"}))], "default").objects

    assert "CANARY" not in repr(snapshot)
    assert b64("x")  # builder sanity


def test_a_secret_whose_data_does_not_decode_is_not_validated_further() -> None:
    """The API server refuses it while decoding (illegal base64): its type's required keys are not then also
    "Required value" (the Kubernetes docs' tls-auth-secret.yaml, with its REPLACE_WITH_BASE64_CERT)."""
    body = secret("tls", type="kubernetes.io/tls")
    body["data"] = {"tls.crt": "REPLACE_WITH_BASE64_CERT", "tls.key": "REPLACE_WITH_BASE64_KEY"}

    assert [
        "s.yaml: Secret/shop/tls: data[tls.crt]: illegal base64 data",
        "s.yaml: Secret/shop/tls: data[tls.key]: illegal base64 data",
    ] == problems(body)
