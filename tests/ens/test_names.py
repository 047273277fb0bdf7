"""Name normalisation: an ASCII subset of ENSIP-15, refusing the rest with a clear message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dalleserver.ens import InvalidName, looks_like_name, normalize_name
from dalleserver.ens.names import MAX_NAME_LENGTH


@pytest.mark.parametrize(("text", "normal"), [
    ("vitalik.eth", "vitalik.eth"),
    ("Vitalik.ETH", "vitalik.eth"),
    ("  nick.eth \n", "nick.eth"),
    ("sub.domain-1.eth", "sub.domain-1.eth"),
    ("-dash-.eth", "-dash-.eth"),  # ENSIP-15 allows leading and trailing hyphens
    ("123.eth", "123.eth"),
    ("eth", "eth"),
    ("0xabc.eth", "0xabc.eth"),
])
def test_accepted_names(text: str, normal: str) -> None:
    assert normalize_name(text) == normal


@pytest.mark.parametrize(("text", "words"), [
    ("vitalík.eth", "Unicode"),
    ("🦊.eth", "Unicode"),
    ("ｖitalik.eth", "Unicode"),  # a full-width letter, which ENSIP-15 would map
    ("", "empty"),
    ("   ", "empty"),
    (".eth", "empty label"),
    ("vitalik.", "empty label"),
    ("a..eth", "empty label"),
    ("under_score.eth", "letters, digits and hyphens"),
    ("sp ace.eth", "letters, digits and hyphens"),
    ("slash/.eth", "letters, digits and hyphens"),
    ("xn--ls8h.eth", "third and fourth"),
    ("ab--c.eth", "third and fourth"),
    ("a" * MAX_NAME_LENGTH + ".eth", "longer than"),
])
def test_refused_names_say_why(text: str, words: str) -> None:
    with pytest.raises(InvalidName) as caught:
        normalize_name(text)
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_a_refusal_is_a_value_error_quoting_little_of_a_long_input() -> None:
    with pytest.raises(ValueError) as caught:
        normalize_name("é" * 250 + ".eth")
    assert len(str(caught.value)) < 300


@given(st.text(alphabet="abcXYZ019-.", min_size=1, max_size=40))
def test_normalisation_is_idempotent_and_lower_case(text: str) -> None:
    try:
        normal = normalize_name(text)
    except InvalidName:
        return
    assert normal == normal.lower()
    assert normalize_name(normal) == normal


@pytest.mark.parametrize(("segment", "expected"), [
    ("vitalik.eth", True),
    ("Vitalik.ETH", True),
    ("vitalík.eth", True),  # a name, if a refused one: the message should be about names
    ("0xd8da6bf26964af9d7eed9e03e53415d37aa96045", False),
    ("0xD8DA6BF26964AF9D7EED9E03E53415D37AA96045", False),
    ("vitalik", False),
    ("", False),
])
def test_looks_like_name(segment: str, expected: bool) -> None:
    assert looks_like_name(segment) is expected
