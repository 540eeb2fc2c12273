"""The problems injector reports: one error tree, one family per party who must act.

    Problem                  where (source, object, field path) and what, never a value
    ├── InjectorWarning      does not stop injector, like the kubelet's Warning events
    └── InjectorError        raised on purpose; prints as one line; carries its exit code
        ├── UsageError       the command line is wrong                           (exit 2)
        ├── ManifestError    an input document is malformed: fix the YAML/JSON   (exit 3)
        ├── ResolutionError  a reference does not resolve (missing secret/key)   (exit 4)
        ├── SourceError      a source cannot be read, decrypted or reached       (exit 5)
        ├── OutputError      the result cannot be rendered as asked              (exit 6)
        ├── ConflictError    a write would overwrite what changed or exists      (exit 7)
        ├── NotConfirmedError     a deletion was not confirmed                        (exit 8)
        └── CommandError     the command to run cannot be executed / is not found (126/127)

Messages are built from names, keys and paths only. A message may point at a setting the user can
change (``Setting("container")``); how a setting is spelled (``--container``) is the command
line's business, so the text is rendered with the command line's spelling by its reporter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple


class Setting(NamedTuple):
    """A placeholder in a message for a setting the user can change, spelled by whoever renders it."""

    name: str


MessagePart = str | Setting
Message = str | tuple[MessagePart, ...]


def _plain(setting: Setting) -> str:
    return setting.name


class Problem:
    """What went wrong and where: ``source`` (file or URL), ``obj`` (``Kind/namespace/name``), ``field``."""

    def __init__(self, problem: Message, *, source: str = "", obj: str = "", field: object = "") -> None:
        self.parts: tuple[MessagePart, ...] = (problem,) if isinstance(problem, str) else problem
        self.source = source
        self.obj = obj
        self.field = str(field)

    @property
    def problem(self) -> str:
        return self.describe()

    def describe(self, spell: Callable[[Setting], str] = _plain) -> str:
        """The message alone, with settings spelled by ``spell``."""
        return "".join(part if isinstance(part, str) else spell(part) for part in self.parts)

    def where(self) -> tuple[str, ...]:
        """The non-empty parts of the location, outermost first."""
        return tuple(part for part in (self.source, self.obj, self.field) if part)

    def render(self, spell: Callable[[Setting], str] = _plain) -> str:
        """One line: ``source: object: field: message``."""
        return ": ".join((*self.where(), self.describe(spell)))


class InjectorWarning(Problem):
    """A problem that does not stop injector, reported like the kubelet's Warning events."""

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"InjectorWarning({self.render()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InjectorWarning) and self.render() == other.render()

    def __hash__(self) -> int:
        return hash(self.render())


class InjectorError(Problem, Exception):
    """Base of every error injector raises deliberately."""

    exit_code = 1

    def __init__(self, problem: Message, *, source: str = "", obj: str = "", field: object = "") -> None:
        Problem.__init__(self, problem, source=source, obj=obj, field=field)
        Exception.__init__(self, self.render())

    def __str__(self) -> str:
        return self.render()


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


class ConflictError(InjectorError):
    """A write found the object already there (create) or changed since it was read (edit): nothing was
    overwritten."""

    exit_code = 7


class NotConfirmedError(InjectorError):
    """The user answered no (or nothing) to a deletion."""

    exit_code = 8


class CommandError(InjectorError):
    """The command to run cannot be started: 127 when it is not found, 126 otherwise (as a shell)."""

    def __init__(self, problem: Message, *, exit_code: int, source: str = "") -> None:
        super().__init__(problem, source=source)
        self.exit_code = exit_code


class CombinedError(InjectorError):
    """Several errors found at once (a resolution's): reported one per line; the first gives the exit code."""

    def __init__(self, errors: Sequence[InjectorError]) -> None:
        first = errors[0]
        super().__init__(first.parts, source=first.source, obj=first.obj, field=first.field)
        self.errors = tuple(errors)
        self.exit_code = first.exit_code
