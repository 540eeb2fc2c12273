"""The injector command end to end, as a user runs it: real processes, real files, real exit codes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, age_encrypt, assert_no_traceback, injector, new_age_key, write_manifests
from tests.support.manifests import container, env_from, pod, secret, secret_key_ref, tls_items_volume, value

EXAMPLE = ["--pod", str(EXAMPLES / "pod.yaml"), "--secrets", str(EXAMPLES / "secrets")]


@pytest.fixture
def app(tmp_path: Path, canary: str) -> list[str]:
    """A pod whose container reads a canary secret, with its manifests on disk."""
    write_manifests(
        tmp_path / "pod.yaml",
        pod(container(env=[secret_key_ref("TOKEN", "api", "token"), value("GREETING", "hi $(TOKEN)")])),
    )
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": canary}))
    return ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "secrets")]


def test_run_injects_env_and_execs(app: list[str], canary: str) -> None:
    result = injector("run", *app, "--", "sh", "-c", 'printf "%s|%s" "$TOKEN" "$GREETING"')

    assert (0, f"{canary}|hi {canary}".encode()) == (result.returncode, result.stdout)


def test_run_replaces_itself_with_the_command(app: list[str]) -> None:
    """Without --mask injector execs: no extra process stays between the caller and the command."""
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "run", *app, "--", "sh", "-c", "echo $$"], stdout=subprocess.PIPE
    )
    out, _ = process.communicate(timeout=30)

    assert process.pid == int(out)


def test_run_passes_exit_code_through(app: list[str]) -> None:
    assert 42 == injector("run", *app, "--", "sh", "-c", "exit 42").returncode


def test_run_overlays_parent_env_unless_clean(app: list[str]) -> None:
    overlay = injector("run", *app, "--", "sh", "-c", 'echo "$KEEP"', env={"KEEP": "parent"})
    clean = injector("run", "--clean-env", *app, "--", "/usr/bin/env", env={"KEEP": "parent"})

    assert b"parent\n" == overlay.stdout
    assert {"TOKEN", "GREETING"} == {line.split(b"=")[0].decode() for line in clean.stdout.splitlines()}


def test_run_missing_command_is_127(app: list[str]) -> None:
    result = injector("run", *app, "--", "no-such-command-xyz")

    assert 127 == result.returncode
    assert b"injector: no-such-command-xyz: command not found\n" == result.stderr


def test_run_with_unresolved_reference_execs_nothing(tmp_path: Path, app: list[str]) -> None:
    """Like CreateContainerConfigError: one line naming file, object, field; the command never starts."""
    write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("T", "api", "nope")])))
    marker = tmp_path / "started"

    result = injector("run", *app, "--", "touch", str(marker))

    assert 4 == result.returncode
    assert not marker.exists()
    assert (
        f"injector: {tmp_path}/pod.yaml: Pod/shop/web-0: spec.containers[0].env[0].valueFrom.secretKeyRef: "
        "couldn't find key nope in Secret shop/api\n"
    ).encode() == result.stderr


def test_run_mask_redacts_child_output(app: list[str], canary: str) -> None:
    result = injector(
        "run",
        "--mask",
        *app,
        "--",
        "sh",
        "-c",
        'echo "t=$TOKEN"; printf "%s" "$TOKEN" | head -c 9 >&2; sleep 0.2; printf "%s\\n" "$TOKEN" | '
        "tail -c +10 >&2; exit 7",
    )

    assert 7 == result.returncode
    assert b"t=<redacted:TOKEN>\n" == result.stdout
    assert b"<redacted:TOKEN>\n" == result.stderr
    assert canary.encode() not in result.stdout + result.stderr


@pytest.mark.parametrize("attempt", range(5))
def test_run_mask_loses_none_of_the_output_written_just_before_the_command_exits(
    app: list[str], canary: str, attempt: int
) -> None:
    """The pipes are drained after the exit (a value held back as a possible prefix included), and a
    process the command left behind holding them does not keep run waiting."""
    result = injector("run", "--mask", *app, "--", "sh", "-c", 'sleep 30 & echo "t=$TOKEN"; printf "%s" "$TOKEN"')

    assert 0 == result.returncode
    assert b"t=<redacted:TOKEN>\n<redacted:TOKEN>" == result.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_run_mask_forwards_signals_and_reports_128_plus_n(app: list[str], signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "run", "--mask", *app, "--", "sh", "-c", "echo ready; exec sleep 30"],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert b"ready\n" == process.stdout.readline()
    process.send_signal(signum)

    assert 128 + signum == process.wait(timeout=20)


def test_render_env_formats(app: list[str], canary: str) -> None:
    dotenv = injector("render", "env", *app)
    docker = injector("render", "env", "--format", "docker", *app)
    as_json = injector("render", "env", "--format", "json", *app)

    assert f'TOKEN="{canary}"\nGREETING="hi {canary}"\n'.encode() == dotenv.stdout
    assert f"TOKEN={canary}\nGREETING=hi {canary}\n".encode() == docker.stdout
    assert {"TOKEN": canary, "GREETING": f"hi {canary}"} == json.loads(as_json.stdout)


def test_render_refuses_regular_file_output(tmp_path: Path, app: list[str], canary: str) -> None:
    target = tmp_path / "out.env"
    target.write_text("")

    result = injector("render", "env", *app, "--output", str(target))

    assert 2 == result.returncode
    assert "" == target.read_text()
    assert_no_traceback(result.stderr, canary)
    assert b"refusing to write secrets to a regular file" in result.stderr


def test_render_writes_to_an_inherited_pipe(app: list[str], canary: str) -> None:
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "render", "env", *app, "--output", f"/dev/fd/{write_end}"],
        pass_fds=[write_end],
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()

    assert 0 == process.wait(timeout=30)
    assert canary.encode() in data


def test_render_error_leaves_no_partial_output(tmp_path: Path, app: list[str]) -> None:
    write_manifests(tmp_path / "secrets" / "api.yaml", secret("api", {"token": "line1\nline2"}))

    result = injector("render", "env", "--format", "docker", *app)

    assert (6, b"") == (result.returncode, result.stdout)
    assert b"injector: env TOKEN: cannot be written as docker: value contains a newline\n" == result.stderr


def test_render_files_and_dockerconfig_on_example() -> None:
    files = json.loads(injector("render", "files", *EXAMPLE).stdout)
    config = json.loads(injector("render", "dockerconfig", *EXAMPLE).stdout)

    tls = next(v for v in files["volumes"] if v["name"] == "tls")
    # item mode 0400, plus the group read the kubelet adds for fsGroup
    assert ("0440", 2000) == (tls["files"]["server/tls.key"]["mode"], tls["files"]["server/tls.key"]["gid"])
    assert "value" not in tls["files"]["server/tls.key"]
    assert ["registry.example.com"] == list(config["auths"])


def test_check_lists_every_problem(tmp_path: Path, canary: str) -> None:
    body = pod(
        container(
            env=[secret_key_ref("A", "api", "nope"), secret_key_ref("B", "gone", "k")], env_from=[env_from("odd")]
        )
    )
    write_manifests(tmp_path / "pod.yaml", body)
    write_manifests(tmp_path / "s.yaml", secret("api", {"token": canary}), secret("odd", {"9lives": canary}))

    args = ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "s.yaml")]
    result = injector("check", *args, "--kubelet-version", "1.29")
    current = injector("check", *args)

    prefix = f"{tmp_path}/pod.yaml: Pod/shop/web-0: spec.containers[0]"
    assert (1, result.stdout.splitlines()[:2]) == (current.returncode, current.stdout.splitlines())
    assert 1 == result.returncode
    assert [
        f"{prefix}.env[0].valueFrom.secretKeyRef: error: couldn't find key nope in Secret shop/api",
        f'{prefix}.env[1].valueFrom.secretKeyRef: error: secret "gone" not found',
        f"{prefix}.envFrom[0].secretRef: warning: InvalidEnvironmentVariableNames: Keys [9lives] from the EnvFrom "
        "secret shop/odd were skipped since they are considered invalid environment variable names.",
    ] == result.stdout.decode().splitlines()
    assert canary.encode() not in result.stdout + result.stderr


def test_check_on_example_is_clean() -> None:
    result = injector("check", *EXAMPLE)

    assert (0, b"") == (result.returncode, result.stdout)


def test_container_must_be_chosen_when_several(tmp_path: Path) -> None:
    write_manifests(tmp_path / "pod.yaml", pod(container("app"), container("proxy")))

    result = injector("render", "env", "--pod", str(tmp_path / "pod.yaml"))

    assert 2 == result.returncode
    assert b"the pod has 2 containers, pick one with --container: app, proxy" in result.stderr


def test_init_container_can_be_chosen(tmp_path: Path) -> None:
    body = pod(container("app", env=[value("WHO", "app")]))
    body["spec"]["initContainers"] = [container("migrate", env=[value("WHO", "init")])]
    write_manifests(tmp_path / "pod.yaml", body)

    result = injector("render", "env", "-f", "json", "--pod", str(tmp_path / "pod.yaml"), "--container", "migrate")

    assert {"WHO": "init"} == json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"])
def test_workload_pod_templates_are_used(tmp_path: Path, kind: str) -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod(container(env=[value("K", "v")]))["spec"]}
    spec = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    api_version = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    write_manifests(
        tmp_path / "w.yaml",
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w", "namespace": "shop"}, "spec": spec},
    )

    result = injector("render", "env", "-f", "json", "--pod", str(tmp_path / "w.yaml"))

    assert {"K": "v"} == json.loads(result.stdout), result.stderr


def test_pod_from_stdin_with_pod_name_among_several(tmp_path: Path) -> None:
    a = pod(container(env=[value("WHO", "a")]), name="a")
    b = pod(container(env=[value("WHO", "b")]), name="b")
    data = json.dumps({"apiVersion": "v1", "kind": "List", "items": [a, b]}).encode()

    several = injector("render", "env", "--pod", "-", input=data)
    chosen = injector("render", "env", "-f", "json", "--pod", "-", "--pod-name", "b", input=data)

    assert b"several Pods or workloads, pick one with --pod-name: Pod/a, Pod/b" in several.stderr
    assert {"WHO": "b"} == json.loads(chosen.stdout)


def test_secrets_in_the_pod_file_are_used(tmp_path: Path) -> None:
    write_manifests(
        tmp_path / "all.yaml", pod(container(env=[secret_key_ref("T", "api", "token")])), secret("api", {"token": "t"})
    )

    result = injector("render", "env", "--pod", str(tmp_path / "all.yaml"), "--secrets", str(tmp_path))

    assert b'T="t"\n' == result.stdout, result.stderr


def test_symlink_out_of_secrets_directory_is_refused(tmp_path: Path, app: list[str]) -> None:
    outside = write_manifests(tmp_path / "outside" / "x.yaml", secret("x", {"k": "v"}))
    (tmp_path / "secrets" / "link.yaml").symlink_to(outside)

    result = injector("check", *app)

    assert 1 == result.returncode
    assert f"{tmp_path}/secrets/link.yaml: error: symbolic link points outside".encode() in result.stdout


needs_age = pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI (Debian package age) is not installed")


@needs_age
def test_age_encrypted_manifest_is_decrypted_in_memory(tmp_path: Path, app: list[str], canary: str) -> None:
    """A file encrypted by the real age CLI is read with the identity, nothing decrypted lands on disk."""
    key = tmp_path / "key.txt"
    age_encrypt(tmp_path / "secrets" / "api.yaml", new_age_key(key))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    by_flag = injector("render", "env", *app, "--age-identity", str(key))
    by_env = injector("render", "env", *app, env={"INJECTOR_AGE_IDENTITY": str(key)})
    without = injector("render", "env", *app)

    assert canary.encode() in by_flag.stdout and by_flag.stdout == by_env.stdout
    assert 2 == without.returncode and b"needs --age-identity" in without.stderr
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert before == after


@needs_age
def test_age_file_with_wrong_identity_is_one_line(tmp_path: Path, app: list[str], canary: str) -> None:
    right, wrong = tmp_path / "right.txt", tmp_path / "wrong.txt"
    new_age_key(wrong)
    age_encrypt(tmp_path / "secrets" / "api.yaml", new_age_key(right))

    result = injector("render", "env", *app, "--age-identity", str(wrong))

    assert 5 == result.returncode
    assert result.stderr.decode().startswith(f"injector: {tmp_path}/secrets/api.yaml.age: cannot decrypt age file")
    assert 1 == len(result.stderr.splitlines())
    assert_no_traceback(result.stderr, canary)


def test_unreadable_pod_file_is_one_line() -> None:
    result = injector("render", "env", "--pod", "/nonexistent/pod.yaml")

    assert (5, b"injector: /nonexistent/pod.yaml: cannot read: No such file or directory\n") == (
        result.returncode,
        result.stderr,
    )


def test_bad_base64_names_file_object_and_key(tmp_path: Path, app: list[str], canary: str) -> None:
    body = secret("api", {})
    body["data"] = {"token": canary + "!"}
    write_manifests(tmp_path / "secrets" / "api.yaml", body)

    result = injector("render", "env", *app)

    assert 3 == result.returncode
    assert (
        f"injector: {tmp_path}/secrets/api.yaml: Secret/shop/api: data[token]: illegal base64 data\n".encode()
        in result.stderr
    )
    assert_no_traceback(result.stderr, canary)


def test_run_without_mask_starts_fast_enough_to_skip_trio(app: list[str]) -> None:
    """The plain run path never imports trio or pyfuse3 (they cost more than all the rest), nor what only help
    (shutil, with the compression modules it brings) or a misspelt field (difflib) needs."""
    result = injector(
        "run",
        *app,
        "--",
        sys.executable,
        "-c",
        "import sys; print(sorted(sys.modules))",
        env={"PYTHONPROFILEIMPORTTIME": ""},
    )
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "injector", "run", *app, "--", "true"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert 0 == result.returncode
    imported = {line.split("|")[-1].strip() for line in probe.stderr.splitlines() if line.startswith("import time:")}
    assert not {"trio", "pyfuse3", "shutil", "difflib"} & imported


def test_version() -> None:
    assert injector("--version").stdout.startswith(b"injector ")


def test_sigterm_to_masked_run_reaches_child_before_exit(app: list[str], tmp_path: Path) -> None:
    """The child sees the forwarded signal and can clean up; its own exit code is passed through."""
    script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done"
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "run", "--mask", *app, "--", "sh", "-c", script], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert b"ready\n" == process.stdout.readline()
    time.sleep(0.1)
    process.send_signal(signal.SIGTERM)

    assert 3 == process.wait(timeout=20)
    assert b"got-term\n" == process.stdout.read()


@pytest.mark.parametrize("mode", [["--mask"], []])
@pytest.mark.parametrize(
    "case",
    [("no-such-command-xyz", 127, "command not found"), ("{tmp}/not-executable", 126, "permission denied")],
)
def test_a_command_that_cannot_run_is_one_line_and_a_shell_status(
    tmp_path: Path, app: list[str], mode: list[str], case: tuple[str, int, str]
) -> None:
    command, code, message = case
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    argv0 = command.format(tmp=tmp_path)

    result = injector("run", *mode, *app, "--", argv0)

    assert (code, f"injector: {argv0}: {message}\n".encode()) == (result.returncode, result.stderr)


def test_secrets_directory_written_by_the_kubelet_is_read_through_its_visible_names(
    tmp_path: Path, app: list[str], canary: str
) -> None:
    """A Secret volume as the atomic writer leaves it: ..data -> ..<timestamp>/, name -> ..data/name."""
    volume = tmp_path / "secrets"
    (volume / "api.yaml").unlink()
    old, current = volume / "..2025_01_01_00_00_00.000000001", volume / "..2025_01_02_00_00_00.000000002"
    write_manifests(old / "api.yaml", secret("api", {"token": "stale"}))
    write_manifests(current / "api.yaml", secret("api", {"token": canary}))
    (volume / "..data").symlink_to(current.name)
    (volume / "api.yaml").symlink_to("..data/api.yaml")

    result = injector("render", "env", *app)

    assert (0, f'TOKEN="{canary}"\nGREETING="hi {canary}"\n'.encode()) == (result.returncode, result.stdout), (
        result.stderr
    )


KUBECTL_EXPORT = Path(__file__).resolve().parent / "data" / "kubectl-get-pod.yaml"


def test_render_env_of_a_kubectl_export_needs_only_the_env(tmp_path: Path) -> None:
    """The admission-injected service-account volume and a volume's missing Secret do not stop the env."""
    write_manifests(tmp_path / "db.yaml", secret("db", {"password": "pw"}))

    result = injector("render", "env", "-f", "json", "--pod", str(KUBECTL_EXPORT), "--secrets", str(tmp_path))

    assert (0, {"DB_PASSWORD": "pw", "POD_IP": "10.244.2.31"}) == (result.returncode, json.loads(result.stdout))
    where = f"injector: warning: {KUBECTL_EXPORT}: Pod/shop/web-7d4b9c8f6-x2k9p: spec.volumes"
    assert [
        f'{where}[0].secret: MountVolume.SetUp failed for volume "tls": secret "web-tls" not found',
        f"{where}[1]: the service-account volume the API server adds (token, kube-root-ca.crt, namespace) is not "
        "served: its token is issued to a Pod on a node",
    ] == result.stderr.decode().splitlines()


def test_render_files_fails_for_what_it_serves(tmp_path: Path) -> None:
    write_manifests(tmp_path / "db.yaml", secret("db", {"password": "pw"}))

    result = injector("render", "files", "--pod", str(KUBECTL_EXPORT), "--secrets", str(tmp_path))

    assert (4, b"") == (result.returncode, result.stdout)
    assert b'secret "web-tls" not found' in result.stderr


def test_check_without_container_checks_the_whole_pod(tmp_path: Path) -> None:
    """Every container (init and ephemeral too), every volume mounted or not, and the pull secrets; once each."""
    body = pod(
        container("app", env=[secret_key_ref("A", "shared", "a")], mounts=[{"name": "both", "mountPath": "/b"}]),
        container("proxy", env=[secret_key_ref("P", "proxy", "p")], mounts=[{"name": "both", "mountPath": "/b"}]),
        volumes=[
            {"name": "both", "secret": {"secretName": "both"}},
            {"name": "unmounted", "secret": {"secretName": "unmounted"}},
        ],
        pull_secrets=["pull"],
    )
    body["spec"]["initContainers"] = [container("migrate", env=[secret_key_ref("M", "migrate", "m")])]
    body["spec"]["ephemeralContainers"] = [container("debug", env=[secret_key_ref("D", "shared", "nope")])]
    write_manifests(tmp_path / "pod.yaml", body)
    write_manifests(tmp_path / "s.yaml", secret("shared", {"a": "1"}))
    args = ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "s.yaml")]

    whole = injector("check", *args)
    narrowed = injector("check", *args, "-c", "proxy")

    prefix = f"{tmp_path}/pod.yaml: Pod/shop/web-0: spec"
    assert (
        1,
        [
            f'{prefix}.initContainers[0].env[0].valueFrom.secretKeyRef: error: secret "migrate" not found',
            f'{prefix}.containers[1].env[0].valueFrom.secretKeyRef: error: secret "proxy" not found',
            f"{prefix}.ephemeralContainers[0].env[0].valueFrom.secretKeyRef: error: couldn't find key nope in Secret "
            "shop/shared",
            f'{prefix}.volumes[0].secret: error: MountVolume.SetUp failed for volume "both": secret "both" not found',
            f'{prefix}.volumes[1].secret: error: MountVolume.SetUp failed for volume "unmounted": secret "unmounted" '
            "not found",
            f"{prefix}.imagePullSecrets: warning: FailedToRetrieveImagePullSecret: Unable to retrieve some image pull "
            "secrets (pull); attempting to pull the image may not succeed.",
        ],
    ) == (whole.returncode, whole.stdout.decode().splitlines())
    assert (
        1,
        [
            f'{prefix}.containers[1].env[0].valueFrom.secretKeyRef: error: secret "proxy" not found',
            f'{prefix}.volumes[0].secret: error: MountVolume.SetUp failed for volume "both": secret "both" not found',
            f"{prefix}.imagePullSecrets: warning: FailedToRetrieveImagePullSecret: Unable to retrieve some image pull "
            "secrets (pull); attempting to pull the image may not succeed.",
        ],
    ) == (narrowed.returncode, narrowed.stdout.decode().splitlines())


def test_a_standalone_downward_api_volume_is_served_like_a_projected_one(tmp_path: Path) -> None:
    body = pod(
        container(mounts=[{"name": "info", "mountPath": "/etc/podinfo"}]),
        volumes=[
            {
                "name": "info",
                "downwardAPI": {
                    "defaultMode": 0o440,
                    "items": [
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    ],
                },
            }
        ],
        labels={"app": "web"},
    )
    write_manifests(tmp_path / "pod.yaml", body)

    result = injector("render", "files", "--show-values", "--pod", str(tmp_path / "pod.yaml"))

    (volume,) = json.loads(result.stdout)["volumes"]
    assert {"labels": ('app="web"', "0440"), "name": ("web-0", "0440")} == {
        path: (file["value"], file["mode"]) for path, file in volume["files"].items()
    }


def test_an_invalid_namespace_is_blamed_on_the_flag(app: list[str]) -> None:
    result = injector("render", "env", *app, "-n", "Bad_NS")

    assert (2, b"") == (result.returncode, result.stdout)
    assert result.stderr.startswith(b'injector: --namespace: Invalid value: "Bad_NS": a lowercase RFC 1123 label')


def test_a_typo_in_a_subcommands_option_prints_that_subcommands_usage(app: list[str]) -> None:
    result = injector("render", "env", *app, "--formt", "json")

    assert 2 == result.returncode
    assert result.stderr.startswith(b"usage: injector render env ")
    assert result.stderr.endswith(b"injector render env: error: unrecognized arguments: --formt json\n")


def test_run_mount_options_need_a_mount(app: list[str]) -> None:
    result = injector("run", *app, "--volume", "secret", "--uid", "1", "--", "true")

    assert (2, b"injector: --volume, --uid: only with --mount DIR\n") == (result.returncode, result.stderr)


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    from injector.cli import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser) -> None:
        found[parser.prog] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    walk(sub)

    walk(build_parser())
    return found


def test_every_option_has_help_and_every_command_its_exit_codes() -> None:
    for prog, parser in subcommand_parsers().items():
        helpless = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
        assert [] == helpless, prog
        assert "exit codes:" in parser.format_help(), prog


def test_help_shows_defaults() -> None:
    text = subcommand_parsers()["injector mount"].format_help()

    assert "(default: dotenv)" in " ".join(text.split())
    assert "(default: 60.0)" in " ".join(text.split())


def test_the_disk_warning_is_given_only_when_values_are_written(tmp_path: Path, app: list[str]) -> None:
    with open(tmp_path / "out", "wb") as regular:
        files = subprocess.run(
            [sys.executable, "-m", "injector", "render", "files", *app],
            stdout=regular,
            stderr=subprocess.PIPE,
            check=False,
        )
        env = subprocess.run(
            [sys.executable, "-m", "injector", "render", "env", *app],
            stdout=regular,
            stderr=subprocess.PIPE,
            check=False,
        )

    assert b"" == files.stderr
    assert b"injector: warning: stdout is a regular file: secret values are being written to disk\n" == env.stderr


def test_render_files_shows_what_each_mount_sees_subpaths_included(tmp_path: Path) -> None:
    """A subPath mount sees the file or directory it names (a name the volume lacks: an empty directory)."""
    body = pod(
        container(
            mounts=[
                {"name": "tls", "mountPath": "/etc/tls"},
                {"name": "tls", "mountPath": "/etc/app/cert.pem", "subPath": "tls.crt"},
                {"name": "tls", "mountPath": "/etc/keys", "subPath": "keys"},
                {"name": "tls", "mountPath": "/etc/none", "subPath": "missing"},
            ]
        ),
        volumes=[tls_items_volume()],
    )
    write_manifests(tmp_path / "pod.yaml", body, secret("tls", {"tls.crt": "CERT", "tls.key": "KEY"}))

    result = injector("render", "files", "--pod", str(tmp_path / "pod.yaml"))

    mounts = json.loads(result.stdout)["mounts"]
    assert [
        {
            "mountPath": "/etc/app/cert.pem",
            "volume": "tls",
            "subPath": "tls.crt",
            "type": "file",
            "file": {"mode": "0644", "size": 4},
        },
        {
            "mountPath": "/etc/keys",
            "volume": "tls",
            "subPath": "keys",
            "type": "directory",
            "files": {"tls.key": {"mode": "0644", "size": 3}},
        },
        {"mountPath": "/etc/none", "volume": "tls", "subPath": "missing", "type": "directory", "files": {}},
        {
            "mountPath": "/etc/tls",
            "volume": "tls",
            "type": "directory",
            "files": {"keys/tls.key": {"mode": "0644", "size": 3}, "tls.crt": {"mode": "0644", "size": 4}},
        },
    ] == mounts


@pytest.mark.parametrize(
    ("version", "code"), [("1.31", 3), ("1.32", 0), ("1.35", 0)], ids=["strict-1.31", "relaxed-1.32", "current"]
)
def test_env_names_follow_the_kubelet_version(tmp_path: Path, version: str, code: int) -> None:
    """RelaxedEnvironmentVariableValidation: on by default from 1.32 (beta), GA in 1.34."""
    write_manifests(tmp_path / "pod.yaml", pod(container(env=[value("MY VAR", "x")])))

    result = injector("render", "env", "-f", "json", "--pod", str(tmp_path / "pod.yaml"), "--kubelet-version", version)

    assert code == result.returncode, result.stderr


def test_an_unknown_kubelet_version_is_a_usage_error(app: list[str]) -> None:
    result = injector("render", "env", *app, "--kubelet-version", "2.0")

    assert (2, b"injector: --kubelet-version: '2.0' is not a version injector knows (1.19 to 1.35)\n") == (
        result.returncode,
        result.stderr,
    )


@pytest.fixture
def pulls(tmp_path: Path) -> list[str]:
    """A pod with two pull secrets: a team-scoped entry, its host, a glob, and Docker Hub's legacy key."""
    auths = {
        "registry.io": {"username": "host", "password": "pw-host"},
        "https://index.docker.io/v1/": {"username": "hub", "password": "pw-hub"},
    }
    legacy = {
        "registry.io/team": {"username": "team", "password": "pw-team"},
        "*.corp.example": {"username": "corp", "password": "pw-corp"},
    }
    write_manifests(
        tmp_path / "pod.yaml", pod({**container(), "image": "registry.io/team/app:1"}, pull_secrets=["b", "a"])
    )
    write_manifests(
        tmp_path / "secrets" / "pull.yaml",
        secret("a", {".dockerconfigjson": json.dumps({"auths": auths})}, type="kubernetes.io/dockerconfigjson"),
        secret("b", {".dockercfg": json.dumps(legacy)}, type="kubernetes.io/dockercfg"),
    )
    return ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "secrets")]


def test_render_credentials_lists_what_the_kubelet_tries_in_its_order(pulls: list[str]) -> None:
    as_json = injector("render", "credentials", "--image", "registry.io/team/app:1", *pulls)
    as_text = injector("render", "credentials", "--image", "registry.io/team/app:1", "-f", "text", *pulls)

    assert (0, b"") == (as_json.returncode, as_json.stderr)
    assert [
        {"registry": "registry.io/team", "username": "team", "password": "pw-team"},
        {"registry": "registry.io", "username": "host", "password": "pw-host"},
    ] == json.loads(as_json.stdout)
    assert (0, b"registry.io/team\tteam\nregistry.io\thost\n") == (as_text.returncode, as_text.stdout)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ["hub"]),
        ("docker.io/library/nginx:1.27", ["hub"]),
        ("db.corp.example/pg@sha256:" + "0" * 64, ["corp"]),
    ],
)
def test_render_credentials_follows_docker_hub_aliases_and_globs(
    pulls: list[str], image: str, expected: list[str]
) -> None:
    result = injector("render", "credentials", "--image", image, *pulls)

    assert expected == [entry["username"] for entry in json.loads(result.stdout)]


def test_render_credentials_of_an_image_nothing_matches_is_empty_with_a_warning(pulls: list[str]) -> None:
    result = injector("render", "credentials", "--image", "quay.io/x", *pulls)

    assert (0, b"[]\n") == (result.returncode, result.stdout)
    assert (
        b'injector: warning: no pull secret has a credential for image "quay.io/x": the kubelet pulls it without '
        b"credentials\n" == result.stderr
    )


@pytest.mark.parametrize("what", ["credentials", "dockerconfig"])
def test_an_invalid_image_is_a_usage_error_before_anything_is_read(tmp_path: Path, what: str) -> None:
    result = injector("render", what, "--image", "Registry.io/Team/app", "--pod", str(tmp_path / "absent.yaml"))

    assert (2, b"") == (result.returncode, result.stdout)
    assert (
        b'injector: --image: couldn\'t parse image name "Registry.io/Team/app": invalid reference format: '
        b"repository name (Team/app) must be lowercase\n" == result.stderr
    )


def test_render_credentials_follows_the_output_rules(tmp_path: Path, pulls: list[str]) -> None:
    """Passwords never go to a regular file by --output; the text form holds none, so no disk warning."""
    target = tmp_path / "out"
    target.write_text("")
    refused = injector("render", "credentials", "--image", "registry.io/x", *pulls, "--output", str(target))
    with open(target, "wb") as regular:
        text = subprocess.run(
            [
                sys.executable,
                "-m",
                "injector",
                "render",
                "credentials",
                "--image",
                "registry.io/x",
                "-f",
                "text",
                *pulls,
            ],
            stdout=regular,
            stderr=subprocess.PIPE,
            check=False,
        )
        as_json = subprocess.run(
            [sys.executable, "-m", "injector", "render", "credentials", "--image", "registry.io/x", *pulls],
            stdout=regular,
            stderr=subprocess.PIPE,
            check=False,
        )

    assert 2 == refused.returncode
    assert b"refusing to write secrets to a regular file" in refused.stderr
    assert (0, b"") == (text.returncode, text.stderr)
    assert b"injector: warning: stdout is a regular file: secret values are being written to disk\n" == as_json.stderr


def test_render_dockerconfig_for_an_image_has_the_host_clients_look_up(pulls: list[str]) -> None:
    hub = injector("render", "dockerconfig", "--image", "nginx", *pulls)
    team = injector("render", "dockerconfig", "--image", "registry.io/team/app", *pulls)
    glob = injector("render", "dockerconfig", "--image", "db.corp.example/pg", *pulls)
    none = injector("render", "dockerconfig", "--image", "quay.io/x", *pulls)

    def users(result: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
        return {host: entry["username"] for host, entry in json.loads(result.stdout)["auths"].items()}

    assert {"https://index.docker.io/v1/": "hub"} == users(hub)
    assert {"registry.io": "team"} == users(team)
    assert {"db.corp.example": "corp"} == users(glob)
    assert ({}, 0) == (users(none), none.returncode)
    assert b'no pull secret has a credential for image "quay.io/x"' in none.stderr
    assert b"" == hub.stderr + team.stderr + glob.stderr


def test_render_dockerconfig_merged_warns_of_entries_exact_host_clients_ignore(
    tmp_path: Path, pulls: list[str]
) -> None:
    result = injector("render", "dockerconfig", *pulls)

    where = f"injector: warning: {tmp_path}/secrets/pull.yaml (document 2): Secret/shop/b: data[.dockercfg]"
    assert ["registry.io/team", "*.corp.example", "registry.io", "https://index.docker.io/v1/"] == list(
        json.loads(result.stdout)["auths"]
    )
    assert [
        f'{where}: registry entry "registry.io/team" is scoped to a path: the kubelet uses it only for images under '
        "that path, clients that look hosts up exactly use it for the whole host or not at all; render the config "
        "of one image with --image",
        f'{where}: registry entry "*.corp.example" is a glob: only the kubelet expands it, clients look hosts up '
        "exactly and never use it; render the config of one image with --image",
    ] == result.stderr.decode().splitlines()


def test_check_reports_a_container_image_the_kubelet_cannot_parse(tmp_path: Path) -> None:
    write_manifests(tmp_path / "pod.yaml", pod({**container(), "image": "registry.io/App"}, container("ok")))

    result = injector("check", "--pod", str(tmp_path / "pod.yaml"))

    assert 1 == result.returncode
    assert (
        f"{tmp_path}/pod.yaml: Pod/shop/web-0: spec.containers[0].image: error: InvalidImageName: Failed to apply "
        'default image tag "registry.io/App": couldn\'t parse image name "registry.io/App": invalid reference '
        "format: repository name (App) must be lowercase\n"
    ).encode() == result.stdout
