import pytest

from dalleserver.address import AddressError, keccak256, normalize_address, to_checksum_address


def test_keccak_known_vectors():
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )
    # longer than one 136-byte block
    assert keccak256(b"a" * 200).hex() != keccak256(b"a" * 199).hex()


# Test vectors from the EIP-55 specification.
EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55)
def test_checksum_casing(address):
    assert to_checksum_address(address.lower()) == address
    assert normalize_address(address) == address.lower()


def test_all_lower_and_all_upper_are_accepted():
    a = EIP55[0]
    assert normalize_address(a.lower()) == a.lower()
    assert normalize_address("0x" + a[2:].upper()) == a.lower()
    assert normalize_address("0X" + a[2:].lower()) == a.lower()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x",
        "0x123",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",  # 39 hex
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd",  # 41 hex
        "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00",  # no 0x
        "0xgaaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # not hex
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # bad checksum (last letter)
        "vitalik.eth",
    ],
)
def test_invalid_addresses(bad):
    with pytest.raises(AddressError):
        normalize_address(bad)
