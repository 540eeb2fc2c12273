"""read, plan, resolve: the inputs are read once and each stage hands the next a value."""

from __future__ import annotations

from pathlib import Path

from injector.core.manifest import Document
from injector.core.objects import ObjectKey, ObjectSet, parse_data_object
from injector.inputs import plan, read_inputs, read_pod, resolve
from injector.settings import InputSettings
from tests.conftest import write_manifests
from tests.support.manifests import container, env_from, pod, secret, secret_key_ref


def inputs_for(tmp_path: Path, *, secrets: bool = True) -> InputSettings:
    return InputSettings(pod_file=str(tmp_path / "pod.yaml"), secrets=(str(tmp_path / "secrets"),) if secrets else ())


def test_plan_names_every_referenced_object_and_nothing_else(tmp_path: Path) -> None:
    write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(
                env=[secret_key_ref("A", "a", "k")],
                env_from=[env_from("b", kind="configMapRef")],
                mounts=[{"name": "mounted", "mountPath": "/m"}],
            ),
            volumes=[
                {"name": "mounted", "secret": {"secretName": "c"}},
                {"name": "unmounted", "secret": {"secretName": "d"}},
            ],
            pull_secrets=["e"],
        ),
    )
    settings = inputs_for(tmp_path, secrets=False)

    keys = plan(read_inputs(settings, read_pod(settings)))

    assert {
        ObjectKey("Secret", "shop", "a"),
        ObjectKey("ConfigMap", "shop", "b"),
        ObjectKey("Secret", "shop", "c"),
        ObjectKey("Secret", "shop", "e"),
    } == keys


def test_a_secret_that_fails_validation_is_reported_once_not_also_as_not_found(tmp_path: Path) -> None:
    """One error per problem: an invalid Secret is not also 'not found' at each reference, even for check."""
    write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("A", "api", "token")])))
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": "t"}, type="kubernetes.io/tls"))
    settings = inputs_for(tmp_path)
    inputs = read_inputs(settings, read_pod(settings))

    default = [error.problem for error in resolve(inputs, settings).errors]
    everything = [error.problem for error in resolve(inputs, settings, every_problem=True).errors]

    assert ["Required value", "Required value"] == default == everything


def test_secrets_beside_the_pod_in_its_file_count(tmp_path: Path) -> None:
    write_manifests(
        tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("A", "api", "token")])), secret("api", {"token": "t"})
    )
    settings = inputs_for(tmp_path, secrets=False)

    resolution = resolve(read_inputs(settings, read_pod(settings)), settings)

    assert ([], b"t") == (list(resolution.errors), resolution.env["A"].value)


def test_an_object_in_the_files_and_in_the_api_is_an_error(tmp_path: Path) -> None:
    write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("A", "api", "token")])))
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": "from-file"}))
    settings = inputs_for(tmp_path)
    fetched, _ = parse_data_object(Document("https://api/secrets/api", secret("api", {"token": "from-api"})), "shop")
    assert fetched is not None

    resolution = resolve(read_inputs(settings, read_pod(settings)), settings, ObjectSet({fetched.key: fetched}, []))

    assert [f"also defined in {tmp_path}/secrets/api.yaml"] == [error.problem for error in resolution.errors]
