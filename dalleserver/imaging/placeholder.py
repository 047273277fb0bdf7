"""A small deterministic stand-in picture for an address whose picture is not made yet, so
an ``<img>`` shows something (and the browser asks again later) instead of a broken image.

A 5 × 5 mirrored pattern and two colours drawn from the address's SHA-256: the same address
always gives the same bytes, different addresses look different at a glance.
"""

from __future__ import annotations

import functools
import hashlib
import io

from PIL import Image, ImageDraw

DEFAULT_SIZE = 256
CELLS = 5


def _colours(digest: bytes) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    hue = digest[0] / 255 * 360
    fg = _hsl(hue, 0.55, 0.45)
    bg = _hsl((hue + 180) % 360, 0.25, 0.92)
    return fg, bg


def _hsl(hue: float, sat: float, light: float) -> tuple[int, int, int]:
    c = (1 - abs(2 * light - 1)) * sat
    x = c * (1 - abs((hue / 60) % 2 - 1))
    m = light - c / 2
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(hue // 60) % 6]
    return round((r + m) * 255), round((g + m) * 255), round((b + m) * 255)


@functools.lru_cache(maxsize=256)
def placeholder_png(address: str, size: int = DEFAULT_SIZE) -> bytes:
    """The PNG bytes of the stand-in picture for ``address`` at ``size`` pixels."""
    digest = hashlib.sha256(address.lower().encode("ascii", "replace")).digest()
    fg, bg = _colours(digest)
    image = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(image)
    margin = size // 8
    cell = (size - 2 * margin) / CELLS
    bits = int.from_bytes(digest[1:5], "big")
    for row in range(CELLS):
        for col in range((CELLS + 1) // 2):
            if bits >> (row * 3 + col) & 1:
                for x in {col, CELLS - 1 - col}:
                    left, top = margin + x * cell, margin + row * cell
                    draw.rectangle((round(left), round(top), round(left + cell) - 1,
                                    round(top + cell) - 1), fill=fg)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()
