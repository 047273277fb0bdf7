"""Mammal body plans, chosen by the noun's family and order common names.

Mammals differ too much in build for one silhouette: most of them are drawn in profile (a
deer, a horse or an elephant is recognised by its outline from the side), and a few keep the
frontal, mirrored emblem pose of the other classes where that reads best (bats and gliders
spread their membranes, primates sit or hang, cats sit). Profile plans draw on a
:class:`~dalleserver.imaging.pen.Profile`, which fits them into the unit square.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from random import Random
from typing import Any

from dalleserver.imaging.mammal_profiles import (
    Build,
    quadruped,
    rings,
)
from dalleserver.imaging.pen import Pen, Profile, arc


def hopper(pen: Pen, rng: Random, rodent: bool) -> None:
    """Kangaroos and wallabies (a heavy tail), or jerboas and kangaroo rats (a thin tufted
    one): upright on huge hind feet, with small forearms."""
    p = Profile()
    tail = arc(-0.12, 0.42, math.pi * 0.78, rng.uniform(0.75, 0.95), -0.35, 9)
    if rodent:
        p.limb(tail, 0.05, 0.025)
        p.oval(*tail[-1], 0.08, 0.05, angle=20, far=True)  # a dark tuft
    else:
        p.limb(tail, 0.2, 0.04)
    for far in (True, False):  # long feet flat on the ground; the far one shaded, behind
        dx = -0.08 if far else 0.0
        p.limb([(dx - 0.05, 0.5), (dx - 0.08, 0.74), (dx + 0.42, 0.78)], 0.16, 0.07, far=far)
    p.oval(0.0, 0.4, 0.24, 0.3, angle=-10)  # the great haunch
    lean = rng.uniform(15, 30)
    p.oval(0.08, 0.05, 0.2, 0.38, angle=lean)
    hx, hy = 0.24, -0.4
    for far in (True, False):
        dx = 0.05 if far else 0.0
        p.limb([(0.22 + dx, -0.08), (0.34 + dx, 0.08), (0.4 + dx, 0.2)], 0.07, 0.045, far=far)
    e = rng.uniform(1.0, 1.4) * (1.2 if rodent else 1.0)
    for far in (True, False):
        dx = 0.06 if far else 0.0
        p.oval(hx - 0.06 + dx, hy - 0.17 * e, 0.06 * e, 0.17 * e, angle=-15, far=far)
    p.oval(hx, hy, 0.12, 0.1)
    p.limb([(hx, hy), (hx + 0.17, hy + 0.06)], 0.17, 0.07)
    p.oval(hx + 0.18, hy + 0.03, 0.025, 0.02, detail=True)
    p.eye(hx + 0.03, hy - 0.03, 0.025)
    p.draw(pen, rng.choice((-1, 1)))


def sitter(pen: Pen, rng: Random, ears: str, tail: str) -> None:
    """Rabbits, hares and pikas hunched on their haunches; squirrels and their kin sitting
    up with a bushy tail curled up the back."""
    p = Profile()
    upright = tail == "bushy"
    if upright:  # a plume of fur rising behind the back, its tip curling away
        rise = arc(-0.38, 0.6, -math.pi / 2 - 0.75, 0.75, 0.95, 6)
        curl = arc(*rise[-1], -math.pi / 2 + 0.2, 0.5, -2.6, 6)
        p.limb(rise, 0.14, 0.3)
        p.limb(curl, 0.3, 0.14)
        p.limb(rise[2:] + curl[1:4], 0.025, 0.02, detail=True)
    elif tail == "scut":
        p.oval(-0.42, 0.35, 0.1, 0.09)
    p.limb([(-0.15, 0.66), (0.28, 0.72)], 0.13, 0.09)  # the long hind foot
    p.oval(-0.12, 0.42, 0.32, 0.3)  # haunch
    body = (0.02, 0.12, 0.24, 0.38, 25) if upright else (-0.02, 0.25, 0.4, 0.3, -15)
    p.oval(body[0], body[1], body[2], body[3], angle=body[4])
    hx, hy = (0.2, -0.32) if upright else (0.38, -0.1)
    if upright:  # forepaws held up to the mouth
        p.limb([(0.18, -0.02), (0.3, 0.08), (0.33, -0.12)], 0.07, 0.05, far=False)
    else:
        for far in (True, False):
            dx = -0.06 if far else 0.0
            p.limb([(0.28 + dx, 0.25), (0.32 + dx, 0.7)], 0.08, 0.06, far=far)
            p.oval(0.35 + dx, 0.71, 0.06, 0.035)
    hr = rng.uniform(0.15, 0.18)
    for far in (True, False):
        dx = 0.07 if far else 0.0
        if ears == "long":
            length = rng.uniform(0.26, 0.34)
            ear = (hx - 0.08 + dx, hy - hr - length * 0.75, 0.07, length, -18 + (10 if far else 0))
        else:
            ear = (hx - 0.07 + dx, hy - hr * 0.9, hr * 0.45, hr * 0.45, 0)
        p.oval(*ear, far=far)
    p.oval(hx, hy, hr * 1.1, hr)
    p.limb([(hx, hy), (hx + hr * 1.1, hy + hr * 0.35)], hr * 1.4, hr * 0.8)
    p.oval(hx + hr * 1.35, hy + hr * 0.25, hr * 0.14, hr * 0.1, detail=True)
    p.eye(hx + hr * 0.35, hy - hr * 0.2, hr * 0.2)
    p.draw(pen, rng.choice((-1, 1)))


# -- frontal, mirrored plans ---------------------------------------------------------------
def bat(pen: Pen, rng: Random, fruit: bool) -> None:
    """Wings spread: finger bones radiating from the wrist, the membrane sagging between
    their tips; big pointed ears, and a tail membrane between the legs unless a fruit bat."""
    lift = rng.uniform(-0.15, 0.12)
    wrist = (0.5, -0.52 + lift)
    tips = [(1.0, -0.3 + lift * 0.8), (0.96, 0.18 + lift * 0.4), (0.64, 0.5)]
    ankle = (0.16, 0.55)
    edge = [(0.1, -0.22), wrist, tips[0]]
    for (ax, ay), (bx, by) in zip(tips, [*tips[1:], ankle], strict=True):
        mx, my = (ax + bx) / 2, (ay + by) / 2  # the scallop pulls toward the wrist
        edge += [(mx + (wrist[0] - mx) * 0.28, my + (wrist[1] - my) * 0.28), (bx, by)]
    pen.poly([*edge, (0.05, 0.3)])
    pen.limb([(0.12, -0.15), (0.3, -0.26), wrist], 0.08, 0.05)
    pen.limb([wrist, (wrist[0] - 0.04, wrist[1] - 0.1)], 0.045, 0.02)  # the thumb's claw
    for tip in tips:
        pen.limb([wrist, tip], 0.035, 0.012, detail=True)
    pen.limb([(0.14, -0.18), (0.3, -0.27), wrist], 0.03, 0.02, detail=True)
    if not fruit:
        pen.poly([(0.0, 0.3), ankle, (0.0, 0.72)])
        pen.limb([(0.0, 0.35), (0.0, 0.7)], 0.025, 0.015, mirror=False, detail=True)
    pen.oval(0, 0.06, 0.17, 0.32)
    pen.limb([(0.08, 0.3), ankle, (0.2, 0.66)], 0.07, 0.035)
    hy = -0.34
    ear = 0.7 if fruit else 1.0
    pen.poly([(0.03, hy - 0.08), (0.16, hy - 0.02), (0.05 + 0.17 * ear, hy - 0.38 * ear)])
    pen.oval(0, hy, 0.15, 0.13)
    if fruit:  # a fox-like muzzle
        pen.oval(0, hy + 0.1, 0.08, 0.1)
    pen.eyes(0.065, hy - 0.01, 0.03)
    pen.oval(0.03, hy + 0.1 + (0.07 if fruit else 0.0), 0.018, 0.014, detail=True)
    for i in range(3):  # fur on the chest
        pen.limb([(0, 0.0 + i * 0.12), (0.08, -0.05 + i * 0.12)], 0.025, 0.015, detail=True)


def glider(pen: Pen, rng: Random, colugo: bool) -> None:
    """Colugos and sugar gliders: spread-eagled, a membrane from wrist to ankle."""
    reach = rng.uniform(0.6, 0.72)
    wrist, ankle = (reach, -0.5), (reach - 0.05, 0.5)
    pen.poly([(0.1, -0.28), wrist, (reach * 0.8, 0.0), ankle, (0.12, 0.42)])
    for top, end in (((0.12, -0.18), wrist), ((0.12, 0.3), ankle)):
        pen.limb([top, end], 0.09, 0.06)
        pen.limb([top, end], 0.025, 0.02, detail=True)
        pen.oval(end[0] + 0.03, end[1] + 0.02 * (1 if end is ankle else -1), 0.06, 0.04)
    if colugo:  # the membrane reaches the tip of the tail
        pen.poly([(0.0, 0.35), ankle, (0.0, 0.9)])
    else:
        pen.limb([(0.0, 0.4), (0.0, 0.97)], 0.06, 0.12, mirror=False)
    pen.oval(0, 0.05, 0.19, 0.38)
    hy, hr = -0.4, rng.uniform(0.15, 0.18)
    pen.oval(hr * 0.8, hy - hr * 0.8, hr * 0.4, hr * 0.4)
    pen.oval(0, hy, hr * 1.1, hr)
    pen.eyes(hr * 0.42, hy - hr * 0.05, hr * 0.22)
    pen.oval(0, hy + hr * 0.5, hr * 0.15, hr * 0.1, detail=True)
    pen.limb([(0, hy - hr), (0, 0.3)], 0.05, 0.03, mirror=False, detail=True)  # dorsal stripe


def primate(pen: Pen, rng: Random, pose: str = "sit", tail: str = "long", eyes: float = 1.0,
            ears: str = "side", bulk: float = 1.0) -> None:
    """Monkeys, apes, lemurs and koalas sitting up facing us, or hanging by the arms from a
    branch: a round head with ears at its sides, long arms, a curling tail."""
    hr = rng.uniform(0.19, 0.23) * (1.08 if bulk > 1 else 1.0)
    side = rng.choice((-1, 1))
    if pose == "hang":
        hy = -0.42
        pen.limb([(-1.05, -0.86), (1.05, -0.84)], 0.07, 0.06, mirror=False)  # the branch
        hand = (0.38, -0.86)
        pen.limb([(0.15, hy + 0.15), (0.36, -0.58), hand], 0.1 * bulk, 0.07)
        pen.limb([hand, (hand[0] + 0.05, -0.95), (hand[0] + 0.12, -0.88)], 0.04, 0.025)
        pen.limb([(0.1, 0.28), (0.22, 0.55), (0.16, 0.82)], 0.12 * bulk, 0.07)
        pen.oval(0.19, 0.85, 0.08, 0.05)
    else:  # squatting with the knees drawn up high and apart
        hy = -0.45
        knee = (0.36, 0.1)
        pen.limb([(0.12, 0.45), knee], 0.2 * bulk, 0.17)
        pen.limb([knee, (0.32, 0.68)], 0.15, 0.1)
        pen.oval(0.3, 0.73, 0.13, 0.06)
        if bulk > 1.2:  # an ape's long arms reach down to its knuckles beside the feet
            arm = [(0.2, -0.16), (0.5, 0.2), (0.56, 0.68)]
        else:  # elbows resting on the knees, hands hanging between them
            arm = [(0.2, -0.16), (0.36, 0.04), (0.3, 0.32)]
        pen.limb(arm, 0.13 * bulk, 0.09)
        pen.oval(*arm[-1], 0.075, 0.06)
    if tail != "none":  # curls out to one side, and up
        if pose == "sit":  # along the ground first, clear of the feet
            run = arc(0.12, 0.72, 0.05, 0.6, -0.1, 4)
            pts = run + arc(*run[-1], -0.05, rng.uniform(0.7, 0.85), -rng.uniform(3.3, 3.9))[1:]
        else:
            pts = arc(0.1, 0.32, 0.15, rng.uniform(1.0, 1.2), -rng.uniform(3.0, 3.8), 12)
        pts = [(side * x, y) for x, y in pts]
        pen.limb(pts, 0.07, 0.045 if tail != "bushy" else 0.1, mirror=False)
        for ring in rings(pts, 0.09) if tail == "ringed" else ():
            pen.limb(ring, 0.04, 0.04, mirror=False, detail=True)
    pen.oval(0, 0.06 if pose == "sit" else -0.02, 0.25 * bulk, 0.36)
    if ears == "side":
        pen.oval(hr * 0.98, hy - hr * 0.05, hr * 0.28, hr * 0.35)
        pen.oval(hr * 1.0, hy - hr * 0.05, hr * 0.14, hr * 0.2, detail=True)
    elif ears == "fluffy":  # a koala's
        pen.oval(hr * 0.95, hy - hr * 0.6, hr * 0.5, hr * 0.45)
    elif ears == "big":  # an aye-aye's or a galago's
        pen.oval(hr * 0.85, hy - hr * 0.75, hr * 0.42, hr * 0.6, angle=25)
    pen.oval(0, hy, hr, hr * 0.95)
    pen.oval(0, hy + hr * 0.45, hr * 0.55, hr * 0.42)  # the muzzle
    pen.eyes(hr * 0.33, hy - hr * 0.12, hr * 0.16 * eyes)
    if ears == "fluffy":
        pen.oval(0, hy + hr * 0.25, hr * 0.2, hr * 0.3, detail=True)  # a big dark nose
    else:
        pen.limb([(hr * 0.15, hy - hr * 0.42), (hr * 0.55, hy - hr * 0.4)], 0.03, 0.02,
                 detail=True)  # the brow
        pen.oval(hr * 0.1, hy + hr * 0.35, hr * 0.06, hr * 0.05, detail=True)
    pen.limb([(0, hy + hr * 0.62), (hr * 0.25, hy + hr * 0.58)], 0.02, 0.015, detail=True)


def sloth(pen: Pen, rng: Random) -> None:
    """Hanging under a branch by four long hooked limbs, seen from the side: a sagging body
    and a small round head with a dark eye mask."""
    p = Profile()
    p.limb([(-0.72, -0.62), (0.72, -0.64)], 0.06, 0.05)  # the branch
    sag = rng.uniform(0.05, 0.12)
    for far in (True, False):  # the far limbs splay a little, so each pair reads as a V
        for x0, x1 in ((0.3, 0.36), (-0.32, -0.4)):
            hook = (x1 + (0.1 if far else 0.0), -0.63)
            p.limb([(x0, -0.1), hook], 0.1, 0.075, far=far)
            p.limb([hook, (hook[0] + 0.03, -0.73), (hook[0] + 0.09, -0.67)], 0.035, 0.02,
                   far=far)
    p.limb([(-0.42, -0.12), (0.0, -0.05 + sag), (0.36, -0.1)], 0.34, 0.3)  # the body
    for i in range(4):  # strands of shaggy fur
        x = -0.27 + 0.18 * i
        p.limb([(x, 0.0 + sag), (x - 0.03, 0.1 + sag)], 0.022, 0.015, detail=True)
    hx, hy = 0.5, 0.02
    p.oval(hx, hy, 0.15, 0.14)
    p.oval(hx + 0.03, hy, 0.11, 0.055, detail=True)  # the mask
    p.oval(hx + 0.03, hy - 0.005, 0.04, 0.025, detail=True, erase=True)
    p.eye(hx + 0.06, hy, 0.022)
    p.oval(hx + 0.05, hy + 0.08, 0.035, 0.02, detail=True)
    p.draw(pen, rng.choice((-1, 1)))


def seated(pen: Pen, rng: Random, ears: str) -> None:
    """A seated, front-facing cat: cats, and any mammal without a more specific plan."""
    bw, hr = rng.uniform(0.3, 0.42), rng.uniform(0.22, 0.3)
    hy = -0.3 - hr * 0.8
    pen.oval(0, 0.28, bw, 0.5)
    pen.oval(bw * 0.85, 0.55, 0.22, 0.3)
    pen.oval(bw * 0.85 + 0.1, 0.86, 0.17, 0.07)
    pen.limb([(0.13, 0.2), (0.15, 0.84)], 0.15, 0.12)
    pen.oval(0.16, 0.87, 0.11, 0.065)
    pen.oval(0, hy, hr * 1.1, hr)
    if ears == "pointed":
        pen.poly([(hr * 0.25, hy - hr * 0.6), (hr * 1.05, hy - hr * 0.25),
                  (hr * 0.9, hy - hr * 1.75)])
    elif ears == "round":
        pen.oval(hr * 0.85, hy - hr * 0.75, hr * 0.4, hr * 0.4)
    else:
        pen.oval(hr * 0.45, hy - hr * 1.6, hr * 0.24, hr * 0.95, angle=12)
    pen.oval(0, hy + hr * 0.65, hr * 0.5, hr * 0.55)
    side = rng.choice((-1, 1))
    tail = arc(side * bw * 0.9, 0.72, math.pi / 2 - side * 1.4, rng.uniform(0.7, 1.0),
               -side * 1.4, 9)
    pen.limb(tail, rng.uniform(0.09, 0.16), 0.05, mirror=False)
    pen.eyes(hr * 0.42, hy - hr * 0.05, hr * 0.16)
    pen.oval(0, hy + hr * 0.32, hr * 0.17, hr * 0.11, detail=True)  # nose
    pen.limb([(0, hy + hr * 0.4), (0, hy + hr * 0.6), (hr * 0.2, hy + hr * 0.68)], 0.02, 0.015,
             detail=True)
    marking = rng.choice(("stripes", "spots", "plain"))
    for i in range(4 if marking != "plain" else 0):  # stripes or spots down the flanks
        y = 0.05 + i * 0.17
        if marking == "stripes":  # short chevrons on the flanks only, so they read as fur
            pen.limb([(bw * 1.1, y - 0.02), (bw * 0.75, y + 0.06)], 0.06, 0.02, detail=True)
        else:
            pen.oval(bw * (0.55 + 0.2 * (i % 2)), y, 0.045, 0.04, detail=True)


# -- which plan draws which mammal ---------------------------------------------------------
Plan = Callable[[Pen, Random], None]


def _four(**build: Any) -> Plan:
    return partial(quadruped, build=Build(**build))


SMALL = {"legs": 0.14, "leg_w": 0.07, "neck": 0.14, "neck_angle": 15.0, "head": 0.13,
         "feet": "paws", "ears": "round", "face": 15.0}
# Keys are matched at word starts in the family common name first, then in the order's (so
# "bat" is not found in "wombats"); the first match wins, so more specific keys come first
# ("elephant shrews" before "elephants", "kangaroo rats" before "kangaroos", "squirrel
# monkeys" before "squirrels", "horseshoe bats" before "horses").
PLANS: tuple[tuple[tuple[str, ...], Plan], ...] = (
    (("fruit bat",), partial(bat, fruit=True)),
    (("bat",), partial(bat, fruit=False)),
    (("colugo",), partial(glider, colugo=True)),
    (("glider",), partial(glider, colugo=False)),
    (("gibbon",), partial(primate, pose="hang", tail="none")),
    (("spider",), partial(primate, pose="hang")),
    (("sloth",), sloth),
    (("great ape",), partial(primate, tail="none", bulk=1.25)),
    (("lemur", "indri"), partial(primate, tail="ringed")),
    (("loris",), partial(primate, tail="none", eyes=1.9)),
    (("tarsier",), partial(primate, eyes=2.1)),
    (("galago", "aye-aye"), partial(primate, tail="bushy", eyes=1.7, ears="big")),
    (("koala",), partial(primate, tail="none", ears="fluffy", bulk=1.15)),
    (("primate", "monkey"), primate),
    (("kangaroo rat", "jerboa", "springhare"), partial(hopper, rodent=True)),
    (("kangaroo", "bettong"), partial(hopper, rodent=False)),
    (("rabbit", "hare"), partial(sitter, ears="long", tail="scut")),
    (("pika",), partial(sitter, ears="round", tail="none")),
    (("squirrel", "chinchilla", "dormice"), partial(sitter, ears="round", tail="bushy")),
    (("musk deer", "chevrotain"), _four(length=0.36, depth=0.19, legs=0.4, neck=0.24,
                                        neck_angle=35, head=0.1, snout=0.16, face=40,
                                        ears="round", ear=0.9, crown=("fangs",), slope=-0.06)),
    (("deer",), _four(length=0.4, depth=0.2, legs=0.52, leg_w=0.08, neck=0.3, neck_angle=58,
                      neck_w=0.8, head=0.1, snout=0.17, face=50, muzzle=0.7, ear=1.1,
                      crown=("antlers",), coats=("plain", "plain", "spots"))),
    (("cattle", "antelope", "pronghorn"),
     _four(length=0.45, depth=0.25, legs=0.45, leg_w=0.1, neck=0.2, neck_angle=38, head=0.11,
           snout=0.16, face=58, ear=0.8, crown=("horns",), tail="tuft")),
    (("giraffe",), _four(length=0.33, depth=0.21, legs=0.68, leg_w=0.08, neck=0.8,
                         neck_angle=66, neck_w=0.55, head=0.09, snout=0.15, face=55, ear=0.9,
                         crown=("ossicones",), tail="tuft", coats=("patches",), mane=True,
                         slope=0.14)),
    (("horse",), _four(length=0.45, depth=0.24, legs=0.5, leg_w=0.1, neck=0.36, neck_angle=55,
                       head=0.1, snout=0.27, face=62, muzzle=0.8, ear=0.9, tail="horse",
                       mane=True)),
    (("rhino",), _four(length=0.5, depth=0.3, legs=0.3, leg_w=0.17, taper=0.9, neck=0.08,
                       neck_angle=15, neck_w=1.1, head=0.16, snout=0.22, face=25, muzzle=0.85,
                       ear=0.7, crown=("rhino",), tail="tuft", tail_len=0.6, humps=(0.05,),
                       hump_at=0.4, feet="pillars")),
    (("tapir",), _four(length=0.46, depth=0.27, legs=0.32, leg_w=0.13, taper=0.8, neck=0.16,
                       neck_angle=20, head=0.12, snout=0.32, face=40, muzzle=0.4,
                       ears="round", ear=0.8, feet="pillars")),
    (("pig", "peccar"), _four(length=0.42, depth=0.26, legs=0.22, leg_w=0.09, neck=0.05,
                              neck_angle=10, neck_w=1.2, head=0.15, snout=0.22, face=12,
                              muzzle=0.75, ear=0.8, crown=("disc", "tusks"), tail="curl")),
    (("hippo",), _four(length=0.5, depth=0.32, legs=0.2, leg_w=0.15, taper=0.9, neck=0.14,
                       neck_angle=15, neck_w=1.1, head=0.16, snout=0.28, face=22, muzzle=1.1,
                       ears="round", ear=0.45, feet="pillars")),
    # Llamas and their kin have no hump; camels do.
    (("camel",), _four(length=0.4, depth=0.23, legs=0.58, leg_w=0.08, neck=0.45, neck_angle=40,
                       neck_w=0.6, head=0.1, snout=0.16, face=15, ears="round", ear=0.6,
                       tail="tuft", tail_len=0.6, humps=(0.0, 0.14), feet="paws")),
    (("elephant shrew",), _four(length=0.28, depth=0.16, legs=0.26, leg_w=0.06, neck=0.06,
                                head=0.11, snout=0.32, face=20, muzzle=0.25, ears="round",
                                tail="long", feet="paws")),
    (("elephant",), _four(length=0.46, depth=0.35, legs=0.4, leg_w=0.2, taper=0.95, neck=0.12,
                          neck_angle=40, neck_w=1.0, head=0.22, snout=0.0, ears="flap",
                          crown=("trunk", "tusks"), tail="tuft", tail_len=0.8,
                          feet="pillars")),
    (("cats",), partial(seated, ears="pointed")),
    (("dog", "fox"), _four(length=0.38, depth=0.18, legs=0.42, neck=0.22, head=0.12,
                           snout=0.2, face=10, muzzle=0.55, ear=1.1, tail="bushy",
                           feet="paws")),
    (("hyena",), _four(length=0.38, depth=0.22, legs=0.44, neck=0.2, neck_angle=35,
                       head=0.14, snout=0.16, face=15, muzzle=0.7, ears="round", ear=0.9,
                       tail="bushy", tail_len=0.6, coats=("spots", "stripes"), slope=0.16,
                       feet="paws")),
    (("bear",), _four(length=0.45, depth=0.3, legs=0.3, leg_w=0.17, taper=0.85, neck=0.16,
                      neck_angle=10, neck_w=1.0, head=0.16, snout=0.15, face=15, muzzle=0.6,
                      ears="round", ear=0.55, humps=(0.06,), hump_at=0.45, feet="pads")),
    (("raccoon", "red panda"), _four(length=0.36, depth=0.2, legs=0.25, neck=0.1, head=0.13,
                                     snout=0.12, face=15, muzzle=0.5, ear=0.9, tail="ringed",
                                     feet="paws")),
    (("skunk",), _four(length=0.38, depth=0.21, legs=0.18, neck=0.06, head=0.11, snout=0.12,
                       face=20, muzzle=0.5, ears="round", ear=0.6, tail="raised",
                       coats=("stripe",), feet="paws")),
    (("weasel", "otter", "mongoose", "civet", "genet", "malagasy"),
     _four(length=0.52, depth=0.13, legs=0.17, leg_w=0.08, neck=0.12, neck_angle=25,
           head=0.1, snout=0.1, face=10, muzzle=0.6, ears="round", ear=0.6, tail="thick",
           tail_len=0.9, coats=("plain", "plain", "spots"), feet="paws")),
    (("hedgehog", "tenrec"), _four(length=0.34, depth=0.25, legs=0.08, leg_w=0.07, neck=0.04,
                                   neck_angle=10, head=0.12, snout=0.18, face=15, muzzle=0.35,
                                   ears="round", ear=0.6, tail="none", coats=("spines",),
                                   feet="paws")),
    (("porcupine",), _four(**SMALL | {"length": 0.36, "depth": 0.27, "snout": 0.1,
                                      "ear": 0.5, "tail": "stub", "coats": ("spines",)})),
    (("echidna",), _four(**SMALL | {"length": 0.34, "depth": 0.24, "legs": 0.1, "head": 0.1,
                                    "snout": 0.26, "muzzle": 0.2, "ears": "none",
                                    "tail": "none", "coats": ("spines",)})),
    (("platypus",), _four(**SMALL | {"length": 0.4, "depth": 0.16, "legs": 0.08, "head": 0.11,
                                     "snout": 0.22, "face": 0.0, "muzzle": 0.75, "ears": "none",
                                     "tail": "flat"})),
    (("beaver",), _four(**SMALL | {"length": 0.38, "depth": 0.25, "legs": 0.1, "snout": 0.1,
                                   "ear": 0.5, "tail": "flat"})),
    (("mole",), _four(**SMALL | {"length": 0.36, "depth": 0.2, "legs": 0.06, "leg_w": 0.1,
                                 "head": 0.11, "snout": 0.16, "muzzle": 0.35, "ears": "none",
                                 "tail": "stub", "tail_len": 0.6})),
    (("agouti", "cavies", "paca", "hyrax"), _four(**SMALL | {"length": 0.33, "depth": 0.23,
                                                            "snout": 0.1, "tail": "none"})),
    (("wombat",), _four(**SMALL | {"length": 0.4, "depth": 0.27, "leg_w": 0.12, "head": 0.16,
                                   "snout": 0.08, "muzzle": 0.9, "ear": 0.7,
                                   "tail": "none"})),
    (("anteater",), _four(length=0.45, depth=0.24, legs=0.32, leg_w=0.12, neck=0.12,
                          neck_angle=20, neck_w=1.1, head=0.1, snout=0.45, face=22,
                          muzzle=0.25, ears="round", ear=0.4, tail="bushy", tail_len=1.3,
                          coats=("sash",), feet="paws")),
    (("pangolin",), _four(**SMALL | {"length": 0.4, "depth": 0.25, "legs": 0.15, "head": 0.1,
                                     "snout": 0.14, "face": 25, "muzzle": 0.45,
                                     "ears": "none", "tail": "thick", "coats": ("scales",)})),
    (("armadillo",), _four(**SMALL | {"length": 0.34, "depth": 0.24, "legs": 0.12,
                                      "head": 0.1, "snout": 0.2, "face": 35, "muzzle": 0.4,
                                      "ears": "pointed", "ear": 0.7, "tail": "long",
                                      "tail_len": 0.6, "coats": ("bands",)})),
    (("aardvark", "bilbies"), _four(length=0.38, depth=0.24, legs=0.25, leg_w=0.1, neck=0.1,
                                    head=0.12, snout=0.3, face=35, muzzle=0.4, ears="long",
                                    ear=1.3, tail="thick", feet="paws")),
    (("numbat",), _four(**SMALL | {"length": 0.36, "depth": 0.17, "legs": 0.2, "head": 0.11,
                                   "snout": 0.15, "muzzle": 0.4, "ears": "pointed",
                                   "tail": "bushy", "coats": ("stripes",)})),
    (("dasyurid", "cuscus"), _four(**SMALL | {"length": 0.36, "depth": 0.2, "legs": 0.2,
                                              "head": 0.12, "snout": 0.14, "muzzle": 0.5,
                                              "tail": "bushy", "tail_len": 0.9,
                                              "coats": ("plain", "spots")})),
    (("treeshrew",), _four(**SMALL | {"length": 0.3, "depth": 0.16, "head": 0.11,
                                      "snout": 0.2, "muzzle": 0.35, "tail": "bushy",
                                      "tail_len": 1.1})),
    (("opossum", "shrew", "solenodon", "bandicoot", "rodent", "insectivore", "marsupial",
      "possum", "monito"),
     _four(**SMALL | {"length": 0.3, "depth": 0.18, "head": 0.12, "snout": 0.16,
                      "muzzle": 0.4, "tail": "long", "tail_len": 1.1})),
    (("ungulate",), _four(length=0.45, depth=0.25, legs=0.42, neck=0.2, head=0.12, snout=0.16,
                          face=50)),
)


def mammal(pen: Pen, rng: Random, order: str, family: str = "") -> None:
    """Draw the mammal whose family and order common names are given (lower case)."""
    for name in (family, order):
        for keys, plan in PLANS:
            if any(f" {k}" in f" {name}" for k in keys):
                plan(pen, rng)
                return
    seated(pen, rng, rng.choice(("long", "round", "pointed")))
