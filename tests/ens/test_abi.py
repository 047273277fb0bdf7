"""ABI encoding and defensive decoding, checked against the double's separate encoder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dalleserver.ens import AbiError, namehash
from dalleserver.ens.abi import (
    ADDR,
    MAX_STRING_BYTES,
    NAME,
    RESOLVER,
    decode_address,
    decode_hex,
    decode_string,
    encode_call,
)
from tests.support.rpc_double import abi_address, abi_string, decode_call, word

NODE = namehash("foo.eth")
ADDRESS = "0xd8da6bf26964af9d7eed9e03e53415d37aa96045"


def test_encode_call_is_selector_then_node() -> None:
    data = encode_call(ADDR, NODE)
    assert data == "0x3b3b57de" + NODE.hex()
    assert len(data) == 2 + 2 * 36


@pytest.mark.parametrize("selector", [RESOLVER, ADDR, NAME])
def test_calls_round_trip_through_the_double(selector: bytes) -> None:
    assert decode_call(encode_call(selector, NODE)) == (selector.hex(), NODE)


@pytest.mark.parametrize(("selector", "node"), [(b"\1\2\3", NODE), (ADDR, NODE[:31])])
def test_encode_call_refuses_wrong_sizes(selector: bytes, node: bytes) -> None:
    with pytest.raises(ValueError):
        encode_call(selector, node)


@given(st.binary(min_size=20, max_size=20))
def test_addresses_round_trip(raw: bytes) -> None:
    address = "0x" + raw.hex()
    assert decode_address(abi_address(address)) == address


@given(st.text(max_size=300))
def test_strings_round_trip(text: str) -> None:
    assert decode_string(abi_string(text)) == text


def test_a_string_at_an_unusual_offset_is_found() -> None:
    raw = b"nick.eth"
    data = word(64) + word(0) + word(len(raw)) + raw.ljust(32, b"\0")
    assert decode_string(data) == "nick.eth"


@pytest.mark.parametrize("data", [
    b"",
    b"\0" * 31,
    b"\0" * 33,
    b"\1" + b"\0" * 31,  # bits above the 160 of an address
])
def test_garbage_addresses_are_refused(data: bytes) -> None:
    with pytest.raises(AbiError):
        decode_address(data)


@pytest.mark.parametrize("data", [
    b"",
    word(32),  # an offset and no length
    word(64) + word(3),  # the offset points past the end
    word(2**255) + word(0),  # a huge offset
    word(32) + word(40) + b"x" * 32,  # the string runs past the end
    word(32) + word(MAX_STRING_BYTES + 1) + b"x" * (MAX_STRING_BYTES + 32),
    word(32) + word(2) + b"\xff\xfe".ljust(32, b"\0"),  # not UTF-8
])
def test_garbage_strings_are_refused(data: bytes) -> None:
    with pytest.raises(AbiError):
        decode_string(data)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_abi_error(data: bytes) -> None:
    for decode in (decode_address, decode_string):
        try:
            decode(data)
        except AbiError:
            pass


@pytest.mark.parametrize("text", ["", "0x1", "1234", "0xzz", None, 12, "0X12"])
def test_decode_hex_refuses_what_is_not_hex_data(text: object) -> None:
    with pytest.raises(AbiError):
        decode_hex(text)


def test_decode_hex() -> None:
    assert decode_hex("0x") == b""
    assert decode_hex("0x00ff") == b"\0\xff"
