"""HTTP benchmarks against baselines measured in the same run (loopback only).

* cache-hit PNG: GET /dalle/<s>/<a> of an existing ~1 MB PNG at 10 and 50 keep-alive
  connections, against nginx (one worker) serving the same file; target >= 0.8 x nginx
* small JSON: /readyz and a progress poll at 50 connections, against a bare stdlib
  ThreadingHTTPServer answering the same bytes; target >= 0.6 x baseline and
  >= 8,000 req/s with p99 <= 25 ms
* the default configuration's cost: /readyz at 50 connections with the access log on (the
  default, written to a file) against the same server with --log-level warning; target
  >= 0.9 x and p99 <= 25 ms
* memory: RSS idle (target <= 60 MB) and after 100,000 requests
* startup: exec to /readyz 200, Python and the frozen binary (when built)

Usage: python bench/serving.py [--seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, BareServer, Nginx, Server, load  # noqa: E402

SERIES = "reef-and-tide"


def find_big_png(server: Server) -> tuple[str, Path]:
    """An address whose annotated PNG is close to 1 MB."""
    best = None
    for i in range(12):
        address = "0x" + hashlib.sha256(f"bench{i}".encode()).hexdigest()[:40]
        server.generate(SERIES, address)
        png = server.data_dir / "output" / SERIES / "annotated" / f"{address}.png"
        size = png.stat().st_size
        if best is None or abs(size - 1_000_000) < abs(best[1].stat().st_size - 1_000_000):
            best = (address, png)
    return best


def ratio_line(name: str, ours, theirs, target: float) -> str:
    ratio = ours.rps / theirs.rps if theirs.rps else 0
    verdict = "PASS" if ratio >= target else "MISS"
    return f"  {name:<34} ratio {ratio:5.2f} (target >= {target}) {verdict}"


def access_log_cost(server: Server, seconds: float, rounds: int = 2) -> None:
    """/readyz with the default access log against a server without it, best of rounds."""
    quiet = Server(args=("--log-level", "warning"))
    try:
        runs = {"default": [], "logs off": []}
        for _ in range(rounds):
            runs["logs off"].append(load(quiet.url("/readyz"), 50, seconds))
            runs["default"].append(load(server.url("/readyz"), 50, seconds))
    finally:
        quiet.stop()
    ours, base = (max(runs[name], key=lambda r: r.rps) for name in ("default", "logs off"))
    print("/readyz, 50 connections: default configuration (access log on) against logs off")
    print(f"  default     {ours.line()}")
    print(f"  logs off    {base.line()}")
    ratio = ours.rps / base.rps if base.rps else 0
    verdict = "PASS" if ratio >= 0.9 and ours.p99_ms <= 25 else "MISS"
    print(f"  ratio {ratio:5.2f} (target >= 0.9), p99 {ours.p99_ms:.1f} ms (target <= 25) "
          f"{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    seconds = args.seconds
    server = Server()
    try:
        idle = server.rss()
        address, png = find_big_png(server)
        path = f"/dalle/{SERIES}/{address}"
        print(f"PNG: {png.stat().st_size / 1e6:.2f} MB at {path}")
        try:
            nginx = Nginx(path, png)
        except FileNotFoundError:
            nginx = None
            print("nginx is not installed: the PNG comparison is skipped "
                  "(apt-get install nginx-light)")
        if nginx is not None:
            try:
                for connections in (10, 50):
                    ours = load(server.url(path), connections, seconds)
                    theirs = load(nginx.url(path), connections, seconds)
                    print(f"cache-hit PNG, {connections} connections")
                    print(f"  dalleserver {ours.line()}")
                    print(f"  nginx       {theirs.line()}")
                    print(ratio_line("dalleserver / nginx", ours, theirs, 0.8))
            finally:
                nginx.stop()

        for name, route in (("/readyz", "/readyz"),
                            ("progress poll", f"{path}?generate=1")):
            with urllib.request.urlopen(server.url(route)) as response:
                body = response.read()
            bare = BareServer(body)
            try:
                ours = load(server.url(route), 50, seconds)
                theirs = load(bare.url(route), 50, seconds)
            finally:
                bare.stop()
            print(f"small JSON {name} ({len(body)} bytes), 50 connections")
            print(f"  dalleserver {ours.line()}")
            print(f"  bare stdlib {theirs.line()}")
            print(ratio_line("dalleserver / bare stdlib", ours, theirs, 0.6))
            absolute = ours.rps >= 8000 and ours.p99_ms <= 25
            print(f"  absolute >= 8,000 req/s and p99 <= 25 ms: "
                  f"{'PASS' if absolute else 'MISS'}")

        access_log_cost(server, seconds)

        before = server.rss()
        total = 0
        while total < 100_000:
            total += load(server.url("/readyz"), 20, seconds).requests
        after = server.rss()
        print(f"memory: idle {idle / 1e6:.1f} MB (target <= 60 MB: "
              f"{'PASS' if idle <= 60e6 else 'MISS'}); after the PNG runs "
              f"{before / 1e6:.1f} MB; after {total:,} more requests {after / 1e6:.1f} MB "
              f"(growth {(after - before) / 1e6:+.1f} MB)")
    finally:
        server.stop()

    starts = []
    for _ in range(3):
        s = Server()
        starts.append(s.ready_seconds)
        s.stop()
    print(f"startup, exec to /readyz 200: python {min(starts):.2f} s (best of 3)", end="")
    binary = ROOT / "dist" / "dalleserver"
    if binary.exists():
        frozen = []
        for _ in range(3):
            s = Server(command=[str(binary)])
            frozen.append(s.ready_seconds)
            s.stop()
        print(f", binary {min(frozen):.2f} s (target <= 2 s)")
    else:
        print(" (binary not built: make binary)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
