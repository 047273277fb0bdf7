"""ENS name normalisation (a strict ASCII subset of ENSIP-15) and EIP-137 namehash.

Full ENSIP-15 needs large Unicode tables (confusables, scripts, emoji sequences). Rather than
bundle them, only names whose labels are ASCII letters, digits and hyphens are accepted; for
those ENSIP-15 amounts to lower-casing plus one rule (no ``--`` in the third and fourth
places), so every name accepted here hashes exactly as ENS itself would hash it. Everything
else is refused with a message saying why, never silently hashed into some other name.
"""

from __future__ import annotations

import re

from dalleserver.address import keccak256
from dalleserver.ens.errors import InvalidName

# No ENS limit exists; this one keeps error messages and cache keys small. DNS stops at 253.
MAX_NAME_LENGTH = 255
# How much of a refused input an error message repeats.
_SHOWN = 64

_LABEL = re.compile(r"[a-z0-9-]+")


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _check_label(label: str, text: str) -> None:
    if not label:
        raise InvalidName(f"{_shown(text)} is not a valid ENS name: it has an empty label "
                          "(a leading, trailing or doubled dot)")
    if not _LABEL.fullmatch(label):
        raise InvalidName(f"{_shown(text)} is not a supported ENS name: the label "
                          f"{_shown(label)} may hold only letters, digits and hyphens")
    if label[2:4] == "--":
        raise InvalidName(f"{_shown(text)} is not a valid ENS name: ENS refuses a label with "
                          f"hyphens in its third and fourth places ({_shown(label)})")


def normalize_name(text: str) -> str:
    """The normalised form of an ENS name, e.g. ``"Vitalik.ETH"`` -> ``"vitalik.eth"``.

    Raises :class:`InvalidName` (a ``ValueError``) with a client-safe message for an empty or
    over-long name, a non-ASCII name (Unicode and emoji names are not supported), an empty
    label, or a character other than a letter, digit, hyphen or dot.
    """
    value = text.strip()
    if not value:
        raise InvalidName("the ENS name is empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidName(f"{_shown(value)} is not a supported ENS name: it is longer than "
                          f"{MAX_NAME_LENGTH} characters")
    if not value.isascii():
        raise InvalidName(f"{_shown(value)} is not a supported ENS name: only ASCII letters, "
                          "digits and hyphens are accepted (Unicode and emoji names are not)")
    value = value.lower()
    for label in value.split("."):
        _check_label(label, value)
    return value


def namehash(name: str) -> bytes:
    """EIP-137 namehash of an already normalised name; ``namehash("")`` is 32 zero bytes."""
    node = bytes(32)
    if name:
        for label in reversed(name.split(".")):
            node = keccak256(node + keccak256(label.encode("utf-8")))
    return node


def looks_like_name(segment: str) -> bool:
    """True when a path segment should be treated as an ENS name rather than an address.

    An address (``0x`` + 40 hex digits) never holds a dot and every name routed here has one
    (``vitalik.eth``), so the dot decides; whether the name is valid is
    :func:`normalize_name`'s business, so that a bad name gets a message about names.
    """
    return "." in segment
