"""What a command run under ``--watch`` gets when what it sees changes (``--on-change``; pure).

Only a change to what this container sees counts: its env, or the files its mount shows (a key of
a Secret it does not reference changes neither).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Action = Literal["restart", "signal", "exec", "none"]


class OnChange(NamedTuple):
    """``--on-change``: ``auto`` (the default) restarts when the env changed and leaves a change to
    files to the mount; the others act on any change."""

    action: Literal["auto", "restart", "signal", "exec", "none"] = "auto"
    signal: int = 0
    """``signal:SIG``: the signal's number."""
    command: str = ""
    """``exec:CMD``: the command, run by ``sh -c``."""


def reaction(policy: OnChange, *, env_changed: bool, files_changed: bool) -> Action:
    """What to do about a change: the env is a process's for its life, so only a restart gives it
    a new one; files change under it (the mount's ``..data`` swap) and may only need a nudge."""
    if not env_changed and not files_changed:
        return "none"
    if policy.action == "auto":
        return "restart" if env_changed else "none"
    return policy.action
