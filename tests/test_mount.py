"""The FUSE mount, for real: a mounted filesystem read by ordinary processes."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, injector, write_manifests
from tests.support.manifests import container, pod, secret, secret_key_ref, tls_items_volume
from tests.support.mounting import Mount, replace_file, requires_fuse, visible, wait_for

pytestmark = [pytest.mark.fuse, requires_fuse()]

EXAMPLE = ["--pod", str(EXAMPLES / "pod.yaml"), "--secrets", str(EXAMPLES / "secrets")]


@pytest.fixture
def mountpoint(tmp_path: Path) -> Path:
    path = tmp_path / "mnt"
    path.mkdir()
    return path


@pytest.fixture
def example_mount(mountpoint: Path) -> Iterator[Mount]:
    with Mount(mountpoint, EXAMPLE) as mount:
        yield mount


def test_default_view_lists_volumes_env_and_docker_config(example_mount: Mount) -> None:
    root = example_mount.path

    assert [".docker", ".env", "secret", "tls"] == sorted(os.listdir(root))
    assert ["host", "password", "username"] == visible(root / "secret")
    assert ["server"] == visible(root / "tls") or visible(root / "tls") == ["log-level", "server"]
    assert ["config.json"] == os.listdir(root / ".docker")


def test_each_volume_has_the_kubelets_layout_with_keys_as_files(example_mount: Mount) -> None:
    """..data -> ..<timestamp>; each key the very file ..data/key leads to (the kubelet's symlink's target, with no
    symlink to follow: what stat and open see is the same); a nested path's first part a symlink through ..data."""
    secret, tls = example_mount.path / "secret", example_mount.path / "tls"
    version = os.readlink(secret / "..data")

    assert version.startswith("..20") and stat.S_ISDIR(os.lstat(secret / version).st_mode)
    assert {"..data", version, "host", "password", "username"} == set(os.listdir(secret))
    key, target = os.lstat(secret / "password"), os.stat(secret / "..data" / "password")
    assert stat.S_ISREG(key.st_mode) and (key.st_ino, key.st_nlink) == (target.st_ino, 1)
    assert ["host", "password", "username"] == sorted(os.listdir(secret / version))
    assert "..data/server" == os.readlink(tls / "server")
    assert stat.S_ISREG(os.lstat(tls / "..data" / "server" / "tls.key").st_mode)


def test_key_symlinks_gives_the_kubelets_symlinks(mountpoint: Path) -> None:
    with Mount(mountpoint, [*EXAMPLE, "--volume", "secret", "--key-symlinks"]):
        assert "..data/password" == os.readlink(mountpoint / "password")
        assert b"shop-app" == (mountpoint / "username").read_bytes()
        assert os.stat(mountpoint / "password").st_ino == os.stat(mountpoint / "..data" / "password").st_ino


def test_file_contents_modes_and_owners(example_mount: Mount) -> None:
    root = example_mount.path
    key = os.stat(root / "tls" / "server" / "tls.key")
    password = os.stat(root / "secret" / "password")

    assert b"correct-horse-battery-staple" == (root / "secret" / "password").read_bytes()
    assert (
        subprocess.run(["cat", str(root / "secret" / "username")], capture_output=True, check=True).stdout
        == b"shop-app"
    )
    assert (0o440, os.getuid(), 2000) == (stat.S_IMODE(key.st_mode), key.st_uid, key.st_gid)  # 0400 | fsGroup's 0440
    assert (0o644, 28) == (stat.S_IMODE(password.st_mode), password.st_size)
    assert stat.S_ISDIR(os.stat(root / "secret").st_mode)
    assert 0o400 == stat.S_IMODE(os.stat(root / ".env").st_mode)


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda p: os.open(p / "secret" / "password", os.O_WRONLY), id="open-write"),
        pytest.param(lambda p: os.open(p / "secret" / "password", os.O_RDWR), id="open-readwrite"),
        pytest.param(lambda p: os.open(p / "new", os.O_CREAT | os.O_WRONLY, 0o600), id="create"),
        pytest.param(lambda p: os.mkdir(p / "d"), id="mkdir"),
        pytest.param(lambda p: os.rmdir(p / "secret"), id="rmdir"),
        pytest.param(lambda p: os.unlink(p / "secret" / "password"), id="unlink"),
        pytest.param(lambda p: os.rename(p / "secret" / "password", p / "secret" / "pw"), id="rename"),
        pytest.param(lambda p: os.chmod(p / "secret" / "password", 0o777), id="setattr-chmod"),
        pytest.param(lambda p: os.truncate(p / "secret" / "password", 0), id="setattr-truncate"),
        pytest.param(lambda p: os.utime(p / "secret" / "password", (0, 0)), id="setattr-utime"),
        pytest.param(lambda p: os.setxattr(p / "secret" / "password", "user.x", b"1"), id="setxattr"),
        pytest.param(lambda p: os.symlink("/etc/passwd", p / "link"), id="symlink"),
        pytest.param(lambda p: os.link(p / "secret" / "password", p / "hard"), id="link"),
        pytest.param(lambda p: os.mknod(p / "node", 0o600 | stat.S_IFIFO), id="mknod"),
    ],
)
def test_every_write_type_operation_is_erofs(example_mount: Mount, operation: object) -> None:
    with pytest.raises(OSError) as info:
        operation(example_mount.path)  # type: ignore[operator]

    assert errno.EROFS == info.value.errno


def test_missing_path_is_enoent(example_mount: Mount) -> None:
    with pytest.raises(FileNotFoundError):
        (example_mount.path / "secret" / "nope").read_bytes()


def test_env_file_is_read_back_by_python_dotenv(example_mount: Mount) -> None:
    from dotenv import dotenv_values

    rendered = injector("render", "env", "-f", "json", *EXAMPLE)

    assert json.loads(rendered.stdout) == dotenv_values(example_mount.path / ".env")


def test_volume_view_is_the_kubelet_layout_at_root(mountpoint: Path) -> None:
    """The /etc/secret case: `--volume secret` then `cat MOUNT/username`."""
    with Mount(mountpoint, [*EXAMPLE, "--volume", "secret"]):
        assert ["host", "password", "username"] == visible(mountpoint)
        assert os.path.samefile(mountpoint / "username", mountpoint / "..data" / "username")
        assert b"shop-app" == (mountpoint / "username").read_bytes()


def test_unknown_volume_is_a_clear_error(mountpoint: Path) -> None:
    result = injector("mount", *EXAMPLE, "--volume", "nope", str(mountpoint))

    assert 2 == result.returncode
    assert b"mounts no secret, configMap or projected volume named 'nope' (it mounts: secret, tls)" in result.stderr
    assert not os.path.ismount(mountpoint)


def test_sigterm_unmounts_and_exits_zero(mountpoint: Path) -> None:
    mount = Mount(mountpoint, EXAMPLE)

    code, _ = mount.stop(signal.SIGTERM)

    assert 0 == code
    assert not os.path.ismount(mountpoint)
    assert [] == os.listdir(mountpoint)


def test_sigint_unmounts_too(mountpoint: Path) -> None:
    mount = Mount(mountpoint, EXAMPLE)

    assert 0 == mount.stop(signal.SIGINT)[0]
    assert not os.path.ismount(mountpoint)


def test_stale_mount_of_crashed_instance_is_recovered(mountpoint: Path) -> None:
    crashed = Mount(mountpoint, EXAMPLE)
    crashed.process.kill()
    crashed.process.wait()
    with pytest.raises(OSError) as info:
        os.listdir(mountpoint)
    assert errno.ENOTCONN == info.value.errno

    with Mount(mountpoint, EXAMPLE) as again:
        assert b"shop-app" == (mountpoint / "secret" / "username").read_bytes()
    assert "recovered a stale mount left by a crashed instance" in again.stop()[1]


@pytest.mark.parametrize(
    ("setup", "message"), [("missing", "mountpoint does not exist"), ("nonempty", "mountpoint is not empty")]
)
def test_bad_mountpoint_is_a_clear_error(tmp_path: Path, setup: str, message: str) -> None:
    target = tmp_path / "m"
    if setup == "nonempty":
        target.mkdir()
        (target / "file").write_text("x")

    result = injector("mount", *EXAMPLE, str(target))

    assert 2 == result.returncode
    assert f"injector: {target}: {message}\n".encode() == result.stderr


def test_run_with_mount_end_to_end(mountpoint: Path) -> None:
    script = 'cat "$INJECTOR_MOUNT/secret/username"; echo; echo "$DOCKER_CONFIG"; exit 9'

    result = injector("run", "--mount", str(mountpoint), *EXAMPLE, "--", "sh", "-c", script)

    assert 9 == result.returncode
    assert f"shop-app\n{mountpoint}/.docker\n".encode() == result.stdout
    assert not os.path.ismount(mountpoint)


def test_audit_logs_each_open_without_content(mountpoint: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with Mount(mountpoint, [*EXAMPLE, "--audit", str(audit)]):
        subprocess.run(["cat", str(mountpoint / "secret" / "password")], capture_output=True, check=True)
        (mountpoint / "secret" / "username").read_bytes()

    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [("/secret/password", "cat"), ("/secret/username", "python")] == [
        (line["path"], line["comm"][:6]) for line in lines
    ]
    assert {os.getuid()} == {line["uid"] for line in lines}
    assert all(line["pid"] > 0 and line["time"].endswith("Z") for line in lines)
    assert "correct-horse" not in audit.read_text()


# -- live updates (--watch) ---------------------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path, mountpoint: Path) -> Iterator[tuple[Mount, Path]]:
    write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(
                env=[secret_key_ref("T", "app", "token")], mounts=[{"name": "creds", "mountPath": "/etc/secret"}]
            ),
            volumes=[{"name": "creds", "secret": {"secretName": "app"}}],
        ),
    )
    secrets = tmp_path / "secrets"
    write_manifests(secrets / "app.yaml", secret("app", {"token": "v1", "stable": "same"}))
    with Mount(
        mountpoint, ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(secrets), "--watch", "--volume", "creds"]
    ) as mount:
        yield mount, secrets / "app.yaml"


def set_secret(path: Path, data: dict[str, str]) -> None:
    replace_file(path, yaml.safe_dump(secret("app", data)))


def test_update_is_served_and_removed_keys_vanish(live: tuple[Mount, Path]) -> None:
    mount, manifest = live
    token = mount.path / "token"

    set_secret(manifest, {"token": "v2"})

    wait_for(lambda: token.read_bytes() == b"v2", what="the new content")
    assert ["token"] == visible(mount.path)


def test_fd_open_across_update_reads_old_content_to_the_end(live: tuple[Mount, Path]) -> None:
    mount, manifest = live
    token = mount.path / "token"
    with open(token, "rb") as held:
        set_secret(manifest, {"token": "v2", "stable": "same"})
        wait_for(lambda: token.read_bytes() == b"v2", what="the new content")

        assert b"v1" == held.read()
        assert b"v1" == os.pread(held.fileno(), 100, 0)


def test_mtime_changes_only_for_changed_files(live: tuple[Mount, Path]) -> None:
    mount, manifest = live
    before = {name: os.stat(mount.path / name).st_mtime_ns for name in ("token", "stable")}
    time.sleep(0.01)

    set_secret(manifest, {"token": "v2", "stable": "same"})
    wait_for(lambda: (mount.path / "token").read_bytes() == b"v2", what="the new content")

    assert before["stable"] == os.stat(mount.path / "stable").st_mtime_ns
    assert before["token"] < os.stat(mount.path / "token").st_mtime_ns


def test_invalid_update_keeps_last_good_tree(live: tuple[Mount, Path]) -> None:
    mount, manifest = live
    replace_file(manifest, "kind: Secret\nmetadata: {name: app\n")  # broken YAML
    time.sleep(0.5)
    set_secret(manifest, {"stable": "same"})  # valid, but the pod's required key is gone
    time.sleep(0.5)

    assert b"v1" == (mount.path / "token").read_bytes()
    code, err = mount.stop()
    assert 0 == code
    # (a slow machine may also reload between the editor's write and rename: more lines, same content)
    assert err.count("update not applied, still serving the last good content") >= 2
    assert "invalid YAML" in err and "couldn't find key token in Secret shop/app" in err
    assert "updated" not in err


def test_invalid_input_is_reported_once_and_nothing_spins(live: tuple[Mount, Path]) -> None:
    """A broken manifest is reported once; a file that keeps changing beside it (a log) wakes nobody."""
    mount, manifest = live
    replace_file(manifest, "kind: Secret\nmetadata: {name: app\n")  # broken YAML
    log = manifest.parent / "reload.log"
    process_cpu = Path(f"/proc/{mount.process.pid}/stat")
    before = sum(int(field) for field in process_cpu.read_text().split()[13:15])
    for index in range(100):
        log.write_text(f"line {index}\n")
        time.sleep(0.01)
    time.sleep(0.5)
    after = sum(int(field) for field in process_cpu.read_text().split()[13:15])

    assert b"v1" == (mount.path / "token").read_bytes()
    _, err = mount.stop()
    assert 1 == err.count("update not applied"), err
    assert after - before < 50, "the mount used CPU for changes it does not read"  # clock ticks (1/100 s)


READER = """
import sys
path, count, valid = sys.argv[1], int(sys.argv[2]), set(sys.argv[3:])
for _ in range(count):
    with open(path, "rb") as handle:
        data = handle.read()
    version = data[:8].decode()
    if data != version.encode() * (len(data) // 8) or version not in valid:
        print("torn", len(data)); sys.exit(1)
"""


@pytest.mark.slow
def test_concurrent_readers_never_see_torn_content(live: tuple[Mount, Path]) -> None:
    """8 processes x 1,000 opens during updates: every read is one whole version (files span many reads)."""
    mount, manifest = live
    versions = [f"ver{n:04d}:" for n in range(12)]
    size = 300_000 // 8  # 300 kB: several FUSE read requests per file
    set_secret(manifest, {"token": versions[0] * size})
    wait_for(lambda: (mount.path / "token").read_bytes()[:8] == versions[0].encode(), what="the first version")
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(mount.path / "token"), "1000", *versions]) for _ in range(8)
    ]
    for version in versions[1:]:
        set_secret(manifest, {"token": version * size})
        time.sleep(0.05)

    assert [0] * 8 == [reader.wait(timeout=300) for reader in readers]


def test_docker_env_format_in_mount_is_read_by_docker_cli(mountpoint: Path) -> None:
    from tests.support.fake_docker import docker_cli, env_as_docker_reads_it

    if docker_cli() is None:
        pytest.skip("the docker CLI is not installed")
    with Mount(mountpoint, [*EXAMPLE, "--env-format", "docker"]):
        env, stderr = env_as_docker_reads_it(str(mountpoint / ".env"))
    expected = json.loads(injector("render", "env", "-f", "json", *EXAMPLE).stdout)

    assert [f"{k}={v}" for k, v in expected.items()] == env, stderr


@pytest.fixture
def public_mountpoint() -> Iterator[Path]:
    """A mountpoint other users can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="injector-mnt-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    path.rmdir()


def test_allow_other_lets_kernel_check_modes(public_mountpoint: Path) -> None:
    """With --allow-other another uid may read 0644 files but not 0440 ones it has no group for."""
    mountpoint = public_mountpoint
    with Mount(mountpoint, [*EXAMPLE, "--allow-other"]):
        readable = as_nobody("cat", str(mountpoint / "secret" / "host"))
        private = as_nobody("cat", str(mountpoint / "tls" / "server" / "tls.key"))

    assert (0, b"db.shop.svc") == (readable.returncode, readable.stdout)
    assert b"Permission denied" in private.stderr


def as_nobody(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv], capture_output=True, check=False
    )


def test_allowed_uid_denies_others_and_audits_denial(public_mountpoint: Path, tmp_path: Path) -> None:
    """--allow-other with --allowed-uid: uid 65534 is refused (EACCES) and the denial is audited."""
    mountpoint = public_mountpoint
    audit = tmp_path / "audit.jsonl"
    with Mount(mountpoint, [*EXAMPLE, "--allow-other", "--allowed-uid", "1000", "--audit", str(audit)]):
        denied = as_nobody("cat", str(mountpoint / "secret" / "host"))
        as_root = (mountpoint / "secret" / "host").read_bytes()

    assert b"Permission denied" in denied.stderr
    assert b"db.shop.svc" == as_root
    denials = [json.loads(line) for line in audit.read_text().splitlines() if '"denied"' in line]
    assert [("/secret/host", 65534)] == [(line["path"], line["uid"]) for line in denials]


def test_without_allow_other_other_users_cannot_enter(public_mountpoint: Path) -> None:
    with Mount(public_mountpoint, EXAMPLE):
        result = as_nobody("ls", str(public_mountpoint))

    assert 0 != result.returncode
    assert b"Permission denied" in result.stderr


def test_mount_process_is_hardened(example_mount: Mount) -> None:
    """No core dumps, memory locked (root may), no secret in its argv or environment."""
    pid = example_mount.process.pid
    limits = Path(f"/proc/{pid}/limits").read_text()
    status = Path(f"/proc/{pid}/status").read_text()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    locked_kb = int(next(line for line in status.splitlines() if line.startswith("VmLck:")).split()[1])

    assert ["0", "0"] == core.split()[4:6]
    assert locked_kb > 0
    for exposed in (Path(f"/proc/{pid}/cmdline").read_bytes(), Path(f"/proc/{pid}/environ").read_bytes()):
        assert b"correct-horse-battery-staple" not in exposed and b"shop-app" not in exposed


def test_run_with_mount_and_a_missing_command_is_127_and_leaves_no_mount(mountpoint: Path) -> None:
    result = injector("run", *EXAMPLE, "--mount", str(mountpoint), "--", "no-such-command-xyz")

    assert (127, b"injector: no-such-command-xyz: command not found\n") == (result.returncode, result.stderr)
    assert not os.path.ismount(mountpoint)


def test_volumes_are_served_when_the_env_cannot_be_written_as_dotenv(mountpoint: Path, tmp_path: Path) -> None:
    """A value python-dotenv would interpolate leaves .env out, with one warning; the files are still served."""
    write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(env=[secret_key_ref("T", "app", "token")], mounts=[{"name": "creds", "mountPath": "/s"}]),
            volumes=[{"name": "creds", "secret": {"secretName": "app"}}],
        ),
    )
    write_manifests(tmp_path / "secrets" / "app.yaml", secret("app", {"token": "a${HOME}b"}))

    with Mount(mountpoint, ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(tmp_path / "secrets")]) as mount:
        assert (["creds"], b"a${HOME}b") == (os.listdir(mountpoint), (mountpoint / "creds" / "token").read_bytes())
        assert ["token"] == visible(mountpoint / "creds")
    _, err = mount.stop()

    assert (
        "injector: warning: env T: cannot be written as dotenv: value contains '${...}', which python-dotenv would "
        "interpolate; .env is left out of the mount\n"
    ) in err


def subpath_pod(tmp_path: Path) -> list[str]:
    body = pod(
        container(
            mounts=[
                {"name": "tls", "mountPath": "/etc/keys", "subPath": "keys"},
                {"name": "tls", "mountPath": "/etc/app/cert.pem", "subPath": "tls.crt"},
            ]
        ),
        volumes=[tls_items_volume()],
    )
    write_manifests(tmp_path / "pod.yaml", body, secret("tls", {"tls.crt": "CERT", "tls.key": "KEY"}))
    return ["--pod", str(tmp_path / "pod.yaml")]


def test_mount_path_serves_what_the_container_sees_there(mountpoint: Path, tmp_path: Path) -> None:
    """A subPath naming a directory: the mount's root is that directory, as in the container."""
    with Mount(mountpoint, [*subpath_pod(tmp_path), "--mount-path", "/etc/keys"]):
        assert (["tls.key"], b"KEY") == (os.listdir(mountpoint), (mountpoint / "tls.key").read_bytes())


def test_mount_path_of_a_file_subpath_is_a_clear_error(mountpoint: Path, tmp_path: Path) -> None:
    result = injector("mount", *subpath_pod(tmp_path), "--mount-path", "/etc/app/cert.pem", str(mountpoint))

    assert 2 == result.returncode
    assert result.stderr.decode().endswith(
        "spec.containers[0].volumeMounts[1]: container 'app' mounts the file 'tls.crt' of volume 'tls' at "
        "/etc/app/cert.pem (subPath); a mount's root is a directory: serve the volume with --volume tls\n"
    )
    assert not os.path.ismount(mountpoint)


@pytest.mark.parametrize("fs_group", [None, 2000])
def test_directories_have_the_modes_the_kubelet_gives_them(
    tmp_path: Path, mountpoint: Path, fs_group: int | None
) -> None:
    """A volume's own directory is the emptyDir the kubelet wraps it in (a tmpfs root, 1777, for secret and
    projected volumes; a directory made 0777 on disk for a configMap's); each version directory is chmodded 0755
    by the atomic writer, as are the directories inside it; an fsGroup adds its group, setgid and g+rx."""
    manifests = write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(
                mounts=[
                    {"name": "creds", "mountPath": "/etc/creds"},
                    {"name": "settings", "mountPath": "/etc/settings"},
                ]
            ),
            volumes=[
                {
                    "name": "creds",
                    "secret": {"secretName": "db", "items": [{"key": "password", "path": "db/password"}]},
                },
                {"name": "settings", "configMap": {"name": "settings"}},
            ],
            fs_group=fs_group,
        ),
        secret("db", {"password": "pw"}),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"a": "1"},
        },
    )
    group = 0o2550 if fs_group is not None else 0
    with Mount(mountpoint, ["--pod", str(manifests), "--secrets", str(manifests)]):
        creds, settings = mountpoint / "creds", mountpoint / "settings"
        version = creds / os.readlink(creds / "..data")
        modes = {
            "secret volume": stat.S_IMODE(os.stat(creds).st_mode),
            "configMap volume": stat.S_IMODE(os.stat(settings).st_mode),
            "version": stat.S_IMODE(os.stat(version).st_mode),
            "inside a version": stat.S_IMODE(os.stat(version / "db").st_mode),
        }
        groups = {os.stat(path).st_gid for path in (creds, settings, version, version / "db")}
    assert {
        "secret volume": 0o1777 | group,
        "configMap volume": 0o777 | group,
        "version": 0o755 | group,
        "inside a version": 0o755 | group,
    } == modes
    assert {fs_group if fs_group is not None else os.getgid()} == groups
