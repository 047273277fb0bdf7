"""``/preview`` with 5,000 pictures against the same request with 50, in one run (issue 18:
within 2 x): the first and the last page, a series, the orders, searches that find one
picture (its address on the last page, title words) and an open picture.

Usage: python bench/gallery.py [--large N] [--small N]

Driven in-process through the real handler (routing, the view, the picture index, the
template) on picture files in a temp dir, as bench/scale.py does: CPU time per call, median
of five rounds, after one warm-up call (the index's first scan, and the title words read
once by the first word search).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import call, make_app, per_call_us  # noqa: E402

TARGET = 2.0
SERIES = ("nocturne", "reef-and-tide", "bug-guild", "neon-arcade")
WORDS = ("owl", "moth", "heron", "fox", "lantern", "river", "quiet", "brass")


def address(i: int) -> str:
    return "0x" + hashlib.sha256(f"bench{i}".encode()).hexdigest()[:40]


def unique_word(i: int) -> str:
    return "w" + hashlib.sha256(f"word{i}".encode()).hexdigest()[:8]


def make_pictures(root: Path, count: int) -> None:
    """``count`` pictures in four series with one-line titles (two common words and one of
    their own), a second apart; picture 1 is the oldest."""
    output = root / "output"
    for i in range(count):
        series = SERIES[i % len(SERIES)]
        for folder in ("annotated", "title"):
            (output / series / folder).mkdir(parents=True, exist_ok=True)
        png = output / series / "annotated" / f"{address(i + 1)}.png"
        png.write_bytes(b"\x89PNG")
        os.utime(png, (1_700_000_000 + i, 1_700_000_000 + i))
        title = f"{WORDS[i % 8].title()} {WORDS[(i // 8) % 8].title()} {unique_word(i + 1)}"
        (output / series / "title" / f"{address(i + 1)}.txt").write_text(title)


def costs(root: Path, count: int) -> dict[str, tuple[float, int]]:
    """CPU microseconds per call of each gallery view with ``count`` pictures, and the
    number of cards the page shows."""
    folder = root / f"pictures{count}"
    make_pictures(folder, count)
    app = make_app(folder)
    last_page = max(1, -(-count // 48))
    targets = {
        "first page": "/preview",
        "last page": f"/preview?page={last_page}",
        "one series": "/preview?series=bug-guild",
        "by address": "/preview?sort=address",
        "by series, last page": f"/preview?sort=series&page={last_page}",
        "address on the last page": f"/preview?q={address(1)[:12]}",
        "title words": f"/preview?q=owl+{unique_word(1)}",
        "open picture": f"/preview?view=nocturne/{address(1)}",
    }
    call(app, "/preview")  # the first scan
    started = time.process_time()
    call(app, targets["title words"])  # every title read, once
    first_words = (time.process_time() - started) * 1e6
    cards = {name: call(app, target).count(b'<figure class="card"')
             for name, target in targets.items()}
    found = {name: (per_call_us(app, [target], repeat=20), cards[name])
             for name, target in targets.items()}
    found["first word search (reads titles)"] = (first_words, cards["title words"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dalle-gallery-bench-") as tmp:
        root = Path(tmp)
        small = costs(root, args.small)
        large = costs(root, args.large)
    print(f"/preview, CPU per call with {args.small} and {args.large:,} pictures "
          "(baseline: the same request with the fewer); the target holds where both pages "
          "show as many cards")
    worst = 0.0
    for name, (cost, cards) in large.items():
        base, base_cards = small[name]
        ratio = cost / base
        same = cards == base_cards and not name.startswith("first word")
        if same:
            worst = max(worst, ratio)
        print(f"  {name:<26} {base:7.0f} us -> {cost:7.0f} us   {ratio:5.2f} x   cards "
              f"{base_cards} -> {cards}{'' if same else ' (not held to it)'}")
    verdict = "PASS" if worst <= TARGET else "MISS"
    print(f"worst ratio {worst:.2f} (target <= {TARGET}) {verdict}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
