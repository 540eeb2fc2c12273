"""ObjectMeta as the API server validates it (ValidateObjectMeta): labels and annotations.

Names and namespaces are checked where each object is read (objects, podspec); what every object
shares is here. Label keys and values are shown as the API server shows them; annotation values
never are (an annotation may hold anything, the last-applied configuration of a Secret included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from injector.core import names
from injector.core.fields import FieldPath, Problems, quoted, too_long


def check_labels(labels: Mapping[str, str], at: FieldPath, problems: Problems) -> None:
    """ValidateLabels: qualified-name keys, label-value values (both shown, as the API server does)."""
    for key, value in labels.items():
        for message in names.qualified_name_problems(key):
            problems.error(f"Invalid value: {quoted(key)}: {message}", at)
        for message in names.label_value_problems(value):
            problems.error(f"Invalid value: {quoted(value)}: {message}", at)


def check_annotations(annotations: Mapping[str, str], at: FieldPath, problems: Problems) -> None:
    """ValidateAnnotations: qualified-name keys (compared lower-cased) and a total size limit."""
    for key in annotations:
        for message in names.qualified_name_problems(key.lower()):
            problems.error(f"Invalid value: {quoted(key)}: {message}", at)
    total = sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())
    if total > names.TOTAL_ANNOTATION_SIZE:
        problems.error(too_long(names.TOTAL_ANNOTATION_SIZE), at)


class Labels(NamedTuple):
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


def read_labels(metadata: Mapping[str, Any], at: FieldPath, problems: Problems) -> Labels:
    """The labels and annotations of ``metadata`` (at ``at``), read and checked."""
    labels = _string_map(metadata.get("labels"), at / "labels", problems)
    annotations = _string_map(metadata.get("annotations"), at / "annotations", problems)
    check_labels(labels, at / "labels", problems)
    check_annotations(annotations, at / "annotations", problems)
    return Labels(labels, annotations)


def _string_map(raw: object, at: FieldPath, problems: Problems) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.error("must be an object", at)
        return {}
    result = {}
    for key, value in raw.items():
        if isinstance(key, str) and isinstance(value, str):
            result[key] = value
        else:
            problems.error("must map strings to strings", at)
    return result
