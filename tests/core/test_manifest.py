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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"kind: Secret\ndata:\n  a: 1\n  a: 2\n", "m.yaml: invalid YAML: duplicate key 'a' at line 4, column 3"),
        (b'{"a": 1, "a": 2}', "m.yaml: duplicate key 'a'"),
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
