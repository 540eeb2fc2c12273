"""Registry credentials from pull secrets: read as the kubelet reads them, merged, rendered as a config.json.

Reading follows pkg/credentialprovider: ``secrets/secrets.go`` picks the document of a pull secret
(``.dockerconfigjson`` of a ``kubernetes.io/dockerconfigjson`` Secret, ``.dockercfg`` of a
``kubernetes.io/dockercfg`` one) and ``config.go`` decodes it with Go's encoding/json into
``DockerConfigJSON{Auths DockerConfig; HTTPHeaders map[string]string}`` or ``DockerConfig``:

* field names match case-insensitively as encoding/json folds them (``Auths``, ``USERNAME``, and
  the four non-ASCII letters Go folds to ASCII ones: U+017F long s, U+212A Kelvin sign, U+0131
  dotless i, U+0130 dotted I); unknown fields, of any type, are ignored (``identitytoken``,
  ``registrytoken``, ``credsStore``...);
* a value of the wrong JSON type for a typed field refuses the whole document, as the kubelet's
  unmarshal error fails every pull of the pod: ``auths`` and each entry must be objects,
  ``HttpHeaders`` an object of strings, ``username``/``password``/``email``/``auth`` strings; JSON
  ``null`` leaves a field as it was (a null ``auths`` empties it);
* a key given twice counts with its last value (a second ``auths`` object adds to the first);
* invalid UTF-8 and lone surrogate escapes become U+FFFD, as Go's decoder makes them;
* a non-empty ``auth`` (base64 of ``user:password``, padded or not, split at the first ``:``)
  replaces ``username``/``password``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from injector.core.objects import SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKERCONFIGJSON

DOCKERCONFIGJSON_KEY = ".dockerconfigjson"
DOCKERCFG_KEY = ".dockercfg"

_ENTRY_FIELDS = ("USERNAME", "PASSWORD", "EMAIL", "AUTH")
_GO_FOLDS = {"\u017f": "S", "\u212a": "K", "\u0131": "I", "\u0130": "I"}
"""The non-ASCII runes whose ``unicode.ToUpper(unicode.ToLower(r))`` is an ASCII letter."""


class DockerConfigError(ValueError):
    """A pull secret's JSON does not decode into the kubelet's types; the message names no value."""


class Credential(NamedTuple):
    username: bytes
    password: bytes
    email: str

    def __repr__(self) -> str:
        return "Credential([secure])"


def pull_secret_document(secret_type: str, data: Mapping[str, bytes]) -> str | None:
    """The key of the document the kubelet reads from a pull secret, or None when it reads none.

    secrets.go: the type and the key must agree, and the value must not be empty.
    """
    if secret_type == SECRET_TYPE_DOCKERCONFIGJSON and data.get(DOCKERCONFIGJSON_KEY):
        return DOCKERCONFIGJSON_KEY
    if secret_type == SECRET_TYPE_DOCKERCFG and data.get(DOCKERCFG_KEY):
        return DOCKERCFG_KEY
    return None


def parse_document(key: str, data: bytes) -> dict[str, Credential]:
    """``.dockerconfigjson`` or ``.dockercfg``, chosen by ``key``."""
    return parse_dockerconfigjson(data) if key == DOCKERCONFIGJSON_KEY else parse_dockercfg(data)


def parse_dockercfg(data: bytes) -> dict[str, Credential]:
    """``.dockercfg`` (kubernetes.io/dockercfg): ``{registry: entry}``."""
    document = _load(data, DOCKERCFG_KEY)
    if document is None:
        return {}
    if not isinstance(document, _Object):
        raise DockerConfigError(f"{DOCKERCFG_KEY} must be a JSON object")
    return _parse_entries(document, {})


def parse_dockerconfigjson(data: bytes) -> dict[str, Credential]:
    """``.dockerconfigjson`` (kubernetes.io/dockerconfigjson): ``{"auths": {registry: entry}}``."""
    document = _load(data, DOCKERCONFIGJSON_KEY)
    if document is None:
        return {}
    if not isinstance(document, _Object):
        raise DockerConfigError(f"{DOCKERCONFIGJSON_KEY} must be a JSON object")
    auths: dict[str, Credential] | None = None
    for key, value in document:
        field = _go_fold(key)
        if field == "AUTHS":
            if value is None:
                auths = None  # null sets a Go map to nil
            elif isinstance(value, _Object):
                auths = _parse_entries(value, {} if auths is None else auths)  # a non-nil map is added to
            else:
                raise DockerConfigError("auths must be an object of registry: entry")
        elif field == "HTTPHEADERS" and not _is_string_map(value):
            raise DockerConfigError("HttpHeaders must be an object of header: string")
    return {} if auths is None else auths


class _Object(list[tuple[str, Any]]):
    """A JSON object as its pairs, in document order, duplicates kept (Go sees each one)."""


def _load(data: bytes, what: str) -> Any:
    # Decoding ourselves (not json.loads(bytes)) keeps Go's rules: UTF-8 only, no BOM, and an
    # invalid byte survives until _go_text makes it U+FFFD.
    text = data.decode("utf-8", "surrogateescape")
    try:
        return json.loads(text, object_pairs_hook=_Object, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise DockerConfigError(f"{what} is not valid JSON") from None


def _is_string_map(value: Any) -> bool:
    """Decodes into a Go ``map[string]string``: null, or an object of strings (or nulls)."""
    return value is None or (isinstance(value, _Object) and all(isinstance(v, str | None) for _, v in value))


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: not JSON to Go


def _go_text(text: str) -> str:
    """The string Go's decoder makes: an invalid byte or a lone surrogate escape is U+FFFD."""
    if all(not 0xD800 <= ord(char) <= 0xDFFF for char in text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def _go_fold(name: str) -> str:
    """A JSON key as encoding/json compares it to a field name (its ``foldName``), for ASCII fields."""
    return "".join(char.upper() if char.isascii() else _GO_FOLDS.get(char, char) for char in name)


def _parse_entries(entries: _Object, into: dict[str, Credential]) -> dict[str, Credential]:
    for key, given in entries:
        registry = _go_text(key)
        if given is not None and not isinstance(given, _Object):
            raise DockerConfigError(f"entry for registry {registry!r} must be an object")
        fields = dict.fromkeys(_ENTRY_FIELDS, "")
        for field_key, value in given or ():
            field = _go_fold(field_key)
            if field not in fields or value is None:
                continue  # identitytoken, registrytoken...: ignored by the kubelet; null: no change
            if not isinstance(value, str):
                raise DockerConfigError(f"field {field.lower()!r} of registry {registry!r} must be a string")
            fields[field] = _go_text(value)
        username, password = fields["USERNAME"].encode("utf-8"), fields["PASSWORD"].encode("utf-8")
        if fields["AUTH"]:
            username, password = decode_auth(fields["AUTH"], registry)
        into.pop(registry, None)  # the last entry of a registry wins, in the place it was given
        into[registry] = Credential(username, password, fields["EMAIL"])
    return into


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
