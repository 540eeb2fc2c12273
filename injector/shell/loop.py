"""Run an async function under trio from synchronous code (I/O shell).

trio's nurseries wrap what their tasks raise in exception groups; a command wants its own error
back, so an InjectorError found in a group leaves as itself (and Ctrl-C as KeyboardInterrupt).
trio is imported here, when a command first needs it, not before: ``run`` without a mount never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from injector.errors import InjectorError

T = TypeVar("T")


def run_trio(main: Callable[[], Awaitable[T]]) -> T:
    import trio

    try:
        return trio.run(main)
    except BaseExceptionGroup as group:
        found = leaves(group)
        first = next((leaf for leaf in found if isinstance(leaf, InjectorError)), None)
        if first is not None:
            raise first from None
        if found and all(isinstance(leaf, KeyboardInterrupt) for leaf in found):
            raise KeyboardInterrupt from None
        raise


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """Every exception in ``group`` and its nested groups, in order."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
