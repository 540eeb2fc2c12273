"""The generated field table (injector/core/schema_table.py) holds what the Kubernetes v1.35 schema says."""

from __future__ import annotations

import re

import pytest

from injector.core.schema_table import FORMATS, LIST_MAP_KEYS, REQUIRED, ROOTS, TYPES

CORE = "io.k8s.api.core.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
WORDS = {"string", "integer", "number", "boolean", "int-or-string", "quantity", "object"}


def element(field_type: str) -> str:
    while match := re.fullmatch(r"(?:list|map)\[(.*)\]", field_type):
        field_type = match.group(1)
    return field_type


def test_every_field_type_is_a_word_or_a_known_type() -> None:
    for name, fields in TYPES.items():
        for field, field_type in fields.items():
            inner = element(field_type)
            assert inner in WORDS or inner in TYPES, (name, field, field_type)


@pytest.mark.parametrize(
    ("api_version", "kind", "type_name"),
    [
        ("v1", "Pod", CORE + "Pod"),
        ("v1", "PodTemplate", CORE + "PodTemplate"),
        ("v1", "ReplicationController", CORE + "ReplicationController"),
        ("v1", "Secret", CORE + "Secret"),
        ("v1", "ConfigMap", CORE + "ConfigMap"),
        ("v1", "List", META + "List"),
        ("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
        ("apps/v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
        ("apps/v1", "DaemonSet", "io.k8s.api.apps.v1.DaemonSet"),
        ("apps/v1", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet"),
        ("batch/v1", "Job", "io.k8s.api.batch.v1.Job"),
        ("batch/v1", "CronJob", "io.k8s.api.batch.v1.CronJob"),
    ],
)
def test_roots(api_version: str, kind: str, type_name: str) -> None:
    assert ROOTS[(api_version, kind)] == type_name
    assert {"apiVersion", "kind", "metadata"} <= TYPES[type_name].keys()


def test_container_fields() -> None:
    container = TYPES[CORE + "Container"]
    assert container["envFrom"] == f"list[{CORE}EnvFromSource]"
    assert container["volumeMounts"] == f"list[{CORE}VolumeMount]"
    assert container["env"] == f"list[{CORE}EnvVar]"
    assert "envfrom" not in container
    assert REQUIRED[CORE + "Container"] == ("name",)


def test_env_from_source() -> None:
    assert TYPES[CORE + "EnvFromSource"] == {
        "configMapRef": CORE + "ConfigMapEnvSource",
        "prefix": "string",
        "secretRef": CORE + "SecretEnvSource",
    }


def test_key_to_path() -> None:
    assert TYPES[CORE + "KeyToPath"] == {"key": "string", "mode": "integer", "path": "string"}
    assert REQUIRED[CORE + "KeyToPath"] == ("key", "path")
    assert FORMATS[CORE + "KeyToPath"] == {"mode": "int32"}
    assert FORMATS[CORE + "SecretVolumeSource"]["defaultMode"] == "int32"


def test_pod_has_metadata_spec_status() -> None:
    pod = TYPES[CORE + "Pod"]
    assert pod["metadata"] == META + "ObjectMeta"
    assert pod["spec"] == CORE + "PodSpec"
    assert pod["status"] == CORE + "PodStatus"
    assert "status" not in TYPES[CORE + "Secret"]


def test_secret_and_config_map() -> None:
    secret = TYPES[CORE + "Secret"]
    assert secret["data"] == "map[string]"
    assert FORMATS[CORE + "Secret"] == {"data": "byte"}
    assert secret["stringData"] == "map[string]"
    config_map = TYPES[CORE + "ConfigMap"]
    assert config_map["binaryData"] == "map[string]"
    assert FORMATS[CORE + "ConfigMap"] == {"binaryData": "byte"}


def test_special_types_are_words() -> None:
    assert TYPES[CORE + "ResourceRequirements"]["limits"] == "map[quantity]"
    assert TYPES[CORE + "HTTPGetAction"]["port"] == "int-or-string"
    assert TYPES[META + "ObjectMeta"]["labels"] == "map[string]"
    assert TYPES[META + "ObjectMeta"]["creationTimestamp"] == "string"
    assert FORMATS[META + "ObjectMeta"]["creationTimestamp"] == "date-time"
    assert TYPES[META + "ManagedFieldsEntry"]["fieldsV1"] == "object"
    assert TYPES[META + "List"]["items"] == "list[object]"


def test_list_map_keys() -> None:
    assert LIST_MAP_KEYS[CORE + "PodSpec"]["containers"] == ("name",)
    assert LIST_MAP_KEYS[CORE + "Container"]["ports"] == ("containerPort", "protocol")
