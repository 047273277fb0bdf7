"""HTTP worker threads: /readyz, a progress poll and a cache-hit PNG at 50 connections for
each TB_DALLE_HTTP_THREADS value, against one thread measured in the same run.

Shows why one worker runs at a time (threads under the GIL hand it over at every syscall)
and that the cap only matters while a worker is blocked.

Usage: python bench/workers.py [--threads 1 2 4 8] [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, load  # noqa: E402

SERIES = "reef-and-tide"
ADDRESS = "0x3fea88d2db5205f0a37aaa76a75d43c754caa941"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    routes = (("/readyz", "/readyz"),
              ("progress poll", f"/dalle/{SERIES}/{ADDRESS}?generate=1"),
              ("cache-hit PNG", f"/dalle/{SERIES}/{ADDRESS}"))
    first: dict[str, float] = {}
    for threads in args.threads:
        server = Server(TB_DALLE_HTTP_THREADS=str(threads))
        try:
            server.generate(SERIES, ADDRESS)
            for name, route in routes:
                result = load(server.url(route), 50, args.seconds)
                first.setdefault(name, result.rps)
                ratio = result.rps / first[name] if first[name] else 0.0
                print(f"threads {threads:<3} {name:<14} {result.line()}  "
                      f"x{ratio:.2f} vs {args.threads[0]}", flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
