"""Shared canvas pieces of the local renderer: the palette, the scene, and the helpers
the techniques paint with (gradient maps, noise, glows, ridges, masks)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from PIL import Image, ImageChops, ImageDraw

SIZE = 1024
RGB = tuple[int, int, int]
Point = tuple[float, float]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend of two colours (t=0 gives a, t=1 gives b)."""
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore


def luma(c: RGB) -> float:
    """Perceived lightness in 0..1 (Rec. 601 weights, good enough for contrast choices)."""
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0


@dataclass(frozen=True)
class Palette:
    """The dress's three colours (sorted dark to light) between a deep ink and a pale paper."""

    ink: RGB
    colors: tuple[RGB, RGB, RGB]
    paper: RGB

    @property
    def stops(self) -> tuple[RGB, ...]:
        return (self.ink, *self.colors, self.paper)

    def ramp(self, t: float) -> RGB:
        """The colour at position t (0..1) of the ink -> colours -> paper ramp."""
        seg = min(max(t, 0.0), 1.0) * 4
        i = min(int(seg), 3)
        return mix(self.stops[i], self.stops[i + 1], seg - i)

    def lut(self, low: float = 0.0, high: float = 1.0) -> list[int]:
        """A 768-entry ``Image.point`` table mapping grey 0..255 onto ramp(low..high)."""
        ramp = [self.ramp(low + (high - low) * v / 255.0) for v in range(256)]
        return [c[band] for band in range(3) for c in ramp]


@dataclass(frozen=True)
class Scene:
    """Everything a technique needs: palette, mood and where the focal motif will sit."""

    palette: Palette
    mood: float  # -1 negative .. +1 positive
    focal: Point  # motif centre in pixels
    horizon: float  # y of the horizon in pixels (may lie outside the frame)
    tilt: float  # degrees, non-zero for dutch angles
    motif: float  # motif box size in pixels
    style: str  # art-style name, for technique variants

    def styled(self, *keywords: str) -> bool:
        return any(k in self.style for k in keywords)


# -- shared helpers --------------------------------------------------------------------------
def gradient_map(tone: Image.Image, palette: Palette, low: float = 0.0,
                 high: float = 1.0) -> Image.Image:
    """Colour a grey image through (part of) the palette ramp."""
    return tone.convert("RGB").point(palette.lut(low, high))


def noise(rng: Random, cells: int, size: int) -> Image.Image:
    """Smooth value noise: a few random grey cells upscaled bicubically into soft blobs."""
    small = Image.frombytes("L", (cells, cells), rng.randbytes(cells * cells))
    return small.resize((size, size), Image.Resampling.BICUBIC)


def sky_tone(scene: Scene, top: int, bottom: int, size: int = SIZE) -> Image.Image:
    """Vertical grey ramp from ``top`` to ``bottom``, which it reaches at the horizon."""
    horizon = min(max(scene.horizon / SIZE, 0.15), 1.0)
    ramp = Image.linear_gradient("L").resize((size, max(1, round(size * horizon))))
    tone = Image.new("L", (size, size), bottom)
    tone.paste(ramp.point(lambda v: round(top + (bottom - top) * v / 255)))
    return tone


def glow(center: Point, radius: float, size: int = SIZE) -> Image.Image:
    """A soft radial light: 255 at the centre fading to 0 at ``radius`` (grey image).

    Built at 256 px at most and upscaled, resizing only the part of the disc inside the frame:
    a smooth ramp loses nothing, and a radius larger than the frame would be slow otherwise.
    """
    work = min(size, 256)
    scale, box = work / SIZE, max(2, round(2 * radius * work / SIZE))
    disc = Image.radial_gradient("L").point(lambda v: max(0, 255 - 2 * v))
    out = Image.new("L", (work, work), 0)
    left, top = round(center[0] * scale - box / 2), round(center[1] * scale - box / 2)
    x0, y0, x1, y1 = max(0, -left), max(0, -top), min(box, work - left), min(box, work - top)
    if x1 > x0 and y1 > y0:
        k = 256 / box
        out.paste(disc.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR,
                              (x0 * k, y0 * k, x1 * k, y1 * k)), (left + x0, top + y0))
    return out if work == size else out.resize((size, size), Image.Resampling.BILINEAR)


def ridge(rng: Random, base: float, amplitude: float, scale: float = 1.0) -> list[Point]:
    """A closed polygon under a wavy ridge line (hills, dunes, waves), in ``scale`` pixels."""
    waves = [(rng.uniform(0.004, 0.012) / (i + 1), rng.uniform(0, 6.3), amplitude / (i + 1))
             for i in range(3)]
    line = [(x * scale, (base + sum(a * math.sin(x * f + p) for f, p, a in waves)) * scale)
            for x in range(-16, SIZE + 33, 16)]
    bottom = (SIZE + 32) * scale
    return [*line, (bottom, bottom), (-16 * scale, bottom)]


def landscape(scene: Scene, rng: Random, sky: int, ground: int, size: int = 64) -> Image.Image:
    """A small grey underpainting: sky fading to the horizon, a sun, two ridges of hills (the
    nearer darker) and a light behind the focal point. Techniques that turn tone into marks
    (dots, lines, tiles, strokes) render it, which gives them depth."""
    k = size / SIZE
    tone = sky_tone(scene, sky, (sky + ground) // 2 + 20, size)
    draw = ImageDraw.Draw(tone)
    sx, sy = rng.uniform(0.15, 0.85) * size, min(scene.horizon * k, size) * rng.uniform(0.2, 0.5)
    r = size * rng.uniform(0.07, 0.12)
    draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=min(255, sky + 35))
    for i in range(2):
        outline = ridge(rng, scene.horizon - SIZE * 0.04 + i * SIZE * 0.12, SIZE * 0.05, k)
        draw.polygon(outline, fill=ground + (1 - i) * (sky - ground) // 3)
    tone = Image.blend(tone, noise(rng, 5, size), 0.2)
    return ImageChops.lighter(tone, glow(scene.focal, scene.motif * 0.8, size).point(
        lambda v: v * 3 // 4))


def sampler(small: Image.Image) -> Callable[[float, float], tuple[int, ...]]:
    """Fast lookup of a small image by frame coordinates (``getpixel`` is ~10x slower)."""
    (w, h), bands = small.size, len(small.getbands())
    data, scale = small.tobytes(), w / SIZE

    def at(x: float, y: float) -> tuple[int, ...]:
        i = (min(max(int(y * scale), 0), h - 1) * w + min(max(int(x * scale), 0), w - 1)) * bands
        return tuple(data[i:i + bands])

    return at


def paint(img: Image.Image, colour: RGB, mask: Image.Image, corner: tuple[int, int] = (0, 0)):
    """Paint a colour through a mask in place (pasting a solid image beats a colour fill)."""
    img.paste(Image.new("RGB", mask.size, colour), corner, mask)


def paint_sharp(img: Image.Image, colour: RGB, big: Image.Image) -> None:
    """Paint through a mask drawn at twice the size, reduced only within its bounding box."""
    if box := big.getbbox():
        box = (box[0] - box[0] % 2, box[1] - box[1] % 2, box[2] + box[2] % 2, box[3] + box[3] % 2)
        paint(img, colour, big.crop(box).reduce(2), (box[0] // 2, box[1] // 2))


def paint_soft(img: Image.Image, colour: RGB, small: Image.Image, factor: int) -> None:
    """Paint through a small blurred mask scaled up by ``factor``, only within its bounding
    box (upscaling and blending the empty rest of the frame would be wasted work)."""
    if box := small.getbbox():
        part = small.crop(box)
        part = part.resize((part.width * factor, part.height * factor), Image.Resampling.BILINEAR)
        paint(img, colour, part, (box[0] * factor, box[1] * factor))
