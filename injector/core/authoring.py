"""Writing Secrets: the body of each type, as a console's wizard builds it, and what changes between two.

Pure: values come in as bytes (read from files, stdin or a prompt by the shell) and go out as a
manifest body; nothing here prints a value. Fingerprints (``sha256:`` and the first hex digits of
the digest) stand for values wherever a person must tell two apart: ``get``, ``--dry-run`` and
the clusters' drift check.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from injector.core import names
from injector.core.fields import quoted
from injector.core.manifest import Document
from injector.core.objects import (
    SECRET_TYPE_BASIC_AUTH,
    SECRET_TYPE_DOCKERCONFIGJSON,
    SECRET_TYPE_OPAQUE,
    SECRET_TYPE_SSH_AUTH,
    SECRET_TYPE_TLS,
    DataObject,
    read_data_object,
)
from injector.errors import InjectorError, InjectorWarning, ManifestError, UsageError

KINDS = ("generic", "tls", "docker-registry", "basic-auth", "ssh-auth")
"""``secret create KIND``: the console's wizard pages (Default/custom, TLS, image registry, username-password, SSH)."""
TYPE_OF_KIND = {
    "generic": SECRET_TYPE_OPAQUE,
    "tls": SECRET_TYPE_TLS,
    "docker-registry": SECRET_TYPE_DOCKERCONFIGJSON,
    "basic-auth": SECRET_TYPE_BASIC_AUTH,
    "ssh-auth": SECRET_TYPE_SSH_AUTH,
}
FINGERPRINT_DIGITS = 16
"""Hex digits of the sha256 shown: enough to tell values apart, and what drift lines compare."""


class Field(NamedTuple):
    """One question of the wizard for a kind: ``key`` is the option (or data key) it fills."""

    key: str
    label: str
    secret: bool = False
    """A value: asked without echo, twice."""
    required: bool = True
    path: bool = False
    """The answer is a file to read (a certificate, a key), not the value."""


WIZARD_FIELDS: Mapping[str, tuple[Field, ...]] = {
    "tls": (Field("cert", "certificate file (PEM)", path=True), Field("key", "private key file (PEM)", path=True)),
    "docker-registry": (
        Field("server", "registry server (host[:port])"),
        Field("username", "username"),
        Field("password", "password", secret=True),
        Field("email", "email (optional)", required=False),
    ),
    "basic-auth": (Field("username", "username"), Field("password", "password", secret=True)),
    "ssh-auth": (Field("ssh_key", "SSH private key file", path=True),),
    "generic": (),
}
"""What the wizard asks for each kind when the command line leaves it out and there is a terminal.
``generic`` asks key after key (see ``GENERIC_KEY_FIELD``)."""
GENERIC_KEY_FIELD = Field("key", "key (empty to finish)", required=False)
ENV_NAME_RULE = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
    "and must not start with a digit"
)


# -- values ------------------------------------------------------------------------------------------


def fingerprint(value: bytes) -> str:
    """``sha256:`` and the first hex digits of the value's digest: never the value."""
    return "sha256:" + hashlib.sha256(value).hexdigest()[:FINGERPRINT_DIGITS]


def key_problems(key: str) -> list[str]:
    """IsConfigMapKey, as the API server checks a Secret's keys."""
    return names.config_map_key_problems(key)


def check_key(key: str, where: str) -> str:
    for message in key_problems(key):
        raise UsageError(f"invalid key {quoted(key)}: {message}", source=where)
    return key


def file_key(spec: str) -> tuple[str, str]:
    """``--from-file [KEY=]PATH``: the key (the file's base name when not given) and the path."""
    key, equals, path = spec.partition("=")
    if not equals:
        path, key = spec, spec.rstrip("/").rsplit("/", 1)[-1]
    if not path:
        raise UsageError(f"--from-file {quoted(spec)}: no path")
    return check_key(key, "--from-file"), path


def parse_env_file(data: bytes, source: str) -> list[tuple[str, bytes]]:
    """``--from-env-file`` as kubectl reads it: ``KEY=VALUE`` lines, leading blanks trimmed, blank lines
    and ``#`` comments skipped, no quoting; the key must be an env variable name.

    A line with a key alone makes kubectl read the variable from its environment: refused here,
    where values never come from the command line or its environment.
    """
    pairs: list[tuple[str, bytes]] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"line {number} has invalid utf8 bytes", source=source) from None
        text = text.lstrip()
        if not text or text.startswith("#"):
            continue
        key, equals, value = text.partition("=")
        if not names.is_env_var_name(key):
            raise UsageError(f"line {number}: {quoted(key)} is not a valid key name: {ENV_NAME_RULE}", source=source)
        if not equals:
            raise UsageError(
                f"line {number}: {key} has no value (kubectl would take it from the environment; injector does not)",
                source=source,
            )
        pairs.append((key, value.encode("utf-8")))
    return pairs


def merge_values(sources: Iterable[tuple[str, bytes, str]]) -> dict[str, bytes]:
    """Values from several options (key, value, where): a key given twice is an error, as in kubectl."""
    merged: dict[str, bytes] = {}
    given: dict[str, str] = {}
    for key, value, where in sources:
        if key in merged:
            raise UsageError(f"key {key} is given twice (by {given[key]} and {where})")
        merged[key] = value
        given[key] = where
    return merged


def docker_config_json(server: str, username: str, password: bytes, email: str | None) -> bytes:
    """``.dockerconfigjson`` as ``kubectl create secret docker-registry`` writes it: one registry with
    ``username``, ``password``, optional ``email`` and ``auth`` (base64 of ``username:password``)."""
    try:
        password_text = password.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the registry password must be UTF-8 text (docker config files are JSON)") from None
    entry: dict[str, str] = {"username": username, "password": password_text}
    if email:
        entry["email"] = email
    entry["auth"] = base64.b64encode(username.encode("utf-8") + b":" + password).decode("ascii")
    return json.dumps({"auths": {server: entry}}, separators=(",", ":")).encode("utf-8")


# -- the manifest ------------------------------------------------------------------------------------------


class SecretSpec(NamedTuple):
    """What a Secret is made of before it is a manifest. Its repr never shows a value."""

    name: str
    namespace: str
    type: str
    data: Mapping[str, bytes]
    labels: Mapping[str, str] = {}
    annotations: Mapping[str, str] = {}
    immutable: bool | None = None

    def __repr__(self) -> str:
        return f"SecretSpec({self.namespace}/{self.name}, type={self.type}, keys={sorted(self.data)} [values hidden])"


def secret_body(spec: SecretSpec, *, readable: bool = False) -> dict[str, Any]:
    """The manifest of ``spec``: ``data`` in base64 (as the API returns it), or with ``readable``, text
    values as ``stringData`` (what a person edits) and only the others in ``data``."""
    metadata: dict[str, Any] = {"name": spec.name, "namespace": spec.namespace}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": spec.type}
    if spec.immutable is not None:
        body["immutable"] = spec.immutable
    encoded = {key: base64.b64encode(value).decode("ascii") for key, value in spec.data.items() if not readable}
    text: dict[str, str] = {}
    if readable:
        for key, value in spec.data.items():
            shown = _as_text(value)
            if shown is None:
                encoded[key] = base64.b64encode(value).decode("ascii")
            else:
                text[key] = shown
    if encoded or not text:
        body["data"] = dict(sorted(encoded.items()))
    if text:
        body["stringData"] = dict(sorted(text.items()))
    return body


def _as_text(value: bytes) -> str | None:
    """``value`` as text a YAML editor round-trips exactly, or None (then it stays base64)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(char) < 0x20 and char not in "\n\t" for char in text) or "\x7f" in text or "\r" in text:
        return None
    return text


def spec_of(obj: DataObject, metadata: Mapping[str, Any], immutable: object = None) -> SecretSpec:
    """A Secret read back (from a file or the API) as a spec; ``metadata``: its raw metadata."""
    labels = metadata.get("labels")
    annotations = metadata.get("annotations")
    return SecretSpec(
        obj.name,
        obj.namespace,
        obj.type,
        obj.data,
        dict(labels) if isinstance(labels, dict) else {},
        dict(annotations) if isinstance(annotations, dict) else {},
        immutable if isinstance(immutable, bool) else None,
    )


def validated(body: Mapping[str, Any], origin: str) -> DataObject:
    """``body`` checked as the API server checks a Secret; the first problem raised."""
    obj, problems, _ = read_data_object(Document(origin, dict(body)), str(body["metadata"].get("namespace")))
    if problems:
        raise problems[0]
    assert obj is not None
    return obj


def check_name(name: str, namespace: str) -> None:
    for message in names.dns_subdomain_problems(name):
        raise UsageError(f"invalid Secret name {quoted(name)}: {message}")
    for message in names.dns_label_problems(namespace):
        raise UsageError(f"invalid namespace {quoted(namespace)}: {message}")


def label_pairs(specs: Sequence[str], option: str) -> dict[str, str]:
    """``--label K=V`` / ``--annotation K=V`` pairs (checked as ObjectMeta later, with the whole body)."""
    pairs: dict[str, str] = {}
    for spec in specs:
        key, equals, value = spec.partition("=")
        if not equals or not key:
            raise UsageError(f"{option} takes KEY=VALUE, not {quoted(spec)}")
        pairs[key] = value
    return pairs


# -- changes by key ------------------------------------------------------------------------------------------

Change = Literal["added", "removed", "changed", "unchanged"]
MARK: Mapping[Change, str] = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}


class KeyChange(NamedTuple):
    key: str
    change: Change
    before: str | None
    """Fingerprint of the old value (None when added)."""
    after: str | None
    size: int
    """Bytes of the new value (of the old one when removed)."""

    def line(self) -> str:
        if self.change == "added":
            return f"  + {self.key}  {self.after}  ({self.size} bytes)"
        if self.change == "removed":
            return f"  - {self.key}  {self.before}"
        if self.change == "changed":
            return f"  ~ {self.key}  {self.before} -> {self.after}  ({self.size} bytes)"
        return f"  = {self.key}  {self.after}"


def diff_keys(before: Mapping[str, bytes] | None, after: Mapping[str, bytes] | None) -> list[KeyChange]:
    """Every key of either side and what became of it, sorted by key."""
    old, new = dict(before or {}), dict(after or {})
    changes: list[KeyChange] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append(KeyChange(key, "added", None, fingerprint(new[key]), len(new[key])))
        elif key not in new:
            changes.append(KeyChange(key, "removed", fingerprint(old[key]), None, len(old[key])))
        else:
            change: Change = "unchanged" if old[key] == new[key] else "changed"
            changes.append(KeyChange(key, change, fingerprint(old[key]), fingerprint(new[key]), len(new[key])))
    return changes


def describe_changes(
    before: SecretSpec | None, after: SecretSpec | None, *, show_unchanged: bool = True
) -> tuple[str, list[str]]:
    """What writing ``after`` over ``before`` does (``create``, ``update``, ``delete``, ``no change``) and
    one line per key, plus lines for a changed type, labels or annotations: names and fingerprints only."""
    changes = diff_keys(before.data if before else None, after.data if after else None)
    if before is None:
        verb = "create"
    elif after is None:
        verb = "delete"
    else:
        verb = "update"
    lines = [change.line() for change in changes if show_unchanged or change.change != "unchanged"]
    if before is not None and after is not None:
        if before.type != after.type:
            lines.insert(0, f"  ~ type  {before.type} -> {after.type}")
        for what, old, new in (
            ("label", before.labels, after.labels),
            ("annotation", before.annotations, after.annotations),
        ):
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    mark = "+" if key not in old else "-" if key not in new else "~"
                    lines.append(f"  {mark} {what} {key}")
        if before.immutable != after.immutable:
            lines.append(f"  ~ immutable  {before.immutable} -> {after.immutable}")
        if _same(before, after):
            verb = "no change"
    return verb, lines


def _same(before: SecretSpec, after: SecretSpec) -> bool:
    return (
        dict(before.data) == dict(after.data)
        and before.type == after.type
        and dict(before.labels) == dict(after.labels)
        and dict(before.annotations) == dict(after.annotations)
        and bool(before.immutable) == bool(after.immutable)
    )


def summary_lines(spec: SecretSpec) -> list[str]:
    """``secret get``: type, then each key with its size and fingerprint; never a value."""
    lines = [f"Secret {spec.namespace}/{spec.name}", f"  type: {spec.type}"]
    if spec.immutable:
        lines.append("  immutable: true")
    for key in sorted(spec.data):
        lines.append(f"  {key}  {len(spec.data[key])} bytes  {fingerprint(spec.data[key])}")
    return lines


def drift(ref: str, field: str, sides: Sequence[tuple[str, Mapping[str, bytes] | None]]) -> list[InjectorError]:
    """Where the data of one object differs between clusters (context name, data or None when absent):
    one error per differing key, naming the first context and the differing one."""
    problems: list[InjectorError] = []
    (first_name, first), *others = sides
    for name, other in others:
        if (first is None) != (other is None):
            has, lacks = (first_name, name) if other is None else (name, first_name)
            problems.append(ManifestError(f"exists in context {has}, not in context {lacks}", obj=ref))
            continue
        for change in diff_keys(first, other):
            at = f"{field}[{change.key}]"
            if change.change == "added":
                problems.append(
                    ManifestError(
                        f"only in context {name} ({change.after}), not in context {first_name}", obj=ref, field=at
                    )
                )
            elif change.change == "removed":
                problems.append(
                    ManifestError(
                        f"only in context {first_name} ({change.before}), not in context {name}", obj=ref, field=at
                    )
                )
            elif change.change == "changed":
                problems.append(
                    ManifestError(
                        f"differs: context {first_name} has {change.before}, context {name} has {change.after}",
                        obj=ref,
                        field=at,
                    )
                )
    return problems


# -- per-type checks -----------------------------------------------------------------------------------------


def check_values(spec: SecretSpec, now: datetime.datetime, where: str = "") -> list[InjectorWarning]:
    """The console's checks for the Secret's type, beyond the API server's required keys: a TLS pair
    that parses and matches, a docker config the kubelet can read, an SSH key that parses."""
    from injector.core.dockerconfig import DockerConfigError, parse_dockerconfigjson
    from injector.core.keycheck import check_ssh_private_key, check_tls

    data = spec.data
    if spec.type == SECRET_TYPE_TLS and "tls.crt" in data and "tls.key" in data:
        return check_tls(data["tls.crt"], data["tls.key"], now, where=where)[1]
    if spec.type == SECRET_TYPE_DOCKERCONFIGJSON and ".dockerconfigjson" in data:
        try:
            if not parse_dockerconfigjson(data[".dockerconfigjson"]):
                return [InjectorWarning("no registry in auths", field="data[.dockerconfigjson]")]
        except DockerConfigError as exc:
            raise ManifestError(str(exc), source=where, field="data[.dockerconfigjson]") from None
    if spec.type == SECRET_TYPE_SSH_AUTH and data.get("ssh-privatekey"):
        check_ssh_private_key(data["ssh-privatekey"], where=where)
    return []
