"""What --on-change does about a change, by what changed (pure)."""

from __future__ import annotations

import signal

import pytest

from injector.core.onchange import OnChange, reaction

HUP = OnChange("signal", signal=signal.SIGHUP)
RELOAD = OnChange("exec", command="reload")


@pytest.mark.parametrize(
    ("policy", "env_changed", "files_changed", "action"),
    [
        (OnChange(), True, False, "restart"),
        (OnChange(), True, True, "restart"),
        (OnChange(), False, True, "none"),  # the mount's swap is the news; the app may watch ..data
        (OnChange(), False, False, "none"),
        (OnChange("restart"), False, True, "restart"),
        (HUP, True, False, "signal"),
        (HUP, False, True, "signal"),
        (HUP, False, False, "none"),  # a key this container does not reference changed
        (RELOAD, False, True, "exec"),
        (OnChange("none"), True, True, "none"),
    ],
)
def test_reaction(policy: OnChange, env_changed: bool, files_changed: bool, action: str) -> None:
    assert action == reaction(policy, env_changed=env_changed, files_changed=files_changed)
