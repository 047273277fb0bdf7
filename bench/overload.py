"""Overload: idle connections and a burst of generation triggers (loopback only).

1. 1,000 idle keep-alive connections (one request each, then silence) held open while
   normal clients (wrk, 10 connections) poll /readyz: their p99 must stay under 100 ms,
   the server's RSS under 150 MB, and every idle connection must still be open after.
   The baseline is the same load without the idle connections.
2. A burst of 10 x queue-size ?generate=1 requests on distinct keys: 202 up to the queue
   size (plus what the workers took at once), clean 503s with Retry-After after that, and
   every accepted generation finishes (nothing lost).

Usage: python bench/overload.py [--idle N] [--seconds S]
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Server, load  # noqa: E402


def hold_idle(port: int, count: int) -> list[socket.socket]:
    """Keep-alive connections that made one request each and then wait, as a browser's do."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: bench\r\n\r\n")
        if not sock.recv(65536).startswith(b"HTTP/1.1 200"):
            raise RuntimeError("an idle connection's first request failed")
        held.append(sock)
    return held


def still_open(held: list[socket.socket]) -> int:
    """How many held connections the server has not closed."""
    open_count = 0
    for sock in held:
        sock.setblocking(False)
        try:
            open_count += sock.recv(1) != b""
        except BlockingIOError:
            open_count += 1
        except OSError:
            pass
    return open_count


def burst(server: Server, queue_size: int) -> None:
    addresses = ["0x" + hashlib.sha256(f"burst{i}".encode()).hexdigest()[:40]
                 for i in range(queue_size * 10)]

    def trigger(address: str) -> tuple[str, int, str]:
        try:
            with urllib.request.urlopen(server.url(f"/dalle/empty/{address}?generate=1"),
                                        timeout=30) as response:
                return address, response.status, ""
        except urllib.error.HTTPError as err:
            return address, err.code, err.headers.get("Retry-After", "")

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(trigger, addresses))
    accepted = [a for a, status, _ in results if status == 202]
    refused = [r for r in results if r[1] == 503]
    other = [r for r in results if r[1] not in (202, 503)]
    with_retry_after = sum(1 for r in refused if r[2])
    deadline = time.monotonic() + 600
    pending = set(accepted)
    while pending and time.monotonic() < deadline:
        for address in list(pending):
            with urllib.request.urlopen(server.url(f"/dalle/empty/{address}"), timeout=30) as r:
                if r.headers.get("Content-Type") == "image/png":
                    pending.discard(address)
        time.sleep(0.1)
    print(f"burst of {len(addresses)} triggers, queue {queue_size}: {len(accepted)} x 202, "
          f"{len(refused)} x 503 ({with_retry_after} with Retry-After), {len(other)} other; "
          f"{len(accepted) - len(pending)} of {len(accepted)} accepted finished "
          f"({'PASS' if not pending and not other else 'MISS'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    server = Server(TB_DALLE_QUEUE_SIZE="64", TB_DALLE_WORKERS="2")
    try:
        baseline = load(server.url("/readyz"), 10, args.seconds)
        held = hold_idle(server.port, args.idle)
        time.sleep(0.5)
        loaded = load(server.url("/readyz"), 10, args.seconds)
        rss = server.rss()
        print(f"normal clients alone          {baseline.line()}")
        print(f"with {args.idle} idle connections {loaded.line()}")
        ok = loaded.p99_ms < 100 and rss < 150e6 and not loaded.errors
        alive = still_open(held)
        ok = ok and alive == len(held)
        print(f"  p99 {loaded.p99_ms:.1f} ms (target < 100), RSS {rss / 1e6:.1f} MB "
              f"(target < 150), {alive} of {len(held)} idle connections still open: "
              f"{'PASS' if ok else 'MISS'}")
        for sock in held:
            sock.close()
        burst(server, 64)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
