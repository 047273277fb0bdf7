"""The spending budget shared by every instance: ``costs.store.SpendStore`` on Redis.

Each window (a day, an hour...) is one key holding a float; charging is one Lua step, so
two instances charging at once can never together go over the limit. A window's key
expires a while after the window could still be read. When Redis cannot be reached a
charge is refused (no paid call without knowing the budget) and ``spent`` raises
``CoordinationUnavailable`` like the rest of cluster mode.
"""

from __future__ import annotations

import redis

from dalleserver.cluster.link import RedisLink
from dalleserver.jobs.interface import CoordinationUnavailable

WINDOW_TTL_SECONDS = 40 * 24 * 3600  # longer than the longest window (a month)
UNREACHABLE = "the coordination store (Redis) is unreachable; the budget cannot be checked"

# KEYS[1] the window; ARGV: amount, limit ("" for none), ttl seconds. Returns 1 when added.
CHARGE = """
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local total = spent + amount
if ARGV[2] ~= '' and amount > 0 and total > tonumber(ARGV[2]) + 1e-9 then
  return 0
end
if total < 0 then total = 0 end
redis.call('SET', KEYS[1], string.format('%.17g', total), 'EX', tonumber(ARGV[3]))
return 1
"""


class RedisSpendStore:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._charge = link.client.register_script(CHARGE)

    def _key(self, window: str) -> str:
        return f"{self.link.keys.prefix}:spend:{window}"

    def charge(self, window: str, amount: float, limit: float | None) -> bool:
        """Add ``amount`` to the window's spending in one atomic step (within ``limit``)."""
        if not self.link.up:
            return amount <= 0
        try:
            added = self.link.call(lambda client: self._charge(
                keys=[self._key(window)],
                args=[repr(float(amount)), "" if limit is None else repr(float(limit)),
                      WINDOW_TTL_SECONDS],
                client=client))
        except redis.RedisError:
            return amount <= 0
        return bool(added)

    def spent(self, window: str) -> float:
        """What the window has spent, as every instance counted it."""
        try:
            value = self.link.call(lambda client: client.get(self._key(window)))
        except redis.RedisError:
            raise CoordinationUnavailable(UNREACHABLE) from None
        return float(value) if value is not None else 0.0
