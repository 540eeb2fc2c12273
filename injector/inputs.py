"""From the settings to a Resolution, in one direction: read, plan, fetch, resolve.

    read_pod       the pod manifest (a file, stdin or the API's body), read once
    read_inputs    the Secret/ConfigMap manifests and the chosen container    (files, .age)
    plan           which objects the container references                    (pure)
    fetch_api      what the Kubernetes API holds for them                     (async, trio)
    resolve        the container against all of that                         (pure)

A ``--watch`` reload reads the manifests again (and the pod, when it is a file); ``--pod -`` is
read once and kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from injector.core.inject import as_served
from injector.core.manifest import Document, parse_documents
from injector.core.objects import DATA_KINDS, ObjectKey, ObjectSet, index_objects, object_ref
from injector.core.podspec import Container, PodSpec, parse_pod, select_container, select_pod_document
from injector.core.resolve import EVERY_PART, Part, Resolution, check_pod, referenced_objects, resolve_container
from injector.core.schema import decode_document
from injector.errors import CombinedError, InjectorError, InjectorWarning, ManifestError, SourceError
from injector.settings import InputSettings, KubeSettings
from injector.shell.files import read_bytes, read_documents

ApiObjects = ObjectSet
"""What the Kubernetes API holds for the referenced objects: those found, and the problems met."""


class PodInput(NamedTuple):
    """The pod manifest, read and parsed."""

    documents: tuple[Document, ...]
    """Every document of the pod's file: Secrets and ConfigMaps written beside the pod count too."""
    pod: PodSpec
    errors: tuple[InjectorError, ...]
    warnings: tuple[InjectorWarning, ...] = ()


class Inputs(NamedTuple):
    """Everything read from files for one container (or the whole pod), before the API is asked."""

    pod: PodSpec
    container: Container | None
    """The container to resolve; None: the whole pod (``check`` without ``--container``)."""
    objects: ObjectSet
    errors: tuple[InjectorError, ...]
    """Problems with the inputs themselves: the pod, unreadable or invalid manifests."""
    warnings: tuple[InjectorWarning, ...] = ()


def read_pod(settings: InputSettings, body: Mapping[str, Any] | None = None, origin: str = "") -> PodInput:
    """The pod manifest of ``settings`` (or the pod ``body`` an API gave, named ``origin``)."""
    if body is not None:
        documents = [Document(origin, dict(body))]
        source = origin
    else:
        path = settings.pod_file or "-"
        source = "<stdin>" if path == "-" else path
        documents = parse_documents(read_bytes(path), source)
    document = select_pod_document(documents, settings.pod_name, settings.pod_file or source)
    warnings: list[InjectorWarning] = []
    if body is None:  # a file: decoded strictly, as kubectl sends it (the API's own output is not checked)
        decoded, decode_errors, warnings = decode_document(
            document, object_ref(document.body, settings.namespace or "default")
        )
        if decoded is None:
            raise decode_errors[0] if len(decode_errors) == 1 else CombinedError(decode_errors)
        document = decoded
    pod, errors = parse_pod(document, settings.namespace or "default", settings.version)
    if errors and not pod.regular_containers:
        raise errors[0]  # the pod's containers could not be read: say why, not "no container"
    return PodInput(tuple(documents), pod, tuple(errors), tuple(warnings))


async def read_any_pod(settings: InputSettings) -> PodInput:
    """The pod of a serving command: with ``--self`` its own, from the API; else from its file."""
    return await read_own_pod(settings) if settings.own_pod is not None else read_pod(settings)


async def read_own_pod(settings: InputSettings) -> PodInput:
    """``--self``: this process's own Pod, got from the API by the names the downward API gave. A pod
    ``injector inject`` wrote is read as injector serves it (``core.inject.as_served``): its containers
    with the references they had before, and the agent's container mounting every volume it serves."""
    from lightkube.core.exceptions import ApiError
    from lightkube.resources.core_v1 import Pod

    from injector.shell.kube import describe_api_error, open_client, server_of

    assert settings.kube is not None and settings.own_pod is not None
    namespace, name = settings.own_pod
    async with open_client(settings.kube) as client:
        try:
            pod = await client.get(Pod, name=name, namespace=namespace)
        except ApiError as exc:
            raise SourceError(
                describe_api_error(exc, "get", "pods", namespace, name), source=server_of(client)
            ) from None
    body = pod.to_dict()
    body["apiVersion"], body["kind"] = "v1", "Pod"
    origin = f"Pod/{namespace}/{name}"
    return read_pod(settings, as_served(Document(origin, body)), origin)


def read_inputs(settings: InputSettings, pod_input: PodInput, *, whole_pod: bool = False) -> Inputs:
    """The manifests of ``settings`` for the chosen container of ``pod_input`` (for the whole pod
    with ``whole_pod`` when no container is named)."""
    pod = pod_input.pod
    whole = whole_pod and settings.container is None
    container = None if whole else select_container(pod, settings.container)
    pod_file = settings.pod_file
    documents, source_errors = read_documents(
        settings.secrets,
        age_identity_files=settings.age_identities,
        exclude=None if pod_file in (None, "-") else os.path.realpath(str(pod_file)),
    )
    beside_pod = [doc for doc in pod_input.documents if doc.body.get("kind") in DATA_KINDS]
    objects = index_objects([*beside_pod, *documents], pod.namespace)
    return Inputs(
        pod,
        container,
        objects,
        (*pod_input.errors, *source_errors, *objects.errors),
        (*pod_input.warnings, *objects.warnings),
    )


def plan(inputs: Inputs) -> set[ObjectKey]:
    """The objects a source must fetch (by name) before resolving."""
    return referenced_objects(inputs.pod, inputs.container)


async def fetch_api(clusters: Sequence[KubeSettings], keys: Iterable[ObjectKey]) -> ApiObjects:
    """One get per object from the first of ``clusters`` that answers (the one-shot ``--kube``)."""
    from injector.shell.kube import fetch_once

    return await fetch_once(clusters, keys)


def _merged(inputs: Inputs, api: ApiObjects | None) -> tuple[ObjectSet, list[InjectorError]]:
    """The files' objects and the API's together; an object in both is an error."""
    objects = dict(inputs.objects.objects)
    invalid = set(inputs.objects.invalid)
    errors = list(inputs.errors)
    if api is not None:
        errors += api.errors
        invalid |= api.invalid
        for obj in api.objects.values():
            if obj.key in objects:
                errors.append(
                    ManifestError(f"also defined in {objects[obj.key].origin}", source=obj.origin, obj=obj.ref)
                )
            else:
                objects[obj.key] = obj
    return ObjectSet(objects, [], frozenset(invalid - objects.keys())), errors


def resolve(
    inputs: Inputs,
    settings: InputSettings,
    api: ApiObjects | None = None,
    *,
    serves: frozenset[Part] = EVERY_PART,
    every_problem: bool = False,
) -> Resolution:
    """Resolve the container of ``inputs`` against its objects and what ``api`` holds.

    Problems with the inputs themselves (a manifest that does not parse or validate, a file that
    cannot be read or decrypted) come first. A reference to an object that could not be read is a
    consequence, not a cause: by default only the input problems are returned when there are any;
    ``every_problem`` (for ``check``) returns the references' problems too. ``serves``: the parts
    of the result the command uses; problems of the others are warnings.
    """
    assert inputs.container is not None
    snapshot, errors = _merged(inputs, api)
    resolution = resolve_container(
        inputs.pod,
        inputs.container,
        snapshot.objects,
        invalid=snapshot.invalid,
        serves=serves,
        version=settings.version,
    )
    resolution = resolution._replace(warnings=(*inputs.warnings, *resolution.warnings))
    if errors and not every_problem:
        return resolution._replace(errors=tuple(errors))
    return resolution._replace(errors=(*errors, *resolution.errors))


def check(
    inputs: Inputs, settings: InputSettings, api: ApiObjects | None = None
) -> tuple[list[InjectorError], list[InjectorWarning]]:
    """Every problem of the inputs and of resolving them: the chosen container, or the whole pod."""
    if inputs.container is not None:
        resolution = resolve(inputs, settings, api, every_problem=True)
        return list(resolution.errors), list(resolution.warnings)
    snapshot, errors = _merged(inputs, api)
    pod_errors, warnings = check_pod(
        inputs.pod,
        snapshot.objects,
        invalid=snapshot.invalid,
        version=settings.version,
    )
    return [*errors, *pod_errors], [*inputs.warnings, *warnings]


def without_errors(resolution: Resolution, *, every_error: bool = False) -> Resolution:
    """``resolution`` if it has no errors; else raise its first error (or all of them, as one CombinedError)."""
    if not resolution.errors:
        return resolution
    if every_error and len(resolution.errors) > 1:
        raise CombinedError(resolution.errors)
    raise resolution.errors[0]
