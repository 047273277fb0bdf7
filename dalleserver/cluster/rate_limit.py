"""The per-client trigger rate limit shared by every instance: one token bucket per client
in Redis, on Redis's clock, with the same methods as ``web.guards.RateLimiter``.

When Redis cannot be reached the limit lets triggers through: they are refused anyway
(a new run cannot be queued), and a cache hit needs no limit.
"""

from __future__ import annotations

import redis

from dalleserver.cluster.link import RedisLink
from dalleserver.cluster.scripts import RATE


class SharedRateLimiter:
    """``per_minute`` triggers per client across the cluster, refilled continuously."""

    def __init__(self, link: RedisLink, per_minute: int) -> None:
        self.link = link
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        # a bucket untouched for the time it takes to fill up again is full: it can go
        self.ttl_ms = int(60_000 + 1000) if per_minute else 0
        self._script = link.client.register_script(RATE)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def _level(self, client: str, take: bool) -> float | None:
        if not self.link.up:
            return None
        try:
            level = self.link.call(lambda redis_client: self._script(
                keys=[self.link.keys.rate(client)],
                args=[self.capacity, self.rate, "1" if take else "0", self.ttl_ms],
                client=redis_client))
        except redis.RedisError:
            return None
        return float(level)

    def retry_after(self, client: str) -> int:
        """0 when ``client`` may trigger now, else whole seconds until a token is back."""
        if not self.enabled:
            return 0
        level = self._level(client, take=False)
        if level is None or level >= 1.0:
            return 0
        return max(1, int((1.0 - level) / self.rate + 0.999))

    def headers(self, client: str) -> dict[str, str]:
        """The RateLimit fields, as ``web.guards.RateLimiter`` gives them."""
        if not self.enabled:
            return {}
        level = self._level(client, take=False)
        if level is None:
            return {}
        reset = max(0, int((self.capacity - level) / self.rate + 0.999))
        return {"RateLimit-Limit": str(int(self.capacity)),
                "RateLimit-Remaining": str(int(level)), "RateLimit-Reset": str(reset)}

    def consume(self, client: str) -> None:
        if self.enabled:
            self._level(client, take=True)
