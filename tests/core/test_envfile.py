"""Env-files are read back exactly by the real programs that consume them, or refused naming the key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injector.core.envfile import render_env
from injector.errors import OutputError
from tests.support.fake_docker import docker_cli, env_as_docker_reads_it

TRICKY = [
    ("PLAIN", b"value"),
    ("EMPTY", b""),
    ("SPACES", b"  padded  "),
    ("QUOTES", b'it\'s "quoted"'),
    ("BACKSLASH", b"C:\\path\\n\\"),
    ("DOLLAR", b"$HOME $(X) `cmd` $$"),
    ("HASH", b"#not a comment # really"),
    ("UNICODE", "pässwörd ✓".encode()),
    ("EQUALS", b"a=b=c"),
]
MULTILINE = [("CERT", b"-----BEGIN-----\nline2\r\nline3\n"), ("CR", b"x\ry\r")]
BINARY = [("BIN", b"\xff\xfe\x01\x7f")]

_DUMP = (
    "import os, sys, json; names = sys.argv[1:]; "
    "print(json.dumps({n: os.environb[n.encode()].hex() for n in names if n.encode() in os.environb}))"
)


def read_with_shell(shell: str, path: Path, names: list[str]) -> dict[str, bytes]:
    script = f'. "{path}" && exec "{sys.executable}" -c "$0" "$@"'
    result = subprocess.run(
        [shell, "-c", script, _DUMP, *names], capture_output=True, env={"PATH": os.environ["PATH"]}, check=True
    )
    return {name: bytes.fromhex(value) for name, value in json.loads(result.stdout).items()}


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "env"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_shell_format_round_trips_any_bytes(tmp_path: Path, shell: str) -> None:
    """`. FILE` in POSIX sh and bash yields exactly the resolved bytes, binary and newlines included."""
    entries = TRICKY + MULTILINE + BINARY
    path = write(tmp_path, render_env(entries, "shell"))

    assert dict(entries) == read_with_shell(shell, path, [name for name, _ in entries])


def test_dotenv_format_round_trips_through_python_dotenv(tmp_path: Path) -> None:
    """python-dotenv's dotenv_values reads back every value, multi-line and carriage returns included."""
    from dotenv import dotenv_values

    entries = TRICKY[:5] + TRICKY[6:] + MULTILINE + [("DOLLAR", b"$HOME $(X) `cmd` $$ ${unclosed")]
    path = write(tmp_path, render_env(entries, "dotenv"))

    assert {name: value.decode() for name, value in entries} == dotenv_values(path)


def test_json_format_is_an_object(tmp_path: Path) -> None:
    entries = TRICKY + MULTILINE

    assert {n: v.decode() for n, v in entries} == json.loads(render_env(entries, "json"))


@pytest.mark.parametrize(
    ("fmt", "entries", "message"),
    [
        ("docker", [("K", b"a\nb")], "env K: cannot be written as docker: value contains a newline"),
        ("docker", [("K", b"a\r")], "env K: cannot be written as docker: value ends with a carriage return"),
        ("docker", [("K", b"\xff")], "env K: cannot be written as docker: value is not valid UTF-8"),
        (
            "docker",
            [("A B", b"x")],
            "env A B: cannot be written as docker: name must be non-empty, without whitespace, not starting with '#'",
        ),
        (
            "docker",
            [("K", b"x" * 70000)],
            "env K: cannot be written as docker: line is longer than docker's limit of 65535 bytes",
        ),
        (
            "dotenv",
            [("K", b"${HOME}")],
            "env K: cannot be written as dotenv: value contains '${...}', which python-dotenv would interpolate",
        ),
        ("dotenv", [("K", b"\xff")], "env K: cannot be written as dotenv: value is not valid UTF-8"),
        (
            "shell",
            [("my-var", b"x")],
            "env my-var: cannot be written as shell: name is not a valid shell variable name",
        ),
        ("json", [("K", b"\xff")], "env K: cannot be written as json: value is not valid UTF-8"),
        (
            "shell",
            [("K", b"a\0b")],
            "env K: cannot be written as shell: value contains a NUL byte, which no environment can hold",
        ),
    ],
)
def test_unrepresentable_values_are_refused_naming_the_key(
    fmt: str, entries: list[tuple[str, bytes]], message: str
) -> None:
    with pytest.raises(OutputError) as info:
        render_env(entries, fmt)

    assert message == str(info.value)


needs_docker = pytest.mark.skipif(docker_cli() is None, reason="the docker CLI is not installed")


@needs_docker
def test_docker_format_is_read_exactly_by_docker_cli(tmp_path: Path) -> None:
    """The real docker CLI parses the file and sends exactly these NAME=VALUE pairs to the engine."""
    entries = [*TRICKY, ("MID_CR", b"x\ry"), ("LONG", b"v" * 60000)]
    path = write(tmp_path, render_env(entries, "docker"))

    env, stderr = env_as_docker_reads_it(str(path))

    assert env is not None, stderr
    assert [f"{n}={v.decode()}" for n, v in entries] == env


@needs_docker
def test_docker_refuses_what_injector_refuses(tmp_path: Path) -> None:
    """The cases injector refuses really are ones docker would mangle or reject."""
    path = write(tmp_path, b"K=a\r\nM=x\n")
    env, _ = env_as_docker_reads_it(str(path))
    assert ["K=a", "M=x"] == env  # the trailing CR was silently lost: hence the refusal

    path = write(tmp_path, b"A B=x\n")
    env, stderr = env_as_docker_reads_it(str(path))
    assert env is None and "contains whitespaces" in stderr


names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="="), min_size=1, max_size=12
)
shell_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(max_size=64) | st.text(max_size=40).map(str.encode), name=names)
def test_dotenv_round_trips_or_refuses(tmp_path: Path, value: bytes, name: str) -> None:
    """For any bytes and name, python-dotenv reads back exactly what was rendered, or render refuses."""
    from dotenv import dotenv_values

    try:
        data = render_env([(name, value)], "dotenv")
    except OutputError:
        return
    path = write(tmp_path, data)
    assert {name: value.decode()} == dotenv_values(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(max_size=64), name=shell_names)
def test_shell_round_trips_or_refuses(tmp_path: Path, value: bytes, name: str) -> None:
    """For any bytes, `. FILE` in sh gives exactly those bytes (NUL is the one refusal)."""
    try:
        data = render_env([(name, value)], "shell")
    except OutputError:
        assert b"\0" in value
        return
    assert {name: value} == read_with_shell("sh", write(tmp_path, data), [name])


@needs_docker
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=30).map(str.encode), name=names)
def test_docker_round_trips_or_refuses(tmp_path: Path, value: bytes, name: str) -> None:
    """The real docker CLI reads back exactly what was rendered, or render refuses."""
    try:
        data = render_env([(name, value)], "docker")
    except OutputError:
        return
    env, stderr = env_as_docker_reads_it(str(write(tmp_path, data)))
    assert [f"{name}={value.decode()}"] == env, stderr


def test_bash_is_available_for_shell_tests() -> None:
    assert shutil.which("bash") and shutil.which("sh")
