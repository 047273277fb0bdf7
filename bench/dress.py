"""Dresses built per second on one series, against a baseline loop measured in the same run.

Usage: python bench/dress.py [--series NAME] [--seconds S]

The baseline is a fixed pure-Python workload (hash + slice + format per address) so the
ratio stays comparable on noisy machines; the absolute rate is checked against the target
of 10,000 dresses per second on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dalleserver.dress import Catalog  # noqa: E402

TARGET_PER_SECOND = 10_000


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass


def rate(work, items: list[str], seconds: float) -> float:
    """Best of five rounds of items/second (each round runs the whole list)."""
    rounds = []
    deadline = time.perf_counter() + seconds
    while len(rounds) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for item in items:
            work(item)
        rounds.append(len(items) / (time.perf_counter() - start))
        if len(rounds) >= 50:
            break
    return max(rounds), statistics.median(rounds)


def baseline(address: str) -> str:
    digest = hashlib.sha256(address.encode()).hexdigest()
    parts = [digest[i : i + 6] for i in range(0, 60, 4)]
    return f"{address}:{'-'.join(parts)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="empty")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    pin_to_one_core()
    rng = random.Random(42)
    addresses = ["0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40))
                 for _ in range(args.count)]
    catalog = Catalog(None)
    catalog.view(args.series)  # filtered once, as in the server

    def dress(address: str) -> None:
        catalog.dress(args.series, address)

    base_best, base_median = rate(baseline, addresses, args.seconds)
    dress_best, dress_median = rate(dress, addresses, args.seconds)
    print(f"series            {args.series}")
    print(f"baseline loop     {base_best:12,.0f} ops/s (median {base_median:,.0f})")
    print(f"dress build       {dress_best:12,.0f} dresses/s (median {dress_median:,.0f})")
    print(f"ratio             {dress_best / base_best:12.3f} (dress / baseline)")
    verdict = "PASS" if dress_median >= TARGET_PER_SECOND else "MISS"
    print(f"target            {TARGET_PER_SECOND:12,} dresses/s on one core: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
