"""Generation throughput of the local backend with 1, 2 and 4 workers (loopback).

Each run queues the same 24 distinct addresses through ?generate=1 and times until every
PNG exists. The baseline is the single-worker run, so the ratios show the scaling.

Usage: python bench/throughput.py [--count N]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server  # noqa: E402


def run(workers: int, addresses: list[str]) -> float:
    server = Server(TB_DALLE_WORKERS=str(workers), TB_DALLE_QUEUE_SIZE="1000")
    try:
        started = time.monotonic()
        for address in addresses:
            server.get_json(f"/dalle/nocturne/{address}?generate=1")
        pending = set(addresses)
        deadline = time.monotonic() + 600
        while pending and time.monotonic() < deadline:
            for address in list(pending):
                with urllib.request.urlopen(server.url(f"/dalle/nocturne/{address}"),
                                            timeout=30) as response:
                    if response.headers.get("Content-Type") == "image/png":
                        pending.discard(address)
            time.sleep(0.05)
        return len(addresses) / (time.monotonic() - started)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    args = parser.parse_args()
    addresses = ["0x" + hashlib.sha256(f"tp{i}".encode()).hexdigest()[:40]
                 for i in range(args.count)]
    base = None
    for workers in (1, 2, 4):
        rate = run(workers, addresses)
        base = base or rate
        print(f"workers {workers}: {rate:5.2f} images/s  (x{rate / base:4.2f} vs 1 worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
