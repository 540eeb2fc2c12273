from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def write_manifests(path: Path, *documents: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def injector(
    *args: str,
    input: bytes | None = None,  # noqa: A002 - as in subprocess.run
    env: dict[str, str] | None = None,
    timeout: float = 60,
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "injector", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
        **kwargs,
    )


@pytest.fixture
def run_injector() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    return injector


@pytest.fixture
def canary() -> str:
    """A random value that must never appear anywhere but where it is asked for."""
    return "CANARY-" + os.urandom(12).hex()


def new_age_key(path: Path) -> str:
    """Make an age identity file with the real age-keygen; returns its recipient."""
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()


def age_encrypt(plain: Path, recipient: str) -> Path:
    """Encrypt ``plain`` with the real age CLI to ``plain.age`` and remove the plaintext."""
    sealed = plain.with_name(plain.name + ".age")
    subprocess.run(["age", "-r", recipient, "-o", str(sealed), str(plain)], check=True)
    plain.unlink()
    return sealed


def assert_no_traceback(stderr: bytes, *secrets: str) -> None:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text, "a secret value leaked into stderr"


__all__: Sequence[str] = [
    "EXAMPLES",
    "REPO",
    "age_encrypt",
    "assert_no_traceback",
    "injector",
    "new_age_key",
    "write_manifests",
]
