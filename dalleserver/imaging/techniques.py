"""Background techniques of the local renderer: each paints a whole 1024 x 1024 scene.

A technique is a function ``(scene, rng) -> RGB image`` built only from Pillow's C-level
primitives. Hard edges are drawn at twice the size and reduced (cheap anti-aliasing); smooth
fields are drawn tiny and upscaled. Tone is often painted as a grey image first and then
gradient-mapped through the palette, which keeps every picture inside its three colours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from random import Random

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from dalleserver.imaging.canvas import (
    RGB,
    SIZE,
    Point,
    Scene,
    glow,
    gradient_map,
    landscape,
    mix,
    noise,
    paint,
    paint_sharp,
    paint_soft,
    ridge,
    sampler,
    sky_tone,
)


def flow(scene: Scene, rng: Random) -> Image.Image:
    """Ribbons of colour following a smooth vector field that swirls around the focal point."""
    p, (fx, fy) = scene.palette, scene.focal
    img = gradient_map(Image.blend(sky_tone(scene, 70, 150), noise(rng, 5, SIZE), 0.45), p,
                       0.05, 0.75)
    waves = [(rng.uniform(0.002, 0.006), rng.uniform(0.002, 0.006), rng.uniform(0, 6.3))
             for _ in range(3)]
    swirl, spin = (scene.motif * 0.9) ** 2, rng.choice((-1.0, 1.0)) * math.pi / 2
    # The field is sampled once on a 16 px grid that each step looks up. Directions are
    # blended as vectors, so the swirl has no seam where atan2 wraps round.
    cell, n, field = 16, SIZE // 16 + 9, []
    for j in range(n):
        for i in range(n):
            x, y = (i - 4) * cell - fx, (j - 4) * cell - fy
            a = sum(math.sin((x + fx) * kx + (y + fy) * ky + ph) for kx, ky, ph in waves) * 1.2
            w = swirl / (swirl + x * x + y * y)  # the swirl fades with distance
            b = math.atan2(y, x) + spin
            vx, vy = math.cos(a) * (1 - w) + math.cos(b) * w, math.sin(a) * (1 - w) + math.sin(
                b) * w
            norm = math.hypot(vx, vy) or 1.0
            field.append((vx / norm, vy / norm))
    draw = ImageDraw.Draw(img, "RGBA")
    for count, width, step, steps, alpha in ((120, 24, 14, 18, 120), (270, 11, 10, 20, 160),
                                             (440, 4, 7, 18, 210)):
        for _ in range(count):
            x, y = rng.uniform(-40, SIZE + 40), rng.uniform(-40, SIZE + 40)
            colour = p.ramp(0.15 + 0.8 * min(max(y / SIZE + rng.uniform(-0.3, 0.3), 0.0), 1.0))
            pts = [(x, y)]
            for _ in range(steps):
                i, j = int(x / cell + 4.5), int(y / cell + 4.5)
                if not (0 <= i < n and 0 <= j < n):  # left the sampled field: stop here
                    break
                vx, vy = field[j * n + i]
                x, y = x + vx * step, y + vy * step
                pts.append((x, y))
            draw.line(pts, fill=(*colour, alpha), width=width)
            if width > 8:  # a thin lighter core gives the wide ribbons a rounded, glossy body
                draw.line(pts, fill=(*mix(colour, p.paper, 0.35), alpha), width=width // 4)
    return img


def _voronoi_cell(site: Point, neighbours: list[Point], gap: float) -> list[Point]:
    """The Voronoi cell of ``site``: a square clipped by the bisector of each neighbour,
    moved ``gap / 2`` toward the site so that neighbouring tiles leave a joint between them."""
    sx, sy = site
    poly = [(sx - 200, sy - 200), (sx + 200, sy - 200), (sx + 200, sy + 200), (sx - 200, sy + 200)]
    for qx, qy in neighbours:
        nx, ny = qx - sx, qy - sy
        length = math.hypot(nx, ny) or 1.0
        nx, ny, limit = nx / length, ny / length, length / 2 - gap / 2
        side = [(x - sx) * nx + (y - sy) * ny - limit for x, y in poly]  # <= 0 is kept
        clipped = []
        for i, (cur, dc) in enumerate(zip(poly, side, strict=True)):
            prev, dp = poly[i - 1], side[i - 1]
            if (dc <= 0) != (dp <= 0):
                t = dp / (dp - dc)
                clipped.append((prev[0] + (cur[0] - prev[0]) * t, prev[1] + (cur[1] - prev[1]) * t))
            if dc <= 0:
                clipped.append(cur)
        if len(clipped) < 3:
            return []
        poly = clipped
    return poly


def mosaic(scene: Scene, rng: Random) -> Image.Image:
    """Voronoi tesserae coloured from a landscape underpainting, set in grout or lead."""
    p = scene.palette
    glass = scene.styled("glass", "cloison", "kintsugi")
    grout = p.ink if glass or scene.mood < 0 else mix(p.paper, p.colors[2], 0.3)
    if scene.styled("kintsugi"):  # gold-mended seams
        grout = (212, 175, 55)
    img = Image.new("RGB", (2 * SIZE, 2 * SIZE), grout)
    draw = ImageDraw.Draw(img)
    cell, at = (64 if glass else 44), sampler(landscape(scene, rng, 215, 70))
    cols = SIZE // cell + 3
    sites = [[((i - 0.5 + rng.uniform(-0.4, 0.4)) * cell, (j - 0.5 + rng.uniform(-0.4, 0.4)) *
               cell) for j in range(cols)] for i in range(cols)]
    for i in range(1, cols - 1):
        for j in range(1, cols - 1):
            (cx, cy) = site = sites[i][j]
            near = [sites[i + di][j + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]
            if not (poly := _voronoi_cell(site, near, 5.0 if glass else 3.0)):
                continue
            colour = p.ramp(0.12 + 0.8 * at(cx, cy)[0] / 255 + rng.uniform(-0.07, 0.07))
            draw.polygon([(2 * x, 2 * y) for x, y in poly], fill=mix(colour, p.ink, 0.25))
            # A lighter, slightly offset inner tile reads as a bevelled tessera.
            draw.polygon([(2 * (cx + (x - cx) * 0.82) - 3, 2 * (cy + (y - cy) * 0.82) - 3)
                          for x, y in poly], fill=mix(colour, p.paper, 0.12))
    return img.reduce(2)


def rings(scene: Scene, rng: Random) -> Image.Image:
    """Concentric bands around the focal point: arcs of colour (orphism, mandalas) or, for op
    art, two-tone rings interfering with a second ring system into a moire."""
    op, size = scene.styled("op art", "kinetic", "rayon"), 2 * SIZE
    tone = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(tone)
    fx, fy = (2 * v for v in scene.focal)
    levels = (40, 215) if op else tuple(sorted(rng.sample(range(50, 240, 28), 4)))
    sectors = 1 if op else rng.choice((1, 2, 4))
    start, width = rng.uniform(0, 360), rng.uniform(44, 60) if op else rng.uniform(70, 110)
    radius, index = 2.9 * SIZE, 0
    while radius > 8:
        box = (fx - radius, fy - radius, fx + radius, fy + radius)
        for s in range(sectors):  # rings split into arcs of neighbouring tones
            draw.pieslice(box, start + s * 360 / sectors, start + (s + 1) * 360 / sectors,
                          fill=levels[(index + s) % len(levels)])
        radius -= width * (1 + 0.45 * math.sin(index * 0.6))
        index += 1
    if op:
        waves = Image.new("L", (size, size), 0)
        cx, cy, band = rng.uniform(0, size), rng.choice((-0.3, 1.3)) * size, rng.uniform(50, 70)
        for k in range(int(3.2 * size / band), 0, -1):
            ImageDraw.Draw(waves).ellipse((cx - k * band, cy - k * band, cx + k * band,
                                           cy + k * band), fill=255 * (k % 2))
        tone = Image.composite(ImageChops.invert(tone), tone, waves)  # tones swap: the moire
    shade = glow(scene.focal, SIZE * 1.3).point(lambda v: 150 + v // 3)
    return gradient_map(ImageChops.multiply(tone.reduce(2), shade), scene.palette)


def halftone(scene: Scene, rng: Random) -> Image.Image:
    """Overprinted dot screens in three inks on paper (jittered stipple for pointillism)."""
    p = scene.palette
    img = Image.new("RGB", (SIZE, SIZE), p.paper)
    at = sampler(landscape(scene, rng, 225, 40))
    jitter = scene.styled("point", "stippl", "dot")
    spacing = 18.0 if jitter else rng.choice((16.0, 20.0, 24.0))
    reach = int(SIZE * 0.75 / spacing) + 1
    # Each ink covers its own band of tones: the darkest ink the shadows, the others the
    # middle and the lights, each screen at its own angle as in a real print.
    for colour, centre, angle in ((p.colors[0], 0.0, 15), (p.colors[1], 0.35, 75),
                                  (p.colors[2], 0.65, 45)):
        mask = Image.new("L", (2 * SIZE, 2 * SIZE), 0)
        draw = ImageDraw.Draw(mask)
        ca, sa = math.cos(math.radians(angle)) * spacing, math.sin(math.radians(angle)) * spacing
        for i in range(-reach, reach + 1):
            for j in range(-reach, reach + 1):
                x, y = SIZE / 2 + i * ca - j * sa, SIZE / 2 + i * sa + j * ca
                if jitter:
                    x += rng.uniform(-0.5, 0.5) * spacing
                    y += rng.uniform(-0.5, 0.5) * spacing
                if not (-spacing < x < SIZE + spacing and -spacing < y < SIZE + spacing):
                    continue
                t = at(x, y)[0] / 255
                cover = max(0.0, 1.0 - abs(t - centre) * 2.2) if centre else 1.0 - t
                if (r := spacing * 0.72 * math.sqrt(cover)) > 0.6:
                    draw.ellipse((2 * (x - r), 2 * (y - r), 2 * (x + r), 2 * (y + r)), fill=255)
        printed = img.point([v * c // 255 for c in colour for v in range(256)])  # multiply
        img.paste(printed, (0, 0), mask.reduce(2))
    return img


def paper(scene: Scene, rng: Random) -> Image.Image:
    """Layered paper cut-outs: a sun, clouds and wavy ridges, each casting a soft shadow."""
    p = scene.palette
    img = gradient_map(sky_tone(scene, 235, 200), p)
    top, r = scene.horizon - SIZE * 0.12, SIZE * rng.uniform(0.12, 0.2)
    sx, sy = scene.focal[0] + rng.uniform(-0.25, 0.25) * SIZE, top - SIZE * 0.22
    layers: list[tuple[RGB, list]] = [(p.ramp(0.8), [("ellipse", (sx - r, sy - r, sx + r,
                                                                    sy + r))])]
    for _ in range(rng.randint(1, 3)):  # clouds: a few overlapping discs on a flat base
        cx, cy = rng.uniform(0, SIZE), rng.uniform(0.1, 0.7) * max(top, 200)
        w = rng.uniform(80, 160)
        puffs = [("ellipse", (cx + dx * w - w * s, cy - w * s, cx + dx * w + w * s, cy + w * s))
                 for dx, s in ((-0.6, 0.35), (0.0, 0.55), (0.55, 0.4))]
        layers.append((mix(p.paper, p.colors[2], 0.2),
                       [*puffs, ("rectangle", (cx - w, cy, cx + w, cy + w * 0.4))]))
    count = rng.randint(4, 6)
    for k in range(count):
        layers.append((p.ramp(0.72 - 0.6 * k / (count - 1)), [("polygon", ridge(
            rng, top + (SIZE - top) * k / count, SIZE * 0.04 * (1 + k * 0.3)))]))
    for colour, parts in layers:  # back to front, each over its own shadow
        shape, shadow = Image.new("L", (2 * SIZE, 2 * SIZE), 0), Image.new("L", (256, 256), 0)
        for kind, coords in parts:
            for target, scale, dy in ((shape, 2.0, 0.0), (shadow, 0.25, 14.0)):
                pen = ImageDraw.Draw(target)
                if kind == "polygon":
                    pen.polygon([(x * scale, (y + dy) * scale) for x, y in coords], fill=255)
                else:
                    x0, y0, x1, y1 = coords
                    getattr(pen, kind)((x0 * scale, (y0 + dy) * scale, x1 * scale,
                                        (y1 + dy) * scale), fill=255)
        shadow = shadow.filter(ImageFilter.GaussianBlur(3)).point(lambda v: v * 2 // 3)
        paint_soft(img, mix(p.ink, colour, 0.4), shadow, 4)
        paint_sharp(img, colour, shape)
    return img


def pixel(scene: Scene, rng: Random) -> Image.Image:
    """A 128 px scene (banded sky, striped sun, stars, stepped hills, a grid floor) upscaled
    with hard pixels; the renderer later pixelates the motif the same way."""
    p, n = scene.palette, 128
    k = n / SIZE
    tone = sky_tone(scene, 30 if scene.mood < 0 else 110, 230, n).point(lambda v: v // 28 * 28)
    img = gradient_map(tone, p, 0.05, 0.9)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(20, 40) if scene.mood <= 0 else 6):
        draw.point((rng.randrange(n), rng.randrange(max(1, int(scene.horizon * k * 0.8)))),
                   fill=p.paper)
    sx, sy, sr = scene.focal[0] * k, scene.horizon * k - 14, rng.randint(14, 22)
    draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=p.ramp(0.85))
    for band in range(4):  # synthwave stripes cut through the lower half of the sun
        y = sy + 2 + band * 4
        sky = img.getpixel((min(max(int(sx - sr - 2), 0), n - 1), min(max(int(y), 0), n - 1)))
        draw.rectangle((sx - sr, y, sx + sr, y + band // 2), fill=sky)
    for layer in range(3):
        colour, hy = p.ramp(0.45 - layer * 0.15), scene.horizon * k - 10 + layer * 8
        for i in range(n // 8 + 1):
            draw.rectangle((i * 8, hy - rng.randint(0, 10 - layer * 3), i * 8 + 7, n), fill=colour)
    if (ground := scene.horizon * k + 8) < n:
        draw.rectangle((0, ground, n, n), fill=p.ramp(0.12))
        for x in range(-n, 2 * n, 12):  # a perspective floor grid
            draw.line(((n / 2 + (x - n / 2) * 0.15, ground), (x, n)), fill=p.ramp(0.4))
        y, gap = ground, 2.0
        while y < n:
            draw.line(((0, y), (n, y)), fill=p.ramp(0.4))
            y, gap = y + gap, gap * 1.5
    return img.resize((SIZE, SIZE), Image.Resampling.NEAREST)


def _stroke(x: float, y: float, angle: float, bend: float, length: float,
            width: float) -> tuple[list[Point], list[Point]]:
    """A curved brush stroke tapering at both ends: its outline polygon and centre line."""
    centre, left, right = [], [], []
    for s in range(6):
        a = angle + bend * (s / 5 - 0.5)
        half = width / 2 * math.sin(math.pi * (0.1 + 0.16 * s)) ** 0.5
        nx, ny = -math.sin(a) * half, math.cos(a) * half
        centre.append((x, y))
        left.append((x + nx, y + ny))
        right.append((x - nx, y - ny))
        x, y = x + math.cos(a) * length / 5, y + math.sin(a) * length / 5
    return left + right[::-1], centre


def brush(scene: Scene, rng: Random) -> Image.Image:
    """Gestural brush marks over a soft underpainting, their colours picked from beneath it;
    ink styles (sumi-e, calligraphy) use fewer, larger, darker marks on a pale ground."""
    p = scene.palette
    ink = scene.styled("sumi", "ink", "enso", "calligraph", "charcoal")
    under = gradient_map(landscape(scene, rng, 200, 60), p, *((0.45, 1.0) if ink else (0.1, 0.9)))
    img = under.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img, "RGBA")
    turn, at = rng.uniform(0, 6.3), sampler(under)
    passes = ((60, 70, 160), (160, 30, 80), (260, 14, 40)) if ink else (
        (220, 46, 120), (420, 26, 70), (600, 14, 38))
    for count, width, length in passes:  # large marks first, smaller ones on top
        for _ in range(count):
            x, y = rng.uniform(0, SIZE), rng.uniform(0, SIZE)
            beneath = at(x, y)
            colour = mix(p.ink, beneath, rng.uniform(0.1, 0.8)) if ink else mix(
                beneath, rng.choice((p.ink, p.paper)), rng.uniform(0.0, 0.35))
            a = math.sin(x * 0.004 + turn) + math.cos(y * 0.005) + rng.uniform(-0.4, 0.4)
            outline, centre = _stroke(x, y, a, rng.uniform(-0.8, 0.8), length * rng.uniform(
                0.7, 1.3), width * rng.uniform(0.7, 1.2))
            alpha = rng.randint(150, 230)
            draw.polygon(outline, fill=(*colour, alpha))
            for shift, tone in ((0.22, p.paper), (-0.2, p.ink)):  # bristle streaks
                draw.line([(px + width * shift, py - width * shift) for px, py in centre],
                          fill=(*mix(colour, tone, 0.3), alpha // 2), width=max(2, width // 7))
    return img


def geometric(scene: Scene, rng: Random) -> Image.Image:
    """Constructivist bars, a large disc, triangles and fine rules on a flat ground; a
    Mondrian grid for de stijl and minimal styles."""
    p, k = scene.palette, 2
    img = Image.new("RGB", (k * SIZE, k * SIZE),
                    p.ramp(0.12) if scene.mood < 0 else mix(p.paper, p.colors[2], 0.15))
    draw = ImageDraw.Draw(img)
    if scene.styled("stijl", "minimal", "concrete", "purism"):
        xs, ys = (sorted(rng.sample(range(100, SIZE - 100, 40), 3)) for _ in range(2))
        for x0, x1 in zip([0, *xs], [*xs, SIZE], strict=True):
            for y0, y1 in zip([0, *ys], [*ys, SIZE], strict=True):
                if rng.random() < 0.4:  # mostly ground, a few cells of pure colour
                    draw.rectangle((k * x0, k * y0, k * x1, k * y1), fill=rng.choice(p.colors))
        for v in xs:
            draw.rectangle((k * v - 9, 0, k * v + 9, k * SIZE), fill=p.ink)
        for v in ys:
            draw.rectangle((0, k * v - 9, k * SIZE, k * v + 9), fill=p.ink)
        return img.reduce(k)
    angle = math.radians(rng.choice((-1, 1)) * rng.uniform(25, 60))
    ux, uy = math.cos(angle), math.sin(angle)

    def bar(offset: float, along: float, length: float, width: float, colour: RGB) -> None:
        cx, cy = SIZE / 2 + ux * along - uy * offset, SIZE / 2 + uy * along + ux * offset
        draw.polygon([(k * (cx + ux * a - uy * b), k * (cy + uy * a + ux * b)) for a, b in (
            (-length / 2, -width / 2), (length / 2, -width / 2), (length / 2, width / 2),
            (-length / 2, width / 2))], fill=colour)

    r = scene.motif * rng.uniform(0.5, 0.7)
    cx, cy = (v + rng.uniform(-0.3, 0.3) * r for v in scene.focal)
    draw.ellipse((k * (cx - r), k * (cy - r), k * (cx + r), k * (cy + r)), fill=p.colors[2])
    for i in range(rng.randint(3, 5)):
        bar(rng.uniform(-0.45, 0.45) * SIZE, 0, SIZE * rng.uniform(0.5, 1.4),
            rng.choice((14, 28, 60, 110)), p.stops[1 + i % 3] if i else p.ink)
    for _ in range(rng.randint(1, 3)):
        x, y, s = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(60, 200)
        draw.polygon([(k * x, k * (y - s)), (k * (x + s * 0.87), k * (y + s / 2)),
                      (k * (x - s * 0.87), k * (y + s / 2))], fill=rng.choice(p.colors))
    for _ in range(rng.randint(3, 7)):  # hairline rules
        offset = rng.uniform(-0.5, 0.5) * SIZE
        bar(offset, offset * 0.3, SIZE * 1.6, 3, p.ink)
    for _ in range(rng.randint(4, 9)):
        x, y, s = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(6, 24)
        draw.ellipse((k * (x - s), k * (y - s), k * (x + s), k * (y + s)), fill=p.ink)
    return img.reduce(k)


def engraving(scene: Scene, rng: Random) -> Image.Image:
    """Engraved parallel lines that swell in the shadows and spread around the focal point
    as if under a lens, printed over a pale hand-coloured wash."""
    p, (fx, fy) = scene.palette, scene.focal
    tone = landscape(scene, rng, 225, 50)
    wash = gradient_map(tone, p, 0.55, 1.0).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    img = Image.blend(Image.new("RGB", (SIZE, SIZE), p.paper), wash, 0.55)
    spacing = 14.0 if scene.styled("wood", "lino", "xilo") else 10.0
    mask = Image.new("L", (2 * SIZE, 2 * SIZE), 0)
    draw, at = ImageDraw.Draw(mask), sampler(tone)
    reach = (scene.motif * 0.6) ** 2
    waves = [(rng.uniform(0.003, 0.008), rng.uniform(0, 6.3), rng.uniform(6, 18)) for _ in range(2)]
    y0 = -spacing * 4
    while y0 < SIZE + spacing * 4:
        top, bottom = [], []
        for x in range(-24, SIZE + 25, 12):
            dx, dy = x - fx, y0 - fy
            y = y0 + sum(a * math.sin(x * f + ph + y0 * 0.01) for f, ph, a in waves)
            y += 0.4 * dy * reach / (reach + dx * dx + dy * dy)  # a lens swelling the focus
            half = spacing * 0.42 * (1 - at(x, y)[0] / 255) ** 1.5 + 0.6
            top.append((2 * x, 2 * (y - half)))
            bottom.append((2 * x, 2 * (y + half)))
        draw.polygon(top + bottom[::-1], fill=255)
        y0 += spacing
    paint(img, p.ink, mask.reduce(2))
    return img


def glow_lights(scene: Scene, rng: Random) -> Image.Image:
    """Night photography: stars, a moon, hills against a lit horizon and bokeh discs; for
    chiaroscuro styles a single beam of light on a dark stage instead."""
    p, spot = scene.palette, scene.styled("chiaroscuro", "tenebris", "caravagg", "noir")
    # A spotlight is small and bright on a near-black stage; night skies glow more widely.
    halo = glow(scene.focal, scene.motif * (0.95 if spot else 1.6))
    img = gradient_map(ImageChops.lighter(sky_tone(scene, 4 if spot else 8, 40 if spot else 130),
                                          halo.point(lambda v: v * (5 if spot else 2) // 5)), p,
                       0.0, 0.9 if spot else 0.85)
    draw = ImageDraw.Draw(img)
    lights = Image.new("RGB", (256, 256), (0, 0, 0))  # light sources, blurred and screened
    ldraw = ImageDraw.Draw(lights)
    sky = max(scene.horizon, SIZE * 0.3)
    if not spot:
        for _ in range(rng.randint(60, 140)):  # stars, denser toward the zenith
            x, y, r = rng.uniform(0, SIZE), sky * rng.random() ** 1.3, rng.uniform(0.8, 2.2)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=mix(p.paper, p.colors[2],
                                                                  rng.random() * 0.5))
        mx = (scene.focal[0] + SIZE * rng.choice((-0.3, 0.3))) % SIZE
        my, mr = sky * rng.uniform(0.2, 0.45), rng.uniform(36, 60)
        draw.ellipse((mx - mr, my - mr, mx + mr, my + mr), fill=mix(p.paper, p.colors[2], 0.15))
        ldraw.ellipse(((mx - 3 * mr) / 4, (my - 3 * mr) / 4, (mx + 3 * mr) / 4, (my + 3 * mr) / 4),
                      fill=mix((0, 0, 0), p.colors[2], 0.5))
        for k in range(2):  # distant hills, the further one paler
            hills = Image.new("L", (2 * SIZE, 2 * SIZE), 0)
            ImageDraw.Draw(hills).polygon(ridge(rng, scene.horizon - SIZE * 0.05 * (1 - k),
                                                SIZE * 0.04, 2.0), fill=255)
            paint_sharp(img, p.ramp(0.16 - 0.1 * k), hills)
        for _ in range(rng.randint(18, 34)):  # out-of-focus lights in front of everything
            x, y, r = rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(4, 16)
            colour = mix(rng.choice(p.colors), p.paper, rng.uniform(0.2, 0.6))
            ldraw.ellipse((x - r, y - r, x + r, y + r), fill=mix((0, 0, 0), colour,
                                                                  rng.uniform(0.3, 0.9)))
        for _ in range(rng.randint(1, 4)):  # long-exposure light trails
            y, amp, freq = rng.uniform(150, 250), rng.uniform(6, 30), rng.uniform(0.01, 0.04)
            ldraw.line([(x, y + amp * math.sin(x * freq)) for x in range(-8, 265, 8)],
                       fill=mix(p.colors[2], p.paper, 0.5), width=2)
    lights = lights.filter(ImageFilter.GaussianBlur(1.6))
    if spot:  # a beam from above and the pool of light it leaves on the floor
        fx, fy, w = scene.focal[0] / 4, (scene.focal[1] + scene.motif * 0.38) / 4, scene.motif / 7
        beam = Image.new("L", (256, 256), 0)
        ImageDraw.Draw(beam).polygon([(fx + w * 0.35, 0), (fx + w * 0.85, 0), (fx + w, fy),
                                      (fx - w, fy)], fill=90)
        pool = Image.radial_gradient("L").point(lambda v: max(0, 200 - 2 * v)).resize(
            (round(3 * w), round(0.8 * w)))
        beam.paste(pool, (round(fx - 1.5 * w), round(fy - 0.4 * w)), pool)
        paint(lights, mix(p.paper, p.colors[2], 0.3), beam.filter(ImageFilter.GaussianBlur(4)))
    return ImageChops.screen(img, lights.resize((SIZE, SIZE), Image.Resampling.BILINEAR))


TECHNIQUE_FUNCTIONS: dict[str, Callable[[Scene, Random], Image.Image]] = {
    "flow": flow,
    "mosaic": mosaic,
    "rings": rings,
    "halftone": halftone,
    "paper": paper,
    "pixel": pixel,
    "brush": brush,
    "geometric": geometric,
    "engraving": engraving,
    "glow": glow_lights,
}
