"""Cluster mode: images per second with 1, 2 and 3 instances on one data dir and one Redis,
against an OpenAI test double that takes a fixed time per image (I/O bound, as the real
API is: the two cores are not the limit), and the scaling efficiency against linear
(rate with N instances / (N x rate with one), target >= 0.85) from the same run.

Each round starts from an empty Redis and data dir, triggers ``--per-instance`` images per
instance round robin straight at the instances, and times until every picture exists. It
also counts the Redis commands a generation costs (the store's own count, less what the
idle instances spend on probes and blocking reads in the same time).

Usage: python bench/cluster.py [--seconds-per-image S] [--workers W] [--per-instance N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import Instance  # noqa: E402
from tests.support.openai_double import OpenAIDouble, slow  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

SERIES = "empty"
TARGET = 0.85


IDLE_WINDOW = 2.0


def commands(client) -> int:
    return int(client.info("stats")["total_commands_processed"])


def round_rate(redis: RedisServer, api: OpenAIDouble, count: int,
               args) -> tuple[float, float]:
    """(images per second, Redis commands per image) with ``count`` instances."""
    import redis as redis_client

    client = redis_client.Redis.from_url(redis.url)
    client.flushall()
    folder = Path(tempfile.mkdtemp(prefix="dalle-cluster-bench-"))
    env = {"TB_DALLE_REDIS_URL": redis.url, "OPENAI_API_KEY": "sk-bench",
           "OPENAI_BASE_URL": api.base_url, "TB_DALLE_NO_ENHANCE": "1",
           "TB_DALLE_IMAGE_BACKEND": "openai", "TB_DALLE_RATE_LIMIT": "0",
           "TB_DALLE_WORKERS": str(args.workers), "TB_DALLE_QUEUE_SIZE": "10000",
           "TB_DALLE_LOG_LEVEL": "warning", "HOME": str(folder)}
    instances = [Instance(f"bench-{n}", folder / "data", env) for n in range(count)]
    try:
        for instance in instances:
            instance.wait_ready()
        before = commands(client)
        time.sleep(IDLE_WINDOW)
        idle_rate = (commands(client) - before) / IDLE_WINDOW
        before = commands(client)
        images = args.per_instance * count
        addresses = [f"0x{count:02x}{n:038x}" for n in range(images)]
        started = time.monotonic()
        for n, address in enumerate(addresses):
            status = instances[n % count].get(f"/dalle/{SERIES}/{address}?generate=1")[0]
            assert status == 202, status
        annotated = folder / "data" / "output" / SERIES / "annotated"
        deadline = started + 600
        while time.monotonic() < deadline:
            made = len(list(annotated.glob("*.png"))) if annotated.is_dir() else 0
            if made >= images:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        per_image = (commands(client) - before - idle_rate * elapsed) / images
        return images / elapsed, per_image
    finally:
        for instance in instances:
            instance.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-image", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--per-instance", type=int, default=24)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="redis-bench-"))).start()
    try:
        with OpenAIDouble() as api:
            api.script("images", *[slow(args.seconds_per_image)] * 100_000)
            print(f"cluster: {args.workers} workers per instance, "
                  f"{args.seconds_per_image:g} s per image at the double, "
                  f"{args.per_instance} images per instance")
            print(f"  {'instances':>9} {'images/s':>9} {'vs one':>7} {'efficiency':>10} "
                  f"{'Redis cmds/image':>16}")
            base = 0.0
            worst = 1.0
            for count in args.instances:
                rate, per_image = round_rate(redis, api, count, args)
                base = base or rate / count
                efficiency = rate / (count * base)
                worst = min(worst, efficiency)
                print(f"  {count:>9} {rate:>9.2f} {rate / base:>6.2f}x {efficiency:>10.2f} "
                      f"{per_image:>16.1f}")
            ideal = args.workers / args.seconds_per_image
            print(f"  one instance's ceiling: {ideal:.2f} images/s (workers / seconds per "
                  f"image); scaling efficiency {worst:.2f} (target {TARGET})")
    finally:
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
