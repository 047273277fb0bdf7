"""The few Solidity ABI encodings ENS resolution needs, decoded defensively.

Every call here takes one ``bytes32`` (a namehash) and returns either an ``address`` or a
dynamic ``string``. Return data comes from a node we do not control, so anything that is
not exactly the promised encoding raises :class:`AbiError` instead of being guessed at.
"""

from __future__ import annotations

from dalleserver.ens.errors import AbiError

# The first four bytes of keccak256 of each signature (tests recompute them).
RESOLVER = bytes.fromhex("0178b8bf")  # resolver(bytes32) on the registry -> address
ADDR = bytes.fromhex("3b3b57de")  # addr(bytes32) on a resolver -> address
NAME = bytes.fromhex("691f3431")  # name(bytes32) on a reverse resolver -> string

WORD = 32
# A name longer than this is useless to us (names.MAX_NAME_LENGTH is far below it); the cap
# stops a hostile answer from making us decode megabytes.
MAX_STRING_BYTES = 4096


def encode_call(selector: bytes, node: bytes) -> str:
    """Call data for ``selector(bytes32 node)`` as the ``0x`` hex string ``eth_call`` takes."""
    if len(selector) != 4 or len(node) != WORD:
        raise ValueError("a call takes a 4-byte selector and a 32-byte node")
    return "0x" + (selector + node).hex()


def decode_hex(text: object) -> bytes:
    """The bytes of a ``0x`` hex string such as an ``eth_call`` result."""
    if not isinstance(text, str) or not text.startswith("0x") or len(text) % 2:
        raise AbiError("the answer is not a 0x-prefixed hex string of whole bytes")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise AbiError("the answer is not a 0x-prefixed hex string of whole bytes") from None


def _word(data: bytes, offset: int) -> int:
    if offset < 0 or offset + WORD > len(data):
        raise AbiError(f"the answer is too short ({len(data)} bytes)")
    return int.from_bytes(data[offset:offset + WORD], "big")


def decode_address(data: bytes) -> str:
    """An ABI-encoded ``address`` as lower-case ``0x`` + 40 hex digits."""
    if len(data) != WORD:
        raise AbiError(f"an address answer must be {WORD} bytes, not {len(data)}")
    if any(data[:12]):
        raise AbiError("an address answer has bits set above its 160 bits")
    return "0x" + data[12:].hex()


def decode_string(data: bytes) -> str:
    """An ABI-encoded dynamic ``string`` (the only return value) as text."""
    offset = _word(data, 0)
    if offset > len(data):
        raise AbiError("the string's offset points past the answer")
    length = _word(data, offset)
    start = offset + WORD
    if length > MAX_STRING_BYTES:
        raise AbiError(f"the string is longer than {MAX_STRING_BYTES} bytes")
    if start + length > len(data):
        raise AbiError("the string runs past the end of the answer")
    try:
        return data[start:start + length].decode("utf-8")
    except UnicodeDecodeError:
        raise AbiError("the string is not valid UTF-8") from None
