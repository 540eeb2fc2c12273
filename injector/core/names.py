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
_QUALIFIED_NAME_PART = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME = re.compile(f"{_QUALIFIED_NAME_PART}\\Z")
_LABEL_VALUE = re.compile(f"({_QUALIFIED_NAME_PART})?\\Z")
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE = 256 * 1024
"""TotalAnnotationSizeLimitB: the keys and values of an object's annotations together."""

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


def qualified_name_problems(value: str) -> list[str]:
    """IsQualifiedName: the rule for label keys and (lower-cased) annotation keys: ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        problems = [f"prefix part {message}" for message in dns_subdomain_problems(prefix)]
        if problems:
            return problems
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME_PART}') with an optional DNS subdomain prefix and '/' (e.g. "
            "'example.com/MyName')"
        ]
    if not name:
        return ["name part must be non-empty"]
    problems = []
    if len(name) > QUALIFIED_NAME_MAX:
        problems.append(f"name part must be no more than {QUALIFIED_NAME_MAX} characters")
    if not _QUALIFIED_NAME.match(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            f"'{_QUALIFIED_NAME_PART}')"
        )
    return problems


def label_value_problems(value: str) -> list[str]:
    """IsValidLabelValue."""
    problems = []
    if len(value) > LABEL_VALUE_MAX:
        problems.append(f"must be no more than {LABEL_VALUE_MAX} characters")
    if not _LABEL_VALUE.match(value):
        problems.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
            f"regex used for validation is '({_QUALIFIED_NAME_PART})?')"
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
