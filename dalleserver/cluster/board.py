"""The progress board as the web layer reads it in cluster mode: this process's live runs
first (freshest, no round trip), then the runs Redis knows (queued anywhere, running on
another instance, or finished within the retention time), then this process's finished
records (cache hits are kept locally: every instance renders them from the shared disk).

Listeners hear both the local board's changes and the changes every instance publishes, so
a waiting request, an SSE stream or a webhook here follows a run another instance performs.
When Redis cannot be reached, reads fall back to what this process knows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from dalleserver.cluster.link import DOWN_ERRORS, RedisLink
from dalleserver.cluster.render import with_position
from dalleserver.jobs.finished_runs import Finished
from dalleserver.jobs.listeners import Listeners
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.jobs.run_state import Run
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.cluster")

RESUBSCRIBE_PAUSE = 0.5


@dataclass(frozen=True)
class RemoteRun:
    """A run queued in the cluster or running on another instance: what the views read of
    a live run (``queue_ticket`` is non-zero while it waits)."""

    series: str
    address: str
    queue_ticket: int


@dataclass(frozen=True)
class Shared:
    """One read of a run's shared record."""

    state: str  # queued, running or done
    body: bytes
    position: int  # 1-based place in the queue while queued


class ClusterBoard:
    """The board facade: the same reading methods as ``ProgressBoard``."""

    def __init__(self, local: ProgressBoard, link: RedisLink) -> None:
        self.local = local
        self.link = link
        self.keys = link.keys
        self._listeners = Listeners()
        # the job manager's: another instance asks to cancel a run of ours (key, run id)
        self.on_cancel: Callable[[Key, str], None] | None = None
        local.add_listener(self._relay)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stats(self):
        return self.local.stats

    @property
    def retention(self) -> float:
        return self.local.retention

    # -- shared records -----------------------------------------------------------------
    def shared(self, key: Key) -> Shared | None:
        """The run Redis holds for ``key``, or None (none, or the store is unreachable)."""
        if not self.link.up:
            return None
        member = self.keys.member(key)
        try:
            with self.link.client.pipeline(transaction=False) as pipe:
                pipe.hmget(self.keys.run(key), "state", "body")
                pipe.zrank(self.keys.queued, member)
                (state, body), rank = self.link.call(lambda _client: pipe.execute())
        except redis.RedisError:
            return None
        if state is None or body is None:
            return None
        position = rank + 1 if state == b"queued" and rank is not None else 0
        return Shared(state.decode(), body, position)

    # -- reading ------------------------------------------------------------------------
    def get(self, key: Key) -> Run | RemoteRun | None:
        run = self.local.get(key)
        if run is not None:
            return run
        shared = self.shared(key)
        if shared is None or shared.state == "done":
            return None
        return RemoteRun(key[0], key[1], shared.position)

    def finished(self, key: Key) -> Finished | None:
        if self.local.get(key) is None:
            shared = self.shared(key)
            if shared is not None and shared.state == "done":
                doc = json.loads(shared.body)
                return Finished(time.monotonic(), int(doc.get("startedNs") or 0),
                                bool(doc.get("cacheHit")), str(doc.get("error") or ""), None)
            if shared is not None:
                return None  # queued or running elsewhere: not finished
        return self.local.finished(key)

    def snapshot_json(self, key: Key) -> bytes | None:
        if self.local.get(key) is not None:
            body = self.local.snapshot_json(key)
            if body is not None:
                return body
        shared = self.shared(key)
        if shared is not None:
            return with_position(shared.body, shared.position) if shared.position else (
                shared.body)
        return self.local.snapshot_json(key)

    def snapshot(self, key: Key) -> dict[str, Any] | None:
        body = self.snapshot_json(key)
        return None if body is None else json.loads(body)

    def running_keys(self) -> list[Key]:
        keys = dict.fromkeys(self.local.running_keys())
        for member in self._members(lambda client: client.smembers(self.keys.running)):
            keys.setdefault(self.keys.key_of(member))
        return list(keys)

    def active_keys(self) -> list[Key]:
        keys = dict.fromkeys(self.running_keys())
        for member in self._members(lambda client: client.zrange(self.keys.queued, 0, -1)):
            keys.setdefault(self.keys.key_of(member))
        return list(keys)

    def _members(self, read: Callable[[redis.Redis], Any]) -> list[bytes]:
        if not self.link.up:
            return []
        try:
            return sorted(self.link.call(read))
        except redis.RedisError:
            return []

    def forget(self, key: Key) -> None:
        """Drop the finished run here and in Redis (its picture was removed)."""
        self.local.forget(key)
        shared = self.shared(key)
        if shared is not None and shared.state == "done":
            try:
                self.link.call(lambda client: client.delete(self.keys.run(key)))
            except redis.RedisError:
                pass  # it expires with the retention time

    def memory(self) -> dict[str, int]:
        return self.local.memory()

    # -- listeners ----------------------------------------------------------------------
    def add_listener(self, listener: Callable[[Key], None]) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[Key], None]) -> None:
        self._listeners.remove(listener)

    def _relay(self, key: Key) -> None:
        self._listeners.notify(key)

    def start(self) -> None:
        """Follow the changes every instance publishes."""
        self._thread = threading.Thread(target=self._follow, name="cluster-events",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(3)

    def _follow(self) -> None:
        while not self._stop.is_set():
            pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.keys.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_message(message.get("data"))
            except DOWN_ERRORS as exc:
                self.link.mark_down(exc)
            except redis.RedisError as exc:
                log.warning("following cluster events failed: %s", exc)
            finally:
                try:
                    pubsub.close()
                except Exception:  # closing a broken connection: nothing more to do
                    pass
            self._stop.wait(RESUBSCRIBE_PAUSE)

    def _on_message(self, data: Any) -> None:
        if not isinstance(data, bytes):
            return
        kind, _, rest = data.decode("utf-8", "replace").partition(" ")
        member, _, run_id = rest.partition(" ")
        if "/" not in member:
            return
        if kind == "change":
            self._relay(self.keys.key_of(member))
        elif kind == "cancel" and self.on_cancel is not None:
            self.on_cancel(self.keys.key_of(member), run_id)
