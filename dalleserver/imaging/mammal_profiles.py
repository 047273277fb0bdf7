"""Side-view (profile) mammal plans: a four-legged build drawn from proportions —
legs, tail, horns or antlers, coat — on a :class:`~dalleserver.imaging.pen.Profile`
that fits it into the unit square."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from random import Random

from dalleserver.imaging.pen import Pen, Point, Profile, arc

GROUND = 0.8  # where profile plans stand; the fit recentres them anyway


def rings(pts: list[Point], width: float) -> list[list[Point]]:
    """Short strokes across a tail at every other point along it, for a ringed tail."""
    out = []
    for i in range(2, len(pts) - 1, 2):
        (ax, ay), (bx, by), (x, y) = pts[i - 1], pts[i + 1], pts[i]
        d = math.hypot(bx - ax, by - ay) or 1.0
        nx, ny = -(by - ay) / d * width / 2, (bx - ax) / d * width / 2
        out.append([(x - nx, y - ny), (x + nx, y + ny)])
    return out


# -- four-legged mammals in profile --------------------------------------------------------
@dataclass(frozen=True)
class Build:
    """Proportions of a quadruped in profile, in unit-square lengths unless noted."""

    length: float = 0.42  # half-length of the barrel
    depth: float = 0.22  # half-height of the barrel
    legs: float = 0.45  # belly to ground
    leg_w: float = 0.09  # thickness at the top of the leg
    taper: float = 0.6  # foot width as a share of leg_w
    neck: float = 0.2
    neck_angle: float = 45.0  # degrees above horizontal
    neck_w: float = 1.0  # neck thickness as a share of the barrel's height
    head: float = 0.12  # head radius
    snout: float = 0.15  # muzzle length
    face: float = 30.0  # degrees the muzzle points below horizontal
    muzzle: float = 0.7  # muzzle tip width as a share of the head
    ears: str = "pointed"  # pointed, round, long, flap or none
    ear: float = 1.0  # ear size as a share of the head
    crown: tuple[str, ...] = ()  # antlers, horns, ossicones, rhino, trunk, tusks, fangs, disc
    tail: str = "stub"  # stub, tuft, horse, bushy, long, ringed, raised, thick, flat, curl
    tail_len: float = 1.0
    coats: tuple[str, ...] = ("plain",)  # one is picked: plain, stripes, spots, bands...
    mane: bool = False
    humps: tuple[float, ...] = (0.0,)  # one is picked: the height of a hump on the back
    hump_at: float = 0.0  # where the hump sits: 0 mid-back, 0.5 over the shoulders
    slope: float = 0.0  # how much higher the shoulders are than the hips
    feet: str = "hooves"  # hooves, paws (digitigrade), pads (plantigrade, a bear) or pillars


def _legs(p: Profile, rng: Random, b: Build, cy: float) -> None:
    """Four legs, the far pair shaded and placed a stride apart from the near pair."""
    stride = rng.uniform(0.0, 0.09) * b.legs / 0.45 if b.legs > 0.2 else 0.03
    fx, hx = b.length * 0.58, -b.length * 0.62
    for far in (True, False):
        s = -stride if far else stride
        for top, foot, hind in (((fx, cy - b.slope / 2), fx + s, False),
                                ((hx, cy + b.slope / 2), hx - s, True)):
            x0, y0 = top
            drop = GROUND - y0
            w0, w1 = b.leg_w * (1.35 if hind else 1.0), b.leg_w * b.taper
            if hind and b.feet in ("hooves", "paws"):  # a digitigrade hock bends back
                pts = [top, (x0 + 0.06, y0 + drop * 0.45), (foot - 0.06, GROUND - drop * 0.28),
                       (foot, GROUND - 0.03)]
            else:
                pts = [top, ((x0 + foot) / 2 + 0.015, GROUND - drop * 0.42), (foot, GROUND - 0.03)]
            p.limb(pts, w0, w1, far=far)
            if b.feet == "hooves":  # a dark hoof on every foot
                p.limb([(foot, GROUND - 0.05), (foot + 0.01, GROUND)], w1 * 1.05, w1 * 1.15)
                p.limb([(foot, GROUND - 0.04), (foot + 0.01, GROUND)], w1 * 1.05, w1 * 1.15,
                       detail=True)
            elif b.feet in ("paws", "pads"):
                p.oval(foot + w1 * 0.35, GROUND - w1 * 0.3, w1 * 0.85, w1 * 0.45, far=far)
            else:  # pillars: a broad round sole
                p.oval(foot, GROUND - 0.03, w1 * 0.6, 0.045)


def _tail(p: Profile, rng: Random, b: Build, x: float, y: float) -> None:
    n, t = b.tail, b.tail_len
    if n == "stub":
        p.limb([(x, y), (x - 0.1 * t, y - 0.02)], 0.08, 0.06)
    elif n == "tuft":  # a thin switch ending in a tassel of hair
        pts = arc(x, y, math.pi * 0.62, 0.45 * t, 0.3)
        p.limb(pts, 0.035, 0.025)
        p.limb([pts[-2], (pts[-1][0], pts[-1][1] + 0.05)], 0.06, 0.04, far=True)
    elif n == "horse":  # a full fall of hair, with strands marked in it
        pts = arc(x, y, math.pi * 0.72, 0.62 * t, -0.45)
        p.limb(pts, 0.11, 0.07)
        for i in (-1, 1):
            p.limb([pts[2], (pts[-1][0] + i * 0.02, pts[-1][1])], 0.015, 0.01, detail=True)
    elif n in ("bushy", "ringed", "raised"):
        heading, bend = ((-math.pi * 0.62, 1.7) if n == "raised" else
                         (math.pi * 0.8, rng.uniform(-0.7, -0.2)))
        pts = arc(x, y, heading, 0.55 * t, bend)
        wide = 0.09 if n == "ringed" else 0.19
        if n == "ringed":
            p.limb(pts, 0.07, wide)
        else:  # full in the middle, tapering to a tip
            p.limb(pts[:5], 0.07, wide)
            p.limb(pts[4:], wide, 0.04)
        for ring in rings(pts, wide * 1.2) if n == "ringed" else ():
            p.limb(ring, 0.045, 0.045, detail=True)
    elif n == "long":  # a thin naked tail, as of a rat or an opossum
        p.limb(arc(x, y, math.pi * 0.85, 0.8 * t, rng.uniform(-1.0, 0.8), 10), 0.05, 0.015)
    elif n == "thick":  # tapering from a heavy root, as of a pangolin or an aardvark
        p.limb(arc(x, y, math.pi * 0.78, 0.6 * t, -0.3), 0.2, 0.05)
    elif n == "flat":  # a beaver's or platypus's paddle, cross-hatched
        px, py = x - 0.26 * t, y + 0.1
        p.oval(px, py, 0.24 * t, 0.075, angle=-12)
        for i in range(-2, 3):
            p.limb([(px + i * 0.07 - 0.03, py - 0.05), (px + i * 0.07 + 0.03, py + 0.05)],
                   0.015, 0.015, detail=True)
    elif n == "curl":  # a pig's corkscrew
        p.limb(arc(x, y, math.pi * 0.9, 0.24, 5.0, 10), 0.035, 0.025)


def _crown(p: Profile, rng: Random, b: Build, hx: float, hy: float) -> None:
    """Antlers, horns or ossicones on top of the head: the far one shaded, a little ahead."""
    h = b.head
    style = rng.choice(("sweep", "curve", "cattle"))  # bovid horns: oryx, ibex or cattle
    for far in (True, False):
        ax, ay = hx - h * 0.15 + (h * 0.35 if far else 0.0), hy - h * 0.6
        parts = []
        if "antlers" in b.crown:  # a beam sweeping back and up like a rake, tines upright
            beam = arc(ax, ay, -math.pi / 2 - (0.55 if far else 0.85), 0.58, 0.7)
            parts.append((beam, 0.055, 0.025))
            for i, length in ((1, 0.14), (3, 0.2), (5, 0.18)):
                parts.append((arc(*beam[i], -math.pi / 2 + 0.25, length, -0.3, 3), 0.035,
                              0.015))
        if "horns" in b.crown:
            heading, length, bend = {"sweep": (-math.pi / 2 - 0.75, 0.6, 0.2),
                                     "curve": (-math.pi / 2 - 0.2, 0.55, -1.9),
                                     "cattle": (-0.45, 0.28, -1.4)}[style]
            parts.append((arc(ax, ay, heading, length, bend), 0.075, 0.02))
        if "ossicones" in b.crown:
            parts.append(([(ax, ay + 0.03), (ax - 0.02, ay - 0.12)], 0.045, 0.05))
        for pts, w0, w1 in parts:
            p.limb(pts, w0, w1, far=True if far else None)


def _coat(p: Profile, rng: Random, coat: str, length: float, depth: float, cy: float) -> None:
    """Markings clipped to the barrel (an ellipse), so they never spill onto the legs."""

    def half_height(x: float) -> float:
        return depth * math.sqrt(max(0.0, 1 - (x / length) ** 2))

    if coat in ("stripes", "bands"):  # stripes over the flank, an armadillo's bands mid-back
        n, spread, w = (7, 0.75, 0.05) if coat == "stripes" else (6, 0.45, 0.02)
        for i in range(n):
            x = length * spread * (2 * i / (n - 1) - 1)
            h = half_height(x) * 0.88
            p.limb([(x + 0.03, cy - h), (x - 0.02, cy + h)], w, 0.02, detail=True)
    elif coat == "spots":
        for i in range(9):
            x = length * (-0.7 + 1.4 * (i + rng.uniform(0, 0.6)) / 9.6)
            h = half_height(x) * 0.7
            p.oval(x, cy + rng.uniform(-h, h), 0.04, 0.035, detail=True)
    elif coat == "patches":  # a giraffe's net of blotches with pale lines between
        for i in range(6):
            for j in (-1, 0, 1):
                x = length * (-0.78 + 0.3 * i + 0.15 * (j % 2))
                if abs(x) < length * 0.85:
                    p.oval(x, cy + j * half_height(x) * 0.55, 0.045, 0.04,
                           angle=rng.uniform(0, 90), detail=True)
    elif coat == "scales":  # rows of overlapping plates, their rims toward the tail
        for row in range(3):
            for i in range(5):
                x = length * (-0.7 + 0.34 * i + 0.17 * (row % 2))
                y = cy + half_height(x) * (-0.55 + 0.5 * row)
                p.oval(x, y, 0.08, 0.07, detail=True)
                p.oval(x + 0.035, y, 0.08, 0.07, detail=True, erase=True)
    elif coat == "sash":  # an anteater's dark band from throat to shoulder
        p.limb([(length * 0.85, cy - depth * 0.3), (length * 0.1, cy - depth * 0.75)], 0.1,
               0.03, detail=True)
    elif coat == "stripe":  # one band down the back, as of a skunk
        p.limb([(length * 0.75, cy - depth * 0.7), (0, cy - depth * 0.8),
                (-length * 0.8, cy - depth * 0.5)], 0.045, 0.03, detail=True)


def quadruped(pen: Pen, rng: Random, build: Build) -> None:
    """A four-legged mammal standing in profile; ``build`` sets its kind, ``rng`` varies it."""
    b = replace(build, length=build.length * rng.uniform(0.92, 1.08),
                depth=build.depth * rng.uniform(0.92, 1.08),
                legs=build.legs * rng.uniform(0.9, 1.1),
                neck_angle=build.neck_angle + rng.uniform(-8, 8))
    p = Profile()
    length, depth, h = b.length, b.depth, b.head
    cy = GROUND - b.legs - depth * 0.8
    _legs(p, rng, b, cy)
    _tail(p, rng, b, -length * 0.93, cy + b.slope / 2 - depth * 0.4)
    tilt = -math.degrees(math.atan2(b.slope, 2 * length))
    p.oval(0, cy, length, depth, angle=tilt)
    p.oval(length * 0.5, cy - b.slope / 2, depth * 0.95, depth * 1.04)  # chest
    p.oval(-length * 0.55, cy + b.slope / 2, depth * 0.9, depth)  # haunch
    hump = rng.choice(b.humps)
    if hump:
        p.oval(length * b.hump_at, cy - depth * 0.7 - b.slope * b.hump_at, depth * 0.7,
               depth * 0.3 + hump)
    # The neck rises from the chest; the head sits at its end.
    a = math.radians(b.neck_angle)
    bx, by = length * 0.5 + depth * 0.55, cy - b.slope / 2 - depth * 0.5
    hx, hy = bx + math.cos(a) * b.neck, by - math.sin(a) * b.neck
    p.limb([(bx, by), ((bx + hx) / 2, (by + hy) / 2), (hx, hy)], depth * 1.5 * b.neck_w,
           h * 1.4)
    if b.mane:  # a crest of hair standing along the top edge of the neck
        wb, wh = depth * 1.5 * b.neck_w, h * 1.4
        mane = []
        for t in (0.15, 0.55, 1.0):
            off = (wb + (wh - wb) * t) / 2
            mane.append((bx + (hx - bx) * t - off * math.sin(a),
                         by + (hy - by) * t - off * math.cos(a)))
        p.limb(mane, 0.08, 0.06)
        for x, y in mane[:2]:  # hair strokes
            p.limb([(x, y), (x - 0.04 * math.sin(a), y - 0.04 * math.cos(a))], 0.02, 0.015,
                   detail=True)
    _crown(p, rng, b, hx, hy)
    e, ex, ey = h * b.ear, hx - h * 0.4, hy - h * 0.5
    for far in (True, False):  # the far ear first, shaded and a little ahead
        dx = e * 0.35 if far else 0.0
        if b.ears == "pointed":
            ear = [(ex + dx - e * 0.35, ey + e * 0.15), (ex + dx + e * 0.3, ey + e * 0.05),
                   (ex + dx - e * 0.35, ey - e * 1.05)]
            p.poly(ear, far=far)
        elif b.ears == "round":
            p.oval(ex + dx - e * 0.05, ey - e * 0.4, e * 0.42, e * 0.4, far=far)
        elif b.ears == "long":
            p.oval(ex + dx - e * 0.4, ey - e * 0.9, e * 0.3, e * 1.0, angle=-25, far=far)
    p.oval(hx, hy, h * 1.05, h * 0.92)
    f = math.radians(b.face)
    tip = (hx + math.cos(f) * b.snout, hy + math.sin(f) * b.snout)
    p.limb([(hx, hy), tip], h * 1.55, h * b.muzzle)
    if b.ears == "flap":  # an elephant's ear over the shoulder, ringed so it reads
        ear = (hx - h * 0.7, hy + h * 0.35, h * 0.8, h * 1.15, 10.0)
        p.oval(*ear, far=True)
        p.oval(ear[0] + 0.01, ear[1], ear[2] - 0.035, ear[3] - 0.035, ear[4], detail=True,
               erase=True)
    _snout_features(p, rng, b, hx, hy, tip)
    coat = rng.choice(b.coats)
    if coat == "spines":  # quills radiating from the back, making the outline prickly
        for i in range(17):
            t = math.pi * (0.06 + 0.72 * i / 16)
            x, y = -math.cos(t) * length * 1.02, cy - math.sin(t) * depth * 1.02
            q = rng.uniform(0.11, 0.18)
            d = t + 0.35  # quills lie back toward the tail
            p.poly([(x - 0.035 * math.sin(t), y - 0.035 * math.cos(t)),
                    (x + 0.035 * math.sin(t), y + 0.035 * math.cos(t)),
                    (x - math.cos(d) * q, y - math.sin(d) * q)])
            p.limb([(x, y + 0.04), (x - math.cos(d) * q * 0.7, y - math.sin(d) * q * 0.7)],
                   0.02, 0.01, detail=True)
    else:
        _coat(p, rng, coat, length, depth, cy)
    p.eye(hx + h * 0.28, hy - h * 0.22, h * 0.17)
    p.draw(pen, rng.choice((-1, 1)))


def _snout_features(p: Profile, rng: Random, b: Build, hx: float, hy: float,
                    tip: Point) -> None:
    """Trunk, tusks, a rhino's horns, a pig's disc, and the nostril and mouth."""
    h, (tx, ty) = b.head, tip
    if "trunk" in b.crown:  # hangs from the face and curls forward at the tip
        p.limb(arc(hx + h * 0.55, hy + h * 0.2, math.pi / 2 - 0.2, 0.62,
                   -rng.uniform(0.4, 1.2), 9), h * 0.75, 0.06)
    if "tusks" in b.crown:
        if "trunk" in b.crown:
            p.limb(arc(hx + h * 0.75, hy + h * 0.55, 0.6, h * 1.5, -1.1), h * 0.28, h * 0.08)
        else:  # a boar's, curving up from the corner of the mouth
            p.limb(arc(tx - b.snout * 0.35, ty + h * 0.25, -1.2, h * 0.7, -0.6, 3), h * 0.18,
                   h * 0.06)
    if "fangs" in b.crown:
        p.limb([(tx - h * 0.4, ty + h * 0.1), (tx - h * 0.45, ty + h * 0.6)], h * 0.15, h * 0.06)
    if "rhino" in b.crown:  # a great horn on the nose and a smaller one behind it
        for s, at in ((1.0, 0.0), (0.5, 0.45)):
            x, y = tx - b.snout * (0.1 + at), ty - h * 0.55
            p.limb(arc(x, y, -math.pi / 2 + 0.45, 0.32 * s, -0.7, 4), 0.13 * s, 0.02)
    if "disc" in b.crown:  # a pig's flat snout end
        p.oval(tx + h * 0.32, ty, h * 0.12, h * 0.34)
        p.oval(tx + h * 0.34, ty, h * 0.08, h * 0.28, detail=True)
    elif "trunk" not in b.crown:
        p.oval(tx + h * 0.15, ty - h * 0.12, h * 0.13, h * 0.09, detail=True)  # nostril
        p.limb([(tx - h * 0.05, ty + h * 0.22), (tx - h * 0.4, ty + h * 0.25)], 0.015, 0.012,
               detail=True)


# -- upright and sitting mammals in profile ------------------------------------------------
