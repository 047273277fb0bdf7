"""Median render + annotate time of the local backend, against a Pillow baseline in the same run.

Usage: python bench/generate.py [--count N]

The baseline is a fixed Pillow workload of similar kind (draw, blur and PNG-encode a
1024x1024 picture), so the printed ratio is comparable across noisy machines. The target is
a median of at most 250 ms for render + annotate + PNG encode on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from bench.dress import pin_to_one_core  # noqa: E402
from dalleserver.dress import Catalog  # noqa: E402
from dalleserver.imaging.annotate import annotate_image  # noqa: E402
from dalleserver.imaging.backends import encode_png  # noqa: E402
from dalleserver.imaging.local import render_local, technique_for  # noqa: E402

TARGET_MS = 250.0


def baseline(i: int) -> bytes:
    image = Image.new("RGB", (1024, 1024), (30 + i % 50, 60, 90))
    draw = ImageDraw.Draw(image)
    for k in range(200):
        x, y = (k * 97 + i * 13) % 1024, (k * 61 + i * 7) % 1024
        draw.ellipse((x, y, x + 80, y + 80), fill=(k % 255, (k * 3) % 255, 120))
    image = image.filter(ImageFilter.GaussianBlur(2))
    return encode_png(image)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    pin_to_one_core()
    catalog = Catalog(None)
    series = catalog.series.names()
    dresses = []
    for i in range(args.count):
        address = "0x" + hashlib.sha256(str(i).encode()).hexdigest()[:40]
        dresses.append(catalog.dress(series[i % len(series)], address))

    base_times, render_times, total_times = [], [], []
    per_technique: dict[str, list[float]] = {}
    for i, dress in enumerate(dresses):
        start = time.perf_counter()
        baseline(i)
        base_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        image = render_local(dress)
        rendered = time.perf_counter()
        encode_png(annotate_image(image, dress.terse_prompt))
        done = time.perf_counter()
        render_times.append(rendered - start)
        total_times.append(done - start)
        per_technique.setdefault(technique_for(dress), []).append(done - start)

    base = statistics.median(base_times) * 1000
    render = statistics.median(render_times) * 1000
    total = statistics.median(total_times) * 1000
    print(f"images            {len(dresses)} across {len(series)} series")
    print(f"baseline          {base:8.1f} ms median (draw + blur + PNG encode)")
    print(f"render            {render:8.1f} ms median")
    print(f"render+annotate   {total:8.1f} ms median (incl. PNG encode)")
    print(f"ratio             {total / base:8.2f} (render+annotate / baseline)")
    for name, times in sorted(per_technique.items()):
        print(f"  {name:<14} {statistics.median(times) * 1000:8.1f} ms ({len(times)})")
    verdict = "PASS" if total <= TARGET_MS else "MISS"
    print(f"target            <= {TARGET_MS:.0f} ms median: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
