"""Registry credentials from pull secrets: parse as the kubelet does, merge, render a config.json.

Parsing follows pkg/credentialprovider/config.go: field names match case-insensitively (Go's
encoding/json), unknown fields are ignored, a value of the wrong JSON type fails the whole
document, and a non-empty ``auth`` (base64 of ``user:password``, split at the first ``:``)
replaces ``username``/``password``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

_ENTRY_FIELDS = ("username", "password", "email", "auth")


class DockerConfigError(ValueError):
    """A pull secret's JSON is not a docker config; the message names no value."""


class Credential(NamedTuple):
    username: bytes
    password: bytes
    email: str

    def __repr__(self) -> str:
        return "Credential([secure])"


def parse_dockercfg(data: bytes) -> dict[str, Credential]:
    """``.dockercfg`` (kubernetes.io/dockercfg): ``{registry: entry}``."""
    return _parse_entries(_load_object(data, ".dockercfg"))


def parse_dockerconfigjson(data: bytes) -> dict[str, Credential]:
    """``.dockerconfigjson`` (kubernetes.io/dockerconfigjson): ``{"auths": {registry: entry}}``."""
    document = _load_object(data, ".dockerconfigjson")
    auths: Any = None
    for key, value in document.items():
        if key.lower() == "auths":
            auths = value
    if auths is None:
        return {}
    if not isinstance(auths, dict):
        raise DockerConfigError("auths must be an object of registry: entry")
    return _parse_entries(auths)


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise DockerConfigError(f"{what} is not valid JSON") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise DockerConfigError(f"{what} must be a JSON object")
    return document


def _parse_entries(entries: Mapping[str, Any]) -> dict[str, Credential]:
    result: dict[str, Credential] = {}
    for registry, given in entries.items():
        raw = {} if given is None else given
        if not isinstance(raw, dict):
            raise DockerConfigError(f"entry for registry {registry!r} must be an object")
        fields = {name: "" for name in _ENTRY_FIELDS}
        for key, value in raw.items():
            name = key.lower()
            if name not in fields:
                continue  # identitytoken, registrytoken...: ignored by the kubelet
            if value is None:
                continue
            if not isinstance(value, str):
                raise DockerConfigError(f"field {name!r} of registry {registry!r} must be a string")
            fields[name] = value
        username = fields["username"].encode("utf-8", "surrogateescape")
        password = fields["password"].encode("utf-8", "surrogateescape")
        if fields["auth"]:
            username, password = decode_auth(fields["auth"], registry)
        result[registry] = Credential(username, password, fields["email"])
    return result


def decode_auth(auth: str, registry: str) -> tuple[bytes, bytes]:
    """Decode ``auth`` as config.go does: padded base64 if it ends in ``=``, else unpadded."""
    text = auth.replace("\r", "").replace("\n", "")  # Go's decoder skips line breaks
    try:
        if auth.strip().endswith("="):
            decoded = base64.b64decode(text, validate=True)
        else:
            if "=" in text or len(text) % 4 == 1:
                raise binascii.Error
            decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DockerConfigError(f"auth of registry {registry!r} is not valid base64") from None
    username, colon, password = decoded.partition(b":")
    if not colon:
        raise DockerConfigError(
            f"auth of registry {registry!r}: unable to parse auth field, must be formatted as base64(username:password)"
        )
    return username, password


def merge(configs: Iterable[Mapping[str, Credential]]) -> dict[str, Credential]:
    """Merge in pull-secret order; for the same registry key the first secret wins."""
    merged: dict[str, Credential] = {}
    for config in configs:
        for registry, credential in config.items():
            merged.setdefault(registry, credential)
    return merged


def render_config_json(credentials: Mapping[str, Credential]) -> bytes:
    """A docker ``config.json`` carrying ``auth`` as well as ``username``/``password``."""
    auths: dict[str, dict[str, str]] = {}
    for registry, credential in credentials.items():
        entry = {
            "auth": base64.b64encode(credential.username + b":" + credential.password).decode("ascii"),
            "username": credential.username.decode("utf-8", "replace"),
            "password": credential.password.decode("utf-8", "replace"),
        }
        if credential.email:
            entry["email"] = credential.email
        auths[registry] = entry
    return json.dumps({"auths": auths}, indent=2).encode("utf-8") + b"\n"
