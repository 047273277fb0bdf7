"""Batches: many pictures of one series asked for at once (``POST /v1/batches``, ``dalleserver
batch``). ``BatchService`` creates, reads and cancels them; ``BatchFeeder`` feeds them into
the generation queue behind interactive requests; a ``BatchStore`` keeps them."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections import Counter
from typing import Any

from dalleserver.batches.feeder import BatchFeeder, state_name
from dalleserver.batches.store import STATE_LETTERS, BatchStore
from dalleserver.jobs.interface import BoardView, JobQueue
from dalleserver.storage import Key
from dalleserver.webhooks import CallbackRefused, Webhooks

log = logging.getLogger("dalleserver.batches")

STATES = tuple(STATE_LETTERS)
BATCH_ID_BYTES = 12


class BatchService:
    """Create, read and cancel batches; the feeder does the work."""

    def __init__(self, store: BatchStore, jobs: JobQueue, board: BoardView, image_exists,
                 max_items: int, webhooks: Webhooks | None = None,
                 takeover: float = 30.0, draws: bool = True) -> None:
        """``takeover``: how long a batch waits for another feeder when the one feeding it
        stopped (in a cluster, the reclaim time of the jobs); ``draws``: the server makes
        pictures (not prompts only), so a finished item has one."""
        self.store = store
        self.jobs = jobs
        self.max_items = max_items
        self.webhooks = webhooks
        window = max(2, jobs.workers + 1)
        self.feeder = BatchFeeder(store, jobs, board, image_exists, window, self._ended,
                                  takeover, draws=draws)

    def start(self) -> None:
        self.feeder.start()

    def stop(self) -> None:
        self.feeder.stop()

    def create(self, series: str, keys: list[Key], force: bool = False,
               callback: str = "") -> dict[str, Any]:
        """A new batch of ``keys`` (duplicates dropped, order kept); its summary."""
        unique = list(dict.fromkeys(keys))
        meta = {"id": secrets.token_urlsafe(BATCH_ID_BYTES), "series": series,
                "force": force, "callback": callback, "createdAt": time.time(),
                "cancelled": False, "ended": False, "total": len(unique)}
        self.store.create(meta, unique)
        self.feeder.wake()
        return self.summary(meta["id"]) or {}

    def summary(self, batch_id: str) -> dict[str, Any] | None:
        """The batch's state and counts by item state; None for an unknown id."""
        meta = self.store.meta(batch_id)
        if meta is None:
            return None
        counts = Counter(state_name(letter) for letter in self.store.states(batch_id))
        if meta.get("ended"):
            state = "cancelled" if meta.get("cancelled") else "completed"
        elif meta.get("cancelled"):
            state = "cancelling"
        else:
            state = "running"
        return {"id": batch_id, "series": meta["series"], "state": state,
                "force": bool(meta.get("force")), "total": meta["total"],
                "counts": {name: counts.get(name, 0) for name in STATES},
                "createdAt": _rfc3339(meta["createdAt"]),
                "endedAt": _rfc3339(meta["endedAt"]) if meta.get("endedAt") else None,
                "location": f"/v1/batches/{batch_id}"}

    def items(self, batch_id: str, start: int, limit: int) -> list[dict[str, Any]]:
        """Items ``start`` to ``start + limit`` with their states."""
        keys = self.store.keys(batch_id)[start:start + limit]
        states = self.store.states(batch_id)[start:start + limit]
        return [{"index": start + i, "address": key[1], "state": state_name(letter)}
                for i, (key, letter) in enumerate(zip(keys, states, strict=False))]

    def cancel(self, batch_id: str) -> dict[str, Any] | None:
        """Cancel what has not started: pending items at once, queued ones through the
        queue; running ones finish. None for an unknown id."""
        meta = self.store.meta(batch_id)
        if meta is None:
            return None
        if not meta.get("ended"):
            self.store.update_meta(batch_id, {"cancelled": True})
            keys, states = self.store.keys(batch_id), self.store.states(batch_id)
            pending, queued = STATE_LETTERS["pending"], STATE_LETTERS["queued"]
            self.store.set_states(batch_id, {i: STATE_LETTERS["cancelled"]
                                             for i, s in enumerate(states) if s == pending})
            for index, letter in enumerate(states):
                if letter == queued:
                    self.jobs.cancel(keys[index])
            self.feeder.wake()
        return self.summary(batch_id)

    def _ended(self, ended: dict[str, Any]) -> None:
        """A batch ended: its webhook, when it has a callback."""
        meta = self.store.meta(ended["id"]) or {}
        log.info("batch %s ended", ended["id"])
        if not meta.get("callback") or self.webhooks is None:
            return
        try:
            target = self.webhooks.allow_list.check(meta["callback"])
        except CallbackRefused as exc:  # checked at creation; the allow-list changed since
            log.warning("batch %s: callback refused: %s", ended["id"], exc)
            return
        body = {"type": "batch.ended", "timestamp": _rfc3339(time.time()),
                "data": self.summary(ended["id"])}
        self.webhooks.dispatcher.send(target, json.dumps(body).encode("utf-8"))


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
