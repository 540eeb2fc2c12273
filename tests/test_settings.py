"""Settings are made once, from the parsed command line and the environment given, and nowhere else."""

from __future__ import annotations

import os
import signal

import pytest

from injector.cli import build_parser
from injector.core.onchange import OnChange
from injector.errors import UsageError
from injector.settings import Settings, from_args


def settings(*argv: str, environ: dict[str, str] | None = None) -> Settings:
    return from_args(build_parser().parse_args(list(argv)), environ or {})


def test_age_identity_falls_back_to_the_environment() -> None:
    given = settings(
        "render", "env", "--pod", "p.yaml", "--age-identity", "a.txt", environ={"INJECTOR_AGE_IDENTITY": "e"}
    )
    from_env = settings("render", "env", "--pod", "p.yaml", environ={"INJECTOR_AGE_IDENTITY": "e.txt"})

    assert ("a.txt",) == given.inputs.age_identities
    assert ("e.txt",) == from_env.inputs.age_identities


def test_the_api_is_a_source_only_when_asked_and_always_for_the_agent() -> None:
    plain = settings("check", "--pod", "p.yaml")
    kube = settings("check", "--pod", "p.yaml", "--kube", environ={"KUBECONFIG": "/a:/b"})
    agent = settings("agent", "--pod", "p.yaml", "--mount", "/mnt")

    assert plain.inputs.kube is None
    assert kube.inputs.kube is not None and "/a" == kube.inputs.kube.kubeconfig_file
    assert agent.inputs.kube is not None
    assert agent.mount is not None and agent.mount.watch  # the agent always follows


def test_in_cluster_settings_come_from_the_kubelets_variables() -> None:
    kube = settings(
        "check",
        "--pod",
        "p.yaml",
        "--kube",
        environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"},
    ).inputs.kube

    assert kube is not None and ("10.0.0.1", "6443") == (kube.service_host, kube.service_port)


def test_run_takes_the_command_after_dashes_and_the_parent_environment_unless_clean() -> None:
    inherited = settings("run", "--pod", "p.yaml", "--", "sh", "-c", "true", environ={"HOME": "/root"})
    clean = settings("run", "--pod", "p.yaml", "--clean-env", "--", "true", environ={"HOME": "/root"})

    assert inherited.run is not None and ("sh", "-c", "true") == inherited.run.argv
    assert {b"HOME": b"/root"} == dict(inherited.run.parent_env)
    assert clean.run is not None and {} == dict(clean.run.parent_env)
    assert inherited.mount is None


def test_run_with_a_mount_has_mount_settings_with_an_absolute_mountpoint() -> None:
    run = settings("run", "--pod", "p.yaml", "--mount", "mnt", "--watch", "--", "true")

    assert run.mount is not None and run.mount.mountpoint.startswith("/") and run.mount.watch


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        pytest.param(
            ["agent", "--pod", "p.yaml", "--mount", "/m", "--listen", "nope"],
            {},
            "listen takes [HOST]:PORT, not 'nope'",
            id="bad-listen",
        ),
        pytest.param(
            ["agent", "--self", "--mount", "/m"],
            {"POD_NAME": "web-0"},
            "own_pod needs POD_NAME and POD_NAMESPACE in the environment (downward API fieldRefs)",
            id="self-without-downward-api",
        ),
        pytest.param(
            ["agent", "--pod", "p.yaml", "--mount", "/m", "--failover-after", "0"],
            {},
            "failover_after: must be a number of seconds, more than 0",
            id="no-failover-delay",
        ),
        pytest.param(
            ["agent", "--pod", "p.yaml", "--mount", "/m", "--wait-timeout", "-1"],
            {},
            "wait_timeout: must be a number of seconds, 0 or more",
            id="negative-wait",
        ),
        pytest.param(
            ["agent", "--pod", "p.yaml", "--mount", "/m", "--wait-timeout", "nan"],
            {},
            "wait_timeout: must be a number of seconds, 0 or more",
            id="nan-wait",
        ),
    ],
)
def test_agent_settings_are_checked_before_anything_starts(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        settings(*argv, environ=environ)

    assert message == info.value.problem


@pytest.mark.parametrize("command", ["mount", "agent", "run"])
def test_key_symlinks_is_a_mount_setting_of_each_command_that_mounts(command: str) -> None:
    argv = {
        "mount": ["mount", "--pod", "p.yaml", "/m"],
        "agent": ["agent", "--pod", "p.yaml", "--mount", "/m"],
        "run": ["run", "--pod", "p.yaml", "--mount", "/m", "--", "x"],
    }[command]

    chosen = settings(argv[0], "--key-symlinks", *argv[1:]).mount
    default = settings(*argv).mount

    assert chosen is not None and chosen.key_symlinks
    assert default is not None and not default.key_symlinks


def test_agent_self_and_listen_are_parsed() -> None:
    agent = settings(
        "agent", "--self", "--mount", "/m", "--listen", ":8080", environ={"POD_NAME": "web-0", "POD_NAMESPACE": "shop"}
    ).agent

    assert agent is not None and (("0.0.0.0", 8080), ("shop", "web-0")) == (agent.listen, agent.own_pod)


def test_context_is_repeatable_with_one_kube_settings_per_context() -> None:
    two = settings("check", "--pod", "p.yaml", "--kube", "--context", "a", "--context", "b")
    one = settings("render", "env", "--pod", "p.yaml", "--kube")

    assert ["a", "b"] == [kube.context for kube in two.inputs.kube_contexts]
    assert two.inputs.kube == two.inputs.kube_contexts[0]
    assert (None,) == tuple(kube.context for kube in one.inputs.kube_contexts)
    mount = settings(
        "mount", "--pod", "p.yaml", "--kube", "--context", "a", "--context", "b", "--failover-after", "3", "/m"
    )
    assert (["a", "b"], 3.0) == (
        [kube.context for kube in mount.inputs.kube_contexts],
        mount.mount and mount.mount.failover_after,
    )


@pytest.mark.parametrize(
    ("environ", "editor"),
    [
        ({}, ("vi",)),
        ({"EDITOR": "nano"}, ("nano",)),
        ({"EDITOR": "nano", "INJECTOR_EDITOR": "vim -c 'set nu'"}, ("vim", "-c", "set nu")),
    ],
)
def test_the_editor_comes_from_the_environment(environ: dict[str, str], editor: tuple[str, ...]) -> None:
    secret = settings("secret", "edit", "s.yaml.age", environ=environ).secret

    assert secret is not None and editor == secret.editor


def test_secret_targets_are_a_file_or_a_name_in_clusters() -> None:
    on_file = settings("secret", "get", "s.yaml.age").secret
    in_clusters = settings("secret", "edit", "db", "--kube", "--context", "a", "--context", "b").secret

    assert on_file is not None and ("s.yaml.age", None, ()) == (on_file.file, on_file.name, on_file.kube)
    assert in_clusters is not None and (None, "db") == (in_clusters.file, in_clusters.name)
    assert ["a", "b"] == [kube.context for kube in in_clusters.kube]
    with pytest.raises(UsageError, match="delete needs --kube"):
        settings("secret", "delete", "db")
    with pytest.raises(UsageError, match="two destinations"):
        settings("secret", "create", "generic", "db", "--kube", "-o", "x.yaml.age")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], OnChange("auto")),
        (["--on-change", "restart"], OnChange("restart")),
        (["--on-change", "none"], OnChange("none")),
        (["--on-change", "signal:HUP"], OnChange("signal", signal=signal.SIGHUP)),
        (["--on-change", "signal:SIGUSR1"], OnChange("signal", signal=signal.SIGUSR1)),
        (["--on-change", "signal:15"], OnChange("signal", signal=signal.SIGTERM)),
        (["--on-change", "exec:nginx -s reload"], OnChange("exec", command="nginx -s reload")),
    ],
)
def test_on_change_is_parsed(given: list[str], expected: OnChange) -> None:
    run = settings("run", "--pod", "p.yaml", "--watch", *given, "--", "true").run

    assert run is not None and expected == run.on_change


def test_restarts_default_to_sigterm_and_a_30_second_grace_with_no_splay() -> None:
    run = settings("run", "--pod", "p.yaml", "--watch", "--", "true").run
    chosen = settings(
        "run", "--pod", "p.yaml", "--watch", "--stop-signal", "QUIT", "--grace", "5", "--splay", "2", "--", "true"
    ).run

    assert run is not None and (signal.SIGTERM, 30.0, 0.0, True) == (run.stop_signal, run.grace, run.splay, run.watch)
    assert chosen is not None and (signal.SIGQUIT, 5.0, 2.0) == (chosen.stop_signal, chosen.grace, chosen.splay)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--on-change", "restart"], "--on-change: only with --watch"),
        (["--grace", "3", "--splay", "1"], "--grace, --splay: only with --watch"),
        (["--watch", "--on-change", "reload"], "--on-change takes restart, signal:SIG, exec:CMD or none, not 'reload'"),
        (["--watch", "--on-change", "exec:"], "--on-change takes restart, signal:SIG, exec:CMD or none, not 'exec:'"),
        (["--watch", "--on-change", "signal:NOPE"], "--on-change: 'NOPE' is not a signal"),
        (["--watch", "--stop-signal", "99"], "--stop-signal: '99' is not a signal"),
        (["--watch", "--grace", "-1"], "--grace: must be a number of seconds, 0 or more"),
    ],
)
def test_run_watch_options_are_checked(given: list[str], message: str) -> None:
    from injector.cli import spell

    with pytest.raises(UsageError) as info:
        settings("run", "--pod", "p.yaml", *given, "--", "true")

    assert message == info.value.describe(spell)


def test_without_a_command_after_dashes_the_containers_own_is_run() -> None:
    run = settings("run", "--pod", "p.yaml").run

    assert run is not None and () == run.argv


def test_a_descriptor_mountpoint_is_kept_as_written_and_a_socket_path_made_absolute() -> None:
    on_fd = settings("mount", "--pod", "p.yaml", "/dev/fd/3")
    on_socket = settings("agent", "--pod", "p.yaml", "--mount", "fd-socket:run/x.sock")
    directory = settings("mount", "--pod", "p.yaml", "mnt")

    assert on_fd.mount is not None and "/dev/fd/3" == on_fd.mount.mountpoint
    assert on_socket.mount is not None and on_socket.mount.mountpoint == f"fd-socket:{os.getcwd()}/run/x.sock"
    assert directory.mount is not None and directory.mount.mountpoint == f"{os.getcwd()}/mnt"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["run", "--pod", "p.yaml", "--mount", "/dev/fd/3", "--", "true"], "--mount /dev/fd/3: run needs a directory"),
        (["run", "--pod", "p.yaml", "--mount", "fd-socket:/s", "--", "true"], "run needs a directory"),
        (["mount", "--pod", "p.yaml", "--allow-other", "/dev/fd/3"], "--allow-other: /dev/fd/3 is mounted already"),
        (["mount", "--pod", "p.yaml", "fd-socket:"], "fd-socket:: the unix socket's path is missing"),
    ],
)
def test_a_descriptor_mountpoint_refuses_what_means_nothing_there(argv: list[str], said: str) -> None:
    with pytest.raises(UsageError) as raised:
        settings(*argv)
    assert said in str(raised.value)
