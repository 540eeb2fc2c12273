"""run --watch: the command restarted, signalled or reloaded when what it sees changes, and only then;
and run without -- CMD: the container's own command (real processes, real mounts, the stand-in API)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import injector, write_manifests
from tests.support.kube_apiserver import ApiServer, injector_accounts
from tests.support.manifests import container, pod, secret, secret_key_ref, value
from tests.support.mounting import replace_file, requires_fuse
from tests.support.running import Running
from tests.test_kube_source import kubeconfig

# Prints its T at start (and the volume's file when it has a mount), then waits.
CHILD = 'echo "start T=$T"; exec sleep 300'


class Sources:
    """A pod whose env T is Secret app's key token (app's key other is referenced by nothing), and whose
    volume conf (Secret conf) is mounted at /etc/conf."""

    def __init__(self, root: Path, **container_fields: Any) -> None:
        body = container(env=[secret_key_ref("T", "app", "token")], mounts=[{"name": "conf", "mountPath": "/etc/conf"}])
        body.update(container_fields)
        self.pod = write_manifests(
            root / "pod.yaml", pod(body, volumes=[{"name": "conf", "secret": {"secretName": "conf"}}])
        )
        self.secrets = root / "secrets"
        self.set("app", token="v1", other="o1")
        self.set("conf", setting="s1")
        self.mountpoint = root / "mnt"
        self.mountpoint.mkdir()

    def set(self, name: str, **data: str) -> None:
        path = self.secrets / f"{name}.yaml"
        if path.exists():
            replace_file(path, yaml.safe_dump(secret(name, data)))
        else:
            write_manifests(path, secret(name, data))

    @property
    def args(self) -> list[str]:
        return ["--pod", str(self.pod), "--secrets", str(self.secrets), "--watch"]

    @property
    def mount(self) -> list[str]:
        return ["--mount", str(self.mountpoint)]


@pytest.fixture
def sources(tmp_path: Path) -> Sources:
    return Sources(tmp_path)


def test_an_env_change_restarts_the_command_with_the_new_value(sources: Sources) -> None:
    with Running([*sources.args, "--", "sh", "-c", CHILD]) as run:
        run.wait_out("start T=v1")

        sources.set("app", token="v2", other="o1")

        run.wait_out("start T=v2")
        assert 128 + signal.SIGTERM == run.stop()
    assert ["start T=v1", "start T=v2"] == run.lines()
    assert 1 == run.err.decode().count("injector: restarting sh: what it sees changed")


@requires_fuse()
def test_a_change_the_container_does_not_see_restarts_nothing(sources: Sources) -> None:
    """A key nobody references, then a file of the mount: neither restarts the command by default."""
    script = 'echo "start T=$T"; trap \'echo "files: $(cat $INJECTOR_MOUNT/conf/setting)"\' HUP; '
    script += "while :; do sleep 0.05; done"
    with Running([*sources.args, *sources.mount, "--", "sh", "-c", script]) as run:
        run.wait_out("start T=v1")

        sources.set("app", token="v1", other="o2")  # referenced by nothing
        sources.set("conf", setting="s2")  # the mount shows it; the env is the same
        run.wait_err(f"injector: updated {sources.mountpoint}")

        assert b"s2" == (sources.mountpoint / "conf" / "setting").read_bytes()
        assert 128 + signal.SIGTERM == run.stop()
    assert ["start T=v1"] == run.lines()
    assert "restarting" not in run.err.decode()


@requires_fuse()
def test_signal_mode_signals_once_the_mount_shows_the_new_content(sources: Sources) -> None:
    script = "trap 'echo \"files: $(cat $INJECTOR_MOUNT/conf/setting)\"' HUP; echo ready; while :; do sleep 0.05; done"
    with Running([*sources.args, *sources.mount, "--on-change", "signal:HUP", "--", "sh", "-c", script]) as run:
        run.wait_out("ready")

        sources.set("conf", setting="s2")
        run.wait_out("files: ")
        sources.set("app", token="v1", other="o2")  # not seen by the container: no signal
        sources.set("conf", setting="s3")
        run.wait_out("files: ", times=2)

        assert 128 + signal.SIGTERM == run.stop()
    assert ["ready", "files: s2", "files: s3"] == run.lines()


@requires_fuse()
def test_exec_mode_runs_the_command_after_the_swap_with_the_new_env(sources: Sources) -> None:
    reload = 'exec:echo "reloaded T=$T files=$(cat $INJECTOR_MOUNT/conf/setting)"'
    with Running([*sources.args, *sources.mount, "--on-change", reload, "--", "sh", "-c", CHILD]) as run:
        run.wait_out("start T=v1")

        sources.set("app", token="v2", other="o1")
        run.wait_out("reloaded")
        sources.set("conf", setting="s2")
        run.wait_out("reloaded", times=2)

        assert 128 + signal.SIGTERM == run.stop()
    assert ["start T=v1", "reloaded T=v2 files=s1", "reloaded T=v2 files=s2"] == run.lines()


def test_an_invalid_change_is_reported_once_and_restarts_nothing(sources: Sources) -> None:
    with Running([*sources.args, "--", "sh", "-c", CHILD]) as run:
        run.wait_out("start T=v1")

        replace_file(sources.secrets / "app.yaml", "kind: Secret\nmetadata: {name: app\n")
        run.wait_err("update not applied")
        (sources.secrets / "unrelated.log").write_text("a log beside the manifests\n")
        sources.set("app", token="v2", other="o1")
        run.wait_out("start T=v2")

        assert 128 + signal.SIGTERM == run.stop()
    assert ["start T=v1", "start T=v2"] == run.lines()
    assert 1 == run.err.decode().count("update not applied, still serving the last good content")


def test_masked_output_is_redacted_before_and_after_a_restart(sources: Sources) -> None:
    with Running([*sources.args, "--mask", "--", "sh", "-c", CHILD]) as run:
        run.wait_out("start T=<redacted:T>")

        sources.set("app", token="rotated-value", other="o1")
        run.wait_out("start T=<redacted:T>", times=2)

        run.stop()
    assert b"v1" not in run.out and b"rotated-value" not in run.out


def test_a_restart_waits_for_the_grace_then_kills(sources: Sources) -> None:
    script = 'trap "" TERM; echo "start T=$T"; while :; do sleep 0.05; done'
    args = [*sources.args, "--stop-signal", "TERM", "--grace", "0.3", "--splay", "0.2", "--", "sh", "-c", script]
    with Running(args) as run:
        run.wait_out("start T=v1")

        sources.set("app", token="v2", other="o1")

        run.wait_out("start T=v2")
        assert 128 + signal.SIGINT == run.stop(signal.SIGINT)
    assert ["start T=v1", "start T=v2"] == run.lines()


def test_the_command_ending_by_itself_ends_injector_with_its_status(sources: Sources) -> None:
    with Running(
        [*sources.args, "--", "sh", "-c", 'echo "start T=$T"; [ "$T" = v2 ] && exit 3; exec sleep 300']
    ) as run:
        run.wait_out("start T=v1")
        sources.set("app", token="v2", other="o1")

        assert 3 == run.process.wait(timeout=60)


# -- the API as the source ------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = ApiServer(injector_accounts("app"), tls=True, bookmark_interval=0.5).start()
    server.put(secret("app", string_data={"token": "v1"}))
    yield server
    server.stop()


def test_a_rotation_in_the_api_restarts_and_an_unreachable_api_does_not(tmp_path: Path, api: ApiServer) -> None:
    pod_file = write_manifests(tmp_path / "pod.yaml", pod(container(env=[secret_key_ref("T", "app", "token")])))
    config = kubeconfig(tmp_path / "kubeconfig", api, "injector-token")
    args = ["--pod", str(pod_file), "--kube", "--kubeconfig", str(config), "--watch", "--", "sh", "-c", CHILD]
    with Running(args) as run:
        run.wait_out("start T=v1")

        api.put(secret("app", string_data={"token": "v2"}))
        run.wait_out("start T=v2")
        api.restart(down_for=2.0)  # unreachable meanwhile: the command keeps running on what it has
        api.put(secret("app", string_data={"token": "v3"}))
        run.wait_out("start T=v3")

        assert 128 + signal.SIGTERM == run.stop()
    assert ["start T=v1", "start T=v2", "start T=v3"] == run.lines()


# -- the container's own command ------------------------------------------------------------------------


def own_command_pod(tmp_path: Path, **fields: Any) -> list[str]:
    body = container(env=[value("NAME", "web"), secret_key_ref("T", "app", "token")])
    body.update(fields)
    write_manifests(tmp_path / "pod.yaml", pod(body), secret("app", {"token": "s3cret"}))
    return ["--pod", str(tmp_path / "pod.yaml")]


def test_without_a_command_the_containers_own_runs_expanded_as_the_kubelet_does(tmp_path: Path) -> None:
    args = own_command_pod(
        tmp_path, command=["sh", "-c", 'echo "$0 $1 $2 $3"'], args=["$(NAME)", "$(T)", "$(UNSET)", "$$(NAME)"]
    )

    result = injector("run", *args)

    assert (0, b"web s3cret $(UNSET) $(NAME)\n") == (result.returncode, result.stdout)


def test_after_dashes_a_reference_stays_literal(tmp_path: Path) -> None:
    args = own_command_pod(tmp_path, command=["false"])

    result = injector("run", *args, "--", "echo", "$(NAME)")

    assert (0, b"$(NAME)\n") == (result.returncode, result.stdout)


def test_a_container_without_a_command_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    args = own_command_pod(tmp_path, args=["--serve"])

    result = injector("run", *args)

    assert 2 == result.returncode
    assert result.stderr.decode().endswith(
        "Pod/shop/web-0: spec.containers[0]: container 'app' has no command (its image's entrypoint would run, "
        "which injector cannot know): give one after --\n"
    )


def test_the_containers_own_command_is_expanded_again_on_restart(tmp_path: Path) -> None:
    sources = Sources(tmp_path, command=["sh", "-c", 'echo "start T=$0"; exec sleep 300', "$(T)"])

    with Running(sources.args) as run:
        run.wait_out("start T=v1")
        sources.set("app", token="v2", other="o1")
        run.wait_out("start T=v2")
        run.stop()


def test_pid_is_passed_to_the_command_not_injector(sources: Sources) -> None:
    """Signals given to injector reach the command, which it keeps as its child."""
    with Running(
        [*sources.args, "--", "sh", "-c", 'trap "exit 9" USR1; echo "pid $$"; while :; do sleep 0.05; done']
    ) as run:
        run.wait_out("pid ")
        child = int(run.lines()[0].split()[1])
        assert child != run.process.pid and os.path.exists(f"/proc/{child}")

        assert 9 == run.stop(signal.SIGUSR1)


def test_an_age_encrypted_source_is_followed_too(tmp_path: Path) -> None:
    from tests.conftest import age_encrypt, new_age_key

    recipient = new_age_key(tmp_path / "key.txt")
    sources = Sources(tmp_path)
    sealed = age_encrypt(sources.secrets / "app.yaml", recipient)
    args = [*sources.args, "--age-identity", str(tmp_path / "key.txt"), "--", "sh", "-c", CHILD]
    with Running(args) as run:
        run.wait_out("start T=v1")

        plain = tmp_path / "app.yaml"
        plain.write_text(yaml.safe_dump(secret("app", {"token": "v2", "other": "o1"})))
        os.replace(age_encrypt(plain, recipient), sealed)

        run.wait_out("start T=v2")
        run.stop()
