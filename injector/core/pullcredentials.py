"""What the pod's pull secrets give a registry client: a config.json (merged, or for one image) and
the credentials the kubelet tries for an image, with warnings where a client would differ from it.

A docker-compatible client (docker, podman, skopeo) looks a registry host up exactly in
``config.json``; the kubelet matches every entry of every pull secret against the image (globs,
paths, Docker Hub aliases, see ``keyring``). A config rendered for one image holds just the image's
host with the credential the kubelet tries first, so any client pulls as the kubelet would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from injector.core.dockerconfig import Credential
from injector.core.fields import FieldPath, quoted
from injector.core.keyring import Keyring, RegistryCredential
from injector.errors import InjectorWarning, Setting


def docker_config(keyring: Keyring, image: str | None) -> tuple[dict[str, Credential], list[InjectorWarning]]:
    """The ``auths`` of a config.json, and what a user should know about it: for ``image``, its
    registry host with the first credential the kubelet tries (InvalidImageError if the reference is
    invalid); without one, every pull secret merged, with a warning per entry clients do not use as
    the kubelet does."""
    if image is None:
        return keyring.merged(), merged_config_warnings(keyring)
    auths = keyring.config_for_image(image)
    return auths, [] if auths else [no_credentials_warning(image)]


def image_credentials(keyring: Keyring, image: str) -> tuple[list[RegistryCredential], list[InjectorWarning]]:
    """The credentials the kubelet tries for ``image``, in its order (InvalidImageError if invalid)."""
    found = keyring.for_image(image)
    return found, [] if found else [no_credentials_warning(image)]


def no_credentials_warning(image: str) -> InjectorWarning:
    return InjectorWarning(
        f"no pull secret has a credential for image {quoted(image)}: the kubelet pulls it without credentials"
    )


def merged_config_warnings(keyring: Keyring) -> list[InjectorWarning]:
    """One warning per glob or path-scoped entry of a merged config.json."""
    warnings = []
    for config, registry, problem in keyring.entry_problems():
        if problem == "glob":
            text = "is a glob: only the kubelet expands it, clients look hosts up exactly and never use it"
        elif problem == "path":
            text = (
                "is scoped to a path: the kubelet uses it only for images under that path, clients that look "
                "hosts up exactly use it for the whole host or not at all"
            )
        else:
            continue  # the kubelet ignores it: the resolution says so
        warnings.append(
            InjectorWarning(
                (f"registry entry {quoted(registry)} {text}; render the config of one image with ", Setting("image")),
                source=config.origin,
                obj=config.ref,
                field=FieldPath.of("data").key(config.key),
            )
        )
    return warnings


def render_credentials(found: Sequence[RegistryCredential], output_format: str) -> bytes:
    """``json``: ``[{registry, username, password}]`` in the kubelet's order; ``text``: one line per
    credential, its registry entry and username (no password)."""
    if output_format == "text":
        return "".join(f"{c.registry}\t{_text(c.credential.username)}\n" for c in found).encode("utf-8")
    entries = [
        {"registry": c.registry, "username": _text(c.credential.username), "password": _text(c.credential.password)}
        for c in found
    ]
    return json.dumps(entries, indent=2).encode("utf-8") + b"\n"


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")  # as Go's encoding/json writes a string that is not UTF-8
