"""Kubernetes' name and key rules (apimachinery util/validation), as pure predicates.

Each ``*_problems`` function returns the list of messages Kubernetes would give (empty when valid).
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_CONFIG_MAP_KEY = re.compile(r"[-._a-zA-Z0-9]+\Z")
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63


def dns_subdomain_problems(value: str) -> list[str]:
    problems = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS_SUBDOMAIN.match(value):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
            "'.', and must start and end with an alphanumeric character"
        )
    return problems


def dns_label_problems(value: str) -> list[str]:
    problems = []
    if len(value) > DNS1123_LABEL_MAX:
        problems.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS_LABEL.match(value):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        )
    return problems


def config_map_key_problems(key: str) -> list[str]:
    """IsConfigMapKey: the rule for keys of Secret and ConfigMap data."""
    problems = []
    if len(key) > DNS1123_SUBDOMAIN_MAX:
        problems.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _CONFIG_MAP_KEY.match(key):
        problems.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.'")
    problems.extend(_dot_problems(key))
    return problems


def _dot_problems(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(name: str) -> bool:
    """IsEnvVarName, the strict rule the kubelet applied to envFrom keys up to 1.29."""
    return bool(_ENV_VAR_NAME.match(name)) and not _dot_problems(name)


def relaxed_env_var_name_problems(name: str) -> list[str]:
    """IsRelaxedEnvVarName: printable ASCII but '=' (RelaxedEnvironmentVariableValidation, GA in 1.34)."""
    if not name:
        return ["environment variable name must not be empty"]
    if not all(" " <= ch <= "~" for ch in name) or "=" in name:
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def is_shell_name(name: str) -> bool:
    """A name POSIX sh accepts in ``export NAME=...``."""
    return bool(_SHELL_NAME.match(name))
