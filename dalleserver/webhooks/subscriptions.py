"""Callback URLs waiting for runs to end. The progress board tells every change of a key;
when the key's run is over, each URL that waited for it gets the final snapshot, once."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from dalleserver.storage import Key
from dalleserver.webhooks.targets import CallbackTarget

if TYPE_CHECKING:
    from dalleserver.jobs.progress import ProgressBoard
    from dalleserver.webhooks.dispatcher import Dispatcher

# Callbacks waiting at once, over every run: more are refused until runs end.
MAX_WAITING = 10_000

# What a webhook's body says happened (its "type").
COMPLETED = "generation.completed"
FAILED = "generation.failed"

Render = Callable[[bytes], bytes]


class TooManyCallbacks(Exception):
    """Too many callbacks are waiting already; the trigger is refused for now."""


def _same(snapshot: bytes) -> bytes:
    return snapshot


def event_body(snapshot: bytes, now: Callable[[], datetime.datetime] | None = None) -> bytes:
    """A webhook body in the Standard Webhooks payload form: ``type``, ``timestamp`` and the
    final snapshot as ``data``."""
    data = json.loads(snapshot)
    stamp = (now or _utc_now)().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event = {"type": FAILED if data.get("error") else COMPLETED, "timestamp": stamp,
             "data": data}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class RunCallbacks:
    """Callback targets by key until the key's run ends; ``on_change`` is the board's
    listener, ``settle`` the same check after a trigger that may have changed nothing."""

    def __init__(self, board: ProgressBoard, dispatcher: Dispatcher,
                 limit: int = MAX_WAITING) -> None:
        self.board = board
        self.dispatcher = dispatcher
        self.limit = limit
        self._lock = threading.Lock()
        self._waiting: dict[Key, dict[str, tuple[CallbackTarget, Render]]] = {}
        self._count = 0

    def subscribe(self, key: Key, target: CallbackTarget, render: Render = _same) -> bool:
        """Wait for the end of ``key``'s run (the current one, or the next to start). False
        when the same URL already waits for it (it gets one webhook). ``render`` turns the
        snapshot into the ``data`` sent. TooManyCallbacks past the limit."""
        with self._lock:
            targets = self._waiting.setdefault(key, {})
            if target.url in targets:
                return False
            if self._count >= self.limit:
                if not targets:
                    del self._waiting[key]
                raise TooManyCallbacks
            targets[target.url] = (target, render)
            self._count += 1
            return True

    def cancel(self, key: Key, target: CallbackTarget) -> None:
        """Forget a callback whose trigger was refused."""
        with self._lock:
            targets = self._waiting.get(key, {})
            if targets.pop(target.url, None) is not None:
                self._count -= 1
            if not targets:
                self._waiting.pop(key, None)

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._count

    def on_change(self, key: Key) -> None:
        """The board's listener: called on every change of every key, so it is cheap when
        no callback waits for ``key``."""
        if key not in self._waiting:
            return
        self.settle(key)

    def settle(self, key: Key) -> None:
        """Send the final snapshot to every callback of ``key`` when its run is over."""
        board = self.board
        if board.get(key) is not None or board.finished(key) is None:
            return
        snapshot = board.snapshot_json(key)
        with self._lock:
            targets = self._waiting.pop(key, {})
            self._count -= len(targets)
        if snapshot is None:
            return
        for target, render in targets.values():
            self.dispatcher.send(target, event_body(render(snapshot)))
