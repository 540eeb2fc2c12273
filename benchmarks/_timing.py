"""Shared timing helpers for the benchmarks: interleaved runs, medians and percentiles."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_commands(commands: dict[str, Sequence[str]], iterations: int) -> dict[str, list[float]]:
    """Wall time of each command, run in turn (interleaved, so drift hits all alike)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(iterations):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - start)
    return samples


def time_calls(calls: dict[str, Callable[[], object]], iterations: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(iterations):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)
