"""No secret value reaches disk, stderr, logs, audit lines or error messages: proven with strace.

Every source is seeded with random canary values; every command runs under ``strace -f``, which
records each write-type system call of injector and its children with the file it went to. No
canary byte string may be written to a regular file, and no file opened for writing may hold one
afterwards. Pipes, terminals, /dev/fuse and memfds are not disk.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import age_encrypt, new_age_key, write_manifests
from tests.support.manifests import config_map, container, env_from, pod, secret, secret_key_ref, value
from tests.support.mounting import replace_file, requires_fuse, wait_for

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace (Debian package strace) is needed")

TRACED_CALLS = "write,pwrite64,writev,pwritev,pwritev2,openat,open,creat,sendfile,copy_file_range,splice"
_CALL = re.compile(r"^\d+ +(\w+)\((\d+)?<([^>]*)>")
_QUOTED = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
_OPEN_PATH = re.compile(r'^\d+ +(?:openat|open|creat)\((?:\S+, )?"((?:\\x[0-9a-f]{2})*)", ([A-Z_|]+)')
NOT_DISK = ("pipe:", "socket:", "anon_inode:", "/dev/", "/memfd:", "/proc/")


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace("\\x", ""))


class Trace(NamedTuple):
    writes: list[tuple[str, bytes]]
    """(target path, bytes written) for every write-type call."""
    opened_for_writing: set[str]


def parse_trace(path: Path) -> Trace:
    writes: list[tuple[str, bytes]] = []
    opened: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        opening = _OPEN_PATH.match(line)
        if opening and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND", opening.group(2)):
            opened.add(unhex(opening.group(1)).decode(errors="replace"))
            continue
        call = _CALL.match(line)
        if call and call.group(1) not in ("openat", "open", "creat"):
            target = unhex(call.group(3)).decode(errors="replace") if "\\x" in call.group(3) else call.group(3)
            data = b"".join(unhex(chunk) for chunk in _QUOTED.findall(line[call.end() :]))
            writes.append((target, data))
    return Trace(writes, opened)


class Canaries(NamedTuple):
    values: dict[str, str]
    directory: Path
    args: list[str]

    def assert_absent(self, data: bytes | str, where: str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        for name, canary in self.values.items():
            assert canary.encode() not in raw, f"canary {name} found in {where}"

    def assert_trace_clean(self, trace: Trace) -> None:
        for target, data in trace.writes:
            if target.startswith(NOT_DISK):
                continue
            self.assert_absent(data, f"a write to {target}")
        for path in trace.opened_for_writing:
            if path.startswith(NOT_DISK) or not os.path.isfile(path):
                continue
            self.assert_absent(Path(path).read_bytes(), f"file {path} written by the process")


@pytest.fixture
def canaries(tmp_path: Path) -> Canaries:
    """Every kind of source seeded with its own random canary."""
    values = {
        name: f"CANARY{name.upper()}{os.urandom(10).hex()}"
        for name in ("data", "stringdata", "configmap", "registry", "encrypted", "volume")
    }
    auth = base64.b64encode(f"robot:{values['registry']}".encode()).decode()
    write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(
                env=[secret_key_ref("A", "plain", "token"), value("URL", "x://$(A)@h")],
                env_from=[env_from("strings"), env_from("cm", kind="configMapRef"), env_from("sealed")],
                mounts=[{"name": "vol", "mountPath": "/etc/secret"}],
            ),
            volumes=[
                {
                    "name": "vol",
                    "projected": {"sources": [{"secret": {"name": "files"}}, {"secret": {"name": "plain"}}]},
                }
            ],
            pull_secrets=["pull"],
        ),
    )
    secrets = tmp_path / "secrets"
    write_manifests(secrets / "plain.yaml", secret("plain", {"token": values["data"]}))
    write_manifests(secrets / "strings.yaml", secret("strings", string_data={"S": values["stringdata"]}))
    write_manifests(secrets / "cm.yaml", config_map("cm", {"C": values["configmap"]}))
    write_manifests(secrets / "files.yaml", secret("files", {"f.txt": values["volume"]}))
    write_manifests(
        secrets / "pull.yaml",
        secret(
            "pull",
            # a glob that matches the container's image (example/app), so every docker config serves it
            {".dockerconfigjson": json.dumps({"auths": {"*.io": {"auth": auth}}})},
            type="kubernetes.io/dockerconfigjson",
        ),
    )
    args = ["--pod", str(tmp_path / "pod.yaml"), "--secrets", str(secrets)]
    if shutil.which("age"):
        key = tmp_path / "key.txt"
        sealed = secrets / "sealed.yaml"
        write_manifests(sealed, secret("sealed", {"E": values["encrypted"]}))
        age_encrypt(sealed, new_age_key(key))
        args += ["--age-identity", str(key)]
    else:
        write_manifests(secrets / "sealed.yaml", secret("sealed", {"E": values["encrypted"]}))
    return Canaries(values, tmp_path, args)


def under_strace(trace_file: Path, *injector_args: str) -> list[str]:
    """The command line running ``injector ARGS`` under strace, recording write-type calls."""
    return [
        "strace",
        "-f",
        "-qq",
        "-y",
        "-xx",
        "-s",
        "4194304",
        "-e",
        f"trace={TRACED_CALLS}",
        "-e",
        "signal=none",
        "-o",
        str(trace_file),
        sys.executable,
        "-m",
        "injector",
        *injector_args,
    ]


def signal_tracee(tracer: subprocess.Popen[bytes], signum: int) -> None:
    """Signal injector itself, the only child of strace (strace would detach on its own signal)."""
    child = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read_text().split()[0]
    os.kill(int(child), signum)


@contextlib.contextmanager
def serving_under_strace(process: subprocess.Popen[bytes], mountpoint: Path, trace_file: Path) -> Iterator[None]:
    """Whatever happens in the block: the traced process gone, its mount removed, the trace deleted."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], check=False, capture_output=True)
        trace_file.unlink(missing_ok=True)


def traced(tmp_path: Path, *args: str, **kwargs: object) -> tuple[subprocess.CompletedProcess[bytes], Trace]:
    trace_file = Path("/dev/shm") / f"injector-trace-{os.getpid()}-{time.monotonic_ns()}"  # tmpfs, not disk
    try:
        result: subprocess.CompletedProcess[bytes] = subprocess.run(  # type: ignore[call-overload]
            under_strace(trace_file, *args),
            capture_output=True,
            timeout=120,
            check=False,
            **kwargs,
        )
        return result, parse_trace(trace_file)
    finally:
        trace_file.unlink(missing_ok=True)


def test_tracer_sees_a_write_to_a_regular_file(tmp_path: Path, canaries: Canaries) -> None:
    """The method works: a canary written to a regular file is caught."""
    target = tmp_path / "leak.txt"
    _, trace = traced(tmp_path, "run", *canaries.args, "--", "sh", "-c", f'printf %s "$A" > {target}')

    with pytest.raises(AssertionError, match="canary data found"):
        canaries.assert_trace_clean(trace)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["run", "--", "sh", "-c", 'echo "$A $S $C $E $URL" > /dev/null; echo "$A"'], id="run"),
        pytest.param(["run", "--mask", "--", "sh", "-c", 'echo "$A $S $C $E"; echo "$URL" >&2'], id="run-mask"),
        pytest.param(["render", "env"], id="render-env-dotenv"),
        pytest.param(["render", "env", "--format", "shell"], id="render-env-shell"),
        pytest.param(["render", "env", "--format", "json"], id="render-env-json"),
        pytest.param(["render", "dockerconfig"], id="render-dockerconfig"),
        pytest.param(["render", "dockerconfig", "--image", "example/app"], id="render-dockerconfig-image"),
        pytest.param(["render", "credentials", "--image", "example/app"], id="render-credentials"),
        pytest.param(["render", "files", "--show-values"], id="render-files"),
        pytest.param(["check"], id="check"),
    ],
)
def test_commands_write_no_canary_to_disk(tmp_path: Path, canaries: Canaries, command: list[str]) -> None:
    verb, rest = command[0], command[1:]
    split = rest.index("--") if "--" in rest else len(rest)
    result, trace = traced(tmp_path, verb, *rest[:split], *canaries.args, *rest[split:])

    assert 0 == result.returncode, result.stderr
    canaries.assert_trace_clean(trace)
    canaries.assert_absent(result.stderr, "stderr")
    if verb == "check":
        canaries.assert_absent(result.stdout, "stdout")
    if command[:2] == ["run", "--mask"]:  # ConfigMap values are not secrets: --mask leaves them
        secrets_only = canaries._replace(values={k: v for k, v in canaries.values.items() if k != "configmap"})
        secrets_only.assert_absent(result.stdout + result.stderr, "masked output")


def test_render_to_an_inherited_pipe_writes_no_canary_to_disk(tmp_path: Path, canaries: Canaries) -> None:
    read_end, write_end = os.pipe()
    result, trace = traced(
        tmp_path, "render", "env", *canaries.args, "--output", f"/dev/fd/{write_end}", pass_fds=[write_end]
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        rendered = reader.read()

    assert 0 == result.returncode
    assert canaries.values["data"].encode() in rendered
    canaries.assert_trace_clean(trace)


def broken(canaries: Canaries, name: str, text: str) -> None:
    (canaries.directory / "secrets" / name).write_text(text)


ERROR_PATHS: dict[str, Callable[[Canaries], object]] = {
    "bad-base64": lambda c: broken(
        c,
        "plain.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: plain}}\ndata: {{token: {c.values['data']}!!}}\n",
    ),
    "yaml-error-at-value": lambda c: broken(
        c,
        "plain.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: plain}}\nstringData:\n  token: {c.values['data']}: x: [\n",
    ),
    "tab-in-value": lambda c: broken(c, "plain.yaml", f"kind: Secret\nstringData:\n\ttoken: {c.values['data']}\n"),
    "non-string-value": lambda c: broken(
        c,
        "plain.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: plain}}\nstringData: {{token: [{c.values['data']}]}}\n",
    ),
    "json-error": lambda c: broken(c, "plain.json", f'{{"kind": "Secret", "stringData": {{"t": "{c.values["data"]}"'),
    "missing-key": lambda c: broken(
        c,
        "plain.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: plain}}\nstringData: {{other: {c.values['data']}}}\n",
    ),
    "oversized": lambda c: broken(
        c,
        "plain.yaml",
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: plain}}\nstringData: {{token: {c.values['data'] * 40000}}}\n",
    ),
    "bad-docker-auth": lambda c: broken(
        c,
        "pull.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pull}\n"
        "type: kubernetes.io/dockerconfigjson\nstringData:\n"
        # "!" keeps it invalid base64: a bare canary could decode to user:password by chance
        '  .dockerconfigjson: \'{"auths": {"r": {"auth": "' + c.values["registry"] + "!\"}}}'\n",
    ),
    "invalid-utf8": lambda c: (c.directory / "secrets" / "plain.yaml").write_bytes(
        b"kind: Secret\nstringData: {token: " + c.values["data"].encode() + b"\xff}\n"
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_PATHS))
@pytest.mark.parametrize("verb", ["render", "check", "run"])
def test_error_paths_never_show_a_value(tmp_path: Path, canaries: Canaries, case: str, verb: str) -> None:
    """Each failing path: a non-zero exit, no traceback, no canary in stdout, stderr or any file.

    A broken pull secret fails the commands that serve credentials (render dockerconfig); `run`
    serves the env only, so there it is a warning, which must not show a value either.
    """
    ERROR_PATHS[case](canaries)
    pull_secret = case == "bad-docker-auth"
    args = {
        "render": ["render", "dockerconfig" if pull_secret else "env", *canaries.args],
        "check": ["check", *canaries.args],
        "run": ["run", *canaries.args, "--", "true"],
    }[verb]
    result, trace = traced(tmp_path, *args)

    assert (0 == result.returncode) if pull_secret and verb == "run" else (0 != result.returncode)
    assert b"Traceback" not in result.stderr
    canaries.assert_absent(result.stderr + result.stdout, f"{verb} output")
    canaries.assert_trace_clean(trace)


@requires_fuse()
def test_mount_with_reads_updates_and_a_crash_writes_no_canary(tmp_path: Path, canaries: Canaries) -> None:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    audit = tmp_path / "audit.jsonl"
    trace_file = Path("/dev/shm") / f"injector-trace-mount-{os.getpid()}"
    process = subprocess.Popen(
        under_strace(
            trace_file,
            "mount",
            "--watch",
            "--audit",
            str(audit),
            *canaries.args,
            str(mountpoint),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with serving_under_strace(process, mountpoint, trace_file):
        wait_for((mountpoint / ".env").exists, what="the mount")
        assert canaries.values["volume"].encode() == (mountpoint / "vol" / "f.txt").read_bytes()
        env_file = (mountpoint / ".env").read_bytes()
        assert canaries.values["encrypted"].encode() in env_file
        assert canaries.values["registry"].encode() in (mountpoint / ".docker" / "config.json").read_bytes()
        fresh = "CANARYUPDATED" + os.urandom(8).hex()
        canaries.values["updated"] = fresh
        replace_file(canaries.directory / "secrets" / "files.yaml", json.dumps(secret("files", {"f.txt": fresh})))
        wait_for(lambda: (mountpoint / "vol" / "f.txt").read_bytes() == fresh.encode(), what="the update")
        signal_tracee(process, signal.SIGKILL)  # a forced crash of the mount process itself
        process.wait(timeout=30)
        trace = parse_trace(trace_file)
    _, stderr = process.communicate()

    canaries.assert_trace_clean(trace)
    canaries.assert_absent(stderr, "mount stderr")
    canaries.assert_absent(audit.read_bytes(), "the audit log")
    assert audit.read_bytes().count(b'"event": "open"') >= 3
    for path in tmp_path.rglob("*"):
        if path.is_file() and "secrets" not in path.parts and path.suffix not in (".yaml", ".age", ".txt"):
            canaries.assert_absent(path.read_bytes(), str(path))


@requires_fuse()
def test_agent_with_the_kubernetes_source_writes_no_canary(tmp_path: Path) -> None:
    """The API source too: values fetched and rotated through watches reach no file, log or metric."""
    import urllib.request

    from tests.support.kube_apiserver import ADMIN, Account, ApiServer, free_port

    first, rotated = (f"CANARYAPI{os.urandom(10).hex()}" for _ in range(2))
    canaries = Canaries({"api": first, "rotated": rotated}, tmp_path, [])
    api = ApiServer({"t": Account("agent", ADMIN)}, tls=True, bookmark_interval=0.2).start()
    api.put({"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": first}})
    (tmp_path / "kubeconfig").write_text(json.dumps(api.kubeconfig("t")))
    write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(env=[secret_key_ref("P", "db", "password")], mounts=[{"name": "v", "mountPath": "/v"}]),
            volumes=[{"name": "v", "secret": {"secretName": "db"}}],
        ),
    )
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    port = free_port()
    trace_file = Path("/dev/shm") / f"injector-trace-agent-{os.getpid()}"
    process = subprocess.Popen(
        under_strace(
            trace_file,
            "agent",
            "--pod",
            str(tmp_path / "pod.yaml"),
            "--mount",
            str(mountpoint),
            "--kubeconfig",
            str(tmp_path / "kubeconfig"),
            "--listen",
            f"127.0.0.1:{port}",
            "--audit",
            str(tmp_path / "audit.jsonl"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with serving_under_strace(process, mountpoint, trace_file):
        password = mountpoint / "v" / "password"
        wait_for(password.exists, timeout=30, what="the agent's mount")
        assert first.encode() == password.read_bytes()
        assert first.encode() in (mountpoint / ".env").read_bytes()
        api.put(
            {"kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "stringData": {"password": rotated}}
        )
        wait_for(lambda: password.read_bytes() == rotated.encode(), timeout=30, what="the rotation")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            metrics = response.read()
        signal_tracee(process, signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        trace = parse_trace(trace_file)
        api.stop()

    canaries.assert_trace_clean(trace)
    canaries.assert_absent(stderr, "the agent's logs")
    canaries.assert_absent(metrics, "/metrics")
    canaries.assert_absent((tmp_path / "audit.jsonl").read_bytes(), "the audit log")


# -- injector secret: values typed, piped or read from files are written as ciphertext or to the API only --


@pytest.mark.skipif(shutil.which("age") is None or shutil.which("vim") is None, reason="needs age and vim")
def test_secret_create_and_edit_in_vim_write_no_value_to_disk(tmp_path: Path) -> None:
    """create from a file, an env-file and stdin; then edit in the real vim (its own writes traced too,
    with $HOME where it would keep swap, undo and viminfo files) and key by key: no value, old or new,
    reaches a regular file; the age file holds ciphertext only."""
    values = {name: f"CANARY{name.upper()}{os.urandom(10).hex()}" for name in ("file", "env", "stdin", "new", "set")}
    canaries = Canaries(values, tmp_path, [])
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "value").write_text(values["file"])
    (tmp_path / "app.env").write_text(f"ENV={values['env']}\n")
    identity = tmp_path / "key.txt"
    recipient = new_age_key(identity)
    sealed = tmp_path / "s.yaml.age"
    env = {**os.environ, "HOME": str(home)}

    created, create_trace = traced(
        tmp_path,
        "secret",
        "create",
        "generic",
        "s",
        "--from-file",
        f"f={tmp_path / 'value'}",
        "--from-env-file",
        str(tmp_path / "app.env"),
        "--from-stdin",
        "in",
        "-o",
        str(sealed),
        "-r",
        recipient,
        input=values["stdin"].encode(),
        env=env,
        start_new_session=True,
    )
    edited, edit_trace = traced(
        tmp_path,
        "secret",
        "edit",
        str(sealed),
        "--age-identity",
        str(identity),
        env={**env, "EDITOR": f"vim -c '%s/{values['stdin']}/{values['new']}/' -c wq"},
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    set_key, set_trace = traced(
        tmp_path,
        "secret",
        "edit",
        str(sealed),
        "--age-identity",
        str(identity),
        "--set",
        "more",
        input=values["set"].encode(),
        env=env,
        start_new_session=True,
    )

    assert (0, 0, 0) == (created.returncode, edited.returncode, set_key.returncode), created.stderr + edited.stderr
    for trace in (create_trace, edit_trace, set_trace):
        canaries.assert_trace_clean(trace)
    assert any(target.startswith("/memfd:") for target, _ in edit_trace.writes)  # vim wrote into the memfd
    plain = subprocess.run(["age", "-d", "-i", str(identity), str(sealed)], check=True, capture_output=True).stdout
    for name in ("file", "env", "new", "set"):
        assert base64.b64encode(values[name].encode()) in plain
    canaries.assert_absent(sealed.read_bytes(), "the age file")
    for result in (created, edited, set_key):
        canaries.assert_absent(result.stderr + result.stdout, "output")
    for path in home.rglob("*"):
        if path.is_file():
            canaries.assert_absent(path.read_bytes(), str(path))


def test_secret_create_and_edit_in_clusters_write_no_value_to_disk(tmp_path: Path) -> None:
    """Through the API (a stand-in over TLS): the values go to the socket only, kubeconfig's CA to a memfd."""
    from tests.support.kube_apiserver import ADMIN, Account, ApiServer

    values = {name: f"CANARY{name.upper()}{os.urandom(10).hex()}" for name in ("first", "second")}
    canaries = Canaries(values, tmp_path, [])
    api = ApiServer({"admin-token": Account("admin", ADMIN)}, tls=True).start()
    try:
        (tmp_path / "kubeconfig").write_text(json.dumps(api.kubeconfig("admin-token")))
        kube = ["--kube", "--kubeconfig", str(tmp_path / "kubeconfig")]
        created, create_trace = traced(
            tmp_path,
            "secret",
            "create",
            "generic",
            "db",
            "--from-stdin",
            "password",
            *kube,
            input=values["first"].encode(),
            start_new_session=True,
        )
        edited, edit_trace = traced(
            tmp_path,
            "secret",
            "edit",
            "db",
            "--set",
            "password",
            *kube,
            input=values["second"].encode(),
            start_new_session=True,
        )
        stored = api.store.objects[("secrets", "shop", "db")]["data"]["password"]
    finally:
        api.stop()

    assert (0, 0) == (created.returncode, edited.returncode), created.stderr + edited.stderr
    assert values["second"].encode() == base64.b64decode(stored)
    canaries.assert_trace_clean(create_trace)
    canaries.assert_trace_clean(edit_trace)
    canaries.assert_absent(created.stderr + edited.stderr + created.stdout + edited.stdout, "output")


@requires_fuse()
def test_run_watch_with_a_mount_and_mask_across_a_restart_writes_no_canary(tmp_path: Path, canaries: Canaries) -> None:
    """The supervised command restarted on a change, its output masked, the mount swapped: all under strace."""
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    trace_file = Path("/dev/shm") / f"injector-trace-run-{os.getpid()}"
    script = 'echo "token=$A"; cat "$INJECTOR_MOUNT/vol/f.txt"; echo; echo started; exec sleep 60'
    process = subprocess.Popen(
        under_strace(
            trace_file, "run", "--watch", "--mount", str(mountpoint), "--mask", *canaries.args, "--",
            "sh", "-c", script,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    with serving_under_strace(process, mountpoint, trace_file):
        lines = [process.stdout.readline() for _ in range(3)]
        assert b"started\n" == lines[2], lines
        fresh = "CANARYUPDATED" + os.urandom(8).hex()
        canaries.values["updated"] = fresh
        replace_file(canaries.directory / "secrets" / "plain.yaml", json.dumps(secret("plain", {"token": fresh})))
        lines += [process.stdout.readline() for _ in range(3)]  # the restarted command
        assert b"started\n" == lines[5], lines
        signal_tracee(process, signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        trace = parse_trace(trace_file)

    output = b"".join(lines) + out
    assert output.count(b"token=") == 2 and output.count(b"<redacted:") >= 4, output  # values masked, both runs
    canaries.assert_absent(output, "the command's masked output")
    canaries.assert_absent(err, "run's stderr")
    canaries.assert_trace_clean(trace)
    assert not os.path.ismount(mountpoint)
