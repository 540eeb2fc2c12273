"""Field paths and the one problem collector: where every message points."""

from __future__ import annotations

import pytest

from injector.core.fields import FieldPath, Problems
from injector.errors import ManifestError, ResolutionError


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param(FieldPath(), "", id="root"),
        pytest.param(FieldPath.of("spec", "containers", 0, "env", 3), "spec.containers[0].env[3]", id="indexes"),
        pytest.param(FieldPath.of("data").key("tls.crt"), "data[tls.crt]", id="map-key"),
        pytest.param(FieldPath.of("spec") / "volumes" / 2 / "name", "spec.volumes[2].name", id="built-step-by-step"),
    ],
)
def test_field_path_reads_as_kubernetes_writes_it(path: FieldPath, text: str) -> None:
    assert text == str(path)


def test_problems_keep_source_object_field_and_kind() -> None:
    problems = Problems("pod.yaml", "Pod/shop/web-0")
    problems.error("Required value", FieldPath.of("spec", "containers"))
    problems.error('secret "db" not found', FieldPath.of("spec"), ResolutionError)
    problems.warn("not set", FieldPath.of("status", "podIP"))

    assert [ManifestError, ResolutionError] == [type(error) for error in problems.errors]
    assert "pod.yaml: Pod/shop/web-0: spec.containers: Required value" == str(problems.errors[0])
    assert ("pod.yaml", "Pod/shop/web-0", "status.podIP") == problems.warnings[0].where()
    assert 4 == problems.errors[1].exit_code
