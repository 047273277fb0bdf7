"""The ``local`` image backend: a deterministic procedural painting of a DalleDress.

No model, no network: the dress's art style picks one of the techniques in
:mod:`dalleserver.imaging.techniques`, its three colours (graded by the emotion's polarity)
make the palette, its composition and viewpoint place and size the focal motif, and its noun
becomes a creature from :mod:`dalleserver.imaging.motifs`. Every random choice comes from a
``random.Random`` seeded by the dress seed (one stream per stage), never from the clock,
``hash()`` or set order, so a dress renders to the same bytes in any process.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import math
from random import Random
from typing import NamedTuple

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from dalleserver.dress.model import DalleDress
from dalleserver.dress.prompts import split_row
from dalleserver.imaging.canvas import RGB, SIZE, Palette, Scene, luma, mix, paint
from dalleserver.imaging.motifs import draw_creature
from dalleserver.imaging.pen import Masks, View
from dalleserver.imaging.techniques import TECHNIQUE_FUNCTIONS

TECHNIQUES: tuple[str, ...] = tuple(TECHNIQUE_FUNCTIONS)

# Art-style name keywords, tried in this order (first hit wins), then the style's group.
STYLE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pixel", ("pixel", "low poly", "voxel", "ascii", "glitch", "cross-stitch", "isometric",
               "y2k", "vaporwave", "8-bit")),
    ("halftone", ("pointill", "halftone", "pop art", "stippl", "dot painting", "risograph",
                  "comic", "screen print", "ben-day", "duotone", "pop surreal", "cel shad")),
    ("mosaic", ("mosaic", "stained glass", "azulejo", "cloison", "zellige", "pietra dura",
                "byzantine", "talavera", "delft", "kintsugi", "patchwork", "marquetry",
                "islamic", "quranic", "beadwork")),
    ("paper", ("papercut", "collage", "decoupage", "origami", "papel picado", "jianzhi",
               "wycinanki", "quilling", "silhouette", "wayang", "mola", "photomontage",
               "dada", "tapa", "figure pottery", "travel poster")),
    ("geometric", ("bauhaus", "construct", "suprematism", "stijl", "cubism", "hard-edge",
                   "concrete", "minimal", "purism", "geometric", "memphis", "futurism",
                   "vorticism", "art deco", "precision", "flat design", "typographic",
                   "propaganda", "mid-century", "kente", "brutal", "heraldry",
                   "streamline", "googie")),
    ("rings", ("op art", "orphism", "kinetic", "mandala", "rangoli", "enso", "rayonism",
               "synchromism", "light and space", "fractal", "color field", "huichol")),
    ("engraving", ("engrav", "etching", "woodcut", "linocut", "drypoint", "mezzotint",
                   "scratchboard", "aquatint", "lithograph", "xilogravura", "stonecut",
                   "ukiyo", "shin hanga", "letterpress", "blueprint", "cyanotype", "toile",
                   "scrimshaw", "line art", "pen and ink", "technical", "anatomical", "map",
                   "botanical", "silverpoint", "chalk", "monotype", "pyrography", "bark")),
    ("glow", ("photograph", "long exposure", "bokeh", "light painting", "neon", "synthwave",
              "chiaroscuro", "tenebris", "noir", "cyberpunk", "film",
              "double exposure", "technicolor", "caravagg", "daguerreotype",
              "tintype")),
    ("flow", ("nouveau", "psychedel", "marbl", "baroque", "rococo", "arabesque", "celtic",
              "generative", "post-impression", "secession", "lyrical", "batik", "shibori",
              "fileteado", "suzani", "paisley", "persian rug", "art brut", "surreal")),
    ("brush", ("impression", "expression", "action painting", "sumi", "tachisme",
               "fauv", "impasto", "plein air", "watercolor", "gouache", "pastel", "charcoal",
               "calligraph", "shan shui", "abstract", "cobra", "fresco")),
)
GROUP_TECHNIQUES: dict[str, str] = {
    "classical and renaissance": "brush",
    "modern movements": "brush",
    "contemporary and digital": "flow",
    "printmaking and graphic": "engraving",
    "craft and decorative": "mosaic",
    "photography and film": "glow",
    "regional and folk traditions": "paper",
    "illustration and comics": "halftone",
    "abstract and geometric": "geometric",
    "sacred and ceremonial": "rings",
}


def _stable_index(text: str, modulo: int) -> int:
    """A process-independent pick from a string (``hash()`` is salted per process)."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % modulo


def technique_for(dress: DalleDress) -> str:
    """The technique ``render_local`` uses: by style keywords, then style group, then seed."""
    name, group = split_row(dress.value("artStyle1"))[:2]
    name = name.lower()
    for technique, keywords in STYLE_KEYWORDS:
        if any(k in name for k in keywords):
            return technique
    if group.lower() in GROUP_TECHNIQUES:
        return GROUP_TECHNIQUES[group.lower()]
    return TECHNIQUES[_stable_index(name or dress.seed, len(TECHNIQUES))]


# -- palette and mood ------------------------------------------------------------------------
def _mood(dress: DalleDress) -> float:
    polarity = split_row(dress.value("emotion"))[2].lower()
    return {"positive": 1.0, "negative": -1.0}.get(polarity, 0.0)


def _hex(text: str) -> RGB | None:
    text = text.strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    except ValueError:
        return None


def _toward(hue: float, target: float, amount: float) -> float:
    """Rotate a hue (0..1) toward a target hue along the shorter way round the wheel."""
    delta = (target - hue + 0.5) % 1.0 - 0.5
    return (hue + max(-amount, min(amount, delta))) % 1.0


def build_palette(dress: DalleDress, rng: Random, mood: float) -> Palette:
    """Three mood-graded colours spread in lightness, plus an ink and a paper derived from them.

    Positive emotions pull hues toward orange and lighten; negative ones pull toward blue,
    darken and desaturate. Missing colours come from the seed (spaced round the wheel).
    """
    base_hue = rng.random()
    hls = []
    for i, name in enumerate(("color1", "color2", "color3")):
        colour = _hex(split_row(dress.value(name))[1])
        if colour is None:
            colour = tuple(round(255 * v) for v in colorsys.hls_to_rgb(
                (base_hue + 0.31 * i) % 1.0, 0.3 + 0.2 * i, 0.55))
        h, lum, s = colorsys.rgb_to_hls(*(v / 255 for v in colour))
        if s > 0.08:  # greys keep their (meaningless) hue
            h = _toward(h, 0.08 if mood > 0 else 0.6, 0.05 * abs(mood))
        lum = min(max(lum + 0.06 * mood, 0.04), 0.96)
        s = min(s * (1.0 + 0.1 * mood), 0.9)
        hls.append((h, lum, s))
    hls.sort(key=lambda c: c[1])
    # Spread the lightness so the ramp has a dark, a middle and a light step.
    targets = ((0.0, 0.34), (0.36, 0.64), (0.62, 1.0))
    hls = [(h, min(max(lum, lo), hi), s) for (h, lum, s), (lo, hi) in zip(hls, targets,
                                                                         strict=True)]
    colours = tuple(tuple(round(255 * v) for v in colorsys.hls_to_rgb(*c)) for c in hls)
    dark_h, _, dark_s = hls[0]
    light_h, _, light_s = hls[2]
    ink = colorsys.hls_to_rgb(dark_h, 0.07 + 0.03 * mood, min(dark_s, 0.5) * 0.7)
    paper_h = _toward(light_h, 0.1, 0.08) if mood > 0 else light_h
    paper = colorsys.hls_to_rgb(paper_h, 0.92 - 0.03 * max(-mood, 0), min(light_s, 0.4) + 0.1)
    return Palette(tuple(round(255 * v) for v in ink), colours,  # type: ignore[arg-type]
                   tuple(round(255 * v) for v in paper))  # type: ignore[arg-type]


# -- composition and viewpoint ---------------------------------------------------------------
class Placement(NamedTuple):
    """Where and how the motif sits, in shares of the frame."""

    focal: tuple[float, float]
    size: float
    horizon: float
    tilt: float  # degrees
    extras: set[str]  # named touches such as "trio", "reflection", "below", "blur"


def _placement(composition: str, viewpoint: str, rng: Random) -> Placement:
    """Composition places the focal point (thirds, golden section, diagonals...); viewpoint
    scales the motif (close-up, wide), moves the horizon (low, high angle) and tilts it."""
    third, golden = rng.choice((1 / 3, 2 / 3)), rng.choice((0.382, 0.618))
    fx, fy, size, extras = 0.5, 0.52, 0.62, set()
    if "thirds" in composition or "asymmetrical" in composition:
        fx, fy = third, rng.choice((1 / 3, 2 / 3))
    elif "golden" in composition and "triangle" not in composition:
        fx, fy = golden, rng.choice((0.382, 0.618))
    elif any(k in composition for k in ("diagonal", "triangle", "dynamic", "z-pattern")):
        fx = golden
        fy = fx if rng.random() < 0.5 else 1 - fx
    elif "negative space" in composition:
        fx, fy, size = third, rng.choice((0.4, 0.6)), 0.34
    elif "l-shaped" in composition:
        fx, fy = rng.choice((0.3, 0.7)), 0.62
    elif any(k in composition for k in ("s-curve", "leading", "vanishing", "motion")):
        fx = 0.5 + rng.uniform(-0.15, 0.15)
    if any(k in composition for k in ("odds", "triangle composition")):
        extras.add("trio")
    for key, extra in (("reflection", "reflection"), ("grid", "pattern"), ("repetition",
                       "pattern"), ("frame", "frame"), ("vignette", "vignette"),
                       ("foreground", "foreground"), ("natural framing", "vignette")):
        if key in composition:
            extras.add(extra)
    if "reflection" in composition:
        fy = 0.4
    if "fill the frame" in composition or "tight crop" in composition:
        size = 0.95
    horizon, tilt = 0.68, 0.0
    scale = {"extreme close-up": 1.45, "close-up": 1.35, "macro": 1.4, "medium close-up": 1.2,
             "medium shot": 1.1, "cowboy shot": 1.05, "wide shot": 0.72, "extreme wide": 0.55,
             "aerial": 0.6, "bird's-eye": 0.8, "overhead": 0.8, "fisheye": 1.15,
             "forced perspective": 1.3}
    for key, factor in scale.items():  # first match only: "extreme close-up" before "close-up"
        if key in viewpoint:
            size *= factor
            break
    if "low angle" in viewpoint or "worm" in viewpoint:
        horizon, fy = 0.86, min(fy, 0.5)
        extras.add("below")
    elif any(k in viewpoint for k in ("high angle", "bird", "overhead", "aerial")):
        horizon = 0.12 if "high angle" in viewpoint else -0.2
        extras.add("above")
    if "dutch" in viewpoint:
        tilt = rng.choice((-1, 1)) * rng.uniform(10, 16)
    for key, extra in (("fisheye", "fisheye"), ("shallow", "blur"), ("telephoto", "blur"),
                       ("tilt-shift", "blur"), ("profile", "turn"), ("three-quarter", "turn"),
                       ("isometric", "turn"), ("rear", "turn")):
        if key in viewpoint:
            extras.add(extra)
    return Placement((fx, fy), min(size, 1.0), horizon, tilt, extras)


def build_scene(dress: DalleDress, rng: Random) -> tuple[Scene, set[str]]:
    """The scene a technique paints, plus the extras applied around the motif."""
    mood = _mood(dress)
    palette = build_palette(dress, rng, mood)
    composition = split_row(dress.value("composition"))[0].lower()
    viewpoint = split_row(dress.value("viewpoint"))[0].lower()
    (fx, fy), share, horizon, tilt, extras = _placement(composition, viewpoint, rng)
    motif = share * SIZE
    # Keep most of the motif inside the frame whatever the composition asked for.
    half = min(motif * 0.4, SIZE / 2)
    focal = (min(max(fx * SIZE, half), SIZE - half), min(max(fy * SIZE, half), SIZE - half))
    style = split_row(dress.value("artStyle1"))[0].lower()
    return Scene(palette, mood, focal, horizon * SIZE, tilt, motif, style), extras


# -- the motif -------------------------------------------------------------------------------
def _motif_masks(dress: DalleDress, scene: Scene, extras: set[str], rng: Random) -> Masks:
    """The noun's creature at motif size, foreshortened and tilted as the viewpoint asks."""
    box = max(16, round(scene.motif))
    view = View(
        lean=0.16 if "below" in extras else -0.14 if "above" in extras else 0.0,
        squash=0.84 if "turn" in extras else 1.0,
        shear=0.1 if "turn" in extras else 0.0,
        tilt=scene.tilt,
    )
    noun = split_row(dress.value("noun"))
    # Drawn at twice the size and halved: cheap anti-aliasing for the silhouette edges.
    masks = draw_creature(noun, rng, 2 * box, max(3.0, box / 80), view)
    return masks.transform(lambda m: m.reduce(2))


def _corner(mask: Image.Image, x: float, y: float) -> tuple[int, int]:
    """Top-left corner that centres ``mask`` on (x, y); pastes clip at the frame edges."""
    return round(x - mask.width / 2), round(y - mask.height / 2)


def _stamp(img: Image.Image, colour: RGB, mask: Image.Image, x: float, y: float,
           strength: float = 1.0) -> None:
    """Paint ``colour`` through ``mask`` centred on (x, y), in place."""
    if strength < 1.0:
        mask = mask.point(lambda v: round(v * strength))
    paint(img, colour, mask, _corner(mask, x, y))


def _box(mask: Image.Image, x: float, y: float) -> tuple[int, int, int, int]:
    left, top = _corner(mask, x, y)
    return left, top, left + mask.width, top + mask.height


def _soften(mask: Image.Image, radius: float) -> Image.Image:
    """A blurred copy of a mask, padded so the blur is not cut off (blurred at 1/4 size)."""
    pad = max(2, round(radius / 2))
    small = ImageOps.expand(mask.reduce(4), pad, 0)
    small = small.filter(ImageFilter.GaussianBlur(max(radius / 4, 0.5)))
    return small.resize((mask.width + 8 * pad, mask.height + 8 * pad),
                        Image.Resampling.BILINEAR)


def _fill_colour(palette: Palette, background: float) -> RGB:
    """A palette colour standing out from the background: enough lightness contrast first,
    then the more saturated the better (a pale tint is the last resort, not the default)."""
    candidates = (*palette.colors, mix(palette.colors[2], palette.paper, 0.6),
                  mix(palette.colors[0], palette.ink, 0.6))

    def score(c: RGB) -> float:
        saturation = colorsys.rgb_to_hls(*(v / 255 for v in c))[2]
        return min(abs(luma(c) - background), 0.4) + 0.15 * saturation

    return max(candidates, key=score)


def _light(size: int) -> Image.Image:
    """A diagonal light-to-dark ramp (light from the upper left) to model the motif's volume."""
    ramp = Image.linear_gradient("L").resize((64, 64))
    diagonal = ImageChops.add(ramp, ramp.transpose(Image.Transpose.TRANSPOSE), scale=2.0)
    return ImageChops.invert(diagonal).resize((size, size), Image.Resampling.BILINEAR)


def _add_motif(img: Image.Image, masks: Masks, scene: Scene, extras: set[str]) -> None:
    """Paint the creature (with its companions, reflection, shadow or halo) in place."""
    p, (fx, fy) = scene.palette, scene.focal
    box = masks.body.width
    under = img.crop(_box(masks.body, fx, fy)).convert("L")
    background = ImageStat.Stat(under, masks.body).mean[0] / 255
    fill = _fill_colour(p, background)
    line = mix(p.ink, fill, 0.15) if luma(fill) > 0.42 else mix(p.paper, fill, 0.15)
    average = tuple(round(v) for v in ImageStat.Stat(img.reduce(16)).mean[:3])
    haze = mix(fill, average, 0.55)  # companions and repeats recede into the background
    if "pattern" in extras:  # a faint repeat of the creature papering the background
        tile = masks.body.resize((max(1, box // 6),) * 2, Image.Resampling.BILINEAR)
        tile = tile.point(lambda v: v * 2 // 5)
        for gy in range(6):
            for gx in range(6):
                _stamp(img, haze, tile, (gx + 0.5 + 0.25 * (gy % 2)) * SIZE / 6,
                       (gy + 0.5) * SIZE / 6)
    if "trio" in extras:  # two smaller companions further back, fainter (rule of odds)
        small = masks.body.resize((box * 11 // 20,) * 2, Image.Resampling.BILINEAR)
        for side in (-1, 1):
            cx = min(max(fx + side * box * 0.55, box * 0.2), SIZE - box * 0.2)
            _stamp(img, haze, small, cx, fy + box * 0.12, 0.8)
    if "frame" in extras:  # a frame within the frame that the creature overlaps
        draw = ImageDraw.Draw(img)
        inset = round(SIZE * 0.07)
        draw.rectangle((inset, inset, SIZE - inset, SIZE - inset), outline=line, width=22)
        draw.rectangle((inset + 34, inset + 34, SIZE - inset - 34, SIZE - inset - 34),
                       outline=line, width=4)
    if "reflection" in extras:
        mirrored = masks.body.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        _stamp(img, haze, _soften(mirrored, 6), fx, fy + box * 0.84, 0.45)
    if background > 0.5:  # a cast shadow on light grounds, a glow on dark ones
        _stamp(img, p.ink, _soften(masks.outline, box / 40), fx + box * 0.035, fy + box * 0.045,
               0.45)
    else:
        _stamp(img, mix(fill, p.paper, 0.45), _soften(masks.outline, box / 22), fx, fy, 0.55)
    _stamp(img, line, masks.outline, fx, fy)
    # The body takes the background's own texture, recoloured: it belongs to the same picture.
    under = Image.blend(under, _light(box), 0.55)
    texture = ImageOps.colorize(under, mix(fill, p.ink, 0.3), mix(fill, p.paper, 0.3))
    img.paste(texture, _box(masks.body, fx, fy), masks.body)
    _stamp(img, line, ImageChops.multiply(masks.detail, masks.body), fx, fy)


# -- finishing -------------------------------------------------------------------------------
def _pixelate(img: Image.Image, palette: Palette) -> Image.Image:
    """Down to 128 px, snapped to a 16-colour palette ramp, and back up with hard pixels."""
    swatch = Image.new("P", (1, 1))
    colours = [palette.ramp(i / 15) for i in range(16)]
    swatch.putpalette([v for c in colours for v in c] * 16)
    small = img.resize((128, 128), Image.Resampling.BOX)
    small = small.quantize(palette=swatch, dither=Image.Dither.NONE).convert("RGB")
    return small.resize((SIZE, SIZE), Image.Resampling.NEAREST)


def _grade(img: Image.Image, mood: float) -> Image.Image:
    """Mood grading: positive is warmer, lighter and softer; negative cooler, darker, harder."""
    contrast, lift = 1.0 - 0.08 * mood, 0.03 * mood
    gains = (1.0 + 0.05 * mood, 1.0, 1.0 - 0.07 * mood)
    lut = []
    for gain in gains:
        lut += [min(255, max(0, round(((v / 255 - 0.5) * contrast + 0.5 + lift) * gain * 255)))
                for v in range(256)]
    return img.point(lut)


@functools.lru_cache(maxsize=8)
def _vignette(strength: float) -> Image.Image:
    """A mask darkening toward the corners (cached: it depends on the strength only)."""
    ramp = Image.radial_gradient("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return ramp.point(lambda v: round(255 * strength * max(0.0, v / 181 - 0.45) ** 1.5 /
                                      0.55 ** 1.5))


@functools.lru_cache(maxsize=1)
def _grain() -> Image.Image:
    """Soft paper grain, 0..8 per channel (one fixed, seeded texture shared by all images)."""
    noise = Image.frombytes("L", (512, 512), Random(20240601).randbytes(512 * 512))
    noise = noise.resize((SIZE, SIZE), Image.Resampling.BILINEAR).point(lambda v: v // 32)
    return Image.merge("RGB", (noise, noise, noise))


def _finish(img: Image.Image, scene: Scene, extras: set[str], technique: str,
            rng: Random) -> Image.Image:
    p = scene.palette
    if "foreground" in extras:  # out-of-focus dark shapes in front of everything
        near = Image.new("L", (128, 128), 0)
        draw = ImageDraw.Draw(near)
        for side in (0, 128):
            draw.ellipse((side - 40, 100 + rng.uniform(-10, 10), side + 40, 170), fill=255)
        near = near.filter(ImageFilter.GaussianBlur(4)).resize((SIZE, SIZE))
        paint(img, p.ink, near.point(lambda v: v * 9 // 10))
    if technique == "pixel":
        img = _pixelate(img, p)
    img = _grade(img, scene.mood)
    # Vignette: darken toward the corners, harder for negative moods and vignette compositions.
    paint(img, p.ink, _vignette(round(0.35 - 0.12 * scene.mood, 2) +
                                (0.25 if "vignette" in extras else 0.0)))
    if "fisheye" in extras:
        lens = Image.new("L", (SIZE * 2, SIZE * 2), 255)
        ImageDraw.Draw(lens).ellipse((-40, -40, SIZE * 2 + 40, SIZE * 2 + 40), fill=0)
        paint(img, p.ink, lens.reduce(2))
    # Fine grain where there are flat areas or smooth gradients (it also prevents banding);
    # busy techniques have texture enough and pixel art stays crisp. Grain costs PNG bytes.
    if technique not in ("pixel", "brush", "flow", "mosaic"):
        img = ImageChops.add(img, _grain(), 1.0, -4)
    return img


def _tilted(img: Image.Image, tilt: float) -> Image.Image:
    """The background turned clockwise by ``tilt`` degrees for a dutch angle, like the motif,
    and zoomed just enough to hide the corners (one affine resampling does both)."""
    a = math.radians(tilt)
    k = 1 / (math.cos(abs(a)) + math.sin(abs(a)))  # share of the input the frame shows
    cos, sin, c = math.cos(a) * k, math.sin(a) * k, SIZE / 2
    # Output pixel p samples the input at c + k * R(-tilt) * (p - c).
    data = (cos, sin, c - cos * c - sin * c, -sin, cos, c + sin * c - cos * c)
    return img.transform((SIZE, SIZE), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)


def render_local(dress: DalleDress) -> Image.Image:
    """Paint the dress: an RGB 1024 x 1024 image, byte-identical for the same dress."""
    try:
        seed = int(dress.seed, 16)
    except ValueError:  # not expected from the builder, but never fall back to hash()
        seed = int(hashlib.sha256(dress.seed.encode("utf-8")).hexdigest(), 16)

    def stage(index: int) -> Random:  # independent streams: tweaking one stage keeps the rest
        return Random(seed * 8 + index)

    technique = technique_for(dress)
    scene, extras = build_scene(dress, stage(0))
    img = TECHNIQUE_FUNCTIONS[technique](scene, stage(1))
    if scene.tilt:
        img = _tilted(img, scene.tilt)
    if "blur" in extras:  # shallow depth of field: only the motif stays sharp
        img = img.reduce(4).filter(ImageFilter.GaussianBlur(2)).resize((SIZE, SIZE))
    _add_motif(img, _motif_masks(dress, scene, extras, stage(2)), scene, extras)
    return _finish(img, scene, extras, technique, stage(3))
