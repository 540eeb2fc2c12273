"""Start-up overhead of `injector run -- true` (env only, no mount), as ratios measured in one run.

Baselines: `true` itself and `python -c pass` (the same interpreter as injector's).
Goal: injector run within 3x of `python -c pass` (dotenvx run: 10.8x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median, percentile, time_commands

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=60)
    args = parser.parse_args()
    # As installed (pip compiles the modules once): a shell's PYTHONDONTWRITEBYTECODE would make each start
    # recompile every module changed since its .pyc was written. The warm-up writes them.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    injector = shutil.which("injector", path=str(Path(sys.executable).parent)) or "injector"
    true = shutil.which("true") or "/bin/true"
    example = ["--pod", str(REPO / "examples/pod.yaml"), "--secrets", str(REPO / "examples/secrets")]
    commands = {
        "true": [true],
        "python -c pass": [sys.executable, "-c", "pass"],
        "injector run -- true": [injector, "run", *example, "--", true],
    }
    time_commands(commands, 3)  # warm the page cache
    samples = time_commands(commands, args.iterations)
    base_true = median(samples["true"])
    base_python = median(samples["python -c pass"])
    print(f"iterations: {args.iterations}")
    for name, values in samples.items():
        print(f"{name:24s} median {median(values) * 1000:7.2f} ms   p99 {percentile(values, 0.99) * 1000:7.2f} ms")
    run = median(samples["injector run -- true"])
    print(f"ratio injector-run / true:            {run / base_true:6.1f}x")
    print(f"ratio injector-run / python -c pass:  {run / base_python:6.2f}x   (goal <= 3x)")


if __name__ == "__main__":
    main()
