"""The corpus in tests/bad_inputs/: each hostile or broken input gives its exact message and exit code.

A case is a directory: ``pod.yaml`` and ``secrets/`` (or whatever the case is about), ``case.yaml``
(the command, extra arguments and the exit code) and ``expected.txt``, injector's exact stderr
(and, for the cases that succeed, ``expected-stdout.txt``), with ``{case}`` standing for the
case's directory. No case may print a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import injector

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES = sorted(path for path in CORPUS.iterdir() if (path / "case.yaml").exists())


def run_case(case: Path) -> tuple[int, str, str]:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    extra = [arg.replace("{case}", str(case)) for arg in spec["args"]]
    options = ["--pod", str(case / "pod.yaml"), "--secrets", str(case / "secrets")]
    if "--" in extra:
        split = extra.index("--")
        argv = [*spec["command"], *options, *extra[:split], *extra[split:]]
    else:
        argv = [*spec["command"], *options, *extra]
    result = injector(*argv, timeout=120)
    return result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


def test_corpus_has_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_exact_message_and_exit_code(case: Path) -> None:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    expected = (case / "expected.txt").read_text().replace("{case}", str(case))

    code, stdout, stderr = run_case(case)

    assert "Traceback" not in stderr
    assert (spec["exit"], expected) == (code, stderr)
    if (case / "expected-stdout.txt").exists():
        assert (case / "expected-stdout.txt").read_text() == stdout
    elif code != 0:
        assert "" == stdout  # nothing half-printed on failure
