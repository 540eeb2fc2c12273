# Ported, as tables, from the sources read for injector/core/keyring.py (Kubernetes release-1.35 / master):
#   kubernetes pkg/credentialprovider/keyring.go: the TrackedAuthConfig + ServiceAccountCoordinates revision
#     (1.34+; the search index's copy, file id 442935866, gives no commit)
#   kubernetes pkg/credentialprovider/keyring_test.go (file id 187734157): TestURLsMatch (18 rows, with the
#     "*kubernetes.io" ones), TestDockerKeyringForGlob, TestKeyringMiss, TestKeyringMissWithDockerHubCredentials,
#     TestKeyringHitWithUnqualifiedDockerHub, TestKeyringHitWithUnqualifiedLibraryDockerHub,
#     TestKeyringHitWithQualifiedDockerHub, TestIsDefaultRegistryMatch, TestDockerKeyringLookup, TestIssue3797
#   kubernetes pkg/credentialprovider/secrets/secrets.go, commit 09284d926ccb1645776e981afac15f8995d5251b
#   kubernetes pkg/credentialprovider/secrets/secrets_test.go: Test_MakeDockerKeyring (TrackedAuthConfig revision),
#     run through a whole resolution: real Secrets, validated, read by injector/core/dockerconfig.py
#   kubernetes pkg/kubelet/images/image_manager.go: makeLookupPullCredentialsFunc, ParseImageName(image) -> Lookup
#   kubernetes pkg/util/parsers/parsers_test.go: TestParseImageName, commit 008b3652959ca58af8be3fb5b6ecfe9ae7638282
#   github.com/distribution/reference v0.6.0 (as vendored by Kubernetes; same behaviour at 0965666a, 2026-04-18)
#     normalize_test.go: TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo
#   github.com/opencontainers/go-digest v1.0.0; Go's path/filepath match_test.go (matchTests)
# Rows marked "port" pin Go behaviour the Kubernetes tables do not cover (net/url, SplitHostPort, ordering).
"""The kubelet's image-pull keyring: which pull-secret credentials it tries for an image, in order."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

import pytest

from injector.core.dockerconfig import Credential as Cred
from injector.core.dockerconfig import parse_dockercfg
from injector.core.fields import quoted
from injector.core.keyring import (
    InvalidImageError,
    Keyring,
    PullSecretConfig,
    RegistryCredential,
    _BadPatternError,
    _match,
    is_default_registry_match,
    normalize_image,
    urls_match_str,
)
from injector.core.objects import SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKERCONFIGJSON
from tests.support.manifests import container, pod, resolve, secret

FOO = Cred(b"foo", b"bar", "foo@bar.baz")  # the credential of TestDockerKeyringForGlob and the Docker Hub tests
ADA = Cred(b"ada", b"smash", "ada@example.com")
GRACE = Cred(b"grace", b"squash", "grace@example.com")
REX = Cred(b"rex", b"tiny arms", "rex@example.com")
DEFAULT_REGISTRY_KEY = "index.docker.io/v1/"


def cred(name: str) -> Cred:
    return Cred(name.encode(), b"pw-" + name.encode(), "")


def keyring(*configs: Mapping[str, Cred]) -> Keyring:
    """One pull secret per config, in imagePullSecrets order."""
    return Keyring(
        tuple(
            PullSecretConfig("secrets.yaml", f"Secret/shop/pull-{index}", ".dockerconfigjson", config)
            for index, config in enumerate(configs)
        )
    )


def found(credentials: Sequence[RegistryCredential]) -> list[Cred]:
    return [c.credential for c in credentials]


# -- URLsMatch (keyring_test.go TestURLsMatch) ---------------------------------------------------

URLS_MATCH = [
    # match when there is no path component
    ("*.kubernetes.io", "prefix.kubernetes.io", True),
    ("prefix.*.io", "prefix.kubernetes.io", True),
    ("prefix.kubernetes.*", "prefix.kubernetes.io", True),
    ("*-good.kubernetes.io", "prefix-good.kubernetes.io", True),
    # match with path components
    ("*.kubernetes.io/blah", "prefix.kubernetes.io/blah", True),
    ("prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", True),
    # match with path components and ports
    ("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", True),
    ("prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", True),
    # no match when number of parts mismatch
    ("*.kubernetes.io", "kubernetes.io", False),
    ("*.*.kubernetes.io", "prefix.kubernetes.io", False),
    ("*.*.kubernetes.io", "kubernetes.io", False),
    ("*kubernetes.io", "a.kubernetes.io", False),
    # match when number of parts match
    ("*kubernetes.io", "kubernetes.io", True),
    ("*.*.*.kubernetes.io", "a.b.c.kubernetes.io", True),
    # no match when some parts mismatch
    ("kubernetes.io", "kubernetes.com", False),
    ("k*.io", "quay.io", False),
    # no match when ports mismatch
    ("*.kubernetes.io:1234/blah", "prefix.kubernetes.io:1111/blah", False),
    ("prefix.*.io/foo", "prefix.kubernetes.io:1111/foo/bar", False),
]

URLS_MATCH_GO_SEMANTICS = [
    ("port: port compared as a string", "reg.io:5000", "reg.io:05000", False),
    ("port: an empty port is no port", "reg.io:", "reg.io", True),
    ("port: path is a plain string prefix", "reg.io/team", "reg.io/teammate", True),
    ("port: longer glob path", "reg.io/team/", "reg.io/team", False),
    ("port: labels are case-sensitive", "REG.io", "reg.io", False),
    ("port: one label", "*", "localhost", True),
    ("port: star matches within one label", "*", "reg.io", False),
    ("port: star inside a label", "r*g.io", "reg.io", True),
    ("port: ? starts the URL query, leaving host r", "r?g.io", "reg.io", False),
    ("port: [ after the start of a host is refused by url.Parse", "r[a-z]g.io", "reg.io", False),
    ("port: a bracketed host must be an IPv6 address", "[a-z]eg.io", "reg.io", False),
    ("port: backslash is not a host character", "r\\eg.io", "reg.io", False),
    ("port: # starts the fragment", "reg.io#team", "reg.io/x", True),
    ("port: a bad escape makes the glob unparsable", "reg.io/%zz", "reg.io/x", False),
    ("port: the path is unescaped", "reg.io/a%2Fb", "reg.io/a/b/c", True),
    ("port: IPv6 host and port", "[::1]:5000", "[::1]:5000/x", True),
    ("port: IPv6 port mismatch", "[::1]:5000", "[::1]/x", False),
    ("port: userinfo is not part of the host", "user@reg.io", "reg.io/x", True),
]


@pytest.mark.parametrize(("glob", "target", "expected"), URLS_MATCH, ids=[f"{g} vs {t}" for g, t, _ in URLS_MATCH])
def test_urls_match(glob: str, target: str, expected: bool) -> None:
    assert expected == urls_match_str(glob, target)


@pytest.mark.parametrize(
    ("glob", "target", "expected"),
    [row[1:] for row in URLS_MATCH_GO_SEMANTICS],
    ids=[row[0] for row in URLS_MATCH_GO_SEMANTICS],
)
def test_urls_match_follows_go_url_parsing(glob: str, target: str, expected: bool) -> None:
    assert expected == urls_match_str(glob, target)


# Go's path/filepath match_test.go matchTests: (pattern, name, matched, bad pattern)
FILEPATH_MATCH = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", False, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("a[", "x", False, True),
    ("a/b[", "x", False, True),
    ("*x", "xxx", True, False),
]


@pytest.mark.parametrize(
    ("pattern", "name", "matched", "bad"), FILEPATH_MATCH, ids=[f"{p!r} {n!r}" for p, n, _, _ in FILEPATH_MATCH]
)
def test_label_glob_is_go_filepath_match(pattern: str, name: str, matched: bool, bad: bool) -> None:
    """Host labels are matched with filepath.Match; URLsMatch treats its ErrBadPattern as no match."""
    if bad:
        with pytest.raises(_BadPatternError):
            _match(pattern.encode(), name.encode())
    else:
        assert matched == _match(pattern.encode(), name.encode())


# -- Add and Lookup with one credential (TestDockerKeyringForGlob, TestKeyringMiss) -------------

KEYRING_FOR_GLOB = [
    ("https://hello.kubernetes.io", "hello.kubernetes.io"),
    ("https://*.docker.io", "prefix.docker.io"),
    ("https://prefix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.*", "prefix.docker.io"),
    ("https://*.docker.io/path", "prefix.docker.io/path"),
    ("https://prefix.*.io/path", "prefix.docker.io/path/subpath"),
    ("https://prefix.docker.*/path", "prefix.docker.io/path"),
    ("https://*.docker.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.*.io:8888", "prefix.docker.io:8888"),
    ("https://prefix.docker.*:8888", "prefix.docker.io:8888"),
    ("https://*.docker.io/path:1111", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v1/", "prefix.docker.io/path:1111"),
    ("https://*.docker.io/v2/", "prefix.docker.io/path:1111"),
    ("https://prefix.docker.*/path:1111", "prefix.docker.io/path:1111"),
    ("prefix.docker.io:1111", "prefix.docker.io:1111/path"),
    ("*.docker.io:1111", "prefix.docker.io:1111/path"),
]

KEYRING_MISS = [
    ("https://hello.kubernetes.io", "world.mesos.org/foo/bar"),
    ("https://*.docker.com", "prefix.docker.io"),
    ("https://suffix.*.io", "prefix.docker.io"),
    ("https://prefix.docker.c*", "prefix.docker.io"),
    ("https://prefix.*.io/path:1111", "prefix.docker.io/path/subpath:1111"),
    ("suffix.*.io", "prefix.docker.io"),
]


def sample_docker_config(glob: str) -> Keyring:
    """The tests' sampleDockerConfig, read by the real parser: ``{glob: {email, auth}}``."""
    auth = base64.b64encode(b"foo:bar").decode()
    return keyring(parse_dockercfg(json.dumps({glob: {"email": "foo@bar.baz", "auth": auth}}).encode()))


@pytest.mark.parametrize(("glob", "target"), KEYRING_FOR_GLOB, ids=[f"{g} finds {t}" for g, t in KEYRING_FOR_GLOB])
def test_docker_keyring_for_glob(glob: str, target: str) -> None:
    assert [FOO] == found(sample_docker_config(glob).lookup(target + "/foo/bar"))


@pytest.mark.parametrize(("glob", "target"), KEYRING_MISS, ids=[f"{g} misses {t}" for g, t in KEYRING_MISS])
def test_keyring_miss(glob: str, target: str) -> None:
    assert [] == sample_docker_config(glob).lookup(target + "/foo/bar")


# -- Docker Hub (TestKeyringMissWithDockerHubCredentials, TestKeyringHit*DockerHub) -------------

DOCKER_HUB = [
    ("TestKeyringMissWithDockerHubCredentials", "world.mesos.org/foo/bar", 0),
    ("TestKeyringHitWithUnqualifiedDockerHub", "google/docker-registry", 1),
    ("TestKeyringHitWithUnqualifiedLibraryDockerHub", "jenkins", 1),
    ("TestKeyringHitWithQualifiedDockerHub", DEFAULT_REGISTRY_KEY + "/google/docker-registry", 1),
    ("port: a normalised official image falls back to index.docker.io", "docker.io/library/nginx", 1),
    ("port: a normalised user image falls back to index.docker.io", "docker.io/google/docker-registry", 1),
    ("port: localhost without a port counts as Docker Hub", "localhost/foo", 1),
    ("port: localhost with a port does not", "localhost:5000/foo", 0),
]


@pytest.mark.parametrize(("image", "hits"), [row[1:] for row in DOCKER_HUB], ids=[row[0] for row in DOCKER_HUB])
def test_docker_hub_credentials(image: str, hits: int) -> None:
    found_ = keyring({"https://" + DEFAULT_REGISTRY_KEY: FOO}).lookup(image)

    assert [FOO] * hits == found(found_)
    assert ["index.docker.io"] * hits == [c.key for c in found_]
    assert ["https://" + DEFAULT_REGISTRY_KEY] * hits == [c.registry for c in found_]


IS_DEFAULT_REGISTRY_MATCH = [
    ("foo/bar", True),
    ("docker.io/foo/bar", True),
    ("index.docker.io/foo/bar", True),
    ("foo", True),
    ("", False),
    ("registry.tld/foo/bar", False),
    ("registry:5000/foo/bar", False),
    ("myhostdocker.io/foo/bar", False),
]


@pytest.mark.parametrize(
    ("image", "expected"), IS_DEFAULT_REGISTRY_MATCH, ids=[i or "empty" for i, _ in IS_DEFAULT_REGISTRY_MATCH]
)
def test_is_default_registry_match(image: str, expected: bool) -> None:
    assert expected == is_default_registry_match(image)


# -- ordering (TestDockerKeyringLookup, TestIssue3797, several credentials for one key) ---------

DOCKER_KEYRING_LOOKUP = [
    ("direct match", "bar.example.com", [ADA]),
    ("direct match deeper than other possible matches", "bar.example.com/pong", [GRACE, ADA]),
    ("no direct match, deeper path ignored", "bar.example.com/ping", [ADA]),
    ("match first part of path token", "bar.example.com/pongz", [GRACE, ADA]),
    ("match regardless of sub-path", "bar.example.com/pong/pang", [GRACE, ADA]),
    ("no host match", "example.com", []),
    ("no host match, longer host", "foo.example.com", []),
]


@pytest.mark.parametrize(
    ("image", "expected"), [row[1:] for row in DOCKER_KEYRING_LOOKUP], ids=[row[0] for row in DOCKER_KEYRING_LOOKUP]
)
def test_docker_keyring_lookup(image: str, expected: list[Cred]) -> None:
    ring = keyring({"bar.example.com/pong": GRACE, "bar.example.com": ADA})

    assert expected == found(ring.lookup(image))


ISSUE_3797 = [
    ("direct match", "quay.io"),
    ("partial match", "quay.io/foo"),
    ("partial match, deeper", "quay.io/foo/bar"),
]


@pytest.mark.parametrize("image", [row[1] for row in ISSUE_3797], ids=[row[0] for row in ISSUE_3797])
def test_issue_3797_scheme_and_path_entry_matches_the_host(image: str) -> None:
    assert [REX] == found(keyring({"https://quay.io/v1/": REX}).lookup(image))


A, B, C, HUB = cred("a"), cred("b"), cred("c"), cred("hub")

ORDERING: list[tuple[str, list[dict[str, Cred]], str, list[Cred], list[str]]] = [
    ("one key in two secrets: add order", [{"reg.io": A}, {"reg.io": B}], "reg.io/x", [A, B], ["reg.io"] * 2),
    (
        "one key written two ways in one secret: document order",
        [{"reg.io": A, "https://reg.io/v1/": B}],
        "reg.io/x",
        [A, B],
        ["reg.io"] * 2,
    ),
    (
        "the same, the other way round",
        [{"https://reg.io/v1/": B, "reg.io": A}],
        "reg.io/x",
        [B, A],
        ["reg.io"] * 2,
    ),
    (
        "most specific key first",
        [{"*.io": C, "reg.io": B, "reg.io/team": A}],
        "reg.io/team/app",
        [A, B, C],
        ["reg.io/team", "reg.io", "*.io"],
    ),
    (
        "a later secret's deeper key still comes first",
        [{"reg.io": B}, {"reg.io/team": A}],
        "reg.io/team/app",
        [A, B],
        ["reg.io/team", "reg.io"],
    ),
    ("exact host before a glob", [{"*.reg.io": B}, {"a.reg.io": A}], "a.reg.io/x", [A, B], ["a.reg.io", "*.reg.io"]),
    ("http and https are one key", [{"http://reg.io": A}, {"https://reg.io": B}], "reg.io/x", [A, B], ["reg.io"] * 2),
    ("/v2/ is dropped from the key", [{"reg.io/v2/": A}], "reg.io/x", [A], ["reg.io"]),
    (
        "no index.docker.io fallback once a key matched",
        [{"https://index.docker.io/v1/": HUB, "docker.io": A}],
        "docker.io/library/nginx",
        [A],
        ["docker.io"],
    ),
    (
        "index.docker.io fallback keeps add order",
        [{"index.docker.io": A}, {"https://index.docker.io/v1/": B}],
        "docker.io/library/nginx",
        [A, B],
        ["index.docker.io"] * 2,
    ),
]


@pytest.mark.parametrize(
    ("configs", "image", "expected", "registries"), [row[1:] for row in ORDERING], ids=[row[0] for row in ORDERING]
)
def test_lookup_order(configs: list[dict[str, Cred]], image: str, expected: list[Cred], registries: list[str]) -> None:
    found_ = keyring(*configs).lookup(image)

    assert expected == found(found_)
    assert registries == [c.key for c in found_]


# -- the key Add makes of an entry (keyring.go Add, Go's url.Parse) ------------------------------

KEYS: list[tuple[str, tuple[str, ...], list[str]]] = [
    ("port: bare host", ("reg.io",), ["reg.io"]),
    ("port: https scheme", ("https://reg.io",), ["reg.io"]),
    ("port: http scheme and slash", ("http://reg.io/",), ["reg.io"]),
    ("port: /v1/ means the host", ("https://reg.io/v1/",), ["reg.io"]),
    ("port: /v2/ prefix dropped", ("reg.io/v2/team",), ["reg.io/team"]),
    ("port: /v1 without a slash is a path", ("reg.io/v1",), ["reg.io/v1"]),
    ("port: trailing slash kept", ("reg.io/team/",), ["reg.io/team/"]),
    ("port: host, port and path", ("reg.io:5000/x",), ["reg.io:5000/x"]),
    ("port: userinfo dropped", ("user:pw@reg.io",), ["reg.io"]),
    ("port: query dropped", ("reg.io?x=1",), ["reg.io"]),
    ("port: fragment dropped", ("reg.io#frag",), ["reg.io"]),
    ("port: path unescaped", ("reg.io/a%2Fb",), ["reg.io/a/b"]),
    ("port: scheme prefix is case-sensitive", ("HTTPS://reg.io",), ["HTTPS://reg.io"]),
    (
        "port: keys de-duplicated, sorted reverse",
        ("*.io", "reg.io/a", "reg.io", "reg.io/a"),
        ["reg.io/a", "reg.io", "*.io"],
    ),
    ("port: non-numeric port skipped", ("reg.io:abc",), []),
    ("port: space skipped", ("reg io",), []),
    ("port: bad path escape skipped", ("reg.io/%zz",), []),
    ("port: bad fragment escape skipped", ("reg.io#%zz",), []),
    ("port: ASCII escape in host skipped", ("reg%2Eio",), []),
    ("port: unclosed IPv6 skipped", ("[::1",), []),
    ("port: bracketed name skipped", ("[reg.io]",), []),
    ("port: IPv6 kept", ("[::1]:5000",), ["[::1]:5000"]),
    ("port: control character skipped", ("reg.io\x7f",), []),
]


@pytest.mark.parametrize(("locs", "registries"), [row[1:] for row in KEYS], ids=[row[0] for row in KEYS])
def test_add_keys(locs: tuple[str, ...], registries: list[str]) -> None:
    assert tuple(registries) == keyring(dict.fromkeys(locs, FOO)).registries


# -- pull secrets (secrets/secrets_test.go Test_MakeDockerKeyring) ------------------------------

USER = Cred(b"user", b"password", "")
DEFAULT = Cred(b"default-user", b"default-password", "")
JSON_AUTH = b'{"auths": {"test.registry.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}}'
CFG_AUTH = b'{"test.registry.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}'
JSON_FIELDS = b'{"auths": {"test.registry.io": {"username": "user", "password": "password"}}}'
CFG_FIELDS = b'{"test.registry.io": {"username": "user", "password": "password"}}'
JSON_OTHER = b'{"auths": {"foobar.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}}'
CFG_OTHER = b'{"foobar.io": {"auth": "dXNlcjpwYXNzd29yZA=="}}'

JSON, CFG = SECRET_TYPE_DOCKERCONFIGJSON, SECRET_TYPE_DOCKERCFG
Secret = tuple[str, dict[str, bytes]]

MAKE_DOCKER_KEYRING: list[tuple[str, list[Secret], list[Cred], list[Cred]]] = [
    ("with .dockerconfigjson and auth field", [(JSON, {".dockerconfigjson": JSON_AUTH})], [], [USER]),
    ("with .dockerconfig and auth field", [(CFG, {".dockercfg": CFG_AUTH})], [], [USER]),
    ("with .dockerconfigjson and username/password fields", [(JSON, {".dockerconfigjson": JSON_FIELDS})], [], [USER]),
    ("with .dockerconfig and username/password fields", [(CFG, {".dockercfg": CFG_FIELDS})], [], [USER]),
    ("with .dockerconfigjson but with wrong Secret Type", [(CFG, {".dockerconfigjson": JSON_AUTH})], [], []),
    ("with .dockerconfig but with wrong Secret Type", [(JSON, {".dockercfg": CFG_AUTH})], [], []),
    (
        "with not matching .dockerconfigjson and default keyring",
        [(JSON, {".dockerconfigjson": JSON_OTHER})],
        [DEFAULT],
        [DEFAULT],
    ),
    ("with not matching .dockerconfig and default keyring", [(CFG, {".dockercfg": CFG_OTHER})], [DEFAULT], [DEFAULT]),
    ("with no pull secrets but has default keyring", [], [DEFAULT], [DEFAULT]),
    (
        "with pull secrets and has default keyring",
        [(JSON, {".dockerconfigjson": JSON_AUTH})],
        [DEFAULT],
        [USER, DEFAULT],
    ),
    (
        "port: an empty value is skipped",
        [(JSON, {".dockerconfigjson": b""}), (CFG, {".dockercfg": CFG_AUTH})],
        [],
        [USER],
    ),
    ("port: an Opaque secret is skipped", [("Opaque", {".dockerconfigjson": JSON_AUTH})], [], []),
    (
        "port: secrets stay in imagePullSecrets order",
        [
            (CFG, {".dockercfg": b'{"test.registry.io": {"username": "second"}}'}),
            (JSON, {".dockerconfigjson": JSON_AUTH}),
        ],
        [],
        [Cred(b"second", b"", ""), USER],
    ),
]


def pull_secrets_pod(pull_secrets: list[Secret]) -> Keyring:
    """The keyring of a pod whose imagePullSecrets name ``pull_secrets`` in order, each a real Secret."""
    names = [f"pull-{index}" for index in range(len(pull_secrets))]
    secrets = [secret(name, data, type=kind) for name, (kind, data) in zip(names, pull_secrets, strict=True)]
    return resolve(pod(container(), pull_secrets=names), *secrets).keyring


@pytest.mark.parametrize(
    ("pull_secrets", "default", "expected"),
    [row[1:] for row in MAKE_DOCKER_KEYRING],
    ids=[row[0] for row in MAKE_DOCKER_KEYRING],
)
def test_make_docker_keyring(pull_secrets: list[Secret], default: list[Cred], expected: list[Cred]) -> None:
    """UnionDockerKeyring{secrets, default}: the node's default keyring (a fake in Go) goes last.

    Go's row "no pull secrets but has default keyring" reports found=false only because
    MakeDockerKeyring then returns the fake itself, whose ok is false; the credentials are the same.
    A Secret whose type and key disagree, or whose document is empty, is refused by the API
    server's validation before the kubelet could skip it: either way it gives nothing.
    """
    from_secrets = pull_secrets_pod(pull_secrets).lookup("test.registry.io")

    assert expected == found(from_secrets) + default


def test_a_pull_secret_that_does_not_decode_fails_the_credentials() -> None:
    """secrets.go returns the unmarshal error: the kubelet pulls with none of the pod's secrets."""
    resolution = resolve(
        pod(container(), pull_secrets=["good", "bad"]),
        secret("good", {".dockercfg": CFG_AUTH}, type=CFG),
        secret("bad", {".dockerconfigjson": b'{"auths": {"test.registry.io": {"auth": 1}}}'}, type=JSON),
    )

    assert [
        "secrets.yaml (document 2): Secret/shop/bad: data[.dockerconfigjson]: field 'auth' of registry "
        "'test.registry.io' must be a string"
    ] == [str(error) for error in resolution.errors]


# -- the image the kubelet looks up (parsers_test.go, distribution/reference normalize_test.go) -

HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA = "sha256:" + HEX
LONG_NAMESPACE = "_".join(["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"] * 4)
SONG = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"
HEX_NAME = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
NOT_LOWERCASE = "must be lowercase"
INVALID = "invalid reference format"

NORMALIZE: list[tuple[str, str, str | None, str | None]] = [
    # (source, image, repository, error) -- parsers_test.go TestParseImageName
    ("TestParseImageName", "root", "docker.io/library/root", None),
    ("TestParseImageName", "root:tag", "docker.io/library/root", None),
    ("TestParseImageName", "root@" + SHA, "docker.io/library/root", None),
    ("TestParseImageName", "user/repo", "docker.io/user/repo", None),
    ("TestParseImageName", "user/repo:tag", "docker.io/user/repo", None),
    ("TestParseImageName", "user/repo@" + SHA, "docker.io/user/repo", None),
    ("TestParseImageName", "url:5000/repo", "url:5000/repo", None),
    ("TestParseImageName", "url:5000/repo:tag", "url:5000/repo", None),
    ("TestParseImageName", "url:5000/repo@" + SHA, "url:5000/repo", None),
    ("TestParseImageName", "url:5000/repo:latest@" + SHA, "url:5000/repo", None),
    ("TestParseImageName", "ROOT", None, NOT_LOWERCASE),
    ("TestParseImageName", "http://root", None, INVALID),
    ("TestParseImageName", HEX, None, "cannot specify 64-byte hexadecimal strings"),
    # TestValidateReferenceName, valid
    ("TestValidateReferenceName", "docker/docker", "docker.io/docker/docker", None),
    ("TestValidateReferenceName", "library/debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "localhost/library/debian", "localhost/library/debian", None),
    ("TestValidateReferenceName", "localhost/debian", "localhost/debian", None),
    ("TestValidateReferenceName", "LOCALDOMAIN/library/debian", "LOCALDOMAIN/library/debian", None),
    ("TestValidateReferenceName", "LOCALDOMAIN/debian", "LOCALDOMAIN/debian", None),
    ("TestValidateReferenceName", "docker.io/docker/docker", "docker.io/docker/docker", None),
    ("TestValidateReferenceName", "docker.io/library/debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "docker.io/debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "index.docker.io/docker/docker", "docker.io/docker/docker", None),
    ("TestValidateReferenceName", "index.docker.io/library/debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "index.docker.io/debian", "docker.io/library/debian", None),
    ("TestValidateReferenceName", "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker", None),
    ("TestValidateReferenceName", "127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian", None),
    ("TestValidateReferenceName", "127.0.0.1:5000/debian", "127.0.0.1:5000/debian", None),
    ("TestValidateReferenceName", "192.168.0.1", "docker.io/library/192.168.0.1", None),
    ("TestValidateReferenceName", "192.168.0.1:80", "docker.io/library/192.168.0.1", None),
    ("TestValidateReferenceName", "192.168.0.1:8/debian", "192.168.0.1:8/debian", None),
    ("TestValidateReferenceName", "192.168.0.2:25000/debian", "192.168.0.2:25000/debian", None),
    ("TestValidateReferenceName", SONG, "docker.io/library/" + SONG, None),
    ("TestValidateReferenceName", "[fc00::1]:5000/docker", "[fc00::1]:5000/docker", None),
    ("TestValidateReferenceName", "[fc00::1]:5000/docker/docker", "[fc00::1]:5000/docker/docker", None),
    (
        "TestValidateReferenceName",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        None,
    ),
    ("TestValidateReferenceName", "docker.io/" + HEX_NAME, "docker.io/library/" + HEX_NAME, None),
    ("TestValidateReferenceName", "Docker/docker", "Docker/docker", None),
    ("TestValidateReferenceName", "DOCKER/docker", "DOCKER/docker", None),
    # TestValidateReferenceName, invalid
    ("TestValidateReferenceName", "https://github.com/docker/docker", None, INVALID),
    ("TestValidateReferenceName", "docker/Docker", None, NOT_LOWERCASE),
    ("TestValidateReferenceName", "-docker", None, INVALID),
    ("TestValidateReferenceName", "-docker/docker", None, INVALID),
    ("TestValidateReferenceName", "-docker.io/docker/docker", None, INVALID),
    ("TestValidateReferenceName", "docker///docker", None, INVALID),
    ("TestValidateReferenceName", "docker.io/docker/Docker", None, NOT_LOWERCASE),
    ("TestValidateReferenceName", "docker.io/docker///docker", None, INVALID),
    ("TestValidateReferenceName", "[fc00::1]", None, INVALID),
    ("TestValidateReferenceName", "[fc00::1]:5000", None, INVALID),
    ("TestValidateReferenceName", "fc00::1:5000/debian", None, INVALID),
    ("TestValidateReferenceName", "[fe80::1%eth0]:5000/debian", None, INVALID),
    ("TestValidateReferenceName", "[2001:db8:3:4::192.0.2.33]:5000/debian", None, INVALID),
    ("TestValidateReferenceName", HEX_NAME, None, "64-byte hexadecimal"),
    # TestValidateRemoteName, valid (docker/docker and the 64-character name are above)
    ("TestValidateRemoteName", "docker-rules/docker", "docker.io/docker-rules/docker", None),
    ("TestValidateRemoteName", "docker---rules/docker", "docker.io/docker---rules/docker", None),
    ("TestValidateRemoteName", "doc/docker", "docker.io/doc/docker", None),
    ("TestValidateRemoteName", "d/docker", "docker.io/d/docker", None),
    ("TestValidateRemoteName", "jess/t", "docker.io/jess/t", None),
    ("TestValidateRemoteName", "dock__er/docker", "docker.io/dock__er/docker", None),
    # TestValidateRemoteName, invalid (docker/Docker, docker///docker and the hex name are above)
    ("TestValidateRemoteName", "docker-/docker", None, INVALID),
    ("TestValidateRemoteName", "-docker-/docker", None, INVALID),
    ("TestValidateRemoteName", "____/____", None, INVALID),
    ("TestValidateRemoteName", "_docker/_docker", None, INVALID),
    ("TestValidateRemoteName", "dock..er/docker", None, INVALID),
    ("TestValidateRemoteName", "dock_.er/docker", None, INVALID),
    ("TestValidateRemoteName", "dock-.er/docker", None, INVALID),
    ("TestValidateRemoteName", "docker/", None, INVALID),
    ("TestValidateRemoteName", LONG_NAMESPACE + "/docker", None, "not be more than 255 characters"),
    # TestParseRepositoryInfo: every familiar, full and ambiguous name gives the full name
    ("TestParseRepositoryInfo", "localhost/fooo", "localhost/fooo", None),
    ("TestParseRepositoryInfo", "localhost/fooo/bar", "localhost/fooo/bar", None),
    ("TestParseRepositoryInfo", "LOCALDOMAIN/fooo", "LOCALDOMAIN/fooo", None),
    ("TestParseRepositoryInfo", "LOCALDOMAIN/fooo/bar", "LOCALDOMAIN/fooo/bar", None),
    ("TestParseRepositoryInfo", "fooo/bar", "docker.io/fooo/bar", None),
    ("TestParseRepositoryInfo", "index.docker.io/fooo/bar", "docker.io/fooo/bar", None),
    ("TestParseRepositoryInfo", "ubuntu", "docker.io/library/ubuntu", None),
    ("TestParseRepositoryInfo", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", None),
    ("TestParseRepositoryInfo", "other/library", "docker.io/other/library", None),
    ("TestParseRepositoryInfo", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", None),
    ("TestParseRepositoryInfo", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", None),
    ("TestParseRepositoryInfo", "example.com/private/moonbase", "example.com/private/moonbase", None),
    ("TestParseRepositoryInfo", "example.com/privatebase", "example.com/privatebase", None),
    ("TestParseRepositoryInfo", "example.com:8000/private/moonbase", "example.com:8000/private/moonbase", None),
    ("TestParseRepositoryInfo", "example.com:8000/privatebasee", "example.com:8000/privatebasee", None),
    ("TestParseRepositoryInfo", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", None),
    (
        "TestParseRepositoryInfo",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        None,
    ),
    ("TestParseRepositoryInfo", "foo", "docker.io/library/foo", None),
    ("TestParseRepositoryInfo", "docker.io/foo", "docker.io/library/foo", None),
    ("TestParseRepositoryInfo", "library/foo/bar", "docker.io/library/foo/bar", None),
    ("TestParseRepositoryInfo", "store/foo/bar", "docker.io/store/foo/bar", None),
    ("TestParseRepositoryInfo", "Foo/bar", "Foo/bar", None),
    ("TestParseRepositoryInfo", "FOO/bar", "FOO/bar", None),
    ("TestParseReferenceWithTagAndDigest", "busybox:latest@" + SHA, "docker.io/library/busybox", None),
    ("TestInvalidReferenceComponents", "-foo", None, INVALID),
    # what a Pod's image field can hold
    ("port", "nginx", "docker.io/library/nginx", None),
    ("port", "nginx:1.2", "docker.io/library/nginx", None),
    ("port", "localhost:5000/x", "localhost:5000/x", None),
    ("port", "localhost:5000/x:1@" + SHA, "localhost:5000/x", None),
    ("port", "Registry.IO/team/app", "Registry.IO/team/app", None),
    ("port", "registry.io/Team/app", None, NOT_LOWERCASE),
    ("port", "nginx:" + "t" * 128, "docker.io/library/nginx", None),
    ("port", "nginx:" + "t" * 129, None, INVALID),
    ("port", "nginx@sha384:" + "0" * 96, "docker.io/library/nginx", None),
    ("port", "nginx@sha512:" + "0" * 128, "docker.io/library/nginx", None),
    ("port", "nginx@sha256:" + HEX.upper(), None, "invalid checksum digest format"),
    ("port", "nginx@sha256:" + HEX[:-1], None, "invalid checksum digest length"),
    ("port", "nginx@md5:" + HEX[:32], None, "unsupported digest algorithm"),
    ("port", "", None, INVALID),
    ("port", " nginx", None, INVALID),
    ("port", "nginx\n", None, INVALID),
    ("port", "nginé", None, INVALID),
]


@pytest.mark.parametrize(
    ("image", "repository", "error"),
    [row[1:] for row in NORMALIZE],
    ids=[f"{source}: {image[:60]!r}" for source, image, _, _ in NORMALIZE],
)
def test_normalize_image(image: str, repository: str | None, error: str | None) -> None:
    if error is not None:
        with pytest.raises(InvalidImageError, match=error) as raised:
            normalize_image(image)
        assert str(raised.value).startswith(f"couldn't parse image name {quoted(image)}: ")
    else:
        assert repository == normalize_image(image)


# -- end to end: a container's image against a pod's pull secrets -------------------------------

LOCAL, REG, CORP = cred("local"), cred("reg"), cred("corp")
POD_KEYRING = keyring(
    {"https://index.docker.io/v1/": HUB, "registry.io": REG},
    {"*.corp.example": CORP, "localhost:5000": LOCAL},
)

CREDENTIALS_FOR_IMAGE = [
    ("official image falls back to Docker Hub", "nginx", [HUB]),
    ("tag and digest do not matter", "nginx:1.2@" + SHA, [HUB]),
    ("user image on Docker Hub", "bitnami/redis:7", [HUB]),
    ("registry with tag", "registry.io/team/app:v1", [REG]),
    ("glob registry", "a.corp.example/x", [CORP]),
    ("glob is one label", "a.b.corp.example/x", []),
    ("registry with port", "localhost:5000/x", [LOCAL]),
    ("localhost without a port counts as Docker Hub", "localhost/x", [HUB]),
    ("unknown registry", "quay.io/x", []),
]


@pytest.mark.parametrize(
    ("image", "expected"), [row[1:] for row in CREDENTIALS_FOR_IMAGE], ids=[row[0] for row in CREDENTIALS_FOR_IMAGE]
)
def test_credentials_for_image(image: str, expected: list[Cred]) -> None:
    assert expected == found(POD_KEYRING.for_image(image))


def test_an_invalid_image_is_an_error() -> None:
    with pytest.raises(InvalidImageError, match="must be lowercase"):
        POD_KEYRING.for_image("Nginx")


def test_repr_shows_no_credential() -> None:
    credential = RegistryCredential(
        "registry.io", "registry.io", Cred(b"hunter2-user", b"hunter2", "me@example.com"), "Secret/shop/pull"
    )

    assert "RegistryCredential('registry.io', 'Secret/shop/pull', [secure])" == repr(credential) == str(credential)
    assert "hunter2" not in repr([credential])
    assert "hunter2" not in repr(keyring({"registry.io": Cred(b"hunter2-user", b"hunter2", "")}))


def test_keyring_is_immutable() -> None:
    ring = keyring({"reg.io": A})

    with pytest.raises(AttributeError):
        ring._creds = {}
    with pytest.raises(AttributeError):
        del ring._index
    assert [A] == found(ring.lookup("reg.io/x"))
    assert [] == Keyring().lookup("reg.io/x")
