"""The Kubernetes version whose rules apply, where the kubelet's or the API server's rules changed.

injector follows the current release (1.35) by default; ``--kubelet-version`` selects an older one.
Each rule that differs by version is a property here, named after what it decides, so that every
version-dependent branch in the core reads as a question to this object.
"""

from __future__ import annotations

import re
from typing import NamedTuple

OLDEST_MINOR = 19
CURRENT_MINOR = 35


class KubernetesVersion(NamedTuple):
    minor: int
    """1.<minor>: the patch releases of a minor are taken at their latest."""

    def __str__(self) -> str:
        return f"1.{self.minor}"

    @property
    def skips_invalid_env_from_keys(self) -> bool:
        """Up to 1.29 the kubelet skipped envFrom keys that are not C-identifier-like names
        (IsEnvVarName) with an InvalidEnvironmentVariableNames event; 1.30+ passes every key."""
        return self.minor <= 29

    @property
    def relaxed_env_var_names(self) -> bool:
        """RelaxedEnvironmentVariableValidation: env names (and envFrom prefixes) may be any printable
        ASCII but '='. Alpha (off) in 1.30, beta (on) in 1.32, GA in 1.34."""
        return self.minor >= 32

    @property
    def expands_whole_runes(self) -> bool:
        """``$`` followed by a multi-byte character: the kubelet reads the whole UTF-8 character from
        1.34.4 and 1.35.1 on (kubernetes/kubernetes#136325); before, one byte, turned into a rune."""
        return self.minor >= 34


CURRENT = KubernetesVersion(CURRENT_MINOR)

_VERSION = re.compile(r"v?1\.(\d+)(\.\d+)?\Z")


def parse_version(text: str) -> KubernetesVersion:
    """``1.29``, ``v1.29`` or ``1.29.3``; raises ValueError naming the versions supported."""
    found = _VERSION.match(text.strip())
    minor = int(found.group(1)) if found else -1
    if not OLDEST_MINOR <= minor <= CURRENT_MINOR:
        raise ValueError(f"1.{OLDEST_MINOR} to 1.{CURRENT_MINOR}")
    return KubernetesVersion(minor)
