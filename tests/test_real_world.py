"""Real-world manifests, verbatim (tests/data/real-world/README.md says where each comes from): injector reads
them as kubectl and the API server do, and resolves them as the kubelet does.

- Decoding: every document of the corpus decodes in injector (strictly, as ``kubectl apply --validate=strict``)
  exactly when kubernetes-validate accepts it against the Kubernetes 1.35 schema in strict mode.
- ``check``: its exact output per manifest is recorded in ``expected/<case>.check``, so that any change of
  behaviour on real input shows in a diff. Missing Secrets and ConfigMaps are precise reference errors.
- ``render env`` / ``render files``: where the corpus holds the objects a manifest references, the results are
  the ones the Kubernetes documentation describes, written out here by reading the manifests.

The commands run in-process (``injector.cli.main``) for speed; ``test_the_real_cli_prints_the_same`` runs a few
through the real CLI to show it is the same program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from injector import cli
from injector.core.manifest import parse_documents
from injector.core.objects import object_ref
from injector.core.schema import decode_document, root_type
from injector.errors import InjectorError
from tests.conftest import REPO, assert_no_traceback, injector

CORPUS = Path(__file__).resolve().parent / "data" / "real-world"
EXPECTED = CORPUS / "expected"
KUBECTL_EXPORT = "../kubectl-get-pod.yaml"  # tests/data/kubectl-get-pod.yaml, relative to the corpus
KUBERNETES = "1.35"


@dataclass(frozen=True)
class Case:
    """``injector check --pod POD [--pod-name NAME] --secrets S...``, run in the corpus directory."""

    name: str
    pod: str
    secrets: tuple[str, ...] = ()
    pod_name: str | None = None
    exit_code: int = 0
    container: str | None = None

    def args(self) -> list[str]:
        args = ["--pod", self.pod]
        if self.pod_name:
            args += ["--pod-name", self.pod_name]
        if self.container:
            args += ["--container", self.container]
        for source in self.secrets:
            args += ["--secrets", source]
        return args


DOCS = "k8s-docs"
INJECT = f"{DOCS}/pods/inject"
STORAGE = f"{DOCS}/pods/storage"
MULTIKEYS = f"{DOCS}/configmap/configmap-multikeys.yaml"

CASES = [
    # The Kubernetes documentation: "Define Environment Variables for a Container" and its neighbours.
    Case("envars", f"{INJECT}/envars.yaml"),
    Case("dependent-envars", f"{INJECT}/dependent-envars.yaml"),
    Case("envfrom", f"{INJECT}/envFrom.yaml", (f"{INJECT}/configmap-envFrom.yaml",)),
    Case("envfrom-configmap-missing", f"{INJECT}/envFrom.yaml", exit_code=1),
    Case("dapi-envars-pod", f"{INJECT}/dapi-envars-pod.yaml"),
    Case("dapi-envars-container", f"{INJECT}/dapi-envars-container.yaml"),
    Case("dapi-volume", f"{INJECT}/dapi-volume.yaml"),
    Case("dapi-volume-resources", f"{INJECT}/dapi-volume-resources.yaml"),
    Case("secret-envars-pod", f"{INJECT}/secret-envars-pod.yaml", (f"{INJECT}/secret.yaml",)),
    Case("secret-envars-pod-secret-missing", f"{INJECT}/secret-envars-pod.yaml", exit_code=1),
    Case("secret-pod", f"{INJECT}/secret-pod.yaml", (f"{INJECT}/secret.yaml",)),
    Case("pod-secret-envfrom", f"{INJECT}/pod-secret-envFrom.yaml", (f"{INJECT}/secret.yaml",)),
    # Old revisions of two documentation examples that kubectl refuses (fixed upstream since).
    Case("pod-single-secret-env-variable", f"{INJECT}/pod-single-secret-env-variable.yaml", exit_code=1),
    Case("pod-multiple-secret-env-variable", f"{INJECT}/pod-multiple-secret-env-variable.yaml", exit_code=1),
    Case("envars-file-container", f"{INJECT}/envars-file-container.yaml"),
    # "Configure a Pod to Use a ConfigMap".
    Case("pod-configmap-envfrom", f"{DOCS}/pods/pod-configmap-envFrom.yaml", (MULTIKEYS,)),
    Case("pod-configmap-env-var-valuefrom", f"{DOCS}/pods/pod-configmap-env-var-valueFrom.yaml", (MULTIKEYS,)),
    Case(
        "pod-multiple-configmap-env-variable",
        f"{DOCS}/pods/pod-multiple-configmap-env-variable.yaml",
        (f"{DOCS}/configmap/configmaps.yaml",),
    ),
    Case("pod-configmap-volume", f"{DOCS}/pods/pod-configmap-volume.yaml", (MULTIKEYS,)),
    # This revision asks for key special.level, which the documentation's ConfigMap does not have.
    Case(
        "pod-configmap-volume-specific-key",
        f"{DOCS}/pods/pod-configmap-volume-specific-key.yaml",
        (MULTIKEYS,),
        exit_code=1,
    ),
    Case("configmap-configure-pod", f"{DOCS}/configmap/configure-pod.yaml", exit_code=1),
    Case("env-configmap", f"{DOCS}/configmap/env-configmap.yaml", exit_code=1),
    Case("redis-pod", f"{DOCS}/pods/config/redis-pod.yaml", (f"{DOCS}/pods/config/example-redis-config.yaml",)),
    Case("init-containers", f"{DOCS}/pods/init-containers.yaml"),
    Case("private-reg-pod", f"{DOCS}/pods/private-reg-pod.yaml", exit_code=1),  # <your-private-image>: InvalidImageName
    # Projected volumes.
    Case("projected", f"{STORAGE}/projected.yaml", exit_code=1),
    Case(
        "projected-secret-downwardapi-configmap", f"{STORAGE}/projected-secret-downwardapi-configmap.yaml", exit_code=1
    ),
    Case(
        "projected-secrets-nondefault-permission-mode",
        f"{STORAGE}/projected-secrets-nondefault-permission-mode.yaml",
        exit_code=1,
    ),
    Case("projected-service-account-token", f"{STORAGE}/projected-service-account-token.yaml"),
    # The example mounts "token-vol" but names its volume "root-certificates-vol": the API server refuses it.
    Case("projected-clustertrustbundle", f"{STORAGE}/projected-clustertrustbundle.yaml", exit_code=1),
    Case("projected-podcertificate", f"{STORAGE}/projected-podcertificate.yaml"),
    Case("ephemeral-volumes-generic", f"{DOCS}/concepts/ephemeral-volumes-generic.yaml"),
    # Secrets: the documentation's examples of each type, read as --secrets (tls-auth-secret.yaml's placeholders
    # are not base64: kubectl refuses it).
    Case("dotfile-secret", f"{DOCS}/secret/dotfile-secret.yaml", (f"{DOCS}/secret/dotfile-secret.yaml",)),
    Case("secret-types", f"{DOCS}/pods/init-containers.yaml", (f"{DOCS}/secret",), exit_code=1),
    Case("optional-secret", f"{DOCS}/secret/optional-secret.yaml"),
    # Workloads: jobs, native sidecars, controllers.
    Case("job-sidecar", f"{DOCS}/application/job/job-sidecar.yaml"),
    Case("deployment-sidecar", f"{DOCS}/application/deployment-sidecar.yaml"),
    Case("indexed-job-vol", f"{DOCS}/application/job/indexed-job-vol.yaml"),
    Case("cronjob-batch-v1beta1", f"{DOCS}/application/job/cronjob.yaml", exit_code=1),
    Case(
        "mysql-statefulset",
        f"{DOCS}/application/mysql/mysql-statefulset.yaml",
        (f"{DOCS}/application/mysql/mysql-configmap.yaml",),
    ),
    Case("wordpress-mysql", f"{DOCS}/application/wordpress/mysql-deployment.yaml", exit_code=1),
    Case("fluentd-daemonset", f"{DOCS}/controllers/fluentd-daemonset.yaml"),
    Case("frontend-replicaset", f"{DOCS}/controllers/frontend.yaml"),
    Case("replication-controller", f"{DOCS}/controllers/replication.yaml"),
    # Upstream install manifests and operators (argo-cd's install.yaml is kustomize's output).
    Case("argocd-redis", "argo-cd/install-redis.yaml", exit_code=1),
    Case("argocd-repo-server", "argo-cd/install-repo-server.yaml", ("argo-cd/install-configmaps.yaml",), exit_code=1),
    Case(
        "ingress-nginx-controller",
        "ingress-nginx/deploy-controller-v1.7.0.yaml",
        pod_name="ingress-nginx-controller",
        exit_code=1,
    ),
    Case(
        "ingress-nginx-admission-create",
        "ingress-nginx/deploy-controller-v1.7.0.yaml",
        pod_name="ingress-nginx-admission-create",
    ),
    Case("prometheus-operator-admission-webhook", "prometheus-operator/admission-webhook-deployment.yaml", exit_code=1),
    Case("descheduler-cronjob", "descheduler/cronjob.yaml", ("descheduler/configmap.yaml",)),
    Case("prow-hook", "k8s.io/prow-hook-deployment.yaml", exit_code=1),
    Case("elekto", "k8s.io/elekto-deployment.yaml", ("k8s.io/elekto-configmap.yaml",), exit_code=1),
    Case("kubesan-manager", "kubesan/manager-cluster.yaml"),
    Case("kubesan-csi-node-plugin", "kubesan/csi-node-plugin.yaml"),
    Case("cloud-sql-proxy-job-with-sidecar", "cloud-sql-proxy/job_with_sidecar.yaml"),
    # A template with <PLACEHOLDERS> left in: names no object can have.
    Case("cloud-sql-proxy-sa-key-template", "cloud-sql-proxy/proxy_with_sa_key.yaml", exit_code=1),
    Case("csi-app-inline", "csi-driver-host-path/csi-app-inline.yaml"),
    Case("csi-pod-block", "csi-driver-host-path/csi-pod-block.yaml"),
    Case("kubectl-get-pod", KUBECTL_EXPORT, exit_code=1),
]


def run_in_corpus(
    argv: list[str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.chdir(CORPUS)
    status = cli.main(argv)
    out, err = capfd.readouterr()
    return status, out, err


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_check_prints_the_recorded_problems(
    case: Case, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run_in_corpus(["check", *case.args()], capfd, monkeypatch)

    assert (case.exit_code, "") == (status, err)
    assert (EXPECTED / f"{case.name}.check").read_text() == out


def test_every_recorded_output_belongs_to_a_case() -> None:
    assert {f"{case.name}.check" for case in CASES} == {path.name for path in EXPECTED.iterdir()}


def test_the_real_cli_prints_the_same() -> None:
    chosen = {"envars-file-container", "mysql-statefulset", "kubectl-get-pod"}
    for case in (case for case in CASES if case.name in chosen):
        result = injector("check", *case.args(), cwd=CORPUS, env={"PYTHONPATH": str(REPO)})

        assert_no_traceback(result.stderr)
        assert (case.exit_code, (EXPECTED / f"{case.name}.check").read_bytes()) == (result.returncode, result.stdout)


# -- decoding, against kubernetes-validate ----------------------------------------------------------------------

MANIFESTS = sorted(
    path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*.yaml") if EXPECTED not in path.parents
)

YAML_DIFFERENCES = {
    # go-yaml reads \' in a double-quoted scalar (scannerc.go); PyYAML, kubernetes-validate's reader, refuses it.
    f"{INJECT}/envars-file-container.yaml": "PyYAML refuses \\'",
    # Both refuse the tab.
    f"{INJECT}/pod-multiple-secret-env-variable.yaml": "a tab as indentation",
}


def kubernetes_validate_accepts(body: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(body, KUBERNETES, strict=True)
    except (kubernetes_validate.ValidationError, kubernetes_validate.utils.SchemaNotFoundError):
        return False
    except KeyError:  # no apiVersion or kind: kubectl refuses it too ("apiVersion not set")
        return False
    return True


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_a_document_decodes_exactly_when_kubernetes_validate_accepts_it(manifest: str) -> None:
    data = (CORPUS / manifest).read_bytes()
    try:
        documents = parse_documents(data, manifest)
    except InjectorError:
        documents = []
    if manifest in YAML_DIFFERENCES:
        assert manifest != f"{INJECT}/envars-file-container.yaml" or documents
    else:
        assert [document.body for document in documents] == [
            body for body in yaml.safe_load_all(data) if body is not None
        ]
    for document in documents:
        body = document.body
        ours = root_type(body.get("apiVersion"), body.get("kind")) is not None
        if not ours and body.get("apiVersion") in ("v1", "apps/v1", "batch/v1") and body.get("kind") != "Pod":
            # Another kind in the same file (Service, PersistentVolumeClaim...): injector leaves it alone.
            assert kubernetes_validate_accepts(body), body.get("kind")
            continue
        decoded, errors, _ = decode_document(document, object_ref(body, "default"))

        assert kubernetes_validate_accepts(body) == (decoded is not None), [str(error) for error in errors]


# -- render, as the documentation describes the results ---------------------------------------------------------


def render_env(case: Case, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    status, out, _ = run_in_corpus(["render", "env", "--format", "json", *case.args()], capfd, monkeypatch)
    assert 0 == status
    result: dict[str, str] = json.loads(out)
    return result


ENV = [
    (CASES[0], {"DEMO_GREETING": "Hello from the environment", "DEMO_FAREWELL": "Such a sweet sorrow"}),
    (
        Case("", f"{INJECT}/dependent-envars.yaml"),
        {
            "SERVICE_PORT": "80",
            "SERVICE_IP": "172.17.0.1",
            # PROTOCOL is defined after it: the reference stays as written.
            "UNCHANGED_REFERENCE": "$(PROTOCOL)://172.17.0.1:80",
            "PROTOCOL": "https",
            "SERVICE_ADDRESS": "https://172.17.0.1:80",
            # This revision of the example writes $(PROTOCOL), not the $$(PROTOCOL) of today's.
            "ESCAPED_REFERENCE": "https://172.17.0.1:80",
        },
    ),
    (
        Case("", f"{INJECT}/envFrom.yaml", (f"{INJECT}/configmap-envFrom.yaml",)),
        {"DEMO_GREETING": "Hello from the environment", "DEMO_FAREWELL": "Such a sweet sorrow"},
    ),
    (
        # spec.nodeName and status.podIP are a node's: not set, with a warning.
        Case("", f"{INJECT}/dapi-envars-pod.yaml"),
        {"MY_POD_NAME": "dapi-envars-fieldref", "MY_POD_NAMESPACE": "default", "MY_POD_SERVICE_ACCOUNT": "default"},
    ),
    (
        Case("", f"{INJECT}/secret-envars-pod.yaml", (f"{INJECT}/secret.yaml",)),
        {"SECRET_USERNAME": "my-app", "SECRET_PASSWORD": "39528$vdg7Jb"},
    ),
    (
        Case("", f"{INJECT}/pod-secret-envFrom.yaml", (f"{INJECT}/secret.yaml",)),
        {"username": "my-app", "password": "39528$vdg7Jb"},
    ),
    (
        Case("", f"{DOCS}/pods/pod-configmap-envFrom.yaml", (MULTIKEYS,)),
        {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm"},
    ),
    (
        Case("", f"{DOCS}/pods/pod-configmap-env-var-valueFrom.yaml", (MULTIKEYS,)),
        {"SPECIAL_LEVEL_KEY": "very", "SPECIAL_TYPE_KEY": "charm"},
    ),
    (
        Case("", f"{DOCS}/pods/pod-multiple-configmap-env-variable.yaml", (f"{DOCS}/configmap/configmaps.yaml",)),
        {"SPECIAL_LEVEL_KEY": "very", "LOG_LEVEL": "INFO"},
    ),
    (Case("", f"{DOCS}/pods/config/redis-pod.yaml"), {"MASTER": "true"}),
    (
        Case("", "ingress-nginx/deploy-controller-v1.7.0.yaml", pod_name="ingress-nginx-admission-create"),
        {"POD_NAMESPACE": "ingress-nginx"},
    ),
]


@pytest.mark.parametrize(("case", "expected"), ENV, ids=[case.pod for case, _ in ENV])
def test_render_env_gives_the_documented_variables(
    case: Case, expected: dict[str, str], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert expected == render_env(case, capfd, monkeypatch)


def test_a_missing_required_secret_fails_render_env_and_prints_nothing(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """argo-cd's repo server needs Secret argocd-redis, which the redis Deployment's init container makes at run
    time: until then the kubelet does not start the container (CreateContainerConfigError)."""
    case = Case("", "argo-cd/install-repo-server.yaml", ("argo-cd/install-configmaps.yaml",))
    status, out, err = run_in_corpus(["render", "env", "--format", "json", *case.args()], capfd, monkeypatch)

    assert (4, "") == (status, out)
    assert err.endswith(
        "argo-cd/install-repo-server.yaml: Deployment/default/argocd-repo-server: "
        'spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: secret "argocd-redis" not found\n'
    )


def render_files(case: Case, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    status, out, err = run_in_corpus(
        ["render", "files", "--format", "json", "--show-values", *case.args()], capfd, monkeypatch
    )
    assert 0 == status, err
    result = json.loads(out)
    return {
        volume["name"]: {path: (file["mode"], file["value"]) for path, file in volume["files"].items()}
        for volume in result["volumes"]
    }


def config_map_value(manifest: str, name: str, key: str) -> str:
    """A ConfigMap's value as a user reads it in the manifest."""
    for body in yaml.safe_load_all((CORPUS / manifest).read_text()):
        if body and body.get("kind") == "ConfigMap" and body["metadata"]["name"] == name:
            value: str = body["data"][key]
            return value
    raise LookupError(name)


ARGOCD_CONFIG_MAPS = "argo-cd/install-configmaps.yaml"

FILES = [
    (
        Case("", f"{INJECT}/secret-pod.yaml", (f"{INJECT}/secret.yaml",)),
        {"secret-volume": {"username": ("0644", "my-app"), "password": ("0644", "39528$vdg7Jb")}},
    ),
    (
        # fieldpath.FormatMap: sorted key="value" lines, no newline after the last.
        Case("", f"{INJECT}/dapi-volume.yaml"),
        {
            "podinfo": {
                "labels": ("0644", 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"'),
                "annotations": ("0644", 'build="two"\nbuilder="john-doe"'),
            }
        },
    ),
    (
        Case("", f"{DOCS}/pods/pod-configmap-volume.yaml", (MULTIKEYS,)),
        {"config-volume": {"SPECIAL_LEVEL": ("0644", "very"), "SPECIAL_TYPE": ("0644", "charm")}},
    ),
    (
        # The double-quoted scalar's escaped line breaks join its lines.
        Case("", f"{DOCS}/pods/config/redis-pod.yaml", (f"{DOCS}/pods/config/example-redis-config.yaml",)),
        {"config": {"redis.conf": ("0644", "maxmemory 2mb\nmaxmemory-policy allkeys-lru\n")}},
    ),
    (
        Case("", f"{DOCS}/secret/dotfile-secret.yaml", (f"{DOCS}/secret/dotfile-secret.yaml",)),
        {"secret-volume": {".secret-file": ("0644", "value-2\r\n\r\n")}},
    ),
    (
        # The Job controller adds the completion index annotation to the pods it makes; the template has none,
        # so the file is not set (with a warning), as a workload's metadata.name is not.
        Case("", f"{DOCS}/application/job/indexed-job-vol.yaml"),
        {"input": {}},
    ),
    (
        Case(
            "",
            f"{DOCS}/application/mysql/mysql-statefulset.yaml",
            (f"{DOCS}/application/mysql/mysql-configmap.yaml",),
            container="init-mysql",
        ),
        {
            "config-map": {
                name: ("0644", config_map_value(f"{DOCS}/application/mysql/mysql-configmap.yaml", "mysql", name))
                for name in ("primary.cnf", "replica.cnf")
            }
        },
    ),
    (
        Case("", "descheduler/cronjob.yaml", ("descheduler/configmap.yaml",)),
        {
            "policy-volume": {
                "policy.yaml": (
                    "0644",
                    config_map_value("descheduler/configmap.yaml", "descheduler-policy-configmap", "policy.yaml"),
                )
            }
        },
    ),
    (
        # Without the required Secret its env cannot be made, but the files can: optional Secrets that do not
        # exist, ConfigMaps without data, and an optional item whose key is absent (pkg/volume/configmap) are
        # empty volumes.
        Case("", "argo-cd/install-repo-server.yaml", (ARGOCD_CONFIG_MAPS,)),
        {
            "ssh-known-hosts": {
                "ssh_known_hosts": (
                    "0644",
                    config_map_value(ARGOCD_CONFIG_MAPS, "argocd-ssh-known-hosts-cm", "ssh_known_hosts"),
                )
            },
            "tls-certs": {},
            "gpg-keys": {},
            "argocd-repo-server-tls": {},
            "argocd-repo-server-mtls": {},
            "argocd-cmd-params-cm": {},
        },
    ),
]


@pytest.mark.parametrize(("case", "expected"), FILES, ids=[case.pod for case, _ in FILES])
def test_render_files_gives_the_documented_files(
    case: Case, expected: dict[str, Any], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert expected == render_files(case, capfd, monkeypatch)


def test_a_controller_set_annotation_of_a_template_is_a_warning(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = Case("", f"{DOCS}/application/job/indexed-job-vol.yaml")
    status, _, err = run_in_corpus(["render", "files", "--format", "json", *case.args()], capfd, monkeypatch)

    assert 0 == status
    assert "batch.kubernetes.io/job-completion-index" in err
