"""The caption band under an image (reference upstream-library §8), with Pillow's own font.

Geometry follows the original: for an image W x H and a caption of L bytes the font size is
30·W/(7·L), five text lines are reserved (ceil(L / (0.95·W / font))), and the canvas grows by
``int(lines·font·1.5 + 2·0.025·H)``. The band takes the average of the image's three most
frequent colours, a separator line 10 % darker, and black or white text by lightness.
Unlike the original, it needs no system font (Pillow's built-in scalable font works the same
frozen), ties between equally frequent colours go to the higher colour value so the band is
deterministic, and very short or very long captions keep a readable font size.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

MIN_FONT = 10.0
MAX_FONT = 40.0
LINE_SPACING = 1.5
TEXT_WIDTH_SHARE = 0.95
MARGIN_SHARE = 0.025
SAMPLE_STEP = 8  # count colours on every 8th pixel in each direction


@dataclass(frozen=True)
class BandGeometry:
    width: int
    image_height: int
    font_size: float
    lines: int
    margin: float
    text_width: float

    @property
    def band_height(self) -> int:
        return int(self.lines * self.font_size * LINE_SPACING + 2 * self.margin)

    @property
    def canvas_height(self) -> int:
        return self.image_height + self.band_height


def band_geometry(width: int, height: int, text: str) -> BandGeometry:
    """Canvas and font geometry for a caption (1024², 375 bytes -> 1024 x 1162, font 11.7)."""
    length = max(len(text.encode("utf-8")), 1)
    font = min(max(30.0 * width / (7.0 * length), MIN_FONT), MAX_FONT)
    text_width = TEXT_WIDTH_SHARE * width
    lines = max(1, math.ceil(length / (text_width / font)))
    return BandGeometry(width, height, font, lines, MARGIN_SHARE * height, text_width)


def most_frequent_colors(image: Image.Image, count: int = 3) -> list[tuple[int, int, int]]:
    """The most frequent exact colours of a regular pixel sample; ties go to the higher value."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    sample = rgb.resize(
        (max(1, width // SAMPLE_STEP), max(1, height // SAMPLE_STEP)), Image.Resampling.NEAREST
    )
    colors = sample.getcolors(maxcolors=sample.width * sample.height) or []
    # (count, colour) tuples: equal counts fall back to the higher colour value, so the
    # choice never depends on the order getcolors happens to return
    return [color for _, color in heapq.nlargest(count, colors)]


def band_color(image: Image.Image) -> tuple[int, int, int]:
    top = most_frequent_colors(image, 3)
    if not top:
        return (255, 255, 255)
    return tuple(round(sum(c[i] for c in top) / len(top)) for i in range(3))  # type: ignore[return-value]


def darken(color: tuple[int, int, int], factor: float = 0.9) -> tuple[int, int, int]:
    """Each channel scaled down; every non-zero channel becomes strictly darker."""
    return tuple(max(0, min(c - 1, int(c * factor))) if c else 0 for c in color)  # type: ignore[return-value]


def lightness(color: tuple[int, int, int]) -> float:
    """CIE L* of an sRGB colour on a 0..1 scale (the L of HCL)."""

    def linear(channel: int) -> float:
        c = channel / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color)
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    f = y ** (1 / 3) if y > (6 / 29) ** 3 else y / (3 * (6 / 29) ** 2) + 4 / 29
    return (116 * f - 16) / 100


def text_color(background: tuple[int, int, int]) -> tuple[int, int, int]:
    return (255, 255, 255) if lightness(background) < 0.5 else (0, 0, 0)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _fit_font(text: str, geometry: BandGeometry) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest font up to the geometry's size whose wrapped lines fit the band."""
    size = geometry.font_size
    while True:
        font = ImageFont.load_default(size=size)
        lines = _wrap(text, font, geometry.text_width)
        if len(lines) <= geometry.lines or size <= MIN_FONT / 2:
            return font, lines
        size -= 0.5


def annotate_image(image: Image.Image, text: str) -> Image.Image:
    """A new RGB image: the original on top, the caption band below it."""
    source = image.convert("RGB")
    width, height = source.size
    geometry = band_geometry(width, height, text)
    background = band_color(source)
    canvas = Image.new("RGB", (width, geometry.canvas_height), background)
    canvas.paste(source, (0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.line([(0, height), (width, height)], fill=darken(background), width=2)
    font, lines = _fit_font(" ".join(text.split()), geometry)
    if lines:
        step = font.size * LINE_SPACING
        block = step * (len(lines) - 1) + font.size
        top = height + (geometry.band_height - block) / 2
        left = (width - geometry.text_width) / 2
        ink = text_color(background)
        for i, line in enumerate(lines):
            draw.text((left, top + i * step), line, font=font, fill=ink)
    return canvas
