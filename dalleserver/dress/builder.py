"""Seed expansion and attribute selection: exactly the original's algorithm (reference §2)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from dalleserver.address import normalize_address
from dalleserver.dress.databases import ATTRIBUTE_SLOTS, NONE_ROWS
from dalleserver.dress.model import Attribute, DalleDress
from dalleserver.dress.prompts import fill_prompts

SEED_MIN_LENGTH = 66
WINDOW = 6
STRIDE = 4
_SCALE = float(1 << 24)
_FILENAME_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|'})
_HASH_SEED = re.compile(r"^[0-9a-fA-F]{64}$")


class SeedError(ValueError):
    """The input is too short to expand into a seed."""


def expand_seed(address: str) -> str:
    """``part + reverse(part)`` of the text before the first comma; ``0x`` inputs cut to 64."""
    part = address.split(",", 1)[0]
    seed = part + part[::-1]
    if len(seed) < SEED_MIN_LENGTH:
        raise SeedError("seed length is less than 66")
    if seed.startswith("0x"):
        seed = seed[2:66]
    return seed


def seed_from_input(text: str) -> str:
    """The seed of a text input: the hex sha256 of its trimmed UTF-8 (reference §2.1)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def normalize_seed(seed: str) -> str:
    """A seed as files and jobs name it: an Ethereum address in lower case (a mixed-case
    one must carry a valid EIP-55 checksum), or 64 hex characters (a sha256) in lower case.

    An address expands to a 64-character seed (15 attributes, as ``/dalle``), a sha256 to
    128 characters, hash and its reverse (all 17 attributes). Raises SeedError."""
    text = seed.strip()
    if _HASH_SEED.match(text):
        return text.lower()
    try:
        return normalize_address(text)
    except ValueError as exc:
        if text[:2].lower() == "0x" and len(text) == 42:
            raise SeedError(str(exc)) from None  # an address with a bad checksum
        raise SeedError("a seed is an Ethereum address (0x and 40 hex digits) or 64 hex "
                        "digits (a sha256)") from None


def valid_filename(address: str) -> str:
    """The original's ValidFilename: unsafe characters to ``_``, trimmed, first ``__`` run cut."""
    return address.translate(_FILENAME_UNSAFE).strip().replace("__", "_")


def select_attributes(seed: str, rows: Mapping[str, Sequence[str]]) -> list[Attribute]:
    """Attribute k reads the 6 hex characters at offset 4k; row = floor(count * n / 2**24)."""
    selected = []
    for k, (name, database) in enumerate(ATTRIBUTE_SLOTS):
        start = k * STRIDE
        if start + WINDOW > len(seed):
            break
        chunk = seed[start : start + WINDOW]
        try:
            number = int(chunk, 16)
        except ValueError:
            number = 0
        factor = number / _SCALE
        options = rows.get(database) or NONE_ROWS
        count = len(options)
        selector = int(count * factor)
        selected.append(
            Attribute(database, name, chunk, number, factor, count, selector, options[selector])
        )
    return selected


def build_dress(
    rows: Mapping[str, Sequence[str]],
    backstyle: str,
    series: str,
    address: str,
    color_limit: str = "",
) -> DalleDress:
    """Build the DalleDress for an already-validated address over series-filtered rows."""
    seed = expand_seed(address)
    attributes = select_attributes(seed, rows)
    attributes.append(Attribute("backstyles", "backStyle", "", 0, 0.0, 0, 0, backstyle))
    dress = DalleDress(
        original=address,
        file_name=valid_filename(address),
        seed=seed,
        series=series,
        color_limit=color_limit,
        attributes=attributes,
    )
    return fill_prompts(dress)
