"""Batches in Redis (cluster mode): any instance answers for a batch, and its feeding goes on
on another instance when the one that fed it dies. Per batch: ``<prefix>:batch:<id>`` (its
description, JSON), ``:keys`` (its items, JSON) and ``:states`` (one letter an item, changed
in place with SETRANGE); ``<prefix>:batches`` lists the open ones by creation time, and
``:lease`` names the instance feeding one. The same methods as ``batches.store.BatchStore``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import redis

from dalleserver.batches.store import STATE_LETTERS
from dalleserver.cluster.link import RedisLink
from dalleserver.jobs.interface import CoordinationUnavailable
from dalleserver.storage import Key

# take the lease when it is free, or renew it when it is ours
LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
UNREACHABLE = "the batch store (Redis) is unreachable; retry shortly"


class RedisBatchStore:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.prefix = f"{link.keys.prefix}:batch"
        self.open_set = f"{link.keys.prefix}:batches"
        self._lease = link.client.register_script(LEASE)

    def _name(self, batch_id: str, part: str = "") -> str:
        return f"{self.prefix}:{batch_id}{':' + part if part else ''}"

    def _call(self, operation: Callable[[redis.Redis], Any]) -> Any:
        try:
            return self.link.call(operation)
        except redis.RedisError:
            raise CoordinationUnavailable(UNREACHABLE) from None

    def create(self, meta: dict[str, Any], keys: list[Key]) -> None:
        batch_id = meta["id"]

        def write(client: redis.Redis) -> None:
            with client.pipeline(transaction=True) as pipe:
                pipe.set(self._name(batch_id), json.dumps(meta))
                pipe.set(self._name(batch_id, "keys"), json.dumps(keys))
                pipe.set(self._name(batch_id, "states"), STATE_LETTERS["pending"] * len(keys))
                pipe.zadd(self.open_set, {batch_id: time.time()})
                pipe.execute()

        self._call(write)

    def meta(self, batch_id: str) -> dict[str, Any] | None:
        raw = self._call(lambda client: client.get(self._name(batch_id)))
        return None if raw is None else json.loads(raw)

    def update_meta(self, batch_id: str, changes: dict[str, Any]) -> None:
        meta = self.meta(batch_id) or {}
        meta.update(changes)
        self._call(lambda client: client.set(self._name(batch_id), json.dumps(meta)))

    def keys(self, batch_id: str) -> list[Key]:
        raw = self._call(lambda client: client.get(self._name(batch_id, "keys")))
        return [tuple(k) for k in json.loads(raw or "[]")]

    def states(self, batch_id: str) -> str:
        raw = self._call(lambda client: client.get(self._name(batch_id, "states")))
        return (raw or b"").decode("ascii")

    def set_states(self, batch_id: str, changes: dict[int, str]) -> None:
        if not changes:
            return
        name = self._name(batch_id, "states")

        def write(client: redis.Redis) -> None:
            with client.pipeline(transaction=False) as pipe:
                for index, letter in changes.items():
                    pipe.setrange(name, index, letter)
                pipe.execute()

        self._call(write)

    def open_ids(self) -> list[str]:
        members = self._call(lambda client: client.zrange(self.open_set, 0, -1))
        return [m.decode() if isinstance(m, bytes) else m for m in members]

    def close(self, batch_id: str) -> None:
        self._call(lambda client: client.zrem(self.open_set, batch_id))

    def lease(self, batch_id: str, owner: str, seconds: float) -> bool:
        ms = max(int(seconds * 1000), 100)
        return bool(self._call(lambda client: self._lease(
            keys=[self._name(batch_id, "lease")], args=[owner, ms], client=client)))
