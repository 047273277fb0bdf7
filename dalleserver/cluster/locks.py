"""Generation locks in Redis: one holder per key across every instance, with a TTL the
holder renews. The same ``try_acquire`` / ``Lease`` shape as the lock files of
``jobs/locks.py``, so the pipeline runs unchanged.

A holder that dies stops renewing; its lock expires after the TTL (the reclaim time) and
another instance's run of the key can go on. While the store is unreachable nobody can take
a lock, so a holder keeps running; when the store comes back empty, renewing puts the lock
back (RENEW_LOCK).
"""

from __future__ import annotations

import logging
import secrets
import threading

import redis

from dalleserver.cluster.link import RedisLink
from dalleserver.cluster.scripts import RELEASE_LOCK, RENEW_LOCK
from dalleserver.cluster.ticker import Ticker

log = logging.getLogger("dalleserver.cluster")


class RedisLease:
    """A held lock; the table renews it until it is released."""

    def __init__(self, table: RedisLockTable, name: str, token: str) -> None:
        self._table = table
        self.name = name
        self.token = token
        self.lost = False

    def renew(self) -> bool:
        """Extend the TTL (or put a lost lock back); False when another holder has it."""
        ok = bool(self._table.renew_script(keys=[self.name],
                                           args=[self.token, self._table.ttl_ms]))
        if not ok:
            self.lost = True
        return ok

    def release(self) -> None:
        self._table.forget(self)
        try:
            self._table.link.call(lambda client: self._table.release_script(
                keys=[self.name], args=[self.token], client=client))
        except redis.RedisError as exc:  # it expires by itself after the TTL
            log.warning("could not release the lock %s: %s", self.name, exc)

    def __enter__(self) -> RedisLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RedisLockTable:
    """Try-acquire locks for (series, address) keys; ``ttl`` seconds, renewed every third."""

    def __init__(self, link: RedisLink, ttl: float) -> None:
        self.link = link
        self.ttl = ttl
        self.ttl_ms = max(int(ttl * 1000), 100)
        self.renew_script = link.client.register_script(RENEW_LOCK)
        self.release_script = link.client.register_script(RELEASE_LOCK)
        self._held: set[RedisLease] = set()
        self._guard = threading.Lock()
        self._renewer = Ticker("redis-lock-renew", max(ttl / 3.0, 0.05), self.renew_all)

    def try_acquire(self, series: str, address: str) -> RedisLease | None:
        """The lock of the key, or None when another holder has it or the store cannot
        be reached (the job manager then tries again later)."""
        name = self.link.keys.lock((series, address))
        token = secrets.token_hex(8)
        try:
            taken = self.link.call(lambda client: client.set(name, token, nx=True,
                                                             px=self.ttl_ms))
        except redis.RedisError:
            return None
        if not taken:
            return None
        lease = RedisLease(self, name, token)
        with self._guard:
            self._held.add(lease)
        return lease

    def forget(self, lease: RedisLease) -> None:
        with self._guard:
            self._held.discard(lease)

    def renew_all(self) -> None:
        """Renew every held lock now (also after the store lost its data)."""
        with self._guard:
            leases = list(self._held)
        for lease in leases:
            try:
                self.link.call(lambda client, lease=lease: lease.renew())
            except redis.RedisError:
                return  # the store is away: nobody else can take the lock meanwhile

    def sweep(self) -> int:
        """Nothing to sweep: a crashed holder's lock expires by itself."""
        return 0

    def start(self) -> None:
        self._renewer.start()

    def stop(self) -> None:
        self._renewer.stop()
