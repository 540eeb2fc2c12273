"""``injector webhook`` as the API server calls it: AdmissionReviews over TLS, patches applied with jsonpatch."""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from injector.cli import build_parser
from injector.core.emit import dump_yaml
from injector.core.inject import INJECT
from injector.core.manifest import parse_stream
from injector.settings import parse_listen
from tests.conftest import EXAMPLES, assert_no_traceback, injector
from tests.core.test_inject import MOUNTED, workload
from tests.support.kube_apiserver import free_port, self_signed
from tests.support.mounting import wait_for
from tests.support.validate import strict_problems

IMAGE = "registry.example/injector:1.0"


def as_admitted(pod: dict[str, Any]) -> dict[str, Any]:
    """A Pod as the API server sends it to a mutating webhook: defaulted, with the service-account volume."""
    pod = copy.deepcopy(pod)
    pod["metadata"].pop("name")
    pod["metadata"]["generateName"] = "web-7d4b9c-"
    access = {
        "name": "kube-api-access-x7k2p",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ],
        },
    }
    pod["spec"]["volumes"].append(access)
    for container in pod["spec"]["containers"]:
        container["terminationMessagePath"] = "/dev/termination-log"
        container["imagePullPolicy"] = "IfNotPresent"
        container["volumeMounts"].append(
            {"name": access["name"], "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}
        )
    pod["spec"]["serviceAccountName"] = "default"
    return pod


def review(obj: object, *, uid: str = "7a3e", kind: str = "Pod", operation: str = "CREATE", **extra: Any) -> bytes:
    group, version = ("", "v1")
    request = {
        "uid": uid,
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind.lower() + "s"},
        "namespace": "shop",
        "operation": operation,
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
        "object": obj,
        "dryRun": False,
        **extra,
    }
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}).encode()


class Webhook:
    def __init__(self, tmp_path: Path) -> None:
        self.cert, self.key = tmp_path / "tls.crt", tmp_path / "tls.key"
        self.renew()
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "injector",
                "webhook",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--tls-cert",
                str(self.cert),
                "--tls-key",
                str(self.key),
                "--image",
                IMAGE,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_for(lambda: self.healthy() or self.process.poll() is not None, 30, "the webhook")
        assert self.process.poll() is None, self.process.stderr.read().decode()  # type: ignore[union-attr]

    def renew(self) -> bytes:
        """A new certificate and key, each written to a new file renamed over the old one (as a volume does)."""
        cert, key = self_signed("injector-webhook", server=True)
        for path, data in ((self.key, key), (self.cert, cert)):
            temporary = path.with_suffix(".new")
            temporary.write_bytes(data)
            os.replace(temporary, path)
        self.cert_pem = cert
        return cert

    def connection(self) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cadata=self.cert_pem.decode())
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        connection = self.connection()
        try:
            connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def mutate(self, body: bytes) -> dict[str, Any]:
        status, out = self.request("POST", "/mutate", body)
        assert 200 == status, out
        answer: dict[str, Any] = json.loads(out)
        assert ("admission.k8s.io/v1", "AdmissionReview") == (answer["apiVersion"], answer["kind"])
        response: dict[str, Any] = answer["response"]
        return response

    def stop(self) -> tuple[int, bytes]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=20)
        return self.process.returncode, err


@pytest.fixture
def webhook(tmp_path: Path) -> Iterator[Webhook]:
    server = Webhook(tmp_path)
    yield server
    server.stop()


def patched(pod: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    assert "JSONPatch" == response["patchType"]
    patch = json.loads(base64.b64decode(response["patch"]))
    result: dict[str, Any] = jsonpatch.apply_patch(pod, patch)
    return result


def test_the_patch_makes_the_pod_exactly_what_inject_makes_of_it(webhook: Webhook, tmp_path: Path) -> None:
    pod = as_admitted(workload("Pod", copy.deepcopy(MOUNTED)))
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(dump_yaml(pod))
    injected = injector("inject", "-f", str(manifest), "--image", IMAGE)
    ((expected),) = [doc.body for doc in parse_stream(injected.stdout, "out.yaml")[0]]

    response = webhook.mutate(review(pod, uid="0f1e-uid"))

    assert ("0f1e-uid", True) == (response["uid"], response["allowed"])
    assert expected == patched(pod, response)
    served = [m["name"] for m in patched(pod, response)["spec"]["containers"][0]["volumeMounts"]]
    assert ["injector-files", "kube-api-access-x7k2p"] == served  # the service-account token stays the kubelet's


def test_the_patch_of_a_pod_injected_already_is_empty(webhook: Webhook) -> None:
    pod = as_admitted(workload("Pod", copy.deepcopy(MOUNTED)))
    once = patched(pod, webhook.mutate(review(pod)))

    again = webhook.mutate(review(once))

    assert {"uid": "7a3e", "allowed": True} == again


PASSING = [
    ("another kind", {"kind": "Secret"}, {}),
    ("an update", {"operation": "UPDATE"}, {}),
    ("a sub-resource", {"subResource": "status"}, {}),
    ("an opted-out pod", {}, {INJECT: "false"}),
]


@pytest.mark.parametrize(("what", "extra", "annotations"), PASSING, ids=[row[0] for row in PASSING])
def test_other_kinds_and_opted_out_pods_pass_unpatched(
    webhook: Webhook, what: str, extra: dict[str, Any], annotations: dict[str, str]
) -> None:
    pod = as_admitted(workload("Pod", copy.deepcopy(MOUNTED)))
    pod["metadata"]["annotations"] = annotations

    assert {"uid": "7a3e", "allowed": True} == webhook.mutate(review(pod, **extra)), what


def test_a_pod_inject_cannot_wire_is_refused_with_the_reason(webhook: Webhook) -> None:
    pod = as_admitted(workload("Pod", copy.deepcopy(MOUNTED)))
    pod["metadata"]["annotations"] = {"injector.io/env-containers": "app"}

    response = webhook.mutate(review(pod))

    assert (False, 400) == (response["allowed"], response["status"]["code"])
    assert response["status"]["message"].endswith(
        "spec.containers[0].command: --env app: the container has no command to wrap (give it its image's entrypoint "
        "as command: injector does not look images up)"
    )


MALFORMED = [
    (b"{not json", "not JSON: JSONDecodeError"),
    (b"[1, 2]", "not an AdmissionReview: the body is not a JSON object"),
    (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}', "not an AdmissionReview of"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', "the AdmissionReview has no request"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}).encode(), "no uid"),
    (review("not a pod"), "the Pod creation review has no object"),
]


def test_a_body_too_large_sent_with_its_head_in_one_write_gets_its_413_at_once(webhook: Webhook) -> None:
    """The part of the body that came with the head counts toward what is read and dropped before the 413:
    it was not, and the server then waited for bytes that never came, and closed with no answer."""
    context = ssl.create_default_context(cadata=webhook.cert_pem.decode())
    body = b"x" * (4 * 1024 * 1024 + 1)
    head = f"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    raw = socket.create_connection(("127.0.0.1", webhook.port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as connection:
        started = time.monotonic()
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert time.monotonic() - started < 4  # not the 5 s read timeout


def test_a_malformed_review_is_a_400_with_one_line_and_the_server_keeps_serving(webhook: Webhook) -> None:
    for body, reason in MALFORMED:
        status, out = webhook.request("POST", "/mutate", body)

        assert 400 == status, body
        (line,) = out.decode().splitlines()
        assert reason in line, (body, line)
    assert (413, 405, 404) == (
        webhook.request("POST", "/mutate", b"x" * (4 * 1024 * 1024 + 1))[0],
        webhook.request("GET", "/mutate")[0],
        webhook.request("POST", "/validate", b"{}")[0],
    )
    assert webhook.healthy()
    code, err = webhook.stop()
    assert 0 == code
    assert_no_traceback(err)
    events = [json.loads(line)["event"] for line in err.decode().splitlines()]
    assert events.count("bad-review") == len(MALFORMED)


def test_reviews_share_a_kept_alive_connection(webhook: Webhook) -> None:
    pod = as_admitted(workload("Pod", copy.deepcopy(MOUNTED)))
    connection = webhook.connection()
    try:
        statuses = []
        for uid in ("a", "b", "c"):
            connection.request("POST", "/mutate", body=review(pod, uid=uid))
            response = connection.getresponse()
            statuses.append((response.status, json.loads(response.read())["response"]["uid"]))
    finally:
        connection.close()

    assert [(200, "a"), (200, "b"), (200, "c")] == statuses


def test_a_renewed_certificate_is_served_to_the_next_connection(webhook: Webhook) -> None:
    renewed = webhook.renew()

    connection = webhook.connection()  # trusts only the new certificate
    try:
        connection.request("GET", "/healthz")
        assert 200 == connection.getresponse().status
        assert connection.sock is not None
        served = connection.sock.getpeercert(binary_form=True)
    finally:
        connection.close()

    assert ssl.PEM_cert_to_DER_cert(renewed.decode()) == served


def test_a_certificate_that_cannot_be_loaded_is_exit_5(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("not a certificate")
    (tmp_path / "tls.key").write_text("not a key")

    result = injector(
        "webhook",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(tmp_path / "tls.crt"),
        "--tls-key",
        str(tmp_path / "tls.key"),
    )

    assert 5 == result.returncode
    assert_no_traceback(result.stderr)
    (line,) = result.stderr.decode().splitlines()
    assert (
        json.loads(line)["message"]
        == f"{tmp_path}/tls.crt: cannot load the TLS certificate and key: not a PEM certificate chain and its key"
    )


def test_the_example_manifests_validate_strictly() -> None:
    built_in = [
        doc.body
        for name in ("webhook.yaml",)
        for doc in parse_stream((EXAMPLES / "webhook" / name).read_bytes(), name)[0]
        if isinstance(doc.body, dict)
    ]

    assert ["Namespace", "ServiceAccount", "Deployment", "Service", "MutatingWebhookConfiguration"] == [
        body["kind"] for body in built_in
    ]
    assert [] == strict_problems(built_in)
    webhook = built_in[-1]["webhooks"][0]
    assert ("None", "/mutate", ["v1"]) == (
        webhook["sideEffects"],
        webhook["clientConfig"]["service"]["path"],
        webhook["admissionReviewVersions"],
    )
    (container,) = built_in[2]["spec"]["template"]["spec"]["containers"]
    parsed = build_parser().parse_args(container["args"])  # the args are the command line's
    assert ("webhook", ("0.0.0.0", 8443)) == (parsed.command, parse_listen(parsed.listen))
