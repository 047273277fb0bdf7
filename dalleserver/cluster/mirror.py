"""Runs performed here, mirrored to Redis as they change, so every instance reads them.

The pipeline reports phases to this process's board, unchanged; a board listener marks the
key and one thread writes the latest snapshot of each marked key (changes that come in a
burst are written once) and publishes the change. Running runs are written again every
second without a publish: their percent and ETA move within a phase, and a reader elsewhere
sees them move. The final snapshot is not written here but by the job manager's FINISH.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from dalleserver.cluster.link import RedisLink
from dalleserver.cluster.scripts import UPDATE
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.cluster")

REFRESH_INTERVAL = 1.0


class RunMirror:
    """``run_id(key)`` says which of the keys changing on the board are runs this process
    performs (None for the others: cache hits, finished runs)."""

    def __init__(self, board: ProgressBoard, link: RedisLink,
                 run_id: Callable[[Key], str | None]) -> None:
        self.board = board
        self.link = link
        self.keys = link.keys
        self.run_id = run_id
        self._update = link.client.register_script(UPDATE)
        self._dirty: dict[Key, None] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None
        board.add_listener(self.changed)

    def changed(self, key: Key) -> None:
        """Board listener: cheap, never waits on Redis."""
        if self.run_id(key) is None:
            return
        with self._cond:
            self._dirty[key] = None
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cluster-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(3)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._dirty and not self._stopped:
                    self._cond.wait(REFRESH_INTERVAL)
                if self._stopped:
                    return
                dirty, self._dirty = list(self._dirty), {}
            if dirty:
                self.write(dirty, publish=True)
            else:
                self.write(self.board.running_keys(), publish=False)

    def write(self, keys: list[Key], publish: bool) -> None:
        """The current snapshots of ``keys`` (those still running here) to Redis."""
        if not self.link.up:
            return  # put back with everything else when the store returns
        for key in keys:
            run_id = self.run_id(key)
            body = self.board.snapshot_json(key) if run_id is not None else None
            if body is None or self.board.get(key) is None:
                continue
            try:
                self.link.call(lambda client, key=key, run_id=run_id, body=body: self._update(
                    keys=[self.keys.run(key)],
                    args=[run_id, body, self.keys.channel, self.keys.member(key),
                          "1" if publish else "0"], client=client))
            except redis.RedisError as exc:
                log.debug("mirroring %s/%s failed: %s", *key, exc)
                return
