"""Seed expansion and chunk -> row selection, checked against hand-computed vectors."""

import pytest

from dalleserver.dress import expand_seed, select_attributes
from dalleserver.dress.builder import SeedError, valid_filename
from dalleserver.dress.databases import ATTRIBUTE_SLOTS

ADDRESS = "0x123456789abcdef0123456789abcdef012345678"
# 40 address digits, then the first 24 characters of the reversed address.
SEED = "123456789abcdef0123456789abcdef012345678" + "876543210fedcba987654321"


def rows(n, prefix="w"):
    return tuple(f"{prefix}{i},gloss {i}" for i in range(n))


def test_expand_seed_of_an_address():
    assert expand_seed(ADDRESS) == SEED
    assert len(SEED) == 64


def test_expand_seed_reference_spot_check():
    # The reference's documented example (series empty, upstream library §2.7).
    seed = expand_seed("0xf503017d7baf7fbc0fff7492b751025c6a78179b")
    assert seed == "f503017d7baf7fbc0fff7492b751025c6a78179bb97187a6c520157b2947fff0"


def test_short_input_is_an_error():
    with pytest.raises(SeedError, match="less than 66"):
        expand_seed("0x1234")
    # only the text before the first comma counts
    with pytest.raises(SeedError):
        expand_seed("0x12," + "a" * 80)


def test_non_0x_seed_keeps_its_full_length():
    text = "a" * 64
    assert expand_seed(text) == text * 2


def test_fifteen_attributes_for_an_address_in_slot_order():
    selected = select_attributes(SEED, {db: rows(10) for _, db in ATTRIBUTE_SLOTS})
    assert [a.name for a in selected] == [name for name, _ in ATTRIBUTE_SLOTS][:15]
    assert [a.bytes for a in selected][:3] == ["123456", "56789a", "9abcde"]
    assert all(a.bytes == SEED[4 * k : 4 * k + 6] for k, a in enumerate(selected))


def test_hand_computed_rows():
    table = {db: rows(100) for _, db in ATTRIBUTE_SLOTS}
    table["compositions"] = rows(20, "c")
    selected = select_attributes(SEED, table)
    # 0x123456 = 1193046; 100 * 1193046 / 2**24 = 7.11 -> row 7
    first = selected[0]
    assert (first.number, first.selector, first.value) == (1193046, 7, "w7,gloss 7")
    # 0x56789a = 5666970; 100 * 5666970 / 2**24 = 33.78 -> row 33
    assert (selected[1].number, selected[1].selector) == (5666970, 33)
    # composition reads seed[56:62] = 0x876543 = 8873283; 20 * 8873283 / 2**24 = 10.58 -> 10
    comp = selected[14]
    assert (comp.name, comp.bytes, comp.number, comp.count, comp.selector) == (
        "composition", "876543", 8873283, 20, 10)
    assert comp.factor == 8873283 / 2**24


def test_extremes_stay_in_range():
    ones = "f" * 64
    zeros = "0" * 64
    for count in (1, 2, 7, 2937):
        table = {db: rows(count) for _, db in ATTRIBUTE_SLOTS}
        assert all(a.selector == count - 1 for a in select_attributes(ones, table))
        assert all(a.selector == 0 for a in select_attributes(zeros, table))


def test_invalid_hex_counts_as_zero():
    seed = "zz" + "0" * 62
    selected = select_attributes(seed, {db: rows(5) for _, db in ATTRIBUTE_SLOTS})
    assert selected[0].number == 0 and selected[0].selector == 0


def test_long_seed_gives_seventeen():
    table = {db: rows(3) for _, db in ATTRIBUTE_SLOTS}
    assert len(select_attributes("a" * 128, table)) == 17


def test_valid_filename():
    assert valid_filename(ADDRESS) == ADDRESS
    assert valid_filename(' a/b\\c:d*e?f"g<h>i|j ') == "a_b_c_d_e_f_g_h_i_j"
    assert valid_filename("x____y") == "x__y"
