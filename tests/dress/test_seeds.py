"""Seeds other than addresses (reference upstream-library §2.1): the sha256 of a text input
selects all 17 attributes; an address seed is the /dalle dress; a background treatment can
be given; a series hashes as the original's Go encoder writes it."""

import pytest

from dalleserver.dress import Catalog
from dalleserver.dress.builder import SeedError, normalize_seed, seed_from_input
from dalleserver.dress.fingerprint import go_compact_json, series_hash
from dalleserver.dress.series import parse_series

A = "0xf503017d7baf7fbc0fff7492b751025c6a78179b"


@pytest.fixture(scope="module")
def catalog():
    return Catalog()


def test_the_seed_of_an_input_is_the_sha256_of_its_trimmed_text():
    expected = "dddd723c8a04831545f4890b843c520370f1547db507786023325b4b9de98a1c"
    assert seed_from_input("Person Tour Coordinates") == expected
    assert seed_from_input("  Person Tour Coordinates \n") == expected


def test_seeds_are_addresses_or_64_hex(catalog):
    assert normalize_seed(A.upper().replace("0X", "0x")) == A
    assert normalize_seed("AB" * 32) == "ab" * 32
    for bad in ("", "0x1234", "g" * 64, "ab" * 33, "0xF503017d7baf7fbc0fff7492b751025c6a78179B"):
        with pytest.raises(SeedError):
            normalize_seed(bad)


def test_a_hash_seed_selects_17_attributes_and_an_address_the_dalle_ones(catalog):
    view = catalog.view("empty")
    by_hash = view.dress(seed_from_input("Person Tour Coordinates"))
    assert len(by_hash.seed) == 128 and len(by_hash.attributes) == 18
    assert by_hash.value("place") and by_hash.value("trope")
    assert view.dress(A).to_json_dict() == catalog.dress("empty", A).to_json_dict()


def test_a_given_backstyle_replaces_the_default(catalog):
    view = catalog.view("empty")
    plain = view.dress(A)
    styled = view.dress(A, "a plain white wall")
    assert styled.value("backStyle") == "a plain white wall" != plain.value("backStyle")
    assert styled.attributes[:-1] == plain.attributes[:-1]


def test_series_hash_matches_the_original_encoder():
    empty = parse_series({"suffix": "empty", "version": "v1.0.0"}, "empty", "builtin")
    assert series_hash(empty) == (
        "sha256:8351f662eedfd3c7b264f6527e634a0d29a78de133b79071a9882f0e2af496b6")
    assert go_compact_json({"a": "<&>\u2028\b"}) == '{"a":"\\u003c\\u0026\\u003e\\u2028\\u0008"}'
