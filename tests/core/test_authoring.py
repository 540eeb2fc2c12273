"""Building Secrets per type, fingerprints, changes by key, drift, recipients: pure rules, table-tested."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from injector.core.authoring import (
    SecretSpec,
    check_values,
    describe_changes,
    diff_keys,
    docker_config_json,
    drift,
    file_key,
    fingerprint,
    merge_values,
    parse_env_file,
    secret_body,
    summary_lines,
    validated,
)
from injector.core.dockerconfig import parse_dockerconfigjson
from injector.core.keycheck import check_ssh_private_key, check_tls
from injector.core.recipients import (
    Stanza,
    mismatch,
    parse_recipients_file,
    read_recipients,
    recipients_header,
    ssh_tag,
    stanzas,
    strip_recipients,
)
from injector.errors import ManifestError, UsageError
from tests.support.keys import tls_pair

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        (b"A=1\nB=two words\n", [("A", b"1"), ("B", b"two words")]),
        (b"  # comment\n\nA=x=y\n", [("A", b"x=y")]),
        (b"\xef\xbb\xbfA=1\r\n", [("A", b"1")]),
        (b'Q="quoted"\n', [("Q", b'"quoted"')]),  # kubectl keeps quotes
        (b"   LEAD=kept trailing  \n", [("LEAD", b"kept trailing  ")]),
    ],
)
def test_env_file_is_read_as_kubectl_reads_it(text: bytes, pairs: list[tuple[str, bytes]]) -> None:
    assert pairs == parse_env_file(text, "f.env")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"1A=x\n", 'f.env: line 1: "1A" is not a valid key name'),
        (b"A=1\nNOVALUE\n", "f.env: line 2: NOVALUE has no value"),
        (b"A=\xff\n", "f.env: line 1 has invalid utf8 bytes"),
    ],
)
def test_env_file_problems_name_the_line(text: bytes, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_env_file(text, "f.env")
    assert str(raised.value).startswith(message)


def test_file_key_defaults_to_the_base_name_and_is_checked() -> None:
    assert ("tls.crt", "/x/tls.crt") == file_key("/x/tls.crt")
    assert ("k", "/x/y") == file_key("k=/x/y")
    with pytest.raises(UsageError, match="invalid key"):
        file_key("a/b=/x")


def test_a_key_given_twice_is_an_error() -> None:
    with pytest.raises(UsageError, match="key a is given twice"):
        merge_values([("a", b"1", "--from-file x"), ("a", b"2", "--prompt")])


def test_docker_config_json_is_what_kubectl_writes_and_the_kubelet_reads() -> None:
    data = docker_config_json("r.example:5000", "robot", b"p:w", "r@example.com")

    entry = json.loads(data)["auths"]["r.example:5000"]
    assert {"username": "robot", "password": "p:w", "email": "r@example.com"}.items() <= entry.items()
    assert b"robot:p:w" == base64.b64decode(entry["auth"])
    credential = parse_dockerconfigjson(data)["r.example:5000"]
    assert (b"robot", b"p:w") == (credential.username, credential.password)


def test_readable_body_shows_text_as_string_data_and_binary_as_base64() -> None:
    spec = SecretSpec("db", "shop", "Opaque", {"text": b"line\nnext", "bin": b"\x00\xff", "cr": b"a\r\n"})

    body = secret_body(spec, readable=True)

    assert {"text": "line\nnext"} == body["stringData"]
    assert {"bin": "AP8=", "cr": "YQ0K"} == body["data"]
    assert spec.data == validated(body, "x").data
    assert spec.data == validated(secret_body(spec), "x").data


def test_spec_repr_hides_values() -> None:
    assert "hunter2" not in repr(SecretSpec("db", "shop", "Opaque", {"p": b"hunter2"}))


def test_fingerprint_is_a_prefix_of_sha256() -> None:
    assert "sha256:" + hashlib.sha256(b"v").hexdigest()[:16] == fingerprint(b"v")


def test_changes_by_key_name_keys_and_fingerprints_only() -> None:
    before = SecretSpec("db", "shop", "Opaque", {"same": b"1", "old": b"2", "changed": b"3"}, {"app": "x"})
    after = before._replace(data={"same": b"1", "changed": b"4", "new": b"5"}, labels={})

    verb, lines = describe_changes(before, after)

    assert "update" == verb
    assert [
        f"  ~ changed  {fingerprint(b'3')} -> {fingerprint(b'4')}  (1 bytes)",
        f"  + new  {fingerprint(b'5')}  (1 bytes)",
        f"  - old  {fingerprint(b'2')}",
        f"  = same  {fingerprint(b'1')}",
        "  - label app",
    ] == lines
    assert ("no change", [f"  = same  {fingerprint(b'1')}"]) == describe_changes(
        before._replace(data={"same": b"1"}), before._replace(data={"same": b"1"})
    )
    assert "create" == describe_changes(None, after)[0]
    assert "delete" == describe_changes(before, None)[0]
    assert ["added"] == [change.change for change in diff_keys({}, {"a": b""})]


def test_summary_shows_sizes_and_fingerprints_not_values() -> None:
    lines = summary_lines(SecretSpec("db", "shop", "Opaque", {"p": b"hunter2"}))

    assert ["Secret shop/db", "  type: Opaque", f"  p  7 bytes  {fingerprint(b'hunter2')}"] == lines


def test_drift_gives_one_line_per_differing_key_naming_both_contexts() -> None:
    problems = drift(
        "Secret/shop/db",
        "data",
        [
            ("a", {"same": b"1", "diff": b"x", "only-a": b"y"}),
            ("b", {"same": b"1", "diff": b"z", "only-b": b"w"}),
            ("c", None),
        ],
    )

    assert [
        f"Secret/shop/db: data[diff]: differs: context a has {fingerprint(b'x')}, context b has {fingerprint(b'z')}",
        f"Secret/shop/db: data[only-a]: only in context a ({fingerprint(b'y')}), not in context b",
        f"Secret/shop/db: data[only-b]: only in context b ({fingerprint(b'w')}), not in context a",
        "Secret/shop/db: exists in context a, not in context c",
    ] == [problem.render() for problem in problems]


# -- type checks ---------------------------------------------------------------------------------------


def test_tls_pair_must_match() -> None:
    cert, key = tls_pair("a.example")
    other_cert, _ = tls_pair("b.example")

    facts, warnings = check_tls(cert, key, datetime.datetime.now(datetime.UTC))
    assert ("CN=a.example", 1, []) == (facts.subject, facts.chain_length, warnings)
    with pytest.raises(ManifestError, match="does not match the certificate"):
        check_tls(other_cert, key, NOW)
    with pytest.raises(ManifestError, match="not a PEM certificate"):
        check_tls(b"nope", key, NOW)
    with pytest.raises(ManifestError, match="not a PEM private key"):
        check_tls(cert, b"nope", NOW)


def test_tls_expiry_is_a_warning() -> None:
    now = datetime.datetime.now(datetime.UTC)
    _, expired = check_tls(*tls_pair("a.example", days=2, starts_in_days=-10), now)
    _, soon = check_tls(*tls_pair("a.example", days=12, starts_in_days=-1), now)
    _, early = check_tls(*tls_pair("a.example", starts_in_days=5), now)

    assert "certificate CN=a.example expired on" in expired[0].problem
    assert "expires on" in soon[0].problem
    assert "is not valid before" in early[0].problem


def test_encrypted_tls_key_is_refused() -> None:
    cert, key = tls_pair("a.example")
    loaded = serialization.load_pem_private_key(key, password=None)
    locked = loaded.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(ManifestError, match="encrypted"):
        check_tls(cert, locked, NOW)


def test_ssh_keys_parse_in_openssh_and_pem_formats() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    openssh = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    assert "ssh-ed25519" == check_ssh_private_key(openssh)
    _, ec_key = tls_pair("x")
    assert "ecdsa-sha2-nistp256" == check_ssh_private_key(ec_key)
    with pytest.raises(ManifestError, match="not an SSH private key"):
        check_ssh_private_key(b"-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n")
    locked = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(ManifestError, match="passphrase-protected"):
        check_ssh_private_key(locked)


def test_passphrase_protected_openssh_key_is_refused(tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f", str(tmp_path / "k")], check=True)

    with pytest.raises(ManifestError, match="passphrase-protected"):
        check_ssh_private_key((tmp_path / "k").read_bytes())


def test_check_values_per_type() -> None:
    cert, key = tls_pair("a.example")
    _, other_key = tls_pair("b.example")
    tls = SecretSpec("t", "shop", "kubernetes.io/tls", {"tls.crt": cert, "tls.key": key})

    assert [] == check_values(tls, datetime.datetime.now(datetime.UTC))
    with pytest.raises(ManifestError, match="does not match"):
        check_values(tls._replace(data={"tls.crt": cert, "tls.key": other_key}), NOW)
    docker = SecretSpec("d", "shop", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": b'{"auths": []}'})
    with pytest.raises(ManifestError, match="auths must be an object"):
        check_values(docker, NOW)


# -- recipients -----------------------------------------------------------------------------------------


def test_recipients_travel_as_leading_comments() -> None:
    header = recipients_header(["age1abc", "ssh-ed25519 AAAA x@y"])
    text = header + "apiVersion: v1\n# age-recipient: not-leading\n"

    assert ["age1abc", "ssh-ed25519 AAAA x@y"] == read_recipients(text)
    assert "apiVersion: v1\n" == strip_recipients(text)
    assert ["age1a", "ssh-rsa B"] == parse_recipients_file("# team\nage1a\n\n  ssh-rsa B\n")


def test_stanzas_are_read_from_binary_and_armored_headers_and_checked_against_recipients() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    ssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    tag = ssh_tag(ssh)
    header = f"age-encryption.org/v1\n-> X25519 abc\nbody\n-> ssh-ed25519 {tag} def\nbody\n-> x]-grease\n--- mac\n"
    armored = (
        b"-----BEGIN AGE ENCRYPTED FILE-----\n"
        + base64.b64encode(header.encode())
        + b"\n-----END AGE ENCRYPTED FILE-----\n"
    )

    found = stanzas(header.encode() + b"\x00payload")
    assert [Stanza("X25519", None), Stanza("ssh-ed25519", tag)] == found
    assert found == stanzas(armored)
    assert None is stanzas(b"plain text")
    assert None is mismatch(["age1x", ssh], found)
    assert "encrypted to 2 recipient(s), its header names 1" in str(mismatch(["age1x"], found))
    assert "not those its header names" in str(mismatch(["age1x", "age1y"], found))
