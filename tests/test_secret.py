"""``injector secret`` with files: every type created, read back by the age CLI, by ``--secrets`` and by
``kubernetes-validate --strict``; the wizard on a real terminal; edit in real vim and nano; delete."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import REPO, assert_no_traceback, injector, new_age_key, write_manifests
from tests.support import registry
from tests.support.keys import ssh_key, tls_pair
from tests.support.manifests import container, pod
from tests.support.terminal import on_terminal

KUBERNETES_VERSIONS = ("1.33.0", "1.34.0", "1.35.0")


def secret_cli(
    *args: str,
    input: bytes | None = None,  # noqa: A002 - as in subprocess.run
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``injector secret ARGS`` without a controlling terminal (nobody to ask), as in a pipeline."""
    return injector("secret", *args, input=input, env=env, start_new_session=True)


class Keys:
    def __init__(self, directory: Path) -> None:
        self.identity = directory / "key.txt"
        self.recipient = new_age_key(self.identity)
        ssh_private, self.ssh_recipient = ssh_key()
        self.ssh_identity = directory / "id_ed25519"
        self.ssh_identity.write_bytes(ssh_private)
        self.ssh_identity.chmod(0o600)


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path)


def age_decrypt(path: Path, identity: Path) -> bytes:
    return subprocess.run(["age", "-d", "-i", str(identity), str(path)], check=True, capture_output=True).stdout


def strictly_valid(manifest: bytes) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(manifest)
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(body, version, strict=True)
    return body


def mounted_files(tmp_path: Path, name: str, secrets: Path, identity: Path) -> dict[str, Any]:
    """What a pod mounting Secret ``name`` sees, through ``--secrets`` (the .age file decrypted)."""
    pod_file = write_manifests(
        tmp_path / "pod.yaml",
        pod(
            container(mounts=[{"name": "v", "mountPath": "/v"}]),
            volumes=[{"name": "v", "secret": {"secretName": name}}],
        ),
    )
    result = injector(
        "render",
        "files",
        "--show-values",
        "--pod",
        str(pod_file),
        "--secrets",
        str(secrets),
        "--age-identity",
        str(identity),
    )
    assert 0 == result.returncode, result.stderr
    files: dict[str, Any] = json.loads(result.stdout)["volumes"][0]["files"]
    return {path: entry.get("value", entry.get("base64")) for path, entry in files.items()}


# -- create, per type --------------------------------------------------------------------------------------


def test_generic_from_files_env_file_and_stdin_round_trips(tmp_path: Path, keys: Keys, canary: str) -> None:
    (tmp_path / "cert.bin").write_bytes(b"\x00\xffbinary")
    (tmp_path / "app.env").write_text(f"USER=admin\n# note\nTOKEN={canary}\n")
    out = tmp_path / "secrets" / "app.yaml.age"
    out.parent.mkdir()

    result = secret_cli(
        "create",
        "generic",
        "app",
        "-n",
        "shop",
        "--from-file",
        str(tmp_path / "cert.bin"),
        "--from-env-file",
        str(tmp_path / "app.env"),
        "--from-stdin",
        "password",
        "--label",
        "team=core",
        "--annotation",
        "owner=ops",
        "-o",
        str(out),
        "-r",
        keys.recipient,
        input=canary.encode() + b"\n",
    )

    assert 0 == result.returncode, result.stderr
    assert_no_traceback(result.stderr, canary)
    assert b"" == result.stdout
    body = strictly_valid(age_decrypt(out, keys.identity))
    assert ("Opaque", {"team": "core"}, {"owner": "ops"}) == (
        body["type"],
        body["metadata"]["labels"],
        body["metadata"]["annotations"],
    )
    assert {
        "cert.bin": base64.b64encode(b"\x00\xffbinary").decode(),
        "USER": "admin",
        "TOKEN": canary,
        "password": canary + "\n",  # --from-stdin is a file's content: kept as it is
    } == mounted_files(tmp_path, "app", out.parent, keys.identity)


def test_custom_type_and_immutable(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "s.yaml.age"
    result = secret_cli(
        "create",
        "generic",
        "s",
        "--type",
        "example.com/custom",
        "--immutable",
        "--from-stdin",
        "k",
        "-o",
        str(out),
        "-r",
        keys.recipient,
        input=b"v",
    )

    assert 0 == result.returncode, result.stderr
    body = strictly_valid(age_decrypt(out, keys.identity))
    assert ("example.com/custom", True, "default") == (body["type"], body["immutable"], body["metadata"]["namespace"])


def test_tls_pair_is_checked_and_round_trips(tmp_path: Path, keys: Keys) -> None:
    cert, key = tls_pair("shop.example")
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    out = tmp_path / "secrets" / "tls.yaml.age"
    out.parent.mkdir()

    result = secret_cli(
        "create",
        "tls",
        "tls",
        "-n",
        "shop",
        "--cert",
        str(tmp_path / "tls.crt"),
        "--key",
        str(tmp_path / "tls.key"),
        "-o",
        str(out),
        "-r",
        keys.ssh_recipient,
    )

    assert 0 == result.returncode, result.stderr
    body = strictly_valid(age_decrypt(out, keys.ssh_identity))
    assert "kubernetes.io/tls" == body["type"]
    files = mounted_files(tmp_path, "tls", out.parent, keys.ssh_identity)
    assert (cert.decode(), key.decode()) == (files["tls.crt"], files["tls.key"])


def test_tls_key_of_another_certificate_is_refused(tmp_path: Path, keys: Keys) -> None:
    (tmp_path / "tls.crt").write_bytes(tls_pair("a.example")[0])
    (tmp_path / "tls.key").write_bytes(tls_pair("b.example")[1])
    out = tmp_path / "tls.yaml.age"

    result = secret_cli(
        "create",
        "tls",
        "tls",
        "--cert",
        str(tmp_path / "tls.crt"),
        "--key",
        str(tmp_path / "tls.key"),
        "-o",
        str(out),
        "-r",
        keys.recipient,
    )

    assert 3 == result.returncode
    assert result.stderr.endswith(
        b"tls.yaml.age: tls.key: the private key does not match the certificate "
        b"(the first certificate must be the key's)\n"
    )
    assert not out.exists()


def test_expired_certificate_is_written_with_a_warning(tmp_path: Path, keys: Keys) -> None:
    cert, key = tls_pair("old.example", days=2, starts_in_days=-10)
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)

    result = secret_cli(
        "create",
        "tls",
        "tls",
        "--cert",
        str(tmp_path / "tls.crt"),
        "--key",
        str(tmp_path / "tls.key"),
        "-o",
        str(tmp_path / "t.yaml.age"),
        "-r",
        keys.recipient,
    )

    assert 0 == result.returncode
    assert b"warning: tls.crt: certificate CN=old.example expired on " in result.stderr


def test_basic_auth_with_password_on_stdin(tmp_path: Path, keys: Keys, canary: str) -> None:
    out = tmp_path / "secrets" / "basic.yaml.age"
    out.parent.mkdir()
    result = secret_cli(
        "create",
        "basic-auth",
        "basic",
        "-n",
        "shop",
        "--username",
        "admin",
        "--password-stdin",
        "-o",
        str(out),
        "-r",
        keys.recipient,
        input=canary.encode() + b"\n",
    )

    assert 0 == result.returncode, result.stderr
    strictly_valid(age_decrypt(out, keys.identity))
    assert {"username": "admin", "password": canary} == mounted_files(tmp_path, "basic", out.parent, keys.identity)


def test_ssh_auth_key_is_parsed_and_round_trips(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "secrets" / "git.yaml.age"
    out.parent.mkdir()
    (tmp_path / "known_hosts").write_text("git.example ssh-ed25519 AAAA\n")
    (tmp_path / "not-a-key").write_text("hello\n")

    created = secret_cli(
        "create",
        "ssh-auth",
        "git",
        "-n",
        "shop",
        "--ssh-key",
        str(keys.ssh_identity),
        "--known-hosts",
        str(tmp_path / "known_hosts"),
        "-o",
        str(out),
        "-r",
        keys.recipient,
    )
    refused = secret_cli(
        "create",
        "ssh-auth",
        "bad",
        "--ssh-key",
        str(tmp_path / "not-a-key"),
        "-o",
        str(tmp_path / "b.yaml.age"),
        "-r",
        keys.recipient,
    )

    assert 0 == created.returncode, created.stderr
    strictly_valid(age_decrypt(out, keys.identity))
    files = mounted_files(tmp_path, "git", out.parent, keys.identity)
    assert (keys.ssh_identity.read_text(), "git.example ssh-ed25519 AAAA\n") == (
        files["ssh-privatekey"],
        files["known_hosts"],
    )
    assert 3 == refused.returncode
    assert refused.stderr.endswith(b": ssh-privatekey: not an SSH private key\n")


@pytest.mark.skipif(registry.available() is not None, reason=str(registry.available()))
def test_docker_registry_verify_logs_in_to_a_real_registry(tmp_path: Path, keys: Keys) -> None:
    (tmp_path / "registry").mkdir()
    with registry.running_registry(tmp_path / "registry") as live:
        out = tmp_path / "secrets" / "pull.yaml.age"
        out.parent.mkdir()
        good = secret_cli(
            "create",
            "docker-registry",
            "pull",
            "-n",
            "shop",
            "--server",
            live.host,
            "--username",
            registry.USER,
            "--email",
            "robot@example.com",
            "--password-stdin",
            "--verify",
            "-o",
            str(out),
            "-r",
            keys.recipient,
            input=registry.PASSWORD.encode() + b"\n",
        )
        bad = secret_cli(
            "create",
            "docker-registry",
            "bad",
            "--server",
            live.host,
            "--username",
            registry.USER,
            "--password-stdin",
            "--verify",
            "-o",
            str(tmp_path / "bad.yaml.age"),
            "-r",
            keys.recipient,
            input=b"wrong-password",
        )
        pod_file = write_manifests(tmp_path / "pod.yaml", pod(pull_secrets=["pull"]))
        rendered = injector(
            "render",
            "dockerconfig",
            "--pod",
            str(pod_file),
            "--secrets",
            str(out.parent),
            "--age-identity",
            str(keys.identity),
        )

    assert 0 == good.returncode, good.stderr
    assert f"logged in to {live.host} as robot".encode() in good.stderr
    strictly_valid(age_decrypt(out, keys.identity))
    entry = json.loads(rendered.stdout)["auths"][live.host]
    assert (registry.USER, registry.PASSWORD, "robot@example.com") == (
        entry["username"],
        entry["password"],
        entry["email"],
    )
    assert 5 == bad.returncode
    assert f"registry http://{live.host}: login refused for user robot (401)".encode() in bad.stderr
    assert b"wrong-password" not in bad.stderr
    assert not (tmp_path / "bad.yaml.age").exists()


# -- destinations ------------------------------------------------------------------------------------------


def test_stdout_takes_plaintext_only_through_a_pipe(tmp_path: Path, keys: Keys) -> None:
    piped = secret_cli("create", "generic", "s", "--from-stdin", "k", input=b"v")
    with open(tmp_path / "plain.yaml", "wb") as regular:
        refused = subprocess.run(
            [sys.executable, "-m", "injector", "secret", "create", "generic", "s", "--from-stdin", "k"],
            input=b"v",
            stdout=regular,
            stderr=subprocess.PIPE,
            start_new_session=True,
            check=False,
        )
    encrypted = secret_cli("create", "generic", "s", "--from-stdin", "k", "-r", keys.recipient, input=b"v")

    assert (0, "dg==") == (piped.returncode, yaml.safe_load(piped.stdout)["data"]["k"])
    assert 2 == refused.returncode
    assert b"refusing to write a Secret's values to a regular file (stdout)" in refused.stderr
    assert b"" == (tmp_path / "plain.yaml").read_bytes()
    (tmp_path / "s.yaml.age").write_bytes(encrypted.stdout)
    assert b"k: dg==" in age_decrypt(tmp_path / "s.yaml.age", keys.identity)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-o", "x.yaml.age"], 2, b"x.yaml.age: -o FILE.age needs --age-recipient or --age-recipients-file"),
        (["-o", "x.yaml", "-r", "age1x"], 2, b"x.yaml: an encrypted manifest is named NAME.yaml.age"),
        (["-o", "x.yaml.age", "-r", "nope"], 2, b"--age-recipient: not an age recipient"),
        (["--prompt", "k"], 2, b"create generic needs a terminal for --prompt k (or a terminal to ask on)"),
        (["--from-file", "k=/nonexistent"], 5, b"/nonexistent: cannot read: No such file or directory"),
        (["--from-file", "a/b=/etc/hostname"], 2, b'--from-file: invalid key "a/b"'),
        (["--context", "x"], 2, b"--context and --kubeconfig only with --kube"),
    ],
)
def test_create_refusals(tmp_path: Path, args: list[str], code: int, message: bytes) -> None:
    result = injector(
        "secret", "create", "generic", "s", *args, cwd=tmp_path, env={"PYTHONPATH": str(REPO)}, start_new_session=True
    )

    assert code == result.returncode, result.stderr
    assert message in result.stderr
    assert_no_traceback(result.stderr)
    assert [] == [path for path in tmp_path.iterdir()]


def test_create_does_not_replace_an_existing_file(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "s.yaml.age"
    out.write_bytes(b"keep")

    result = secret_cli("create", "generic", "s", "--from-stdin", "k", "-o", str(out), "-r", keys.recipient, input=b"v")

    assert (7, b"keep") == (result.returncode, out.read_bytes())
    assert b"s.yaml.age: exists already: edit it, or delete it first" in result.stderr


def test_dry_run_shows_keys_and_fingerprints_only(tmp_path: Path, keys: Keys, canary: str) -> None:
    out = tmp_path / "s.yaml.age"
    result = secret_cli(
        "create",
        "generic",
        "s",
        "--from-stdin",
        "k",
        "-o",
        str(out),
        "-r",
        keys.recipient,
        "--dry-run",
        input=canary.encode(),
    )

    import hashlib

    digest = hashlib.sha256(canary.encode()).hexdigest()[:16]
    assert (0, f"{out}: Secret default/s: would create\n  + k  sha256:{digest}  ({len(canary)} bytes)\n".encode()) == (
        result.returncode,
        result.stdout,
    )
    assert not out.exists()


# -- the wizard, on a terminal ----------------------------------------------------------------------------------


def test_wizard_asks_for_what_is_missing_without_echoing_values(tmp_path: Path, keys: Keys, canary: str) -> None:
    out = tmp_path / "pull.yaml.age"
    password = canary.encode()
    session = on_terminal(
        ["secret", "create", "docker-registry", "pull", "-o", str(out), "-r", keys.recipient],
        [
            (b"registry server (host[:port]): ", b"r.example\n"),
            (b"username: ", b"robot\n"),
            (b"password: ", password + b"\n"),
            (b"password (again): ", b"typo\n"),
            (b"the two entries differ; again", b""),
            (b"password: ", password + b"\n"),
            (b"password (again): ", password + b"\n"),
            (b"email (optional): ", b"\n"),
        ],
    )

    assert 0 == session.status, session.screen
    assert password not in session.screen
    config = json.loads(base64.b64decode(yaml.safe_load(age_decrypt(out, keys.identity))["data"][".dockerconfigjson"]))
    assert {"username": "robot", "password": canary} == {
        k: v for k, v in config["auths"]["r.example"].items() if k in ("username", "password")
    }
    assert "email" not in config["auths"]["r.example"]


def test_generic_wizard_asks_key_after_key(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "s.yaml.age"
    session = on_terminal(
        ["secret", "create", "generic", "s", "-o", str(out), "-r", keys.recipient],
        [
            (b"key (empty to finish): ", b"a\n"),
            (b"value of a: ", b"1\n"),
            (b"value of a (again): ", b"1\n"),
            (b"key (empty to finish): ", b"\n"),
        ],
    )

    assert 0 == session.status, session.screen
    assert {"a": "MQ=="} == yaml.safe_load(age_decrypt(out, keys.identity))["data"]


# -- edit --------------------------------------------------------------------------------------------------------


@pytest.fixture
def sealed(tmp_path: Path, keys: Keys, canary: str) -> Path:
    """An encrypted manifest of Secret shop/db {password: canary, user: admin}, for an X25519 and an SSH key."""
    out = tmp_path / "secrets" / "db.yaml.age"
    out.parent.mkdir()
    (tmp_path / "user").write_text("admin")
    result = secret_cli(
        "create",
        "generic",
        "db",
        "-n",
        "shop",
        "--from-stdin",
        "password",
        "--from-file",
        f"user={tmp_path / 'user'}",
        "-o",
        str(out),
        "-r",
        keys.recipient,
        "-r",
        keys.ssh_recipient,
        input=canary.encode(),
    )
    assert 0 == result.returncode, result.stderr
    return out


def vim(*commands: str) -> str:
    """$EDITOR: the real vim, running ex commands instead of keystrokes."""
    return "vim " + " ".join(f"-c '{command}'" for command in commands)


def test_edit_in_vim_re_encrypts_to_the_same_recipients(tmp_path: Path, keys: Keys, sealed: Path, canary: str) -> None:
    result = secret_cli(
        "edit",
        str(sealed),
        "--age-identity",
        str(keys.identity),
        env={"EDITOR": vim(f"%s/{canary}/rotated-{canary[::-1]}/", "wq")},
    )

    assert 0 == result.returncode, result.stderr
    assert b"updated Secret shop/db in " in result.stderr
    for identity in (keys.identity, keys.ssh_identity):
        body = yaml.safe_load(age_decrypt(sealed, identity))
        assert f"rotated-{canary[::-1]}" == base64.b64decode(body["data"]["password"]).decode()
    text = age_decrypt(sealed, keys.identity).decode()
    assert text.startswith(f"# age-recipient: {keys.recipient}\n# age-recipient: {keys.ssh_recipient}\n")
    strictly_valid(text.encode())


def test_edit_in_nano(tmp_path: Path, keys: Keys, sealed: Path, canary: str) -> None:
    """nano, typed at on a real terminal: Ctrl-K cuts the first line (the help comment), Ctrl-S saves."""
    session = on_terminal(
        ["secret", "edit", str(sealed), "--age-identity", str(keys.identity)],
        [(b"Edit the Secret below", b"\x0b"), (b"Modified", b"\x13"), (b"Wrote", b"\x18")],
        env={"EDITOR": "nano"},
    )

    assert 0 == session.status, session.screen
    assert b"no change" in session.screen  # only a comment went: the Secret is as it was


def test_saving_nothing_changes_nothing(keys: Keys, sealed: Path) -> None:
    before = sealed.read_bytes()
    result = secret_cli("edit", str(sealed), "--age-identity", str(keys.identity), env={"EDITOR": vim("q")})

    assert (0, before) == (result.returncode, sealed.read_bytes())
    assert b"edit cancelled, no changes made" in result.stderr


def script_editor(tmp_path: Path, body: str) -> str:
    """An editor that is a Python script (``path`` is the file it is given), editing in place."""
    script = tmp_path / "editor.py"
    script.write_text("import sys\npath = sys.argv[1]\n" + body)
    return f"{sys.executable} {script}"


def test_invalid_edit_reopens_the_editor_with_the_errors(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    """First save: a key Kubernetes refuses; the editor opens again showing why; second save: fixed."""
    editor = script_editor(
        tmp_path,
        f"""
import os
count = {str(tmp_path / "count")!r}
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
text = open(path).read()
if n == 0:
    text = text.replace("  user: admin", "  bad/key: x\\n  user: admin")
else:
    assert "# ERROR: " in text and "Invalid value" in text, text
    text = text.replace("  bad/key: x\\n", "  good: fine\\n")
with open(path, "r+") as f:
    f.write(text)
    f.truncate()
""",
    )
    result = secret_cli("edit", str(sealed), "--age-identity", str(keys.identity), env={"EDITOR": editor})

    assert 0 == result.returncode, result.stderr
    assert b"not valid (1 problem(s)): opening the editor again" in result.stderr
    assert b"warning:" in result.stderr  # an unknown editor is warned about
    data = yaml.safe_load(age_decrypt(sealed, keys.identity))["data"]
    assert ["good", "password", "user"] == sorted(data)


def test_invalid_edit_saved_again_unchanged_gives_up(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    before = sealed.read_bytes()
    editor = script_editor(
        tmp_path,
        """
text = open(path).read()
if "# ERROR" not in text:
    with open(path, "w") as f:
        f.write(text.replace("type: Opaque", "type: kubernetes.io/tls"))
""",
    )
    result = secret_cli("edit", str(sealed), "--age-identity", str(keys.identity), env={"EDITOR": editor})

    assert 3 == result.returncode
    assert b"data[tls.crt]: Required value" in result.stderr
    assert before == sealed.read_bytes()


def test_editor_killed_by_sigterm_changes_nothing(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    before = sealed.read_bytes()
    started = tmp_path / "started"
    editor = script_editor(tmp_path, f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(60)\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "injector", "secret", "edit", str(sealed), "--age-identity", str(keys.identity)],
        env={**os.environ, "EDITOR": editor},
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert 143 == process.returncode
    assert b"stopped by signal 15: nothing was changed" in stderr
    assert before == sealed.read_bytes()


def test_key_value_edit_sets_and_unsets(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    (tmp_path / "ca.pem").write_text("CA")
    result = secret_cli(
        "edit",
        str(sealed),
        "--age-identity",
        str(keys.identity),
        "--set",
        "token",
        "--set-file",
        f"ca={tmp_path / 'ca.pem'}",
        "--unset",
        "user",
        input=b"t0ken",
    )

    assert 0 == result.returncode, result.stderr
    data = yaml.safe_load(age_decrypt(sealed, keys.ssh_identity))["data"]
    assert {"ca": "CA", "token": "t0ken"} == {
        k: base64.b64decode(v).decode() for k, v in data.items() if k != "password"
    }


def test_recipients_that_do_not_match_the_file_are_refused(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    """A file re-encrypted by hand to one key no longer matches its header: edit will not guess."""
    plain = age_decrypt(sealed, keys.identity)
    subprocess.run(["age", "-r", keys.recipient, "-o", str(sealed)], input=plain, check=True)

    refused = secret_cli("edit", str(sealed), "--age-identity", str(keys.identity), "--unset", "user")
    rekeyed = secret_cli(
        "edit", str(sealed), "--age-identity", str(keys.identity), "--unset", "user", "-r", keys.recipient
    )

    assert 2 == refused.returncode
    assert b"the file is encrypted to 1 recipient(s), its header names 2: give --age-recipient" in refused.stderr
    assert 0 == rekeyed.returncode, rekeyed.stderr
    assert age_decrypt(sealed, keys.identity).startswith(f"# age-recipient: {keys.recipient}\napiVersion".encode())


def test_get_shows_fingerprints_never_values(keys: Keys, sealed: Path, canary: str) -> None:
    import hashlib

    result = secret_cli("get", str(sealed), "--age-identity", str(keys.identity))

    assert 0 == result.returncode
    assert (
        "Secret shop/db\n  type: Opaque\n"
        f"  password  {len(canary)} bytes  sha256:{hashlib.sha256(canary.encode()).hexdigest()[:16]}\n"
        f"  user  5 bytes  sha256:{hashlib.sha256(b'admin').hexdigest()[:16]}\n"
        f"  age recipient: {keys.recipient}\n  age recipient: {keys.ssh_recipient}\n"
    ).encode() == result.stdout


# -- delete ---------------------------------------------------------------------------------------------------


def test_delete_needs_yes_without_a_terminal(keys: Keys, sealed: Path) -> None:
    refused = secret_cli("delete", "db", "-n", "shop", "--file", str(sealed), "--age-identity", str(keys.identity))
    deleted = secret_cli(
        "delete", "db", "-n", "shop", "--file", str(sealed), "--age-identity", str(keys.identity), "--yes"
    )

    assert 2 == refused.returncode
    assert b"without a terminal to ask on, give --yes" in refused.stderr
    assert 0 == deleted.returncode, deleted.stderr
    assert b"deleted Secret shop/db (Opaque, 2 keys) from " in deleted.stderr
    assert not sealed.exists()


def test_delete_asks_on_a_terminal(keys: Keys, sealed: Path) -> None:
    args = ["secret", "delete", "db", "-n", "shop", "--file", str(sealed), "--age-identity", str(keys.identity)]
    declined = on_terminal(args, [(b"[y/N]: ", b"n\n")])
    accepted = None if declined.status != 8 else on_terminal(args, [(b"[y/N]: ", b"y\n")])

    assert 8 == declined.status, declined.screen
    assert b"delete Secret shop/db (Opaque, 2 keys) from " in declined.screen
    assert accepted is not None and 0 == accepted.status, accepted
    assert not sealed.exists()


def test_delete_from_a_file_of_several_keeps_the_others(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "both.yaml.age"
    documents = (
        f"# age-recipient: {keys.recipient}\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {k: '1'}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {k: '2'}\n"
    )
    subprocess.run(["age", "-r", keys.recipient, "-o", str(out)], input=documents.encode(), check=True)

    result = secret_cli("delete", "a", "--file", str(out), "--age-identity", str(keys.identity), "--yes")

    assert 0 == result.returncode, result.stderr
    left = list(yaml.safe_load_all(age_decrypt(out, keys.identity)))
    assert ["b"] == [doc["metadata"]["name"] for doc in left]


def test_the_editor_runs_without_core_dumps(tmp_path: Path, keys: Keys, sealed: Path) -> None:
    report = tmp_path / "limits"
    editor = script_editor(
        tmp_path, f"import resource\nopen({str(report)!r}, 'w').write(str(resource.getrlimit(resource.RLIMIT_CORE)))\n"
    )
    result = secret_cli("edit", str(sealed), "--age-identity", str(keys.identity), env={"EDITOR": editor})

    assert 0 == result.returncode, result.stderr
    assert "(0, 0)" == report.read_text()


def test_vim_is_started_with_its_swap_backup_undo_and_viminfo_files_off() -> None:
    from injector.shell.editor import editor_argv

    argv, known = editor_argv(["vim", "-c", "x"], "/proc/self/fd/5")
    nano, nano_known = editor_argv(["nano"], "/proc/self/fd/5")
    other, other_known = editor_argv(["code", "--wait"], "/proc/self/fd/5")

    assert known and nano_known and not other_known
    assert ["vim", "-n", "-i", "NONE", "--cmd", "set nobackup nowritebackup noundofile noswapfile"] == argv[:6]
    assert ["-c", "x", "/proc/self/fd/5"] == argv[-3:]
    assert ["nano", "--ignorercfiles", "/proc/self/fd/5"] == nano
    assert ["code", "--wait", "/proc/self/fd/5"] == other


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["edit", "{dir}/plain.yaml"], 2, "{dir}/plain.yaml: not an age-encrypted manifest (FILE.age)"),
        (["edit", "{sealed}"], 2, "{sealed}: decrypting it needs --age-identity"),
        (["edit", "{sealed}", "--age-identity", "{dir}/other.txt"], 5, "{sealed}: cannot decrypt age file: "),
        (["get", "db", "--kube", "--kubeconfig", "{dir}/none"], 5, "kubeconfig: cannot load Kubernetes configuration"),
        (
            ["get", "db", "--kube", "--kubeconfig", "{dir}/unreachable"],
            5,
            "context test (http://127.0.0.1:9): cannot reach the API server: Connection refused",
        ),
        (["delete", "other", "--file", "{sealed}", "--age-identity", "{key}", "--yes"], 5, "no Secret default/other"),
        (
            ["create", "generic", "x", "--from-stdin", "k", "-o", "{dir}/none/x.yaml.age", "-r", "{recipient}"],
            6,
            "{dir}/none/x.yaml.age: cannot write: No such file or directory",
        ),
        (["edit", "{sealed}", "--age-identity", "{key}"], 127, "/nonexistent/vim: command not found"),
    ],
)
def test_failures_are_one_line_without_a_traceback(  # noqa: PLR0917 - fixtures and the table's columns
    tmp_path: Path, keys: Keys, sealed: Path, canary: str, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "plain.yaml").write_text("kind: Secret\n")
    new_age_key(tmp_path / "other.txt")
    (tmp_path / "unreachable").write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    fill = {"dir": str(tmp_path), "sealed": str(sealed), "key": str(keys.identity), "recipient": keys.recipient}
    result = secret_cli(*[arg.format(**fill) for arg in args], input=b"v", env={"EDITOR": "/nonexistent/vim"})

    assert code == result.returncode, result.stderr
    assert 1 == len(result.stderr.splitlines()), result.stderr
    assert message.format(**fill).encode() in result.stderr
    assert_no_traceback(result.stderr, canary)
