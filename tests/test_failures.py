"""No traceback ever: every command, through each way it can fail, ends in one line and its exit code."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from injector import cli
from tests.conftest import EXAMPLES, injector
from tests.support.kube_apiserver import free_port
from tests.support.mounting import requires_fuse

POD = ["--pod", str(EXAMPLES / "pod.yaml"), "--secrets", str(EXAMPLES / "secrets")]
COMMANDS = {
    "run": ["run", "{pod}", "--", "true"],
    "run --mask": ["run", "--mask", "{pod}", "--", "true"],
    "run --mount": ["run", "{pod}", "--mount", "{mnt}", "--", "true"],
    "render env": ["render", "env", "{pod}"],
    "render dockerconfig": ["render", "dockerconfig", "{pod}"],
    "render credentials": ["render", "credentials", "--image", "registry.example.com/shop/web", "{pod}"],
    "render files": ["render", "files", "{pod}"],
    "mount": ["mount", "{pod}", "{mnt}"],
    "agent": ["agent", "{pod}", "--mount", "{mnt}", "--wait-timeout", "1"],
    "check": ["check", "{pod}"],
}


def command(name: str, tmp_path: Path, pod: list[str], *extra: str) -> list[str]:
    (tmp_path / "mnt").mkdir(exist_ok=True)
    argv: list[str] = []
    for arg in COMMANDS[name]:
        if arg == "{pod}":
            argv += [*pod, *extra]
        else:
            argv.append(arg.replace("{mnt}", str(tmp_path / "mnt")))
    return argv


def assert_one_clean_failure(result: subprocess.CompletedProcess[bytes], code: int, *, check: bool = False) -> None:
    err = result.stderr.decode()
    assert "Traceback" not in err and "Error:" not in err.replace("error:", ""), err
    assert code == result.returncode, err
    if check:  # the problems are check's output: on stdout, one per line, each saying error or warning
        lines = result.stdout.decode().splitlines()
        assert lines and all(": error: " in line or ": warning: " in line for line in lines), lines
    elif err.startswith("usage: "):  # argparse: the subcommand's usage, then one error line
        assert re.fullmatch(r"injector [a-z ]+: error: .+", err.splitlines()[-1]), err
    else:
        lines = err.splitlines()
        assert lines and all(line.startswith(("injector: ", '{"time"')) for line in lines), lines


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_missing_pod_file(tmp_path: Path, name: str) -> None:
    pod = ["--pod", str(tmp_path / "nope.yaml")]

    result = injector(*command(name, tmp_path, pod))

    assert_one_clean_failure(result, 1 if name == "check" else 5, check=name == "check")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_broken_pod_manifest(tmp_path: Path, name: str) -> None:
    (tmp_path / "pod.yaml").write_text("kind: Pod\nspec: {containers: [\n")

    result = injector(*command(name, tmp_path, ["--pod", str(tmp_path / "pod.yaml")]))

    assert_one_clean_failure(result, 1 if name == "check" else 3, check=name == "check")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unknown_option(tmp_path: Path, name: str) -> None:
    result = injector(*command(name, tmp_path, POD, "--no-such-option"))

    assert_one_clean_failure(result, 2)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_unreachable_api_server(tmp_path: Path, name: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )

    result = injector(*command(name, tmp_path, POD, "--kube", "--kubeconfig", str(kubeconfig)), timeout=120)

    assert_one_clean_failure(result, 1 if name == "check" else 5, check=name == "check")


@pytest.mark.parametrize("name", ["run --mount", "mount", "agent"])
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a mount namespace")
@requires_fuse()
def test_no_fuse_device(tmp_path: Path, name: str) -> None:
    """In a mount namespace whose /dev is empty: one line saying FUSE is missing and how to get it."""
    argv = command(name, tmp_path, POD)
    script = 'mount -t tmpfs tmpfs /dev && exec "$@"'

    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            sys.executable,
            "-m",
            "injector",
            *argv,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert_one_clean_failure(result, 2)
    assert b"/dev/fuse does not exist: FUSE is not available here" in result.stderr


@pytest.mark.parametrize("name", ["run", "run --mask", "run --mount"])
def test_a_command_that_does_not_exist(tmp_path: Path, name: str) -> None:
    argv = [arg if arg != "true" else "no-such-command-xyz" for arg in command(name, tmp_path, POD)]

    result = injector(*argv)

    assert_one_clean_failure(result, 127)


def test_an_internal_error_is_one_line_without_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug still gives one line, its type only (its text might quote a value), and exit 70."""

    def broken(settings: object, reporter: object) -> int:
        raise ValueError("CANARY-value")

    monkeypatch.setitem(cli.COMMANDS, "check", broken)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)

    code = cli.main(["check", *POD])

    assert (70, "injector: internal error: ValueError (a bug in injector: run again with --debug to see where)\n") == (
        code,
        stderr.getvalue(),
    )
    with pytest.raises(ValueError, match="CANARY"):
        cli.main(["--debug", "check", *POD])


@pytest.mark.parametrize("name", ["run --mount", "mount", "agent"])
def test_fuse_support_that_cannot_be_loaded(tmp_path: Path, name: str) -> None:
    """pyfuse3 installed without its libfuse3: one line naming what to install."""
    fake = tmp_path / "fake" / "pyfuse3"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("libfuse3.so.3: cannot open shared object file")\n')

    result = injector(*command(name, tmp_path, POD), env={"PYTHONPATH": str(tmp_path / "fake")})

    assert_one_clean_failure(result, 2)
    assert b"install libfuse3 (Debian/Ubuntu package fuse3) and pyfuse3" in result.stderr


INJECT_FAILURES = [
    ("a missing file", ["inject", "-f", "{tmp}/nope.yaml"], 5),
    ("a broken manifest", ["inject", "-f", "{tmp}/broken.yaml"], 3),
    ("an unknown option", ["inject", "--no-such-option"], 2),
    ("--env of no container", ["inject", "-f", str(EXAMPLES / "pod.yaml"), "--env", "ghost"], 2),
    ("a missing certificate", ["webhook", "--tls-cert", "{tmp}/nope.crt", "--tls-key", "{tmp}/nope.key"], 5),
    ("a listen address that is none", ["webhook", "--listen", "nowhere", "--tls-cert", "c", "--tls-key", "k"], 2),
    ("a port taken", ["webhook", "--listen", "127.0.0.1:{taken}", "--tls-cert", "{tmp}/c", "--tls-key", "{tmp}/k"], 2),
]


@pytest.mark.parametrize(("what", "argv", "code"), INJECT_FAILURES, ids=[row[0] for row in INJECT_FAILURES])
def test_inject_and_webhook_fail_in_one_line(tmp_path: Path, what: str, argv: list[str], code: int) -> None:
    import socket

    from tests.support.kube_apiserver import self_signed

    (tmp_path / "broken.yaml").write_text("kind: Pod\nspec: {containers: [\n")
    cert, key = self_signed("webhook", server=True)
    (tmp_path / "c").write_bytes(cert)
    (tmp_path / "k").write_bytes(key)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = [arg.replace("{tmp}", str(tmp_path)).replace("{taken}", port) for arg in argv]
        result = injector(*args, input=b"")

    assert_one_clean_failure(result, code)
    assert b"" == result.stdout, what
