"""Kubernetes' name and key rules (apimachinery util/validation and api/validate/content), as pure predicates.

Each ``*_problems`` function returns the messages Kubernetes 1.35 gives (empty when valid), word for
word: a user who searches for one finds Kubernetes' own documentation and issues.
"""

from __future__ import annotations

import re

DNS1123_SUBDOMAIN_MAX = 253
DNS1123_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE = 256 * 1024
"""TotalAnnotationSizeLimitB: the keys and values of an object's annotations together, in bytes."""

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"

_DNS_LABEL = re.compile(_DNS1123_LABEL_FMT + r"\Z")
_DNS_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT + r"\Z")
_LABEL_KEY = re.compile(_LABEL_KEY_FMT + r"\Z")
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT + r"\Z")
_CONFIG_MAP_KEY = re.compile(_CONFIG_MAP_KEY_FMT + r"\Z")
_ENV_VAR_NAME = re.compile(_ENV_VAR_NAME_FMT + r"\Z")
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character"
)
_DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character"
)
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    "must not start with a digit"
)
_RELAXED_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters other than '='"
)


def _regex_error(message: str, regex: str, *examples: str) -> str:
    """RegexError, including its two spaces before each 'or'."""
    if not examples:
        return f"{message} (regex used for validation is '{regex}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{regex}')"


def _max_len(length: int, unit: str = "characters") -> str:
    return f"must be no more than {length} {unit}"


def dns_subdomain_problems(value: str) -> list[str]:
    """IsDNS1123Subdomain: object names."""
    problems = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _DNS_SUBDOMAIN.match(value):
        problems.append(_regex_error(_DNS_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return problems


def dns_label_problems(value: str) -> list[str]:
    """IsDNS1123Label: namespaces and volume names."""
    problems = []
    if len(value) > DNS1123_LABEL_MAX:
        problems.append(_max_len(DNS1123_LABEL_MAX))
    if not _DNS_LABEL.match(value):
        if _DNS_SUBDOMAIN.match(value):
            problems.append("must not contain dots")
        else:
            problems.append(_regex_error(_DNS_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return problems


def config_map_key_problems(key: str) -> list[str]:
    """IsConfigMapKey: the rule for keys of Secret and ConfigMap data."""
    problems = []
    if len(key) > DNS1123_SUBDOMAIN_MAX:
        problems.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_MAP_KEY.match(key):
        problems.append(_regex_error(_CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    problems.extend(_dot_problems(key))
    return problems


def qualified_name_problems(value: str) -> list[str]:
    """IsQualifiedName (1.35's IsLabelKey): label keys and (lower-cased) annotation keys, ``[prefix/]name``."""
    problems = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems += [f"prefix part {message}" for message in _content_subdomain_problems(prefix)]
    else:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        problems.append(f"name part {_max_len(QUALIFIED_NAME_MAX, 'bytes')}")
    if not _LABEL_KEY.match(name):
        problems.append("name part " + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return problems


def _content_subdomain_problems(value: str) -> list[str]:
    """content.IsDNS1123Subdomain, which label-key prefixes use: as util's, with lengths in bytes."""
    problems = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(_max_len(DNS1123_SUBDOMAIN_MAX, "bytes"))
    if not _DNS_SUBDOMAIN.match(value):
        problems.append(_regex_error(_DNS_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return problems


def label_value_problems(value: str) -> list[str]:
    """IsValidLabelValue (1.35's IsLabelValue)."""
    problems = []
    if len(value) > LABEL_VALUE_MAX:
        problems.append(_max_len(LABEL_VALUE_MAX, "bytes"))
    if not _LABEL_VALUE.match(value):
        problems.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return problems


def _dot_problems(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def env_var_name_problems(name: str) -> list[str]:
    """IsEnvVarName: the strict rule (env names before RelaxedEnvironmentVariableValidation; envFrom
    keys the kubelet skipped up to 1.29)."""
    problems = []
    if not _ENV_VAR_NAME.match(name):
        problems.append(_regex_error(_ENV_VAR_NAME_MSG, _ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return problems + _dot_problems(name)


def is_env_var_name(name: str) -> bool:
    return not env_var_name_problems(name)


def relaxed_env_var_name_problems(name: str) -> list[str]:
    """IsRelaxedEnvVarName: printable ASCII but '=' (RelaxedEnvironmentVariableValidation, GA in 1.34)."""
    if not name:
        return ["environment variable name must be non-empty"]
    if not all(" " <= ch <= "~" for ch in name) or "=" in name:
        return [_RELAXED_ENV_VAR_NAME_MSG]
    return []


def is_shell_name(name: str) -> bool:
    """A name POSIX sh accepts in ``export NAME=...``."""
    return bool(_SHELL_NAME.match(name))
