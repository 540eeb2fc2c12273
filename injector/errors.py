"""Errors injector reports, one family per party who must act.

    InjectorError            every error injector raises on purpose; prints as one line
    ├── UsageError           the command line is wrong                           (exit 2)
    ├── ManifestError        an input document is malformed: fix the YAML/JSON   (exit 3)
    ├── ResolutionError      a reference does not resolve (missing secret/key)   (exit 4)
    ├── SourceError          a source cannot be read or decrypted                (exit 5)
    └── OutputError          the result cannot be rendered as asked              (exit 6)

Every message names where the problem is (file, ``Kind/namespace/name``, field path) and never a
secret value: messages are built only from names, keys and paths.
"""

from __future__ import annotations


class InjectorError(Exception):
    """Base of every error injector raises deliberately."""

    exit_code = 1

    def __init__(self, problem: str, *, source: str = "", obj: str = "", field: str = "") -> None:
        self.problem = problem
        self.source = source
        self.obj = obj
        self.field = field
        super().__init__(": ".join(part for part in (source, obj, field, problem) if part))

    def __str__(self) -> str:
        return str(self.args[0])


class UsageError(InjectorError):
    """The command line is wrong (unknown container, missing option...)."""

    exit_code = 2


class ManifestError(InjectorError):
    """An input document is malformed or fails Kubernetes validation."""

    exit_code = 3


class ResolutionError(InjectorError):
    """A well-formed reference does not resolve: like the kubelet's CreateContainerConfigError."""

    exit_code = 4


class SourceError(InjectorError):
    """A source cannot be read, decrypted or reached."""

    exit_code = 5


class OutputError(InjectorError):
    """The resolved result cannot be represented in the requested output."""

    exit_code = 6


class InjectorWarning:
    """A problem that does not stop injector, reported like the kubelet's Warning events."""

    __slots__ = ("field", "obj", "problem", "source")

    def __init__(self, problem: str, *, source: str = "", obj: str = "", field: str = "") -> None:
        self.problem = problem
        self.source = source
        self.obj = obj
        self.field = field

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.obj, self.field, self.problem) if part)

    def __repr__(self) -> str:
        return f"InjectorWarning({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InjectorWarning) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))
