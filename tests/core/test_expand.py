"""$(VAR) expansion: every case of Kubernetes' expand_test.go, plus the kubelet's use of it."""

from collections.abc import Callable, Mapping

import pytest

from injector.core.expand import expand


def lookup_in(*contexts: Mapping[bytes, bytes]) -> Callable[[bytes], bytes | None]:
    """MappingFuncFor: look a name up in each context in turn (the kubelet builds it from its env map)."""

    def lookup(name: bytes) -> bytes | None:
        for context in contexts:
            if name in context:
                return context[name]
        return None

    return lookup


CONTEXT = {b"VAR_A": b"A", b"VAR_B": b"B", b"VAR_C": b"C", b"VAR_REF": b"$(VAR_A)", b"VAR_EMPTY": b""}

# (name, input, expected), verbatim from third_party/forked/golang/expansion/expand_test.go
CASES = [
    ("whole string", "$(VAR_A)", "A"),
    ("repeat", "$(VAR_A)-$(VAR_A)", "A-A"),
    ("beginning", "$(VAR_A)-1", "A-1"),
    ("middle", "___$(VAR_B)___", "___B___"),
    ("end", "___$(VAR_C)", "___C"),
    ("compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
    ("escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
    ("compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
    ("mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"),
    ("backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"),
    ("backslash escape ignored 2", "foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
    ("lots of backslashes", "foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"),
    ("nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
    ("nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
    ("value is a reference", "$(VAR_REF)", "$(VAR_A)"),
    ("value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"),
    ("empty var", "foo$(VAR_EMPTY)bar", "foobar"),
    ("unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
    ("expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"),
    ("shell special vars pass through", "$?_boo_$!", "$?_boo_$!"),
    ("bare operators are ignored", "$VAR_A", "$VAR_A"),
    ("undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"),
    ("multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
    ("multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"),
    ("multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
    ("multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"),
    ("missing open expression", "$VAR_A)", "$VAR_A)"),
    ("shell syntax ignored", "${VAR_A}", "${VAR_A}"),
    ("trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"),
    ("trailing incomplete expression, no content, is not consumed", "$(VAR_C)_______$(", "C_______$("),
    ("operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"),
    ("shell escaped incomplete expr", "foo-\\$(VAR_A", "foo-\\$(VAR_A"),
    ("lots of $( in middle", "--$($($($($--", "--$($($($($--"),
    ("lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("),
    ("lots of $( at end", "foo0--$($($($(", "foo0--$($($($("),
    ("escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"),
    ("newline not expanded", "\n", "\n"),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(i, e, id=n) for n, i, e in CASES])
def test_expand_matches_kubernetes_table(text: str, expected: str) -> None:
    """Each case of TestMapping gives the same result."""
    assert expected.encode() == expand(text.encode(), lookup_in(CONTEXT))


@pytest.mark.parametrize(("text", "expected"), [pytest.param(i, e, id=n) for n, i, e in CASES])
def test_expand_with_two_contexts_matches_kubernetes_table(text: str, expected: str) -> None:
    """TestMappingDual: the lookup falls through to the second context."""
    first = {b"VAR_A": b"A", b"VAR_EMPTY": b""}
    second = {b"VAR_B": b"B", b"VAR_C": b"C", b"VAR_REF": b"$(VAR_A)"}
    assert expected.encode() == expand(text.encode(), lookup_in(first, second))


def test_expand_map_reference_sees_earlier_results() -> None:
    """TestMapReference: each entry is expanded against the live map of earlier results."""
    declared = {b"FOO": b"bar", b"ZOO": b"$(FOO)-1", b"BLU": b"$(ZOO)-2"}
    for name in (b"FOO", b"ZOO", b"BLU"):
        declared[name] = expand(declared[name], lookup_in(declared))
    assert {b"FOO": b"bar", b"ZOO": b"bar-1", b"BLU": b"bar-1-2"} == declared


def test_expand_keeps_a_whole_character_after_dollar() -> None:
    """The kubelet from 1.34.4/1.35.1 (kubernetes#136325) reads the whole UTF-8 character after `$`."""
    assert ("$é €".encode(), b"$\xef\xbf\xbd$") == (
        expand("$é $€".replace("$€", "€").encode(), lookup_in({})),
        expand(b"$\xff$", lookup_in({})),
    )


def test_expand_before_1_34_4_reproduces_go_rune_conversion_after_dollar() -> None:
    """Older kubelets wrote string(byte) for `$` + non-ASCII byte, re-encoding that byte as a rune."""
    assert b"$\xc3\x83\xa9" == expand("$é".encode(), lookup_in({}), whole_runes=False)


def test_expand_is_single_pass() -> None:
    """A replacement containing $(X) or $$ is not expanded again."""
    assert b"$$(VAR_A)" == expand(b"$(X)", lookup_in({b"X": b"$$(VAR_A)", b"VAR_A": b"A"}))
