"""The container's own command: its ``command`` and ``args`` with ``$(VAR)`` expanded (pure).

As the kubelet's ``ExpandContainerCommandAndArgs`` (``kubelet_pods.go``) does, against the
container's final environment only: a name the container does not define stays as written, and
``$$`` is a ``$``. With a ``command`` the image's entrypoint and CMD are both ignored, so the
command and args are the whole argv; without one the image's entrypoint would run, which injector
cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping

from injector.core.expand import expand
from injector.core.podspec import Container
from injector.core.resolve import EnvEntry


def container_argv(
    container: Container, env: Mapping[str, EnvEntry], *, whole_runes: bool = True
) -> tuple[bytes, ...] | None:
    """``command`` + ``args``, expanded; None when the container has no ``command``."""
    if not container.command:
        return None

    def lookup(name: bytes) -> bytes | None:
        entry = env.get(name.decode("utf-8", "surrogateescape"))
        return None if entry is None else entry.value

    return tuple(
        expand(part.encode("utf-8"), lookup, whole_runes=whole_runes) for part in (*container.command, *container.args)
    )
