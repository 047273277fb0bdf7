"""The pen the creature silhouettes are drawn with: a unit-square view (foreshortening,
turns, tilt), the body and outline masks, and mirrored primitives."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw

Point = tuple[float, float]


@dataclass(frozen=True)
class View:
    """How the creature is seen: ``lean`` narrows the top (>0, from below) or the bottom (<0,
    from above), ``squash`` and ``shear`` turn it, ``tilt`` rotates it (degrees), and
    ``sideways`` lays a head-up drawing down to face left (-1) or right (1)."""

    lean: float = 0.0
    squash: float = 1.0
    shear: float = 0.0
    tilt: float = 0.0
    sideways: int = 0


@dataclass
class Masks:
    """Grey masks of one creature: the body, the body grown for its outline, and markings."""

    body: Image.Image
    outline: Image.Image
    detail: Image.Image

    def transform(self, op: Callable[[Image.Image], Image.Image]) -> Masks:
        return Masks(op(self.body), op(self.outline), op(self.detail))


class Pen:
    """Draws unit-square primitives onto the three masks, mirrored about x = 0 by default."""

    def __init__(self, size: int, grow: float, view: View) -> None:
        self.size, self.grow, self.view = size, grow, view
        self._cos, self._sin = math.cos(math.radians(view.tilt)), math.sin(math.radians(view.tilt))
        self.scale = size * 0.42  # leaves a margin for limbs that reach past the unit square
        self.masks = Masks(*(Image.new("L", (size, size), 0) for _ in range(3)))
        self._body = ImageDraw.Draw(self.masks.body)
        self._outline = ImageDraw.Draw(self.masks.outline)
        self._detail = ImageDraw.Draw(self.masks.detail)

    def _px(self, pts: list[Point], flip: bool) -> list[Point]:
        s, c, v, cos, sin = self.scale, self.size / 2, self.view, self._cos, self._sin
        out = []
        for x, y in pts:
            if flip:
                x = -x
            if v.sideways:
                x, y = -v.sideways * y, -x
            x = x * (1 + v.lean * y) * v.squash + v.shear * y
            out.append((c + (x * cos - y * sin) * s, c + (x * sin + y * cos) * s))
        return out

    def _targets(self, detail: bool, erase: bool):
        if detail:
            return ((self._detail, 0.0, 0 if erase else 255),)
        return ((self._body, 0.0, 255), (self._outline, self.grow, 255))

    def poly(self, pts: list[Point], mirror: bool = True, detail: bool = False,
             erase: bool = False) -> None:
        for flip in (False, True) if mirror else (False,):
            px = self._px(pts, flip)
            for draw, grow, fill in self._targets(detail, erase):
                draw.polygon(px, fill=fill)
                if grow:
                    draw.line([*px, px[0]], fill=fill, width=round(2 * grow), joint="curve")

    def oval(self, x: float, y: float, rx: float, ry: float, angle: float = 0.0,
             mirror: bool = True, detail: bool = False, erase: bool = False) -> None:
        """An ellipse, optionally rotated by ``angle`` degrees (drawn as a 28-gon)."""
        for flip in (False, True) if mirror and x else (False,):
            for draw, grow, fill in self._targets(detail, erase):
                g = grow / self.scale
                a = math.radians(angle)
                pts = [(x + (rx + g) * math.cos(t) * math.cos(a) - (ry + g) * math.sin(t) *
                        math.sin(a), y + (rx + g) * math.cos(t) * math.sin(a) + (ry + g) *
                        math.sin(t) * math.cos(a)) for t in (i * math.pi / 14 for i in range(28))]
                draw.polygon(self._px(pts, flip), fill=fill)

    def limb(self, pts: list[Point], w0: float, w1: float, mirror: bool = True,
             detail: bool = False, erase: bool = False) -> None:
        """A stroke along ``pts`` tapering from width w0 to w1, with rounded ends."""
        n = len(pts)
        for flip in (False, True) if mirror else (False,):
            for draw, grow, fill in self._targets(detail, erase):
                g = 2 * grow / self.scale
                left, right = [], []
                for i, (x, y) in enumerate(pts):
                    ax, ay = pts[max(i - 1, 0)]
                    bx, by = pts[min(i + 1, n - 1)]
                    dx, dy = bx - ax, by - ay
                    d = math.hypot(dx, dy) or 1.0
                    half = (w0 + (w1 - w0) * i / (n - 1) + g) / 2
                    left.append((x - dy / d * half, y + dx / d * half))
                    right.append((x + dy / d * half, y - dx / d * half))
                draw.polygon(self._px(left + right[::-1], flip), fill=fill)
                for (x, y), w in ((pts[0], w0 + g), (pts[-1], w1 + g)):
                    (cx, cy), = self._px([(x, y)], flip)
                    r = w * self.scale / 2
                    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)

    def eyes(self, x: float, y: float, r: float, mirror: bool = True) -> None:
        """Eyes as rings of marking with the body showing through as the pupil's glint."""
        self.oval(x, y, r, r, mirror=mirror, detail=True)
        self.oval(x - r * 0.3, y - r * 0.3, r * 0.3, r * 0.3, mirror=mirror, detail=True,
                  erase=True)


def wiggle(x0: float, y0: float, angle: float, length: float, curl: float, n: int = 8,
           phase: float = 0.0) -> list[Point]:
    """Points of a curling tentacle/antenna starting at (x0, y0) heading ``angle`` radians."""
    pts, x, y = [], x0, y0
    for i in range(n):
        pts.append((x, y))
        a = angle + curl * math.sin(phase + i * 0.7) + curl * i / n
        x, y = x + math.cos(a) * length / n, y + math.sin(a) * length / n
    return pts


def arc(x: float, y: float, heading: float, length: float, bend: float,
        n: int = 7) -> list[Point]:
    """Points of a smooth curve from (x, y), turning by ``bend`` radians over its length
    (positive bends clockwise on screen, since y points down)."""
    pts = [(x, y)]
    for i in range(n):
        a = heading + bend * (i + 0.5) / n
        x, y = x + math.cos(a) * length / n, y + math.sin(a) * length / n
        pts.append((x, y))
    return pts


class Profile:
    """Records primitives of a creature drawn facing +x, then draws them unmirrored into a
    pen, scaled and centred to fill the unit square, facing left (-1) or right (1). A plan
    can so be written in its natural proportions without tracking where the antlers or the
    tail end up.

    ``far`` on a primitive shades it (a limb or ear on the far side reads as behind); a
    near one (``far=False``) clears that shading where it crosses in front.
    """

    def __init__(self) -> None:
        self.ops: list[tuple[str, tuple, dict]] = []
        self.box = [math.inf, math.inf, -math.inf, -math.inf]

    def _add(self, kind: str, args: tuple, detail: bool, erase: bool,
             far: bool | None) -> None:
        self.ops.append((kind, args, {"detail": detail, "erase": erase}))
        if far is not None:
            self.ops.append((kind, args, {"detail": True, "erase": not far}))

    def _see(self, pts: list[Point], r: float) -> None:
        xs, ys = [x for x, _ in pts], [y for _, y in pts]
        b = self.box
        b[:] = (min(b[0], min(xs) - r), min(b[1], min(ys) - r), max(b[2], max(xs) + r),
                max(b[3], max(ys) + r))

    def oval(self, x: float, y: float, rx: float, ry: float, angle: float = 0.0,
             detail: bool = False, erase: bool = False, far: bool | None = None) -> None:
        if not detail:
            self._see([(x, y)], max(rx, ry))
        self._add("oval", (x, y, rx, ry, angle), detail, erase, far)

    def poly(self, pts: list[Point], detail: bool = False, far: bool | None = None) -> None:
        if not detail:
            self._see(pts, 0.0)
        self._add("poly", (pts,), detail, False, far)

    def limb(self, pts: list[Point], w0: float, w1: float, detail: bool = False,
             far: bool | None = None) -> None:
        if not detail:
            self._see(pts, max(w0, w1) / 2)
        self._add("limb", (pts, w0, w1), detail, False, far)

    def eye(self, x: float, y: float, r: float) -> None:
        self.ops.append(("eye", (x, y, r), {}))

    def draw(self, pen: Pen, face: int, reach: float = 0.95) -> None:
        x0, y0, x1, y1 = self.box
        k = 2 * reach / max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

        def at(pts: list[Point]) -> list[Point]:
            return [(face * (x - cx) * k, (y - cy) * k) for x, y in pts]

        for kind, args, kw in self.ops:
            if kind == "oval":
                x, y, rx, ry, angle = args
                (x, y), = at([(x, y)])
                pen.oval(x, y, rx * k, ry * k, face * angle, mirror=False, **kw)
            elif kind == "poly":
                pen.poly(at(args[0]), mirror=False, **kw)
            elif kind == "limb":
                pen.limb(at(args[0]), args[1] * k, args[2] * k, mirror=False, **kw)
            else:
                (x, y), = at([args[:2]])
                pen.eyes(x, y, args[2] * k, mirror=False)


# -- body plans: each draws one creature with proportions varied by the seed ---------------
