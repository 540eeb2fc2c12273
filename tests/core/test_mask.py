"""--mask redaction: values are replaced even when split across reads, and nothing else is held back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from injector.core.mask import Redactor

VALUES = {b"hunter2": "DB_PASSWORD", b"hunter2-extended": "LONG", b"tok_123": "TOKEN"}


def redact(chunks: list[bytes], values: dict[bytes, str] = VALUES) -> bytes:
    redactor = Redactor(values)
    return b"".join(redactor.feed(chunk) for chunk in chunks) + redactor.flush()


def test_value_is_replaced_by_its_name() -> None:
    assert b"pw=<redacted:DB_PASSWORD>\n" == redact([b"pw=hunter2\n"])


def test_value_split_across_reads_is_replaced() -> None:
    assert b"a <redacted:TOKEN> b" == redact([b"a tok", b"_1", b"23 b"])


def test_longest_value_wins() -> None:
    assert b"<redacted:LONG>!" == redact([b"hunter2-ext", b"ended!"])


def test_output_not_resembling_a_value_is_not_held() -> None:
    """A prompt without a newline is passed on at once."""
    redactor = Redactor(VALUES)

    assert b"Password: " == redactor.feed(b"Password: ")


def test_possible_value_prefix_is_held_until_decided() -> None:
    redactor = Redactor(VALUES)

    assert b"x " == redactor.feed(b"x hunt")
    assert b"<redacted:DB_PASSWORD>?" == redactor.feed(b"er2?") + redactor.flush()


@given(
    text=st.lists(
        st.sampled_from([b"hunter2", b"hunter2-extended", b"tok_123", b"hun", b"x", b"\n", b"tok_12"]), max_size=20
    ).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_any_chunking_gives_the_same_result_as_one_read(text: bytes, cuts: list[int]) -> None:
    """Whatever the read boundaries, the output equals redacting the whole stream at once."""
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]

    assert redact([text]) == redact(chunks)
    assert b"hunter2" not in redact(chunks) and b"tok_123" not in redact(chunks)
