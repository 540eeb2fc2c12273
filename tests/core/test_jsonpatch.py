"""core.jsonpatch: the operations it writes, applied by a maintained RFC 6902 implementation, give the target."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from injector.core.jsonpatch import diff, pointer

_KEYS = st.sampled_from(["a", "b", "c/d", "e~f", "", "0", "-"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", "1"]))
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=4), st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_the_patch_applied_to_the_source_gives_the_target(old: dict[str, Any], new: dict[str, Any]) -> None:
    result = jsonpatch.apply_patch(old, diff(old, new))

    assert json.dumps(new, sort_keys=True) == json.dumps(result, sort_keys=True)  # 1 and true kept apart


def test_equal_documents_need_no_patch_and_json_types_are_kept_apart() -> None:
    assert [] == diff({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert [{"op": "replace", "path": "/a", "value": True}] == diff({"a": 1}, {"a": True})


def test_pointers_escape_tilde_and_slash() -> None:
    assert "/metadata/annotations/injector.io~1injected/~0x/0" == pointer(
        ("metadata", "annotations", "injector.io/injected", "~x", 0)
    )
