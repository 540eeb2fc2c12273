"""Secret and ConfigMap objects: decoded from documents and validated as the API server does.

The API server's rules (pkg/apis/core/validation ValidateSecret/ValidateConfigMap) are applied to
every object read, so that a manifest injector accepts is one the cluster would accept too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from injector import names
from injector.errors import InjectorError, ManifestError
from injector.manifest import Document

MAX_SECRET_SIZE = 1024 * 1024
"""MaxSecretSize: the sum of a Secret's (or ConfigMap's) value lengths may not exceed 1 MiB."""

SECRET_TYPE_OPAQUE = "Opaque"
SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_TYPE_DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_TYPE_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TYPE_TLS = "kubernetes.io/tls"

DATA_KINDS = ("Secret", "ConfigMap")


class ObjectKey(NamedTuple):
    kind: str
    namespace: str
    name: str


class DataObject:
    """A Secret or ConfigMap with its data decoded to bytes. Its repr never shows a value."""

    __slots__ = ("data", "env_keys", "kind", "name", "namespace", "origin", "type")

    def __init__(
        self,
        *,
        kind: str,
        namespace: str,
        name: str,
        type: str,  # noqa: A002 - the Kubernetes field name
        data: Mapping[str, bytes],
        env_keys: tuple[str, ...],
        origin: str,
    ) -> None:
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.type = type
        self.data = dict(data)
        self.env_keys = env_keys
        """Keys that envFrom and *KeyRef may use: every Secret key, a ConfigMap's ``data`` keys."""
        self.origin = origin

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __repr__(self) -> str:
        return f"<{self.kind} {self.namespace}/{self.name} keys={sorted(self.data)} [values hidden]>"


def object_ref(body: Mapping[str, Any], default_namespace: str) -> str:
    """``Kind/namespace/name`` of a raw document, as best it can be told, for messages."""
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name")
    namespace = metadata.get("namespace") or default_namespace
    return f"{body.get('kind', '?')}/{namespace}/{name if isinstance(name, str) else '?'}"


def parse_data_object(document: Document, default_namespace: str) -> tuple[DataObject | None, list[InjectorError]]:
    """Decode and validate a Secret or ConfigMap document.

    Returns the object (None when it is unusable) and every problem found, so that ``check`` can
    list them all.
    """
    body = document.body
    kind = body.get("kind")
    ref = object_ref(body, default_namespace)
    errors: list[InjectorError] = []

    def problem(message: str, field: str = "") -> None:
        errors.append(ManifestError(message, source=document.origin, obj=ref, field=field))

    if body.get("apiVersion") != "v1":
        problem(f"{kind} must have apiVersion v1", "apiVersion")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        problem("Required value", "metadata")
        return None, errors
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        problem("Required value: name is required", "metadata.name")
        return None, errors
    for message in names.dns_subdomain_problems(name):
        problem(f"Invalid value: {message}", "metadata.name")
    namespace = metadata.get("namespace") or default_namespace
    if not isinstance(namespace, str):
        problem("must be a string", "metadata.namespace")
        return None, errors
    for message in names.dns_label_problems(namespace):
        problem(f"Invalid value: {message}", "metadata.namespace")

    data: dict[str, bytes] = {}
    field_of: dict[str, str] = {}
    env_keys: list[str]
    secret_type = ""
    if kind == "Secret":
        secret_type = body.get("type") or SECRET_TYPE_OPAQUE
        if not isinstance(secret_type, str):
            problem("must be a string", "type")
            secret_type = SECRET_TYPE_OPAQUE
        data.update(_decode_base64_map(body.get("data"), "data", problem))
        # stringData is merged over data on create/update, a stringData key replacing data's.
        string_data = _string_map(body.get("stringData"), "stringData", problem)
        data.update(string_data)
        field_of = {key: "stringData" if key in string_data else "data" for key in data}
        env_keys = list(data)
    else:
        text = _string_map(body.get("data"), "data", problem)
        binary = _decode_base64_map(body.get("binaryData"), "binaryData", problem)
        for key in sorted(set(text) & set(binary)):
            problem("duplicate of key present in binaryData", f"data[{key}]")
        data.update(text)
        data.update(binary)
        field_of = {key: "binaryData" if key in binary else "data" for key in data}
        env_keys = list(text)

    for key in data:
        for message in names.config_map_key_problems(key):
            problem(f"Invalid value: {message}", f"{field_of[key]}[{key}]")
    total = sum(len(value) for value in data.values())
    if total > MAX_SECRET_SIZE:
        problem(f"Too long: must have at most {MAX_SECRET_SIZE} bytes", "data")
    if kind == "Secret":
        _check_secret_type(secret_type, metadata, data, problem)

    if errors:
        return None, errors
    return (
        DataObject(
            kind=str(kind),
            namespace=namespace,
            name=name,
            type=secret_type,
            data=data,
            env_keys=tuple(env_keys),
            origin=document.origin,
        ),
        errors,
    )


def _decode_base64_map(raw: object, field: str, problem: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem("must be an object of key: base64 value", field)
        return {}
    decoded: dict[str, bytes] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            problem("keys must be strings", field)
            continue
        if value is None:
            decoded[key] = b""
            continue
        if not isinstance(value, str):
            problem("must be a base64-encoded string", f"{field}[{key}]")
            continue
        try:
            # Like Go's base64.StdEncoding (what the API server uses for []byte): padding is
            # required and line breaks are ignored; anything else outside the alphabet is an error.
            decoded[key] = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            problem("illegal base64 data", f"{field}[{key}]")
    return decoded


def _string_map(raw: object, field: str, problem: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problem("must be an object of key: string value", field)
        return {}
    result: dict[str, bytes] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            problem("keys must be strings", field)
        elif not isinstance(value, str):
            problem("must be a string (quote numbers and booleans)", f"{field}[{key}]")
        else:
            try:
                result[key] = value.encode("utf-8")
            except UnicodeEncodeError:
                problem("must be valid UTF-8", f"{field}[{key}]")
    return result


def _check_secret_type(secret_type: str, metadata: Mapping[str, Any], data: Mapping[str, bytes], problem: Any) -> None:
    if secret_type == SECRET_TYPE_SERVICE_ACCOUNT_TOKEN:
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict) or not annotations.get("kubernetes.io/service-account.name"):
            problem("Required value", "metadata.annotations[kubernetes.io/service-account.name]")
    elif secret_type in (SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKERCONFIGJSON):
        key = ".dockercfg" if secret_type == SECRET_TYPE_DOCKERCFG else ".dockerconfigjson"
        if key not in data:
            problem("Required value", f"data[{key}]")
        elif not _is_json_object(data[key]):
            problem("Invalid value: must be a JSON object", f"data[{key}]")
    elif secret_type == SECRET_TYPE_BASIC_AUTH:
        if "username" not in data and "password" not in data:
            problem("Required value", "data[username]")
            problem("Required value", "data[password]")
    elif secret_type == SECRET_TYPE_SSH_AUTH:
        if not data.get("ssh-privatekey"):
            problem("Required value", "data[ssh-privatekey]")
    elif secret_type == SECRET_TYPE_TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                problem("Required value", f"data[{key}]")


def _is_json_object(value: bytes) -> bool:
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    # Go unmarshals `null` into a map without error, so the API server accepts it.
    return parsed is None or isinstance(parsed, dict)
