"""Validate emitted documents as kubectl --validate=strict would, for every Kubernetes release injector targets.

kubernetes-validate ships the OpenAPI schemas per release and works offline; it re-reads and re-parses a
1.5 MB definitions file on every call, so the parsed schema files are kept here (they are never mutated).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils

VERSIONS = tuple(f"1.{minor}" for minor in range(29, 36))
"""Native sidecars (restartPolicy on init containers) are on by default from 1.29."""

if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
        kubernetes_validate.utils.schema_contents
    )


def strict_problems(documents: Iterable[dict[str, Any]], versions: Iterable[str] = VERSIONS) -> list[str]:
    """Every problem kubernetes-validate --strict finds in ``documents``, per version; [] when all pass."""
    problems = []
    for version in versions:
        for body in documents:
            try:
                kubernetes_validate.validate(body, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(part) for part in exc.path)
                problems.append(f"{version} {body.get('kind')}: {where}: {exc.message}")
    return problems
