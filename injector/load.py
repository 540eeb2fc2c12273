"""From command-line inputs to a Resolution: read the pod and the sources, then resolve (I/O shell)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from injector.errors import InjectorError, ManifestError
from injector.manifest import Document, parse_documents
from injector.objects import DATA_KINDS, DataObject, ObjectKey, parse_data_object
from injector.podspec import Container, PodSpec, parse_pod, select_container, select_pod_document
from injector.resolve import Resolution, referenced_objects, resolve_container
from injector.sources import read_bytes, read_documents

if TYPE_CHECKING:
    from injector.kube import KubeSettings


class Request(NamedTuple):
    pod_file: str
    secrets: Sequence[str]
    pod_name: str | None = None
    container: str | None = None
    namespace: str | None = None
    age_identities: Sequence[str] = ()
    skip_invalid_env_keys: bool = True
    kube: KubeSettings | None = None
    """Also fetch the referenced objects from the Kubernetes API."""
    pod_body: Mapping[str, Any] | None = None
    """The pod as already read (``agent --self`` gets it from the API); ``pod_file`` then names it."""


def build_snapshot(
    documents: Sequence[Document], default_namespace: str
) -> tuple[dict[ObjectKey, DataObject], list[InjectorError]]:
    """Index every Secret and ConfigMap by (kind, namespace, name); other kinds are ignored."""
    snapshot: dict[ObjectKey, DataObject] = {}
    errors: list[InjectorError] = []
    for document in documents:
        kind = document.body.get("kind")
        if not isinstance(kind, str) or not kind:
            errors.append(ManifestError("Required value: kind is not set", source=document.origin, field="kind"))
            continue
        if kind not in DATA_KINDS:
            continue
        obj, problems = parse_data_object(document, default_namespace)
        errors.extend(problems)
        if obj is None:
            continue
        first = snapshot.get(obj.key)
        if first is not None:
            errors.append(ManifestError(f"defined again (first in {first.origin})", source=obj.origin, obj=obj.ref))
            continue
        snapshot[obj.key] = obj
    return snapshot, errors


def read_pod(request: Request) -> tuple[list[Document], PodSpec, Container, list[InjectorError]]:
    """The pod manifest's documents, the pod, the chosen container and the pod's problems."""
    if request.pod_body is not None:
        pod_documents = [Document(request.pod_file, dict(request.pod_body))]
    else:
        pod_documents = parse_documents(
            read_bytes(request.pod_file), "<stdin>" if request.pod_file == "-" else request.pod_file
        )
    pod_document = select_pod_document(pod_documents, request.pod_name, request.pod_file)
    pod, pod_errors = parse_pod(pod_document, request.namespace or "default")
    if pod_errors and not any(".containers[" in c.field for c in pod.containers):
        raise pod_errors[0]  # the pod's containers could not be read: say why, not "no container"
    return pod_documents, pod, select_container(pod, request.container), pod_errors


def referenced_keys(request: Request) -> set[ObjectKey]:
    _, pod, container, _ = read_pod(request)
    return referenced_objects(pod, container)


def load(
    request: Request,
    *,
    every_problem: bool = False,
    api_objects: tuple[Sequence[DataObject], Sequence[InjectorError]] | None = None,
) -> Resolution:
    """Resolve the requested container. Raises for a pod that cannot be read at all; every other
    problem is in ``Resolution.errors``/``warnings``.

    Problems with the inputs themselves (a manifest that does not parse or validate, a file that
    cannot be read or decrypted) come first. A reference to an object that could not be read is a
    consequence, not a cause: by default only the input problems are returned when there are any;
    ``every_problem`` (for ``check``) returns the references' problems too. ``api_objects``: what a
    live Kubernetes source holds now, objects and problems (instead of fetching once when
    ``request.kube`` is set).
    """
    pod_documents, pod, container, pod_errors = read_pod(request)
    documents, source_errors = read_documents(
        request.secrets,
        age_identity_files=request.age_identities,
        exclude=None if request.pod_file == "-" else os.path.realpath(request.pod_file),
    )
    # Secrets and ConfigMaps written beside the pod (one all-in-one manifest) count too.
    documents = [doc for doc in pod_documents if doc.body.get("kind") in DATA_KINDS] + documents
    snapshot, object_errors = build_snapshot(documents, pod.namespace)
    if api_objects is None and request.kube is not None:
        from injector.kube import fetch_sync

        api_objects = fetch_sync(request.kube, referenced_objects(pod, container))
    if api_objects is not None:
        fetched, fetch_errors = api_objects
        object_errors += fetch_errors
        for obj in fetched:
            if obj.key in snapshot:
                object_errors.append(
                    ManifestError(f"also defined in {snapshot[obj.key].origin}", source=obj.origin, obj=obj.ref)
                )
            else:
                snapshot[obj.key] = obj
    resolution = resolve_container(pod, container, snapshot, skip_invalid_env_keys=request.skip_invalid_env_keys)
    input_errors = [*pod_errors, *source_errors, *object_errors]
    if input_errors and not every_problem:
        return resolution._replace(errors=tuple(input_errors))
    return resolution._replace(errors=(*input_errors, *resolution.errors))
