"""Ethereum address validation and EIP-55 checksum casing (stdlib only).

EIP-55 hashes with the original Keccak-256 (padding byte 0x01), not the NIST SHA3-256 that
``hashlib`` provides (padding 0x06), so the permutation is implemented here.
"""

from __future__ import annotations

import re

_HEX40 = re.compile(r"^0[xX][0-9a-fA-F]{40}$")

_ROUND_CONSTANTS = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)
_ROTATIONS = (
    (0, 36, 3, 41, 18),
    (1, 44, 10, 45, 2),
    (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56),
    (27, 20, 39, 8, 14),
)
_MASK = (1 << 64) - 1


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (64 - shift))) & _MASK if shift else value


def _keccak_f(state: list[list[int]]) -> None:
    for rc in _ROUND_CONSTANTS:
        c = [state[x][0] ^ state[x][1] ^ state[x][2] ^ state[x][3] ^ state[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rotl(c[(x + 1) % 5], 1) for x in range(5)]
        for x in range(5):
            for y in range(5):
                state[x][y] ^= d[x]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rotl(state[x][y], _ROTATIONS[x][y])
        for x in range(5):
            for y in range(5):
                state[x][y] = b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y])
        state[0][0] ^= rc


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as used by Ethereum."""
    rate = 136
    padded = bytearray(data)
    padded.append(0x01)
    while len(padded) % rate:
        padded.append(0)
    padded[-1] |= 0x80
    state = [[0] * 5 for _ in range(5)]
    for offset in range(0, len(padded), rate):
        block = padded[offset : offset + rate]
        for i in range(rate // 8):
            lane = int.from_bytes(block[8 * i : 8 * i + 8], "little")
            state[i % 5][i // 5] ^= lane
        _keccak_f(state)
    out = bytearray()
    for i in range(4):
        out += state[i % 5][i // 5].to_bytes(8, "little")
    return bytes(out)


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 0x + 40 hex address."""
    hex_part = address[2:].lower()
    digest = keccak256(hex_part.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch
        for i, ch in enumerate(hex_part)
    )


class AddressError(ValueError):
    """The text is not a usable Ethereum address."""


def normalize_address(text: str) -> str:
    """Validate an address and return it lower-cased.

    Accepts ``0x`` or ``0X`` + 40 hex digits. All-lower or all-upper hex is accepted as is;
    mixed case must carry a correct EIP-55 checksum.
    """
    value = text.strip()
    if not value:
        raise AddressError("address is empty")
    if not _HEX40.match(value):
        raise AddressError(f"{text!r} is not an Ethereum address (0x followed by 40 hex digits)")
    hex_part = value[2:]
    if hex_part != hex_part.lower() and hex_part != hex_part.upper():
        if to_checksum_address(value) != "0x" + hex_part:
            raise AddressError(f"{text!r} has mixed case but an invalid EIP-55 checksum")
    return "0x" + hex_part.lower()
