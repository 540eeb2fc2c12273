"""Reading manifest bytes: YAML/JSON, multi-document, Lists, and hostile input refused cleanly."""

from __future__ import annotations

import pytest

from injector.core.manifest import parse_documents
from injector.errors import ManifestError


def test_multi_document_yaml_and_lists_are_flattened() -> None:
    data = b"""
kind: Secret
metadata: {name: a}
---
---
kind: List
items:
- {kind: Secret, metadata: {name: b}}
- {kind: ConfigMap, metadata: {name: c}}
"""
    documents = parse_documents(data, "m.yaml")

    assert ["a", "b", "c"] == [d.body["metadata"]["name"] for d in documents]
    assert "m.yaml (document 3) items[1]" == documents[2].origin


def test_json_is_accepted() -> None:
    assert (
        "s" == parse_documents(b'{"kind": "Secret", "metadata": {"name": "s"}}', "m.json")[0].body["metadata"]["name"]
    )


def test_yaml_timestamps_stay_strings() -> None:
    """sigs.k8s.io/yaml keeps unquoted dates as strings; so does injector."""
    (doc,) = parse_documents(b"kind: ConfigMap\ndata: {day: 2024-01-02}\n", "m.yaml")

    assert "2024-01-02" == doc.body["data"]["day"]


def test_a_key_given_twice_keeps_its_last_value_as_kubectl_does() -> None:
    (yaml_doc,) = parse_documents(b"kind: Secret\ndata:\n  a: 1\n  a: 2\n", "m.yaml")
    (json_doc,) = parse_documents(b'{"a": 1, "a": 2}', "m.json")

    assert ({"a": 2}, {"a": 2}) == (yaml_doc.body["data"], json_doc.body)
    assert ("key 'a' is given twice (at line 4, column 3): the last value is used, as kubectl does",) == yaml_doc.notes
    assert ("key 'a' is given twice: the last value is used, as kubectl does",) == json_doc.notes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("0o400", 256, id="0o-octal"),
        pytest.param("0400", 256, id="leading-zero-octal"),
        pytest.param("0x1A4", 420, id="hex"),
        pytest.param("0b100000000", 256, id="binary"),
        pytest.param("1_000", 1000, id="underscores"),
        pytest.param("+256", 256, id="plus-sign"),
        pytest.param("08", 8.0, id="not-octal-is-a-float"),
        pytest.param("256.0", 256.0, id="integral-float"),
        pytest.param("2.5e2", 250.0, id="exponent-without-sign"),
        pytest.param(".5", 0.5, id="leading-dot"),
        pytest.param("0o8", "0o8", id="bad-octal-is-text"),
        pytest.param("1:20", "1:20", id="no-sexagesimal"),
        pytest.param("y", True, id="y-is-true"),
        pytest.param("off", False, id="off-is-false"),
        pytest.param("~", None, id="tilde-is-null"),
        pytest.param("2001-12-14", "2001-12-14", id="timestamp-stays-text"),
    ],
)
def test_plain_scalars_mean_what_they_mean_to_kubectl(text: str, value: object) -> None:
    """go-yaml v2's resolve(), which sigs.k8s.io/yaml uses: YAML 1.1 with Go's number syntax."""
    (doc,) = parse_documents(f"kind: ConfigMap\nv: {text}\n".encode(), "m.yaml")

    assert (value, type(value)) == (doc.body["v"], type(doc.body["v"]))


@pytest.mark.parametrize(
    ("key", "json_key"),
    [("on", "true"), ("yes", "true"), ("Off", "false"), ("1", "1"), ("0x10", "16"), ("1.5", "1.5"), ("tRUE", "tRUE")],
)
def test_yaml_1_1_keys_become_the_strings_kubectl_makes_of_them(key: str, json_key: str) -> None:
    (doc,) = parse_documents(f"kind: ConfigMap\ndata:\n  {key}: x\n".encode(), "m.yaml")

    assert {json_key: "x"} == doc.body["data"]


def test_merge_keys_and_binary() -> None:
    (doc,) = parse_documents(b"base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\nbin: !!binary aGVsbG8=\n", "m.yaml")

    assert ({"p": 1, "q": 3}, "hello", ()) == (doc.body["m"], doc.body["bin"], doc.notes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x: .inf\n", "m.yaml: invalid YAML: .inf and .nan cannot be written as JSON (at line 1, column 4)"),
        (b"~: 1\n", "m.yaml: invalid YAML: a null key at line 1, column 1 (kubectl refuses it)"),
        (b'{"a": NaN}', "m.yaml: invalid JSON: NaN is not a JSON number"),
        (
            b"kind: [unclosed\n",
            "m.yaml: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']' at line 2, column 1",
        ),
        (b'{"kind": ', "m.yaml: invalid JSON: Expecting value at line 1, column 10"),
        (b"- a\n- b\n", "m.yaml: expected an object, found a list"),
        (b"just text\n", "m.yaml: expected an object, found a string"),
        (
            b"!!python/object:os.system {}\n",
            "m.yaml: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system' at line 1, column 1",
        ),
        (b"a: &a [*a]\n", "m.yaml: invalid YAML: document refers to itself through an alias"),
        (b"kind: \x80bad\n", "m.yaml: invalid YAML: invalid leading UTF-8 octet at byte 6"),
        (b"a: \x07\n", "m.yaml: invalid YAML: control characters are not allowed at byte 3"),
    ],
)
def test_bad_manifests_give_one_line_without_content(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as info:
        parse_documents(data, "m.yaml")

    assert message == str(info.value)


def test_yaml_alias_bomb_is_refused() -> None:
    """Billion laughs: each level multiplies by 9; the expanded size is counted, not built."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(ManifestError, match="alias bomb"):
        parse_documents("\n".join(lines).encode(), "bomb.yaml")


def test_yaml_error_never_quotes_the_document() -> None:
    """PyYAML's own message quotes the offending line; injector's never does."""
    with pytest.raises(ManifestError) as info:
        parse_documents(b"stringData:\n  password: CANARY-S3CRET: oops\n", "m.yaml")

    assert "CANARY" not in str(info.value)


def test_file_over_the_size_limit_is_refused_before_parsing() -> None:
    """A huge document is refused by size, without being parsed (64 MiB; a Secret is at most 1 MiB)."""
    from injector.core.manifest import MAX_MANIFEST_BYTES

    with pytest.raises(ManifestError) as info:
        parse_documents(b"#" * (MAX_MANIFEST_BYTES + 1), "huge.yaml")

    assert f"huge.yaml: file is larger than {MAX_MANIFEST_BYTES} bytes" == str(info.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # go-yaml's scanner (scannerc.go) knows \' in a double-quoted scalar, which PyYAML refuses...
        (b"""v: "it\\'s"\n""", "it's"),
        (b"""v: ["x \\'a\\' \\t \\u00e9"]\n""", ["x 'a' \t \u00e9"]),
        # ...and refuses \/, which PyYAML knows.
        (
            b"""v: "a\\/b"\n""",
            "m.yaml: invalid YAML: while scanning a double-quoted scalar, found unknown escape "
            "character at line 1, column 7",
        ),
    ],
)
def test_double_quoted_escapes_are_go_yamls(text: bytes, value: object) -> None:
    """The Kubernetes docs' envars-file-container.yaml writes \\' in a double-quoted command; kubectl reads it."""
    try:
        (doc,) = parse_documents(text, "m.yaml")
    except ManifestError as exc:
        assert value == str(exc)
        return
    assert value == doc.body["v"]


@pytest.mark.parametrize("data", [b"\x80\\'", b"\x00\\'", b"a: \x07 \\/\n"])
def test_input_read_with_go_escapes_fails_as_one_manifest_error(data: bytes) -> None:
    """A document with \\' or \\/ goes through the Python scanner, whose reader checks bytes as it is built."""
    with pytest.raises(ManifestError) as info:
        parse_documents(data, "m.yaml")

    assert str(info.value).startswith("m.yaml: invalid YAML: ")
