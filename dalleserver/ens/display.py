"""Primary names for display, never waited for.

A page that shows addresses (the gallery, a progress snapshot) asks :meth:`DisplayNames.name_of`,
which answers from the resolver's cache only. An address the cache does not know is queued,
and one background thread looks the queued addresses up, so the next page shows their names.
A page never waits on the node, and a dead node costs the one thread, not the pages.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from dalleserver.ens.errors import EnsError, NodeError
from dalleserver.ens.resolver import EnsResolver

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 1024
# After a node failure, the lookups wait this long (or the breaker's retry_after) before the
# next one, rather than spinning through the queue failing fast.
DEFAULT_PAUSE = 1.0


class DisplayNames:
    """Cached primary names now, lookups of the others in the background.

    At most ``max_pending`` addresses wait for a lookup; more are not queued (a later page
    asks again). Nothing is looked up until :meth:`start`.
    """

    def __init__(self, resolver: EnsResolver, *, max_pending: int = DEFAULT_MAX_PENDING,
                 pause: float = DEFAULT_PAUSE) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.resolver = resolver
        self.max_pending = max_pending
        self.pause = pause
        self._pending: OrderedDict[str, None] = OrderedDict()  # a queue without repeats
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def name_of(self, address: str) -> str | None:
        """The verified primary name of a lower-case ``address`` if the cache knows it;
        otherwise None now, and the address is queued for a lookup."""
        hit, name = self.resolver.cached_reverse(address)
        if not hit:
            self._enqueue(address)
        return name

    @property
    def pending(self) -> int:
        """Addresses waiting for a lookup."""
        with self._cond:
            return len(self._pending)

    def _enqueue(self, address: str) -> None:
        with self._cond:
            if (self._stopping or address in self._pending
                    or len(self._pending) >= self.max_pending):
                return
            self._pending[address] = None
            self._cond.notify()

    # -- the background thread -----------------------------------------------------------------

    def start(self) -> None:
        """Start the lookup thread (once)."""
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="ens-display-names",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Drop the queue and stop the thread; a lookup under way ends by its deadline."""
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _next(self) -> str | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            return self._pending.popitem(last=False)[0]

    def _run(self) -> None:
        while (address := self._next()) is not None:
            try:
                self.resolver.reverse(address)  # the answer lands in the resolver's cache
            except NodeError as exc:
                self._rest(exc.retry_after or self.pause)
            except (EnsError, ValueError):
                continue  # a malformed address: nothing to show, nothing to retry
            except Exception:  # the thread must outlive any surprise
                log.exception("looking up the ENS name of %s failed", address)

    def _rest(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, timeout=seconds)
