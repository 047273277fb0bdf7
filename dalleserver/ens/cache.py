"""A bounded, thread-safe cache whose entries expire, for ENS answers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    """At most ``size`` entries, least recently used dropped first; each entry lives for the
    ``ttl`` it was stored with, measured on ``clock`` (injectable, so tests need not sleep)."""

    def __init__(self, size: int, clock: Callable[[], float]) -> None:
        if size < 1:
            raise ValueError("a cache needs room for at least one entry")
        self.size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` for a live entry, else ``(False, None)``; a value may be None
        (a cached negative answer), hence the flag."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            expires, value = entry
            if self._clock() >= expires:
                del self._entries[key]
                return False, None
            self._entries.move_to_end(key)
            return True, value

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds, evicting the least recently used when full."""
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
