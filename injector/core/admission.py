"""A mutating admission review (``admission.k8s.io/v1``) answered as ``inject`` would change the Pod (pure).

The API server sends an AdmissionReview; the answer carries the request's ``uid``, ``allowed: true`` and, when
the Pod changes, a base64 JSON Patch that makes the Pod exactly what ``inject`` makes of it. Other kinds,
sub-resources and operations other than CREATE pass unpatched; a Pod inject cannot wire (an ``--env`` container
without a command...) is refused with the reason. A review that is not one is a ``ReviewError``: the server
answers 400 with its one-line reason.
"""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

from injector.core.inject import InjectOptions, inject_document
from injector.core.jsonpatch import diff
from injector.core.manifest import Document
from injector.errors import InjectorError

API_VERSION = "admission.k8s.io/v1"
POD = {"group": "", "version": "v1", "kind": "Pod"}


class ReviewError(Exception):
    """The request body is not an AdmissionReview injector can answer; the message says why, in one line."""


class Review(NamedTuple):
    """What a review was about and what the answer did, for the log (names only)."""

    uid: str
    namespace: str
    name: str
    operation: str
    patched: int
    """Number of patch operations; 0 when the object passes as it is."""
    denied: str = ""
    """Why the Pod is refused ("" when it is allowed)."""


def _request(body: bytes) -> dict[str, Any]:
    try:
        review = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReviewError(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(review, dict):
        raise ReviewError("not an AdmissionReview: the body is not a JSON object")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != "AdmissionReview":
        raise ReviewError(f"not an AdmissionReview of {API_VERSION} (apiVersion and kind)")
    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("the AdmissionReview has no request")
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        raise ReviewError("the AdmissionReview's request has no uid")
    return request


def _describe(request: dict[str, Any], obj: object) -> tuple[str, str]:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    name = metadata.get("name") or metadata.get("generateName") or request.get("name") or ""
    namespace = request.get("namespace") or metadata.get("namespace") or ""
    return str(namespace), str(name)


def answer(body: bytes, options: InjectOptions) -> tuple[bytes, Review]:
    """The AdmissionReview answering ``body``, and what it did. Raises ReviewError for a malformed review."""
    request = _request(body)
    uid = request["uid"]
    obj = request.get("object")
    namespace, name = _describe(request, obj)
    operation = str(request.get("operation") or "")
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    review = Review(uid, namespace, name, operation, 0)
    is_pod_create = request.get("kind") == POD and not request.get("subResource") and operation == "CREATE"
    if is_pod_create:
        if not isinstance(obj, dict):
            raise ReviewError("the Pod creation review has no object")
        origin = f"Pod/{namespace}/{name}"
        try:
            injection = inject_document(Document(origin, obj), options)
        except InjectorError as exc:
            reason = exc.render()
            response = {"uid": uid, "allowed": False, "status": {"code": 400, "message": f"injector: {reason}"}}
            review = review._replace(denied=reason)
        else:
            operations = diff(obj, injection.body)
            if operations:
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(json.dumps(operations).encode()).decode("ascii")
                review = review._replace(patched=len(operations))
    out = {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
    return json.dumps(out).encode(), review
