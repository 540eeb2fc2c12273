"""Secret and ConfigMap objects: decoded from documents and validated as the API server does.

The API server's rules (pkg/apis/core/validation ValidateSecret/ValidateConfigMap) are applied to
every object read, so that a manifest injector accepts is one the cluster would accept too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from injector.core import names
from injector.core.fields import FieldPath, Problems, too_long
from injector.core.manifest import Document
from injector.core.meta import read_labels
from injector.errors import InjectorError, InjectorWarning, ManifestError

MAX_SECRET_SIZE = 1024 * 1024
"""MaxSecretSize: the sum of a Secret's (or ConfigMap's) value lengths may not exceed 1 MiB."""

SECRET_TYPE_OPAQUE = "Opaque"
SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_TYPE_DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_TYPE_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TYPE_TLS = "kubernetes.io/tls"


class DataKind(NamedTuple):
    """How Kubernetes names one of the two kinds that hold data, wherever a message or field needs it."""

    kind: str
    """``Secret`` or ``ConfigMap``."""
    resource: str
    """The API resource: ``secrets``, ``configmaps``."""
    noun: str
    """As in the kubelet's ``secret "db" not found``."""
    env_from_noun: str
    """As in its InvalidEnvironmentVariableNames event: ``from the EnvFrom secret ns/name``."""
    missing_item_key: str
    """The kubelet's error for an ``items[].key`` the object lacks (``{key}`` is replaced)."""
    env_from_field: str
    key_ref_field: str
    volume_field: str
    volume_name_field: str

    def missing_item(self, key: str) -> str:
        return self.missing_item_key.format(key=key)


SECRET = DataKind(
    "Secret",
    "secrets",
    "secret",
    "secret",
    "references non-existent secret key: {key}",
    "secretRef",
    "secretKeyRef",
    "secret",
    "secretName",
)
CONFIG_MAP = DataKind(
    "ConfigMap",
    "configmaps",
    "configmap",
    "configMap",
    "configmap references non-existent config key: {key}",
    "configMapRef",
    "configMapKeyRef",
    "configMap",
    "name",
)
DATA_KINDS: Mapping[str, DataKind] = {SECRET.kind: SECRET, CONFIG_MAP.kind: CONFIG_MAP}


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
    problems = Problems(document.origin, object_ref(body, default_namespace))
    at = FieldPath()

    if body.get("apiVersion") != "v1":
        problems.error(f"{kind} must have apiVersion v1", at / "apiVersion")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        problems.error("Required value", at / "metadata")
        return None, problems.errors
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        problems.error("Required value: name is required", at / "metadata" / "name")
        return None, problems.errors
    for message in names.dns_subdomain_problems(name):
        problems.error(f"Invalid value: {message}", at / "metadata" / "name")
    namespace = metadata.get("namespace") or default_namespace
    if not isinstance(namespace, str):
        problems.error("must be a string", at / "metadata" / "namespace")
        return None, problems.errors
    for message in names.dns_label_problems(namespace):
        problems.error(f"Invalid value: {message}", at / "metadata" / "namespace")
    read_labels(metadata, at / "metadata", problems)

    data: dict[str, bytes] = {}
    field_of: dict[str, str] = {}
    env_keys: list[str]
    secret_type = ""
    if kind == SECRET.kind:
        secret_type = body.get("type") or SECRET_TYPE_OPAQUE
        if not isinstance(secret_type, str):
            problems.error("must be a string", at / "type")
            secret_type = SECRET_TYPE_OPAQUE
        decoding = len(problems.errors)
        data.update(_decode_base64_map(body.get("data"), at / "data", problems))
        if len(problems.errors) > decoding:  # the API server cannot decode it: nothing is validated further
            return None, problems.errors[decoding:]
        # stringData is merged over data on create/update, a stringData key replacing data's.
        string_data = _string_map(body.get("stringData"), at / "stringData", problems)
        data.update(string_data)
        field_of = {key: "stringData" if key in string_data else "data" for key in data}
        env_keys = list(data)
    else:
        text = _string_map(body.get("data"), at / "data", problems)
        decoding = len(problems.errors)
        binary = _decode_base64_map(body.get("binaryData"), at / "binaryData", problems)
        if len(problems.errors) > decoding:  # as for a Secret's data
            return None, problems.errors[decoding:]
        for key in sorted(set(text) & set(binary)):
            problems.error("duplicate of key present in binaryData", (at / "data").key(key))
        data.update(text)
        data.update(binary)
        field_of = {key: "binaryData" if key in binary else "data" for key in data}
        env_keys = list(text)

    for key in data:
        for message in names.config_map_key_problems(key):
            problems.error(f"Invalid value: {message}", (at / field_of[key]).key(key))
    total = sum(len(value) for value in data.values())
    if total > MAX_SECRET_SIZE:
        problems.error(too_long(MAX_SECRET_SIZE), at / "data")
    if kind == SECRET.kind:
        _check_secret_type(secret_type, metadata, data, problems)

    if problems.errors:
        return None, problems.errors
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
        [],
    )


class ObjectSet(NamedTuple):
    """Secrets and ConfigMaps as a source holds them: the valid ones by key, and the problems met."""

    objects: dict[ObjectKey, DataObject]
    errors: list[InjectorError]
    invalid: frozenset[ObjectKey] = frozenset()
    """Objects that exist but do not validate: their errors say so, and a reference to one must not
    also be reported as "not found"."""
    warnings: list[InjectorWarning] = []  # noqa: RUF012 - never mutated once built


def key_of(body: Mapping[str, Any], default_namespace: str) -> ObjectKey | None:
    """The key of a raw Secret or ConfigMap document, when its name can be told."""
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    namespace = (metadata.get("namespace") if isinstance(metadata, dict) else None) or default_namespace
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return ObjectKey(str(body.get("kind")), namespace, name)


def read_data_object(
    document: Document, default_namespace: str
) -> tuple[DataObject | None, list[InjectorError], list[InjectorWarning]]:
    """A Secret or ConfigMap document as the API server takes it from ``kubectl``: decoded strictly
    (unknown fields and wrong types refused), then validated; with the warnings of reading it."""
    from injector.core.schema import decode_document

    decoded, problems, warnings = decode_document(document, object_ref(document.body, default_namespace))
    if decoded is None:
        return None, problems, warnings
    obj, problems = parse_data_object(decoded, default_namespace)
    return obj, problems, warnings


def index_objects(documents: Sequence[Document], default_namespace: str) -> ObjectSet:
    """Index every Secret and ConfigMap by (kind, namespace, name); other kinds are ignored.

    Each document is decoded strictly first (kubectl's --validate=strict): one that does not decode
    is not validated further. The same object defined twice is an error (rather than the last one
    silently winning).
    """
    snapshot: dict[ObjectKey, DataObject] = {}
    errors: list[InjectorError] = []
    warnings: list[InjectorWarning] = []
    invalid: set[ObjectKey] = set()
    for document in documents:
        kind = document.body.get("kind")
        if not isinstance(kind, str) or not kind:
            errors.append(ManifestError("Required value: kind is not set", source=document.origin, field="kind"))
            continue
        if kind not in DATA_KINDS:
            continue
        obj, problems, notes = read_data_object(document, default_namespace)
        warnings += notes
        errors.extend(problems)
        if obj is None:
            key = key_of(document.body, default_namespace)
            if key is not None:
                invalid.add(key)
            continue
        first = snapshot.get(obj.key)
        if first is not None:
            errors.append(ManifestError(f"defined again (first in {first.origin})", source=obj.origin, obj=obj.ref))
            continue
        snapshot[obj.key] = obj
    return ObjectSet(snapshot, errors, frozenset(invalid - snapshot.keys()), warnings)


def _decode_base64_map(raw: object, at: FieldPath, problems: Problems) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.error("must be an object of key: base64 value", at)
        return {}
    decoded: dict[str, bytes] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            problems.error("keys must be strings", at)
            continue
        if value is None:
            decoded[key] = b""
            continue
        if not isinstance(value, str):
            problems.error("must be a base64-encoded string", at.key(key))
            continue
        try:
            # Like Go's base64.StdEncoding (what the API server uses for []byte): padding is
            # required and line breaks are ignored; anything else outside the alphabet is an error.
            decoded[key] = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            problems.error("illegal base64 data", at.key(key))
    return decoded


def _string_map(raw: object, at: FieldPath, problems: Problems) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.error("must be an object of key: string value", at)
        return {}
    result: dict[str, bytes] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            problems.error("keys must be strings", at)
        elif not isinstance(value, str):
            problems.error("must be a string (quote numbers and booleans)", at.key(key))
        else:
            try:
                result[key] = value.encode("utf-8")
            except UnicodeEncodeError:
                problems.error("must be valid UTF-8", at.key(key))
    return result


def _check_secret_type(
    secret_type: str, metadata: Mapping[str, Any], data: Mapping[str, bytes], problems: Problems
) -> None:
    at = FieldPath.of("data")
    if secret_type == SECRET_TYPE_SERVICE_ACCOUNT_TOKEN:
        annotations = metadata.get("annotations")
        if not isinstance(annotations, dict) or not annotations.get("kubernetes.io/service-account.name"):
            problems.error(
                "Required value", FieldPath.of("metadata", "annotations").key("kubernetes.io/service-account.name")
            )
    elif secret_type in (SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKERCONFIGJSON):
        key = ".dockercfg" if secret_type == SECRET_TYPE_DOCKERCFG else ".dockerconfigjson"
        if key not in data:
            problems.error("Required value", at.key(key))
        elif not _is_json_object(data[key]):
            problems.error("Invalid value: must be a JSON object", at.key(key))
    elif secret_type == SECRET_TYPE_BASIC_AUTH:
        if "username" not in data and "password" not in data:
            problems.error("Required value", at.key("username"))
            problems.error("Required value", at.key("password"))
    elif secret_type == SECRET_TYPE_SSH_AUTH:
        if not data.get("ssh-privatekey"):
            problems.error("Required value", at.key("ssh-privatekey"))
    elif secret_type == SECRET_TYPE_TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                problems.error("Required value", at.key(key))


def _is_json_object(value: bytes) -> bool:
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    # Go unmarshals `null` into a map without error, so the API server accepts it.
    return parsed is None or isinstance(parsed, dict)
