"""Which pull-secret credentials the kubelet tries for an image: a port of its docker keyring.

Ported from Kubernetes release-1.35 (see tests/core/test_keyring.py for the files and commits):

* ``pkg/credentialprovider/keyring.go``: ``BasicDockerKeyring.Add`` / ``Lookup``, ``URLsMatch``,
  ``ParseSchemelessURL``, ``SplitURL``, ``isDefaultRegistryMatch``;
* ``pkg/util/parsers`` ``ParseImageName`` as ``pkg/kubelet/images/image_manager.go`` calls it:
  ``reference.ParseNormalizedNamed(image).Name()`` from ``github.com/distribution/reference`` v0.6.0,
  digests checked as ``github.com/opencontainers/go-digest`` v1.0.0 does (sha256/384/512).

The Go standard library parts the keyring leans on are reproduced where they decide a result:
``net/url.Parse`` (as of Go 1.25 with its security fixes: ``#`` starts the fragment, ``?`` the query,
``%`` escapes are checked and decoded, bracketed hosts must be IPv6), ``net.SplitHostPort`` and
``path/filepath.Match`` (``*``, ``?``, ``[...]`` classes, ``\\`` escapes). Go strings are bytes, so
registry keys are handled as UTF-8 bytes; a malformed glob or URL is no match, as in the kubelet.

The keyring keeps each pull secret's docker config as it was read (``injector.core.dockerconfig``),
in ``imagePullSecrets`` order, so the merged ``config.json`` and the per-image lookup come from the
same data. Differences from Go, on purpose: entries of one docker config are added in document order
(Go ranges over a map, so two entries of one secret that normalise to the same key come back in a
random order), and nothing is logged. The node's own keyring and credential-provider plugins are
out of scope: only pull secrets are looked at.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Literal, NamedTuple

from injector.core.dockerconfig import Credential, merge
from injector.core.fields import quoted

DEFAULT_REGISTRY_HOST = "index.docker.io"
"""keyring.go ``defaultRegistryHost``: the key whose credentials Docker Hub images fall back to."""
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
"""The ``auths`` key docker (and, normalised, podman and skopeo) look Docker Hub credentials up under."""


class PullSecretConfig(NamedTuple):
    """One pull secret's docker config, as the kubelet reads it."""

    origin: str
    """The file (or API URL) the Secret came from."""
    ref: str
    """``Secret/namespace/name``."""
    key: str
    """``.dockerconfigjson`` or ``.dockercfg``: the document read."""
    entries: Mapping[str, Credential]
    """Registry entry as written -> credential, in document order."""


class RegistryCredential(NamedTuple):
    """One credential the kubelet would try, where it was written and the key it was found under."""

    registry: str
    """The entry as written in the pull secret (``https://index.docker.io/v1/``, ``*.example.com``)."""
    key: str
    """The keyring key it is filed under (``index.docker.io``, ``*.example.com``, ``registry.io/team``)."""
    credential: Credential
    secret: str
    """``Secret/namespace/name`` of the pull secret."""

    def __repr__(self) -> str:
        return f"RegistryCredential({self.registry!r}, {self.secret!r}, [secure])"


class InvalidImageError(ValueError):
    """An image reference the kubelet cannot parse; the message is ParseImageName's."""


EntryProblem = Literal["invalid", "glob", "path"]


# -- the keyring (keyring.go) ---------------------------------------------------------------------


class _URL(NamedTuple):
    host: bytes
    path: bytes


class Keyring:
    """An immutable ``BasicDockerKeyring`` of the pod's pull secrets, in ``imagePullSecrets`` order."""

    __slots__ = ("_creds", "_index", "configs")

    configs: tuple[PullSecretConfig, ...]
    _creds: Mapping[bytes, tuple[RegistryCredential, ...]]
    _index: tuple[tuple[bytes, _URL | None], ...]

    def __init__(self, configs: tuple[PullSecretConfig, ...] = ()) -> None:
        creds: dict[bytes, list[RegistryCredential]] = {}
        for config in configs:
            for registry, credential in config.entries.items():
                location = _entry_location(registry)
                if location is None:
                    continue  # klog.Errorf("Entry %q in dockercfg invalid (%v), ignoring")
                key = location.host + location.path
                creds.setdefault(key, []).append(RegistryCredential(registry, _text(key), credential, config.ref))
        # sets.NewString(index...).List() then sort.Reverse: byte-wise, descending.
        index = sorted(creds, reverse=True)
        # Not a dataclass: importing dataclasses costs every ``run`` more than all of this.
        object.__setattr__(self, "configs", configs)
        object.__setattr__(self, "_creds", {key: tuple(values) for key, values in creds.items()})
        object.__setattr__(self, "_index", tuple((key, _parse_schemeless_url(key)) for key in index))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keyring) and self.configs == other.configs

    __hash__ = None  # type: ignore[assignment]  # its configs hold dicts

    def __repr__(self) -> str:
        return f"Keyring({list(self.registries)!r})"

    @property
    def registries(self) -> tuple[str, ...]:
        """The index, as the kubelet walks it (reverse-lexicographic, so ``a.io/x`` before ``a.io``)."""
        return tuple(_text(key) for key, _ in self._index)

    def lookup(self, repository: str) -> list[RegistryCredential]:
        """``BasicDockerKeyring.Lookup``: ``repository`` is normalised (``docker.io/library/nginx``).

        Every key that matches contributes its credentials, most specific key first and, for one
        key, in the order they were added. With no match, a Docker Hub image gets the credentials
        stored under ``index.docker.io``.
        """
        found: list[RegistryCredential] = []
        target = _parse_schemeless_url(_go_string(repository))
        if target is not None:
            for key, glob in self._index:
                if glob is not None and _urls_match(glob, target):
                    found.extend(self._creds[key])
        if found:
            return found
        if is_default_registry_match(repository):
            return list(self._creds.get(DEFAULT_REGISTRY_HOST.encode("ascii"), ()))
        return []

    def for_image(self, image: str) -> list[RegistryCredential]:
        """The credentials the kubelet tries, in order, for a container's ``image`` (InvalidImageError)."""
        return self.lookup(normalize_image(image))

    def merged(self) -> dict[str, Credential]:
        """One config of every pull secret's entries, for clients that look hosts up exactly: the first
        secret wins for a registry entry written the same way."""
        return merge(config.entries for config in self.configs)

    def config_for_image(self, image: str) -> dict[str, Credential]:
        """A config.json's ``auths`` that makes a docker-compatible client pull ``image`` as the kubelet
        first would: the image's registry host, as docker and skopeo look it up, with the first
        credential the kubelet tries (empty when none matches). InvalidImageError if invalid."""
        repository = normalize_image(image)
        found = self.lookup(repository)
        return {registry_config_key(repository): found[0].credential} if found else {}

    def entry_problems(self) -> list[tuple[PullSecretConfig, str, EntryProblem]]:
        """Entries not every client uses as the kubelet does, each once, in merged order: ``invalid``
        (Go's ``url.Parse`` refuses it: the kubelet ignores it), ``glob`` (``*.example.com``) and
        ``path`` (``registry.io/team``), which a client looking hosts up exactly in a merged
        config.json never uses, or uses for the whole host."""
        problems: list[tuple[PullSecretConfig, str, EntryProblem]] = []
        seen: set[str] = set()
        for config in self.configs:
            for registry in config.entries:
                if registry in seen:
                    continue
                seen.add(registry)
                location = _entry_location(registry)
                if location is None:
                    problems.append((config, registry, "invalid"))
                elif b"*" in location.host:
                    problems.append((config, registry, "glob"))
                elif location.path:
                    problems.append((config, registry, "path"))
        return problems


def registry_config_key(repository: str) -> str:
    """The ``auths`` key docker, podman and skopeo look a normalised repository's credentials up under:
    its registry host, and ``https://index.docker.io/v1/`` for Docker Hub."""
    domain = repository.partition("/")[0]
    return DOCKER_HUB_CONFIG_KEY if domain == _DEFAULT_DOMAIN else domain


def _entry_location(registry: str) -> _URL | None:
    """Where ``Add`` files an entry: ``https://`` added unless it has ``http(s)://``, then the host,
    and the path unless it is empty or ``/`` (``/v1/…``, ``/v2/…`` lose that prefix); None where
    Go's ``url.Parse`` refuses the entry."""
    value = _go_string(registry)
    if not value.startswith((b"https://", b"http://")):
        value = b"https://" + value
    try:
        parsed = _url_parse(value)
    except _URLError:
        return None
    path = parsed.path
    if path.startswith((b"/v2/", b"/v1/")):
        path = path[3:]
    return _URL(parsed.host, b"" if path == b"/" else path)


def is_default_registry_match(image: str) -> bool:
    """``isDefaultRegistryMatch``: does the image name pull from Docker Hub?"""
    first, slash, _ = image.partition("/")
    if not first:
        return False
    if not slash:
        return True  # e.g. ubuntu
    if first in ("docker.io", "index.docker.io"):
        return True
    return "." not in first and ":" not in first


def urls_match_str(glob: str, target: str) -> bool:
    """``URLsMatchStr``: whether the schemeless ``target`` matches the schemeless ``glob``.

    Ports are compared as strings, hosts must have as many dot-separated labels, each label is a
    ``filepath.Match`` pattern, and the glob's path must be a plain string prefix of the target's.
    An error (unparsable URL, malformed pattern) is no match, as Lookup treats it.
    """
    glob_url = _parse_schemeless_url(_go_string(glob))
    target_url = _parse_schemeless_url(_go_string(target))
    return glob_url is not None and target_url is not None and _urls_match(glob_url, target_url)


def _urls_match(glob: _URL, target: _URL) -> bool:
    glob_parts, glob_port = _split_url(glob)
    target_parts, target_port = _split_url(target)
    if glob_port != target_port:
        return False
    if len(glob_parts) != len(target_parts):
        return False
    if not target.path.startswith(glob.path):
        return False
    return all(_filepath_match(pattern, part) for pattern, part in zip(glob_parts, target_parts, strict=True))


def _parse_schemeless_url(schemeless: bytes) -> _URL | None:
    """``ParseSchemelessURL``: ``url.Parse("https://" + s)``; None where Go returns an error."""
    try:
        return _url_parse(b"https://" + schemeless)
    except _URLError:
        return None


def _split_url(url: _URL) -> tuple[list[bytes], bytes]:
    """``SplitURL``: host labels and port; a host ``net.SplitHostPort`` refuses is kept whole."""
    split = _split_host_port(url.host)
    host, port = split if split is not None else (url.host, b"")
    return host.split(b"."), port


# -- the image the kubelet looks up (parsers.ParseImageName, distribution/reference) ------------


_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
_IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_DOMAIN_AND_PORT = r"(?:" + _DOMAIN_NAME + "|" + _IPV6_ADDRESS + ")" + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME

_REFERENCE_RE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?")
_ANCHORED_NAME_RE = re.compile(r"(?:(" + _DOMAIN_AND_PORT + r")/)?(" + _REMOTE_NAME + r")")
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_GO_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")

_REPOSITORY_NAME_TOTAL_LENGTH_MAX = 255
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""go-digest v1.0.0 algorithms; parsers.go imports crypto/sha256 and crypto/sha512."""

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DEFAULT_DOMAIN = "index.docker.io"
_OFFICIAL_REPO_PREFIX = "library/"


def normalize_image(image: str) -> str:
    """``ParseImageName(image)``'s repository: ``nginx:1.2`` -> ``docker.io/library/nginx``.

    The tag and digest are dropped; an invalid reference (uppercase repository, 64-hex identifier,
    bad digest, …) raises InvalidImageError with ParseImageName's message.
    """
    name = _parse_normalized_named(image)
    if isinstance(name, _Invalid):
        raise InvalidImageError(f"couldn't parse image name {quoted(image)}: {name.message}")
    return name


class _Invalid(NamedTuple):
    message: str


def _parse_normalized_named(s: str) -> str | _Invalid:
    """``reference.ParseNormalizedNamed(s).Name()``."""
    if _IDENTIFIER_RE.fullmatch(s):
        return _Invalid(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(s)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        return _Invalid(f"invalid reference format: repository name ({remote}) must be lowercase")
    return _parse(domain + "/" + remainder)


def _split_docker_domain(name: str) -> tuple[str, str]:
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        return _DEFAULT_DOMAIN, _OFFICIAL_REPO_PREFIX + name  # "ubuntu[:tag]"
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == _LEGACY_DEFAULT_DOMAIN:
        domain, remote = _DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote  # uppercase: not a namespace, so a domain
    else:
        domain, remote = _DEFAULT_DOMAIN, name
    if domain == _DEFAULT_DOMAIN and "/" not in remote:
        remote = _OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse(s: str) -> str | _Invalid:
    """``reference.Parse(s)``, answering the Named reference's ``Name()``."""
    match = _REFERENCE_RE.fullmatch(s)
    if match is None:
        if not s:
            return _Invalid("repository name must have at least one component")
        if _REFERENCE_RE.fullmatch(s.lower()) is not None:
            return _Invalid("repository name must be lowercase")
        return _Invalid("invalid reference format")
    name, _tag, digest = match.groups()
    name_match = _ANCHORED_NAME_RE.fullmatch(name)
    domain, path = (name_match.group(1) or "", name_match.group(2)) if name_match else ("", name)
    if len(path.encode("utf-8")) > _REPOSITORY_NAME_TOTAL_LENGTH_MAX:
        return _Invalid(f"repository name must not be more than {_REPOSITORY_NAME_TOTAL_LENGTH_MAX} characters")
    if digest is not None:
        problem = _validate_digest(digest)
        if problem:
            return _Invalid(problem)
    return f"{domain}/{path}" if domain else path


def _validate_digest(digest: str) -> str | None:
    """go-digest ``Digest.Validate``: the reason a digest is refused, or None."""
    algorithm, colon, encoded = digest.partition(":")
    if not algorithm or not colon or not encoded:
        return "invalid checksum digest format"
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        if _GO_DIGEST_RE.fullmatch(digest) is None:
            return "invalid checksum digest format"
        return "unsupported digest algorithm"
    if len(encoded) != length:
        return "invalid checksum digest length"
    if re.fullmatch(r"[a-f0-9]+", encoded) is None:
        return "invalid checksum digest format"
    return None


# -- Go's net/url.Parse, as far as Host and Path ----------------------------------------------


class _URLError(Exception):
    """``url.Parse`` returned an error."""


_PATH, _HOST, _ZONE, _USER_PASSWORD, _FRAGMENT = range(5)
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HOST_ALLOWED = _ALNUM | frozenset(b"!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_ALLOWED = _ALNUM | frozenset(b"-._:~!$&'()*+,;=%@")


def _url_parse(raw: bytes) -> _URL:
    """``url.Parse`` (``viaRequest`` false) keeping only what the keyring reads: Host and Path."""
    rest, _, fragment = raw.partition(b"#")
    url = _parse_url(rest)
    if fragment:
        _unescape(fragment, _FRAGMENT)
    return url


def _parse_url(raw: bytes) -> _URL:
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise _URLError("net/url: invalid control character in URL")
    if raw == b"*":
        return _URL(b"", b"*")
    scheme, rest = _get_scheme(raw)
    rest = rest.partition(b"?")[0]  # RawQuery (a lone trailing "?" only sets ForceQuery)
    if not rest.startswith(b"/"):
        if scheme:
            return _URL(b"", b"")  # opaque
        segment = rest.partition(b"/")[0]
        if b":" in segment:
            raise _URLError("first path segment in URL cannot contain colon")
    host = b""
    if (scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, slash, path = rest[2:].partition(b"/")
        rest = slash + path
        host = _parse_authority(authority)
    return _URL(host, _unescape(rest, _PATH))


def _get_scheme(raw: bytes) -> tuple[bytes, bytes]:
    for i, c in enumerate(raw):
        if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            continue
        if 0x30 <= c <= 0x39 or c in b"+-.":
            if i == 0:
                return b"", raw
            continue
        if c == 0x3A:
            if i == 0:
                raise _URLError("missing protocol scheme")
            return raw[:i].lower(), raw[i + 1 :]
        return b"", raw
    return b"", raw


def _parse_authority(authority: bytes) -> bytes:
    at = authority.rfind(b"@")
    host = _parse_host(authority[at + 1 :] if at >= 0 else authority)
    if at >= 0:
        userinfo = authority[:at]
        if any(c not in _USERINFO_ALLOWED for c in userinfo):
            raise _URLError("net/url: invalid userinfo")
        for part in userinfo.split(b":", 1):
            _unescape(part, _USER_PASSWORD)
    return host


def _parse_host(host: bytes) -> bytes:
    open_bracket = host.rfind(b"[")
    if open_bracket > 0:
        raise _URLError("invalid IP-literal")  # Go 1.25.8 / 1.26.1 (CVE-2026-25679)
    if open_bracket == 0:
        close_bracket = host.rfind(b"]")
        if close_bracket < 0:
            raise _URLError("missing ']' in host")
        colon_port = host[close_bracket + 1 :]
        if not _valid_optional_port(colon_port):
            raise _URLError("invalid port after host")
        hostname = host[1:close_bracket]
        zone = hostname.find(b"%25")
        if zone >= 0:
            unescaped = _unescape(hostname[:zone], _HOST) + _unescape(hostname[zone:], _ZONE)
        else:
            unescaped = _unescape(hostname, _HOST)
        if not _is_ipv6_literal(unescaped):  # Go 1.25.2 / 1.24.8 (CVE-2025-47912)
            raise _URLError("invalid IP-literal")
        return b"[" + unescaped + b"]" + colon_port
    colon = host.rfind(b":")
    if colon >= 0 and not _valid_optional_port(host[colon:]):
        raise _URLError("invalid port after host")
    return _unescape(host, _HOST)


def _is_ipv6_literal(text: bytes) -> bool:
    """``netip.ParseAddr(text)`` succeeds with an IPv6 address (a zone after ``%`` allowed)."""
    address, percent, zone = text.partition(b"%")
    if percent and not zone:
        return False
    try:
        ipaddress.IPv6Address(address.decode("ascii"))
    except ValueError:  # UnicodeDecodeError is one
        return False
    return True


def _valid_optional_port(port: bytes) -> bool:
    return not port or (port[:1] == b":" and all(0x30 <= b <= 0x39 for b in port[1:]))


def _should_escape_in_host(c: int) -> bool:
    return c not in _HOST_ALLOWED


def _unescape(s: bytes, mode: int) -> bytes:
    """``url.unescape``: check every ``%XX`` (and, in a host, the bytes), then decode."""
    i = 0
    while i < len(s):
        c = s[i]
        if c == 0x25:  # %
            if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise _URLError("invalid URL escape")
            if mode == _HOST and int(s[i + 1 : i + 2], 16) < 8 and s[i : i + 3] != b"%25":
                raise _URLError("invalid URL escape")
            if mode == _ZONE:
                value = int(s[i + 1 : i + 3], 16)
                if s[i : i + 3] != b"%25" and value != 0x20 and _should_escape_in_host(value):
                    raise _URLError("invalid URL escape")
            i += 3
        else:
            if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape_in_host(c):
                raise _URLError("invalid character in host name")
            i += 1
    if b"%" not in s:
        return s
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == 0x25:
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(s[i])
            i += 1
    return bytes(out)


# -- Go's net.SplitHostPort and path/filepath.Match ---------------------------------------------


def _split_host_port(hostport: bytes) -> tuple[bytes, bytes] | None:
    """``net.SplitHostPort``; None where it returns an error."""
    i = hostport.rfind(b":")
    if i < 0:
        return None  # missing port in address
    j = k = 0
    if hostport[:1] == b"[":
        end = hostport.find(b"]")
        if end < 0 or end + 1 != i:
            return None  # missing ']', missing port, or too many colons
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if b":" in host:
            return None  # too many colons in address
    if b"[" in hostport[j:] or b"]" in hostport[k:]:
        return None
    return host, hostport[i + 1 :]


class _BadPatternError(Exception):
    """``filepath.ErrBadPattern``."""


def _filepath_match(pattern: bytes, name: bytes) -> bool:
    """``filepath.Match`` on Unix; a malformed pattern is no match (URLsMatch's error path)."""
    try:
        return _match(pattern, name)
    except _BadPatternError:
        return False


def _match(pattern: bytes, name: bytes) -> bool:
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return b"/" not in name  # a trailing * matches the rest unless it has a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            skipped = _skip_then_match(chunk, pattern, name)
            if skipped is not None:
                name = skipped
                continue
        return False
    return not name


def _skip_then_match(chunk: bytes, pattern: bytes, name: bytes) -> bytes | None:
    """After a star: match ``chunk`` after skipping 1, 2, … bytes, never skipping a ``/``."""
    for i in range(len(name)):
        if name[i] == 0x2F:
            break
        rest = _match_chunk(chunk, name[i + 1 :])
        if rest is not None and (pattern or not rest):  # the last chunk must exhaust the name
            return rest
    return None


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern[:1] == b"*":
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == 0x5C:  # backslash
            if i + 1 < len(pattern):
                i += 1
        elif c == 0x5B:
            in_range = True
        elif c == 0x5D:
            in_range = False
        elif c == 0x2A and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _decode_rune(s: bytes) -> tuple[int, int]:
    """``utf8.DecodeRune``: (rune, width); an invalid byte is (U+FFFD, 1)."""
    for width in (1, 2, 3, 4):
        try:
            decoded = s[:width].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(decoded) == 1:
            return ord(decoded), width
        break
    return 0xFFFD, 1


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:
    """``matchChunk``: the rest of ``s`` after ``chunk`` matched its start, or None."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == 0x5B:  # [ character class
            rune = -1
            if not failed:
                rune, width = _decode_rune(s)
                s = s[width:]
            chunk = chunk[1:]
            negated = chunk[:1] == b"^"
            if negated:
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk[:1] == b"]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[:1] == b"-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= rune <= hi:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif c == 0x3F:  # ?
            if not failed:
                if s[0] == 0x2F:
                    failed = True
                s = s[_decode_rune(s)[1] :]
            chunk = chunk[1:]
        else:
            if c == 0x5C:  # backslash: the next byte is literal
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPatternError
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _get_esc(chunk: bytes) -> tuple[int, bytes]:
    if not chunk or chunk[0] in b"-]":
        raise _BadPatternError
    if chunk[0] == 0x5C:
        chunk = chunk[1:]
        if not chunk:
            raise _BadPatternError
    rune, width = _decode_rune(chunk)
    if rune == 0xFFFD and width == 1:
        raise _BadPatternError
    rest = chunk[width:]
    if not rest:
        raise _BadPatternError
    return rune, rest


# -- Go strings ---------------------------------------------------------------------------------


def _go_string(text: str) -> bytes:
    """The UTF-8 bytes Go holds for ``text``; a lone surrogate is U+FFFD, as encoding/json makes it."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text).encode("utf-8")


def _text(key: bytes) -> str:
    return key.decode("utf-8", "replace")
