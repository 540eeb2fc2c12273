"""Container env resolution follows kubelet_pods.go makeEnvironmentVariables, rule by rule."""

from __future__ import annotations

import pytest

from injector.core.versions import KubernetesVersion
from tests.support.manifests import (
    config_map,
    container,
    env_from,
    env_of,
    error_lines,
    pod,
    resolve,
    secret,
    secret_key_ref,
    value,
)

DB = secret("db", {"user": "admin", "password": "hunter2"})


@pytest.mark.parametrize(
    ("env", "sources", "objects", "expected"),
    [
        pytest.param([secret_key_ref("P", "db", "password")], None, [DB], {"P": b"hunter2"}, id="secretKeyRef"),
        pytest.param(
            [secret_key_ref("P", "db", "gone", optional=True)], None, [DB], {}, id="optional-missing-key-skipped"
        ),
        pytest.param(
            [secret_key_ref("P", "nope", "k", optional=True)], None, [DB], {}, id="optional-missing-secret-skipped"
        ),
        pytest.param(None, [env_from("db")], [DB], {"password": b"hunter2", "user": b"admin"}, id="envFrom-secret"),
        pytest.param(
            None,
            [env_from("db", prefix="DB_")],
            [DB],
            {"DB_password": b"hunter2", "DB_user": b"admin"},
            id="envFrom-prefix-concatenated",
        ),
        pytest.param(None, [env_from("nope", optional=True)], [DB], {}, id="envFrom-optional-missing"),
        pytest.param(
            [value("user", "override")],
            [env_from("db")],
            [DB],
            {"password": b"hunter2", "user": b"override"},
            id="env-overrides-envFrom",
        ),
        pytest.param(
            None,
            [env_from("db"), env_from("db2")],
            [DB, secret("db2", {"user": "second"})],
            {"password": b"hunter2", "user": b"second"},
            id="later-envFrom-wins",
        ),
        pytest.param([value("A", "x"), value("A", "y")], None, [], {"A": b"y"}, id="later-env-wins"),
        pytest.param(
            [value("user", "")],
            [env_from("db")],
            [DB],
            {"password": b"hunter2", "user": b""},
            id="empty-value-overrides-envFrom",
        ),
        pytest.param(
            [secret_key_ref("user", "db", "gone", optional=True)],
            [env_from("db")],
            [DB],
            {"password": b"hunter2", "user": b"admin"},
            id="optional-miss-keeps-envFrom-value",
        ),
        pytest.param(
            [value("URL", "pg://$(user):$(password)@h")],
            [env_from("db")],
            [DB],
            {"password": b"hunter2", "user": b"admin", "URL": b"pg://admin:hunter2@h"},
            id="expands-envFrom",
        ),
        pytest.param(
            [value("A", "a"), value("B", "$(A)-$(C)"), value("C", "c")],
            None,
            [],
            {"A": b"a", "B": b"a-$(C)", "C": b"c"},
            id="forward-reference-stays-literal",
        ),
        pytest.param(
            [value("A", "$(A)x")],
            [env_from("cm", kind="configMapRef")],
            [config_map("cm", {"A": "1"})],
            {"A": b"1x"},
            id="self-reference-sees-previous",
        ),
        pytest.param([value("E", "$$(A)")], None, [], {"E": b"$(A)"}, id="escape"),
        pytest.param(
            [secret_key_ref("V", "tpl", "t"), value("W", "$(V)")],
            None,
            [
                secret("tpl", {"t": "$(X)"}),
            ],
            {"V": b"$(X)", "W": b"$(X)"},
            id="valueFrom-never-expanded",
        ),
        pytest.param(
            [secret_key_ref("C", "cm", "k", kind="configMapKeyRef")],
            None,
            [config_map("cm", {"k": "v"})],
            {"C": b"v"},
            id="configMapKeyRef",
        ),
        pytest.param(
            [secret_key_ref("B", "cm", "bin", kind="configMapKeyRef", optional=True)],
            None,
            [config_map("cm", {}, binary={"bin": b"\x00\x01"})],
            {},
            id="configMap-binaryData-not-for-env",
        ),
        pytest.param(
            None,
            [env_from("cm", kind="configMapRef")],
            [config_map("cm", {"a": "1"}, binary={"b": b"2"})],
            {"a": b"1"},
            id="envFrom-configMap-data-only",
        ),
        pytest.param(
            [secret_key_ref("B", "bin", "k")],
            None,
            [secret("bin", {"k": b"\xff\xfe"})],
            {"B": b"\xff\xfe"},
            id="binary-secret-bytes-kept",
        ),
    ],
)
def test_resolve_env_follows_kubelet(env, sources, objects, expected) -> None:  # type: ignore[no-untyped-def]
    """Each row is one kubelet rule; values are compared as a mapping (kubelet order is unspecified)."""
    resolution = resolve(pod(container(env=env, env_from=sources)), *objects)

    assert expected == env_of(resolution)


def test_env_keeps_envfrom_then_env_order() -> None:
    """Variables come out in a stable order: envFrom keys (sorted), then env entries."""
    resolution = resolve(pod(container(env=[value("Z", "1")], env_from=[env_from("db")])), DB)

    assert ["password", "user", "Z"] == list(resolution.env)


@pytest.mark.parametrize(
    ("env", "sources", "message"),
    [
        pytest.param(
            [secret_key_ref("P", "db", "missing")],
            None,
            "pod.yaml: Pod/shop/web-0: spec.containers[0].env[0].valueFrom.secretKeyRef: "
            "couldn't find key missing in Secret shop/db",
            id="missing-key",
        ),
        pytest.param(
            [secret_key_ref("P", "nope", "k")],
            None,
            'pod.yaml: Pod/shop/web-0: spec.containers[0].env[0].valueFrom.secretKeyRef: secret "nope" not found',
            id="missing-secret",
        ),
        pytest.param(
            None,
            [env_from("nope")],
            'pod.yaml: Pod/shop/web-0: spec.containers[0].envFrom[0].secretRef: secret "nope" not found',
            id="missing-envFrom",
        ),
        pytest.param(
            [secret_key_ref("C", "cm", "k", kind="configMapKeyRef")],
            None,
            'pod.yaml: Pod/shop/web-0: spec.containers[0].env[0].valueFrom.configMapKeyRef: configmap "cm" not found',
            id="missing-configmap",
        ),
    ],
)
def test_required_reference_missing_is_an_error(env, sources, message) -> None:  # type: ignore[no-untyped-def]
    """Like CreateContainerConfigError: a required reference that does not resolve is an error."""
    resolution = resolve(pod(container(env=env, env_from=sources)), DB)

    assert [message] == error_lines(resolution)


def test_envfrom_invalid_keys_are_skipped_with_kubelet_warning_up_to_1_29() -> None:
    """Keys that are not env names were skipped, with the kubelet's InvalidEnvironmentVariableNames text."""
    odd = secret("odd", {"1abc": "x", "ok": "y", "with.dot": "z", "9": "n"})
    resolution = resolve(pod(container(env_from=[env_from("odd")])), odd, version=KubernetesVersion(29))

    assert {"ok": b"y", "with.dot": b"z"} == env_of(resolution)
    assert [
        "pod.yaml: Pod/shop/web-0: spec.containers[0].envFrom[0].secretRef: InvalidEnvironmentVariableNames: "
        "Keys [1abc, 9] from the EnvFrom secret shop/odd were skipped since they are considered invalid "
        "environment variable names."
    ] == [str(w) for w in resolution.warnings]


@pytest.mark.parametrize("minor", [30, 33, 34, 35])
def test_envfrom_passes_every_key_from_1_30(minor: int) -> None:
    """The current kubelet passes every key (1.30+), with no event."""
    resolution = resolve(
        pod(container(env_from=[env_from("odd")])), secret("odd", {"1abc": "x"}), version=KubernetesVersion(minor)
    )

    assert ({"1abc": b"x"}, ()) == (env_of(resolution), resolution.warnings)


def test_envfrom_prefix_can_make_keys_valid() -> None:
    """The prefix is prepended before the name check, as in the kubelet."""
    resolution = resolve(pod(container(env_from=[env_from("odd", prefix="P_")])), secret("odd", {"1abc": "x"}))

    assert {"P_1abc": b"x"} == env_of(resolution)


@pytest.mark.parametrize(
    ("field_path", "expected"),
    [
        ("metadata.name", b"web-0"),
        ("metadata.namespace", b"shop"),
        ("metadata.uid", b"1234"),
        ("metadata.labels['app']", b"web"),
        ("metadata.labels['missing']", b""),
        ("metadata.annotations['note']", b"hello"),
        ("spec.serviceAccountName", b"default"),
    ],
)
def test_field_ref_reads_pod_fields(field_path: str, expected: bytes) -> None:
    """fieldRef resolves the downward-API fields the manifest knows."""
    body = pod(
        container(env=[{"name": "F", "valueFrom": {"fieldRef": {"fieldPath": field_path}}}]),
        uid="1234",
        labels={"app": "web"},
        annotations={"note": "hello"},
    )

    assert {"F": expected} == env_of(resolve(body))


def test_field_ref_unknown_from_manifest_is_a_warning() -> None:
    """spec.nodeName is not known for a pod that is not scheduled: warned, not set."""
    resolution = resolve(pod(container(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])))

    assert {} == env_of(resolution)
    assert "spec.nodeName is not known" in str(resolution.warnings[0])


def test_namespace_of_pod_is_used_for_lookups() -> None:
    """Secrets are looked up in the pod's namespace; one of the same name elsewhere does not count."""
    resolution = resolve(
        pod(container(env=[secret_key_ref("P", "db", "password")])),
        secret("db", {"password": "other"}, namespace="elsewhere"),
    )

    assert ['secret "db" not found'] == [e.problem for e in resolution.errors]


def test_object_without_namespace_takes_the_pods() -> None:
    """An object without metadata.namespace is in the pod's namespace."""
    resolution = resolve(
        pod(container(env=[secret_key_ref("P", "db", "password")])), secret("db", {"password": "pw"}, namespace=None)
    )

    assert {"P": b"pw"} == env_of(resolution)


def test_literal_referencing_secret_is_sensitive() -> None:
    """A value that expands a secret variable is itself treated as secret (for --mask)."""
    resolution = resolve(pod(container(env=[secret_key_ref("P", "db", "password"), value("URL", "x:$(P)")])), DB)

    assert resolution.env["URL"].sensitive
    assert {b"hunter2": "P", b"x:hunter2": "URL"} == resolution.sensitive_values()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}},
            "spec.containers[0].env[0].valueFrom: Invalid value: may not be specified when `value` is not empty",
        ),
        ({"name": "A", "valueFrom": {}}, "spec.containers[0].env[0].valueFrom: Required value"),
        (
            {
                "name": "A",
                "valueFrom": {
                    "secretKeyRef": {"name": "db", "key": "k"},
                    "configMapKeyRef": {"name": "db", "key": "k"},
                },
            },
            "spec.containers[0].env[0].valueFrom: may not have more than one field specified at a time",
        ),
        (
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "bad/key"}}},
            "spec.containers[0].env[0].valueFrom.secretKeyRef.key: Invalid value: a valid config key must consist of "
            "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used "
            "for validation is '[-._a-zA-Z0-9]+')",
        ),
        (
            {"name": "A=B", "value": "x"},
            "spec.containers[0].env[0].name: Invalid value: a valid environment variable "
            "name must consist only of printable ASCII characters other than '='",
        ),
        ({"value": "x"}, "spec.containers[0].env[0].name: Required value"),
    ],
)
def test_invalid_env_entries_are_manifest_errors(entry, message) -> None:  # type: ignore[no-untyped-def]
    """Pod validation of env entries, with the API server's wording and the field path."""
    resolution = resolve(pod(container(env=[entry])), DB)

    assert [f"pod.yaml: Pod/shop/web-0: {message}"] == error_lines(resolution)


def test_envfrom_needs_exactly_one_source() -> None:
    resolution = resolve(pod(container(env_from=[{"prefix": "X_"}])))

    assert [
        "pod.yaml: Pod/shop/web-0: spec.containers[0].envFrom[0]: must specify one of: `configMapRef` or `secretRef`"
    ] == error_lines(resolution)
