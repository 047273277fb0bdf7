"""Image variants against baselines measured in the same run (loopback only).

* a 256 px WebP variant served from the variant cache (GET /dalle/<s>/<a>.webp?size=256)
  at 10 and 50 keep-alive connections, against nginx (one worker) serving the same file
  (reported: for a 10 KB file the per-request cost is the whole cost, and nginx is C), and
  against this server's own /readyz, the engine's floor; target >= 0.5 x /readyz (a file
  answer also opens, stats and sends a file)
* what making a variant costs once: the first request of each format at 256 px against a
  request served from the cache

Usage: python bench/variants.py [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Nginx, Server, load  # noqa: E402
from bench.serving import ratio_line  # noqa: E402

SERIES = "reef-and-tide"
ADDRESS = "0x" + "5a" * 20
FORMATS = ("webp", "jpg", "png", "avif")


def fetch_ms(url: str) -> float:
    """Milliseconds for one GET (status 200 checked)."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - started) * 1000


def first_and_cached(server: Server) -> None:
    """Each format at 256 px: the request that encodes it, then one from the cache."""
    for ext in FORMATS:
        url = server.url(f"/dalle/{SERIES}/{ADDRESS}.{ext}?size=256")
        try:
            first = fetch_ms(url)
        except urllib.error.HTTPError as exc:
            print(f"  {ext:<5} not served here ({exc.code})")
            continue
        cached = min(fetch_ms(url) for _ in range(20))
        print(f"  {ext:<5} first (encodes) {first:7.1f} ms   from the cache {cached:5.2f} ms"
              f"   ratio {first / cached:6.0f} x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    server = Server()
    try:
        server.generate(SERIES, ADDRESS)
        print("making each variant once, 256 px wide")
        first_and_cached(server)
        path = f"/dalle/{SERIES}/{ADDRESS}.webp"
        cached = (server.data_dir / "cache" / "variants" / SERIES / ADDRESS
                  / "annotated-256.webp")
        print(f"WebP 256 px: {cached.stat().st_size:,} bytes at {path}?size=256")
        try:
            nginx = Nginx(path, cached, content_type="image/webp")
        except FileNotFoundError:
            print("nginx is not installed: the comparison is skipped "
                  "(apt-get install nginx-light)")
            return 0
        try:
            for connections in (10, 50):
                ours = load(server.url(f"{path}?size=256"), connections, args.seconds)
                theirs = load(nginx.url(f"{path}?size=256"), connections, args.seconds)
                floor = load(server.url("/readyz"), connections, args.seconds)
                print(f"cached WebP variant, {connections} connections")
                print(f"  dalleserver {ours.line()}")
                print(f"  nginx       {theirs.line()}")
                print(f"  /readyz     {floor.line()}")
                print(f"  {'dalleserver / nginx':<34} ratio {ours.rps / theirs.rps:5.2f}")
                print(ratio_line("variant / this server's /readyz", ours, floor, 0.5))
        finally:
            nginx.stop()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
