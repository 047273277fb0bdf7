"""Finished runs, kept readable for the retention time in the order they finished.

A poll must not pay for the number of runs kept, so expiry looks only at the oldest record
(they finish in clock order) and costs nothing until something expires. A finished run is
small: its final JSON compressed, or for a cache hit nothing but a few fields (its JSON is
rendered again when asked for). The records' size is counted against a memory budget;
when a burst of distinct keys goes over it, the oldest go early and are counted.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass

from dalleserver.storage import Key

RECORD_OVERHEAD = 360  # bytes of a record without its JSON: key, slots, dict entries
HOT_SIZE = 512  # rendered JSON of the most recently read finished runs


@dataclass(slots=True)
class Finished:
    finished_at: float  # on the board's clock
    stamp_ns: int  # wall clock, for the snapshot's timestamps
    cache_hit: bool
    error: str
    packed: bytes | None  # the final JSON, compressed; None: rendered on demand

    @property
    def size(self) -> int:
        return RECORD_OVERHEAD + (len(self.packed) if self.packed else 0)


def pack(snapshot_json: bytes) -> bytes:
    return zlib.compress(snapshot_json, 1)


def unpack(packed: bytes) -> bytes:
    return zlib.decompress(packed)


class FinishedRuns:
    """The store; the caller (the progress board) holds its lock around every call."""

    def __init__(self, retention: float, budget_bytes: int) -> None:
        self.retention = retention
        self.budget_bytes = budget_bytes
        self._records: OrderedDict[Key, Finished] = OrderedDict()
        self._hot: OrderedDict[Key, bytes] = OrderedDict()
        self.bytes = 0
        self.evicted_early = 0  # records dropped before their time to stay in the budget

    def __len__(self) -> int:
        return len(self._records)

    def put(self, key: Key, record: Finished, now: float) -> None:
        self.pop(key)
        self._records[key] = record
        self.bytes += record.size
        self.expire(now)
        while self.bytes > self.budget_bytes and len(self._records) > 1:
            self._drop_oldest()
            self.evicted_early += 1

    def get(self, key: Key, now: float) -> Finished | None:
        self.expire(now)
        return self._records.get(key)

    def pop(self, key: Key) -> Finished | None:
        record = self._records.pop(key, None)
        if record is not None:
            self.bytes -= record.size
            self._hot.pop(key, None)
        return record

    def expire(self, now: float) -> None:
        """Drop what outlived the retention time: only ever looks at the oldest record."""
        records = self._records
        while records:
            oldest = next(iter(records.values()))
            if now - oldest.finished_at <= self.retention:
                return
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        key, record = self._records.popitem(last=False)
        self.bytes -= record.size
        self._hot.pop(key, None)

    def hot(self, key: Key) -> bytes | None:
        """The rendered JSON of a recently read run, if it is still at hand."""
        body = self._hot.get(key)
        if body is not None:
            self._hot.move_to_end(key)
        return body

    def keep_hot(self, key: Key, body: bytes) -> None:
        self._hot[key] = body
        self._hot.move_to_end(key)
        while len(self._hot) > HOT_SIZE:
            self._hot.popitem(last=False)
