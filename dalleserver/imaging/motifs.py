"""Stylised creature silhouettes whose body plan follows the noun's zoological class.

A creature is drawn in a unit square (x and y in -1..1, y pointing down, head up) from a
handful of primitives: ovals, polygons and tapered limbs. Most primitives are mirrored about
the vertical axis, which gives the heraldic, emblem-like symmetry that stays readable as a
thumbnail. Each primitive is drawn twice, once as the body and once grown by a few pixels for
the outline, so the outline needs no (slow) morphological filter. Viewpoints (foreshortening,
a turned pose, a dutch tilt) warp the primitives' points as they are drawn, which is far
cheaper than transforming the finished masks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from random import Random

from dalleserver.imaging.mammals import mammal
from dalleserver.imaging.pen import (
    Masks,
    Pen,
    View,
    wiggle,
)


def bird(pen: Pen, rng: Random, order: str) -> None:
    wader = any(k in order for k in ("stork", "crane", "flamingo", "pelican", "shore"))
    small = any(k in order for k in ("perching", "parrot", "pigeon", "swift", "penguin"))
    dy = -0.18 if wader else 0.0  # long-legged birds stand taller
    raise_ = rng.uniform(-0.3, 0.5)  # wing pose: swept down .. raised like a heraldic eagle
    span = 0.45 if "penguin" in order else rng.uniform(0.6, 0.8) if small else rng.uniform(
        0.85, 1.05)
    for i in range(6):  # primaries fanning out from the shoulder
        a = math.radians(-75 + i * 22 + raise_ * 40)
        length = span * (0.55 + 0.08 * i) if i < 5 else span * 0.5
        pen.oval(0.16 + math.cos(a) * length / 2, dy - 0.05 + math.sin(a) * length / 2,
                 length / 2, 0.09, angle=math.degrees(a))
    pen.oval(0.3, dy - 0.02, 0.22, 0.24)
    if rng.random() < 0.25:  # two long tail streamers
        pen.limb(wiggle(0.04, dy + 0.45, 1.45, 0.6, 0.25, 6), 0.08, 0.03)
    fan = 0.6 if wader else 1.0  # waders keep a short tail, showing their legs
    for i in range(5):  # tail fan
        a = math.radians(70 + i * 10)
        pen.oval(math.cos(a) * 0.35 * fan, dy + 0.4 + math.sin(a) * 0.35 * fan, 0.32 * fan, 0.07,
                 angle=math.degrees(a))
    pen.oval(0, dy + 0.12, 0.3 if small else 0.24, 0.42)
    hr = rng.uniform(0.15, 0.2)
    hy = dy - 0.42
    if rng.random() < 0.3:  # a crest of three feathers
        for a in (-20, 0, 20):
            pen.oval(math.sin(math.radians(a)) * hr * 1.3, hy - hr * 1.3, hr * 0.16, hr * 0.6,
                     angle=a, mirror=False)
    if "owl" in order:  # owls face us: broad head, ear tufts, a small hooked beak
        pen.oval(0, hy, hr * 1.5, hr * 1.2)
        pen.poly([(hr * 0.6, hy - hr), (hr * 1.3, hy - hr * 2.0), (hr * 1.4, hy - hr)])
        pen.eyes(hr * 0.5, hy - 0.03, hr * 0.34)
        pen.poly([(hr * 0.15, hy + 0.02), (0, hy + 0.02 + hr * 0.5), (0, hy + 0.02)], detail=True)
    else:  # other birds turn their head to show the beak in profile, like a heraldic eagle
        side = rng.choice((-1, 1))
        beak, hook = rng.uniform(0.16, 0.34), rng.uniform(0.0, 0.08)
        pen.oval(0, hy, hr * 1.05, hr)
        pen.poly([(side * hr * 0.6, hy - hr * 0.45), (side * (hr + beak), hy + hook),
                  (side * hr * 0.7, hy + hr * 0.3)], mirror=False)
        pen.eyes(side * hr * 0.35, hy - 0.03, hr * 0.22, mirror=False)
    foot = 0.74 if not wader else 0.95
    pen.limb([(0.08, dy + 0.5), (0.1, foot - 0.08)], 0.04, 0.035)
    for i in (-1, 0, 1):  # toes
        pen.limb([(0.1, foot - 0.08), (0.1 + i * 0.07, foot)], 0.03, 0.02)
    for i in range(3):  # chest chevrons
        y = dy + i * 0.13
        pen.limb([(0, y + 0.06), (0.14, y)], 0.03, 0.02, detail=True)
    for i in range(4):  # feather separations on the wing
        a = math.radians(-53 + i * 22 + raise_ * 40)
        pen.limb([(0.38, dy - 0.02), (0.16 + math.cos(a) * span * 0.7,
                                      dy - 0.05 + math.sin(a) * span * 0.7)], 0.02, 0.01,
                 detail=True)


def fish(pen: Pen, rng: Random, order: str) -> None:
    """Drawn head-up with fins mirrored; the caller turns it sideways."""
    depth = rng.uniform(0.2, 0.42)
    body = [(depth * math.sin(math.pi * (t / 20) ** 0.8) * 1.1, -0.9 + t * 0.07)
            for t in range(21)]
    pen.poly(body + [(0.0, 0.5)])
    pen.poly([(0.05, 0.4), (0.45, 0.95), (0.15, 0.8), (0.0, 0.7)])
    fin = rng.uniform(0.15, 0.35)
    pen.poly([(depth * 0.9, -0.35), (depth + fin, -0.05), (depth * 0.6, 0.2)])
    pen.poly([(depth * 0.5, 0.2), (depth * 0.5 + fin * 0.6, 0.38), (depth * 0.3, 0.38)])
    # The eye and gill sit on the +x side, which becomes the upper side once turned.
    pen.eyes(depth * 0.3, -0.62, 0.07, mirror=False)
    pen.limb(wiggle(depth * 0.9, -0.47, math.pi + 0.2, depth * 1.8, -0.25, 6), 0.03, 0.03,
             mirror=False, detail=True)
    if rng.random() < 0.5:  # two broad bands, or a row of spots along the flank
        for y in (-0.25, 0.05):
            pen.limb([(-depth, y), (0, y + 0.05), (depth, y)], 0.09, 0.09, mirror=False,
                     detail=True)
    else:
        for i in range(5):
            pen.oval(-depth * 0.3, -0.35 + i * 0.15, 0.04, 0.04, mirror=False, detail=True)


def reptile(pen: Pen, rng: Random, order: str) -> None:
    frog = "frog" in order
    turtle = "turtle" in order
    bw = 0.38 if frog or turtle else rng.uniform(0.16, 0.24)
    if turtle:
        pen.oval(0, -0.62, 0.13, 0.17)
        for y, a in ((-0.3, -40), (0.35, 40)):
            pen.oval(0.4, y, 0.24, 0.09, angle=a)
        pen.oval(0, 0.05, bw, 0.5)
        for i, y in enumerate((-0.2, 0.05, 0.3)):  # shell plates
            pen.poly([(0, y - 0.1), (0.14, y), (0, y + 0.1)], detail=True)
            pen.oval(0.25, y + (0.1 if i == 1 else 0.0), 0.06, 0.06, detail=True)
        pen.eyes(0.06, -0.68, 0.035)
        return
    pen.oval(0, 0.0, bw, 0.32 if frog else 0.42)
    pen.oval(0, -0.42, bw * 0.85, bw * 0.75)
    front, hind = (0.5, 0.7) if frog else (0.42, 0.45)
    pen.limb([(bw * 0.7, -0.18), (bw + front * 0.5, -0.3), (bw + front * 0.6, -0.5)], 0.08, 0.06)
    pen.limb([(bw * 0.7, 0.2), (bw + hind * 0.7, 0.15), (bw + hind * 0.45, 0.55),
              (bw + hind * 0.8, 0.75)], 0.1, 0.06)
    for fx, fy in ((bw + front * 0.6, -0.5), (bw + hind * 0.8, 0.75)):
        for i in (-1, 0, 1):
            pen.limb([(fx, fy), (fx + 0.08 + i * 0.04, fy - 0.06 + i * 0.07)], 0.035, 0.03)
    if not frog:
        curl = rng.uniform(-0.8, 0.8)
        pen.limb(wiggle(0, 0.35, math.pi / 2, rng.uniform(0.6, 0.9), curl, 8), bw * 1.2, 0.03,
                 mirror=False)
    pen.eyes(bw * 0.55, -0.5, 0.06)
    for i in range(4):  # dorsal spots
        pen.oval(bw * 0.4, -0.15 + i * 0.14, 0.045, 0.035, detail=True)


def insect(pen: Pen, rng: Random, order: str) -> None:
    wings = ("butterfly" if "butterfl" in order else "beetle" if "beetle" in order else
             "clear" if any(k in order for k in ("flies", "bee", "dragon", "lacew", "fly"))
             else rng.choice(("butterfly", "clear", "beetle", "none")))
    if wings == "butterfly":
        tip = (rng.uniform(0.85, 0.98), rng.uniform(-0.85, -0.6))
        pen.poly([(0.05, -0.12), (0.45, -0.62), tip, (tip[0] + 0.02, tip[1] + 0.3),
                  (0.55, 0.02), (0.06, 0.05)])
        pen.oval(0.38, 0.32, 0.3, 0.34, angle=35)
        for end in ((0.45, -0.62), (tip[0] - 0.05, tip[1] + 0.12), (0.8, -0.3), (0.5, 0.55),
                    (0.62, 0.3)):  # veins radiating from the wing roots
            pen.limb([(0.08, 0.0), end], 0.035, 0.015, detail=True)
        for i in range(4):  # pale spots along the dark wing margin
            pen.oval(tip[0] - 0.1 - 0.07 * i, tip[1] + 0.12 + 0.12 * i, 0.03, 0.03, detail=True)
    elif wings == "clear":
        pen.oval(0.42, -0.18, 0.45, 0.12, angle=-15)
        pen.oval(0.38, 0.05, 0.4, 0.1, angle=15)
        pen.limb([(0.1, -0.12), (0.78, -0.28)], 0.02, 0.01, detail=True)
    for i, y in enumerate((-0.25, -0.1, 0.05)):  # three pairs of two-segment legs
        knee = (0.45, y - 0.15 + i * 0.12)
        pen.limb([(0.08, y), knee, (0.55 + i * 0.05, y - 0.35 + i * 0.38)], 0.05, 0.025)
    segments = ((0, -0.12, 0.14, 0.16), (0, 0.32, 0.2 if wings != "clear" else 0.11, 0.36),
                (0, -0.38, 0.12, 0.1))
    for x, y, rx, ry in segments:
        pen.oval(x, y, rx, ry)
    if wings == "butterfly":  # outline the body so it reads against the wings
        for x, y, rx, ry in segments:
            pen.oval(x, y, rx + 0.03, ry + 0.03, detail=True)
        for x, y, rx, ry in segments:
            pen.oval(x, y, rx, ry, detail=True, erase=True)
    length = rng.uniform(0.35, 0.6)
    pen.limb(wiggle(0.05, -0.45, -1.9, length, 0.25, 6), 0.03, 0.02)
    if wings == "butterfly":  # clubbed antennae
        end = wiggle(0.05, -0.45, -1.9, length, 0.25, 6)[-1]
        pen.oval(end[0], end[1], 0.035, 0.035)
    if wings == "beetle":
        pen.limb([(0, 0.0), (0, 0.65)], 0.02, 0.02, mirror=False, detail=True)
        pen.oval(0.1, 0.3, 0.04, 0.06, detail=True)
    elif wings != "butterfly":
        for i in range(3):
            pen.limb([(-0.15, 0.2 + i * 0.12), (0.15, 0.2 + i * 0.12)], 0.03, 0.03,
                     mirror=False, detail=True)
    pen.eyes(0.08, -0.42, 0.04)


def arachnid(pen: Pen, rng: Random, order: str) -> None:
    scorpion = "scorpion" in order and "pseudo" not in order
    for i in range(4):  # eight legs, knees high
        y = -0.2 + i * 0.1
        reach = rng.uniform(0.75, 0.95)
        pen.limb([(0.1, y), (0.45, y - 0.3 + i * 0.08), (reach, y + 0.1 + (i - 1.5) * 0.25)],
                 0.06, 0.025)
    if scorpion:
        pen.limb([(0.12, -0.3), (0.35, -0.55), (0.3, -0.72)], 0.06, 0.05)
        pen.oval(0.3, -0.78, 0.09, 0.12)
        pen.poly([(0.3, -0.8), (0.24, -0.95), (0.34, -0.9)], detail=True)
        pen.limb(wiggle(0, 0.35, math.pi / 2, 0.55, -0.6, 7), 0.11, 0.06, mirror=False)
    else:
        pen.limb([(0.08, -0.3), (0.22, -0.45), (0.18, -0.55)], 0.05, 0.04)
    pen.oval(0, -0.15, 0.17, 0.2)
    pen.oval(0, 0.28 if not scorpion else 0.15, 0.26 if not scorpion else 0.18, 0.3)
    for i in range(3):
        pen.eyes(0.03 + i * 0.05, -0.27 - (i % 2) * 0.03, 0.025)
    pen.poly([(0, 0.1), (0.1, 0.25), (0, 0.4)], detail=True)


def crustacean(pen: Pen, rng: Random, order: str) -> None:
    cw = rng.uniform(0.35, 0.48)
    for i in range(3):
        y = 0.0 + i * 0.12
        pen.limb([(cw * 0.8, y), (cw + 0.22, y - 0.12), (cw + 0.35, y + 0.25)], 0.06, 0.03)
    pen.limb([(cw * 0.7, -0.15), (cw + 0.15, -0.4), (cw + 0.1, -0.6)], 0.09, 0.08)
    px, py = cw + 0.1, -0.68  # the claw: a swollen palm and two fingers closing like a C
    pen.oval(px, py, 0.15, 0.13, angle=-20)
    pen.limb([(px + 0.05, py - 0.08), (px + 0.06, py - 0.25), (px - 0.08, py - 0.34)], 0.1, 0.03)
    pen.limb([(px - 0.08, py - 0.06), (px - 0.16, py - 0.18), (px - 0.14, py - 0.27)], 0.07,
             0.025)
    pen.oval(0, 0.05, cw, cw * 0.72)
    pen.limb([(0.08, -0.25), (0.12, -0.42)], 0.03, 0.03)
    pen.eyes(0.12, -0.44, 0.045)
    for x, y, r in ((cw * 0.3, -0.05, 0.06), (cw * 0.6, 0.1, 0.045), (0, 0.2, 0.07)):
        pen.oval(x, y, r, r * 0.8, detail=True)  # spots on the carapace


def cephalopod(pen: Pen, rng: Random, order: str) -> None:
    squid = "squid" in order or "cuttle" in order
    mantle = rng.uniform(0.28, 0.36)
    if squid:
        pen.poly([(0, -0.95), (mantle, -0.3), (mantle * 0.8, 0.05), (0, 0.05)])
        pen.poly([(0, -0.95), (mantle * 1.1, -0.85), (mantle * 0.6, -0.55)])
    else:
        pen.oval(0, -0.38, mantle * 1.1, 0.48)
    pen.oval(0, 0.08, mantle * 0.8, 0.18)
    phase = rng.uniform(0, 6.3)
    for i in range(4):
        a = math.pi / 2 - 0.25 - i * 0.32
        pen.limb(wiggle(0.08 + i * 0.05, 0.15, a, rng.uniform(0.65, 0.9), 0.5, 10, phase + i),
                 0.11, 0.02)
    pen.eyes(mantle * 0.5, 0.05, 0.08)
    for i in range(4):
        pen.oval(mantle * 0.45, -0.6 + i * 0.14, 0.05, 0.04, detail=True)


def jelly(pen: Pen, rng: Random, order: str) -> None:
    bell = rng.uniform(0.5, 0.7)
    pts = [(bell * math.cos(t), -0.35 - 0.5 * math.sin(t))
           for t in (i * math.pi / 24 for i in range(13))]
    pen.poly([*pts, (0, -0.2)] + [(bell * (1 - i / 6), -0.3 + 0.06 * (i % 2)) for i in range(7)])
    phase = rng.uniform(0, 6.3)
    for i in range(4):  # thin trailing tentacles
        pen.limb(wiggle(bell * (0.2 + 0.22 * i), -0.32, math.pi / 2, 1.1 - 0.1 * i, 0.35, 10,
                        phase + i), 0.025, 0.01)
    pen.limb(wiggle(0.08, -0.3, math.pi / 2, 0.9, 0.3, 10, phase), 0.14, 0.04)
    for i in range(3):
        pen.oval(bell * (0.2 + 0.22 * i), -0.55, 0.06, 0.1, detail=True)


def radial(pen: Pen, rng: Random, order: str, arms: int, kind: str) -> None:
    """Sea stars (tapered arms), urchins (spines) and anemones/corals (tentacle crown)."""
    turn = -math.pi / 2
    if kind == "star":
        for i in range(arms):
            a = turn + i * 2 * math.pi / arms
            pen.limb(wiggle(0, 0, a, rng.uniform(0.8, 0.95), rng.uniform(-0.1, 0.1), 6),
                     0.36, 0.06, mirror=False)
            for j in range(1, 4):
                pen.oval(math.cos(a) * j * 0.2, math.sin(a) * j * 0.2, 0.04, 0.04,
                         mirror=False, detail=True)
        pen.oval(0, 0, 0.25, 0.25)
    elif kind == "urchin":
        for i in range(arms):
            a = i * 2 * math.pi / arms
            tip = rng.uniform(0.8, 0.95)
            pen.limb([(math.cos(a) * 0.3, math.sin(a) * 0.3), (math.cos(a) * tip,
                                                                math.sin(a) * tip)],
                     0.05, 0.008, mirror=False)
        pen.oval(0, 0, 0.42, 0.4)
        for i in range(5):
            a = turn + i * 2 * math.pi / 5
            pen.limb([(0, 0), (math.cos(a) * 0.36, math.sin(a) * 0.36)], 0.04, 0.03,
                     mirror=False, detail=True)
    else:
        pen.poly([(0.22, -0.2), (0.3, 0.7), (0, 0.75)])
        pen.oval(0, -0.25, 0.35, 0.12)
        phase = rng.uniform(0, 6.3)
        for i in range(arms // 2):
            a = -math.pi / 2 + 0.15 + i * 1.3 / (arms // 2)
            pen.limb(wiggle(0.05 + 0.05 * i, -0.3, a, 0.65, 0.3, 7, phase + i), 0.08, 0.02)
        for i in range(3):
            pen.limb([(0.05 + 0.08 * i, 0.0), (0.08 + 0.1 * i, 0.65)], 0.03, 0.03, detail=True)


def snail(pen: Pen, rng: Random, order: str) -> None:
    pen.limb([(-0.85, 0.55), (0.0, 0.6), (0.7, 0.55)], 0.12, 0.28, mirror=False)
    pen.limb([(0.62, 0.45), (0.72, 0.05)], 0.04, 0.03, mirror=False)
    pen.limb([(0.7, 0.45), (0.9, 0.12)], 0.04, 0.03, mirror=False)
    turns = rng.uniform(2.2, 3.0)
    steps = 40
    for i in range(steps):  # a shell of shrinking discs along a logarithmic spiral
        t = i / steps * turns * 2 * math.pi
        r = 0.55 * math.exp(-0.22 * t)
        pen.oval(-0.05 + math.cos(t) * r * 0.55, 0.0 - math.sin(t) * r * 0.55, r * 0.85, r * 0.85,
                 mirror=False)
    spiral = [(-0.05 + math.cos(t) * 0.45 * math.exp(-0.2 * t), -math.sin(t) * 0.45 *
               math.exp(-0.2 * t)) for t in (i * 0.25 for i in range(int(turns * 25)))]
    pen.limb(spiral, 0.05, 0.02, mirror=False, detail=True)
    pen.oval(0.72, 0.02, 0.04, 0.04, mirror=False, detail=True)
    pen.oval(0.9, 0.1, 0.04, 0.04, mirror=False, detail=True)


def shell(pen: Pen, rng: Random, order: str) -> None:
    ribs = rng.randint(7, 11)
    fan = [(0.0, 0.6)] + [(math.cos(a) * 0.85, 0.6 - math.sin(a) * 1.2) for a in
                          (math.pi / 2 * i / 10 for i in range(11))]
    pen.poly(fan)
    for i in range(ribs // 2 + 1):
        a = math.pi / 2 * i / (ribs // 2 + 0.5)
        pen.limb([(0, 0.55), (math.sin(a) * 0.78, 0.6 - math.cos(a) * 1.1)], 0.02, 0.06,
                 detail=True)
    pen.poly([(0.0, 0.45), (0.3, 0.62), (0.28, 0.8), (0.0, 0.8)])
    for i in range(3):
        pen.limb([(-0.5 + i * 0.1, -0.2 - i * 0.2), (0.5 - i * 0.1, -0.2 - i * 0.2)],
                 0.02, 0.02, mirror=False, detail=True)


def myriapod(pen: Pen, rng: Random, order: str, legs: bool) -> None:
    """Centipedes and millipedes (with legs), worms and snakes (without), on an S-curve."""
    amp, n = rng.uniform(0.2, 0.4), 16
    spine = [(amp * math.sin(i / n * 2 * math.pi + 0.3), -0.8 + i * 1.7 / n) for i in range(n)]
    pen.limb(spine, 0.26, 0.1 if legs else 0.03, mirror=False)
    for i, (x, y) in enumerate(spine[1:-1], start=1):
        if legs:
            for side in (-1, 1):
                pen.limb([(x, y), (x + side * 0.25, y + 0.06)], 0.03, 0.02, mirror=False)
        if i % 2 == 0:  # segment rings
            pen.oval(x, y, 0.1 * (1 - i / n) + 0.02, 0.018, mirror=False, detail=True)
    hx, hy = spine[0]
    pen.oval(hx, hy - 0.08, 0.14, 0.12, mirror=False)
    if legs:
        for s in (-1, 1):
            pen.limb(wiggle(hx + s * 0.05, hy - 0.15, -math.pi / 2 + s * 0.6, 0.4, 0.2 * s, 5),
                     0.025, 0.015, mirror=False)
    pen.eyes(hx + 0.06, hy - 0.12, 0.035, mirror=False)
    pen.eyes(hx - 0.06, hy - 0.12, 0.035, mirror=False)


def vase(pen: Pen, rng: Random, order: str) -> None:
    """Sponges, sea squirts and other simple animals: a perforated vase."""
    w = rng.uniform(0.3, 0.45)
    pen.poly([(0, 0.8), (w * 0.6, 0.8), (w, 0.1), (w * 0.75, -0.6), (w * 0.95, -0.85), (0, -0.8)])
    for i in range(5):
        pen.oval(w * 0.45, -0.45 + i * 0.25, 0.06, 0.07, detail=True)
    pen.oval(0, -0.82, w * 0.7, 0.07, detail=True)


PLANS: dict[str, Callable[[Pen, Random, str], None]] = {
    "mammals": mammal,
    "birds": bird,
    "fishes": fish,
    "reptiles": reptile,
    "amphibians": reptile,
    "insects": insect,
    "springtails": insect,
    "arachnids": arachnid,
    "sea spiders": arachnid,
    "malacostracans": crustacean,
    "horseshoe crabs": crustacean,
    "branchiopods": crustacean,
    "shrimps": crustacean,
    "cephalopods": cephalopod,
    "jelly": jelly,
    "comb jellies": jelly,
    "hydrozoans": jelly,
    "salps": jelly,
    "sea stars": lambda pen, rng, o: radial(pen, rng, o, 5, "star"),
    "brittle stars": lambda pen, rng, o: radial(pen, rng, o, 5, "star"),
    "crinoids": lambda pen, rng, o: radial(pen, rng, o, 10, "star"),
    "sea urchins": lambda pen, rng, o: radial(pen, rng, o, 28, "urchin"),
    "corals": lambda pen, rng, o: radial(pen, rng, o, 10, "anemone"),
    "gastropods": snail,
    "bivalves": shell,
    "chitons": shell,
    "barnacles": shell,
    "centipedes": lambda pen, rng, o: myriapod(pen, rng, o, True),
    "millipedes": lambda pen, rng, o: myriapod(pen, rng, o, True),
    "velvet worms": lambda pen, rng, o: myriapod(pen, rng, o, True),
    "worm": lambda pen, rng, o: myriapod(pen, rng, o, False),
    "snakes": lambda pen, rng, o: myriapod(pen, rng, o, False),
}
SNAKE_FAMILIES = ("boas", "colubrids", "cobras", "pythons", "vipers")
# Mammals of the water are streamlined: they borrow the fish plan rather than sit like a cat.
SWIMMER_FAMILIES = ("whales", "rorquals", "dolphins", "porpoises", "narwhals", "dugongs",
                    "manatees", "seals", "walruses")


def plan_for(klass: str, order: str, family: str) -> str:
    """The body-plan key for a noun's class, order and family common names."""
    if any(family.startswith(f) for f in SNAKE_FAMILIES):
        return "snakes"
    if klass == "mammals" and any(f in family for f in SWIMMER_FAMILIES):
        return "fishes"
    for key in PLANS:
        if key in klass:
            return key
    if any(k in klass for k in ("worm", "leech", "lamprey", "hagfish", "lancelet", "flat",
                                "clitellat", "sea cucumber", "tardigrad")):
        return "worm"
    return "vase"


def draw_creature(noun: tuple[str, ...], rng: Random, size: int, grow: float,
                  view: View) -> Masks:
    """Masks of the noun's creature in a ``size`` square (fish swim sideways, eye side up)."""
    family, order, klass = noun[1].lower(), noun[2].lower(), noun[3].lower()
    plan = plan_for(klass, order, family)
    if plan == "fishes":
        view = replace(view, sideways=rng.choice((-1, 1)))
    pen = Pen(size, grow, view)
    if plan == "mammals":  # mammals differ too much within an order: the family picks the plan
        mammal(pen, rng, order, family)
    else:
        PLANS.get(plan, vase)(pen, rng, order)
    return pen.masks
