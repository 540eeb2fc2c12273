"""metadata.labels and metadata.annotations, checked as ValidateObjectMeta checks them, on every object read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.manifests import container, pod, resolve, secret

NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param({"app.kubernetes.io/name": "web", "tier": "", "x_y.z": "A-1"}, [], id="valid"),
        pytest.param({"bad key": "v"}, [f'metadata.labels: Invalid value: "bad key": {NAME_PART}'], id="space-in-key"),
        pytest.param(
            {"x" * 64: "v"},
            [f'metadata.labels: Invalid value: "{"x" * 64}": name part must be no more than 63 bytes'],
            id="long-name",
        ),
        pytest.param(
            {"/name": "v"},
            ['metadata.labels: Invalid value: "/name": prefix part must be non-empty'],
            id="empty-prefix",
        ),
        pytest.param(
            {"Example.com/name": "v"},
            [f'metadata.labels: Invalid value: "Example.com/name": prefix part {SUBDOMAIN}'],
            id="uppercase-prefix",
        ),
        pytest.param({"app": "-web"}, [f'metadata.labels: Invalid value: "-web": {LABEL_VALUE}'], id="bad-value"),
        pytest.param(
            {"app": "v" * 64},
            [f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 bytes'],
            id="long-value",
        ),
    ],
)
def test_secret_labels_are_validated(labels: dict[str, str], expected: list[str]) -> None:
    resolution = resolve(
        pod(container()), secret("s", {"k": "v"}, metadata={"name": "s", "namespace": "shop", "labels": labels})
    )

    assert expected == [f"{error.field}: {error.problem}" for error in resolution.errors]


def test_annotation_keys_are_checked_lower_cased_and_their_size_is_limited() -> None:
    annotations: dict[str, Any] = {"Example.COM/Name": "ok", "bad key": "x", "big": "v" * (256 * 1024)}

    resolution = resolve(pod(container(), annotations=annotations))

    assert [
        f'metadata.annotations: Invalid value: "bad key": {NAME_PART}',
        "metadata.annotations: Too long: may not be more than 262144 bytes",
    ] == [f"{error.field}: {error.problem}" for error in resolution.errors]


def test_workload_labels_are_checked_on_the_template_and_the_object() -> None:
    template = {"metadata": {"labels": {"ok": "-no"}}, "spec": pod(container())["spec"]}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"bad key": "x"}},
        "spec": {"template": template},
    }

    errors = [str(error.field) for error in resolve(body).errors]

    assert ["spec.template.metadata.labels", "metadata.labels"] == errors
