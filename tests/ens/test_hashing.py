"""Keccak-256 (Ethereum's, not hashlib's SHA3) and EIP-137 namehash against known vectors."""

from __future__ import annotations

import hashlib

import pytest

from dalleserver.address import keccak256
from dalleserver.ens import abi, namehash
from tests.support import rpc_double

KECCAK_VECTORS = [
    (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
    (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
    (b"hello world", "47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad"),
    (b"The quick brown fox jumps over the lazy dog",
     "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"),
    # around the 136-byte rate: padding squeezed into one block, a full block, two, many
    (b"a" * 135, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"),
    (b"a" * 136, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e"),
    (b"a" * 137, "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"),
    (b"a" * 1000, "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9"),
]

# EIP-137's own examples
NAMEHASH_VECTORS = [
    ("", "0" * 64),
    ("eth", "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"),
    ("foo.eth", "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"),
]


@pytest.mark.parametrize(("data", "digest"), KECCAK_VECTORS)
def test_keccak256_vectors(data: bytes, digest: str) -> None:
    assert keccak256(data).hex() == digest


def test_keccak256_is_not_nist_sha3() -> None:
    # the padding byte differs (0x01 vs 0x06): using hashlib would hash every name wrong
    assert keccak256(b"").hex() != hashlib.sha3_256(b"").hexdigest()


@pytest.mark.parametrize(("selector", "signature"), [
    (abi.RESOLVER, "resolver(bytes32)"),
    (abi.ADDR, "addr(bytes32)"),
    (abi.NAME, "name(bytes32)"),
])
def test_selectors_are_the_signatures_hashes(selector: bytes, signature: str) -> None:
    assert selector == keccak256(signature.encode())[:4]


@pytest.mark.parametrize(("name", "node"), NAMEHASH_VECTORS)
def test_namehash_eip137_vectors(name: str, node: str) -> None:
    assert namehash(name).hex() == node


@pytest.mark.parametrize("name", ["", "eth", "foo.eth", "vitalik.eth", "a.b.c.d.eth",
                                  "d8da6bf26964af9d7eed9e03e53415d37aa96045.addr.reverse"])
def test_the_double_hashes_names_as_the_package_does(name: str) -> None:
    assert rpc_double.namehash(name) == namehash(name)
