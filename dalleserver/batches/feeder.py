"""Feeding batches into the generation queue without starving interactive requests.

A feeder keeps at most ``window`` items of a batch queued or running, and queues more only
while the shared queue is short (fewer than ``FEED_BELOW`` jobs waiting): a trigger that
arrives while a big batch runs waits behind a few of its items, never behind all of them.
It speaks to the queue only through the ``JobQueue`` protocol and reads outcomes through
the ``BoardView``, so it works alike with one process and with a cluster. In a cluster every
instance runs one; a lease in the store lets one feed each batch, and another takes over
when it dies (the jobs it queued are in the shared queue meanwhile)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from dalleserver.batches.store import LETTER_STATES, STATE_LETTERS, BatchStore
from dalleserver.jobs.interface import BoardView, CoordinationUnavailable, JobQueue
from dalleserver.jobs.manager import QueueFull, ShuttingDown
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.batches")

FEED_BELOW = 3  # queue more batch items only while fewer jobs than this wait
TICK = 0.2  # seconds between looks when nothing changes
MIN_LEASE = 2.0  # seconds a feeder holds a batch without renewing, at least
OPEN = frozenset(STATE_LETTERS[s] for s in ("pending", "queued", "running"))
OUTSTANDING = frozenset(STATE_LETTERS[s] for s in ("queued", "running"))
P, Q, R = (STATE_LETTERS[s] for s in ("pending", "queued", "running"))
C, F, X, S = (STATE_LETTERS[s] for s in ("completed", "failed", "cancelled", "skipped"))


class BatchFeeder:
    """The thread that feeds every open batch, a few items at a time."""

    def __init__(self, store: BatchStore, jobs: JobQueue, board: BoardView,
                 image_exists: Callable[[Key], bool], window: int,
                 on_end: Callable[[dict[str, Any]], None] | None = None,
                 lease: float = MIN_LEASE, draws: bool = True) -> None:
        self.store = store
        self.draws = draws
        self.jobs = jobs
        self.board = board
        self.image_exists = image_exists
        self.window = window
        self.on_end = on_end
        self.lease = max(lease, MIN_LEASE)
        self.owner = secrets.token_hex(8)
        self._keys: dict[str, list[Key]] = {}  # a batch's items never change
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.board.add_listener(self._on_change)
        self._thread = threading.Thread(target=self._run, name="batch-feeder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self.board.remove_listener(self._on_change)

    def wake(self) -> None:
        """Look at the batches now (a batch was created or cancelled)."""
        self._wake.set()

    def _on_change(self, _key: Key) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK)
            self._wake.clear()
            try:
                self.feed_all()
            except CoordinationUnavailable:  # the batches are kept in Redis: they wait
                log.debug("batches wait: the coordination store cannot be reached")
            except Exception:  # the feeder must outlive any one bad batch
                log.exception("feeding batches failed")
                self._stop.wait(1.0)

    def feed_all(self) -> None:
        """One round over the open batches this feeder holds the lease of."""
        for batch_id in self.store.open_ids():
            if self._stop.is_set():
                return
            if self.store.lease(batch_id, self.owner, self.lease):
                self.feed(batch_id)

    def feed(self, batch_id: str) -> None:
        """Follow the batch's outstanding items, queue more when there is room, and end
        the batch when nothing of it is left to do."""
        meta = self.store.meta(batch_id)
        if meta is None:
            return
        keys = self._keys.get(batch_id) or self._keys.setdefault(
            batch_id, self.store.keys(batch_id))
        states = self.store.states(batch_id)
        changes: dict[int, str] = {}
        cancelled = bool(meta.get("cancelled"))
        outstanding = 0
        for index, letter in enumerate(states):
            if letter in OUTSTANDING:
                now = self._follow(keys[index], letter, bool(meta.get("force")), cancelled)
                if now != letter:
                    changes[index] = now
                outstanding += now in OUTSTANDING
        if cancelled:
            changes.update({i: X for i, letter in enumerate(states) if letter == P})
        else:
            self._queue_more(keys, states, meta, changes, outstanding)
        self.store.set_states(batch_id, changes)
        if not any(changes.get(i, letter) in OPEN for i, letter in enumerate(states)):
            self._end(batch_id)

    def _follow(self, key: Key, letter: str, force: bool, cancelled: bool) -> str:
        run = self.board.get(key)
        if run is not None:
            return Q if getattr(run, "queue_ticket", 0) else R
        finished = self.board.finished(key)
        if finished is not None:
            if not finished.error and (not self.draws or self.image_exists(key)):
                return C
            if not finished.error:  # it joined a v1 run that made less (no annotation)
                return X if cancelled else self._submit(key, force)
            return X if cancelled else F
        # neither live nor finished: the queue lost it (a restart); queue it again
        return X if cancelled else self._submit(key, force)

    def _queue_more(self, keys: list[Key], states: str, meta: dict[str, Any],
                    changes: dict[int, str], outstanding: int) -> None:
        force = bool(meta.get("force"))
        for index, letter in enumerate(states):
            if outstanding >= self.window or self.jobs.queue_depth >= FEED_BELOW:
                return
            if letter != P or index in changes:
                continue
            now = self._submit(keys[index], force)
            if now == P:
                return  # the queue is full or closing: later
            changes[index] = now
            outstanding += now in OUTSTANDING

    def _submit(self, key: Key, force: bool) -> str:
        if not force and self.image_exists(key):
            return S
        try:
            submission = self.jobs.submit_key(key, force=force)
        except (QueueFull, ShuttingDown):
            return P
        if submission.state in ("cache_hit", "done"):
            return S
        return Q

    def _end(self, batch_id: str) -> None:
        self.store.update_meta(batch_id, {"ended": True, "endedAt": time.time()})
        self.store.close(batch_id)
        self._keys.pop(batch_id, None)
        if self.on_end is not None:
            self.on_end({"id": batch_id})


def state_name(letter: str) -> str:
    """The state an item's letter stands for."""
    return LETTER_STATES.get(letter, "pending")
