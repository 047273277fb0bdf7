"""Answers that wait for a run: ``Prefer: wait=N`` and ``?wait=N`` park the request in the
engine (no thread held) until the key's run is done or N seconds pass, then answer.

One timer thread serves every waiter (a heap of deadlines); the progress board's listener
resolves the waiters of a key as soon as its run shows done.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dalleserver.httpd import Request, Response
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.responses import error_response

log = logging.getLogger("dalleserver.waiters")

MAX_WAIT = 60.0  # seconds a client may ask to wait; a longer wish is capped
_PREFER_WAIT = re.compile(r"(?:^|[,;]\s*)wait\s*=\s*\"?(\d{1,6})\"?", re.IGNORECASE)


def requested_wait(request: Request, invalid: ErrorCode = ErrorCode.INVALID_REQUEST
                   ) -> float:
    """Seconds the client asked to wait (``?wait=N`` wins over ``Prefer: wait=N``), capped
    at MAX_WAIT; 0 when it did not ask. A malformed ``?wait=`` is ``invalid`` (the route
    family's code for a bad parameter)."""
    raw = request.arg("wait")
    if raw is not None:
        text = raw.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            raise ApiError(invalid,
                           f"?wait= takes whole seconds (0 to {MAX_WAIT:.0f}), got {raw[:20]!r}")
        return min(float(text), MAX_WAIT)
    prefer = request.headers.get("Prefer") or ""
    match = _PREFER_WAIT.search(prefer)
    return min(float(match.group(1)), MAX_WAIT) if match else 0.0


@dataclass(order=True)
class _Waiter:
    deadline: float
    seq: int
    key: Key = field(compare=False)
    answer: Callable[[], Response] = field(compare=False)
    resume: Callable[[Response], None] = field(compare=False)
    done: bool = field(default=False, compare=False)


class RunWaiters:
    """Parked requests waiting for runs; ``stop`` answers them all (shutdown)."""

    def __init__(self, board: ProgressBoard, clock: Callable[[], float] = time.monotonic):
        self.board = board
        self._clock = clock
        self._lock = threading.Condition()
        self._heap: list[_Waiter] = []
        self._by_key: dict[Key, list[_Waiter]] = {}
        self._seq = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None
        # waiters whose run is done: answered by the waiters' thread, never by the board's
        # listener (it runs under the job manager's lock; answers read files)
        self._ready: list[_Waiter] = []
        board.add_listener(self._changed)

    def respond(self, key: Key, seconds: float, answer: Callable[[], Response]) -> Response:
        """A deferred response: ``answer()`` when the run of ``key`` is done or after
        ``seconds``, whichever comes first."""
        def defer(resume: Callable[[Response], None]) -> None:
            waiter = _Waiter(self._clock() + seconds, next(self._seq), key, answer, resume)
            with self._lock:
                stopped = self._stopped
                if not stopped:
                    heapq.heappush(self._heap, waiter)
                    self._by_key.setdefault(key, []).append(waiter)
                    self._ensure_thread()
                    self._lock.notify()
            if stopped or not self._running(key):
                self._resolve([waiter])  # done already (or just now): answer at once

        return Response(defer=defer)

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._by_key.values())

    def stop(self) -> None:
        """Answer every waiter now (the server is shutting down)."""
        with self._lock:
            self._stopped = True
            waiters = [w for group in self._by_key.values() for w in group]
            self._lock.notify_all()
        self._resolve(waiters)

    # -- internals ----------------------------------------------------------------------
    def _running(self, key: Key) -> bool:
        return self.board.get(key) is not None

    def _changed(self, key: Key) -> None:
        """Board listener: a run of ``key`` changed; if it is done, its waiters are handed
        to the waiters' thread."""
        if key not in self._by_key or self._running(key):
            return
        with self._lock:
            self._ready.extend(self._by_key.get(key, ()))
            self._lock.notify()

    def _resolve(self, waiters: list[_Waiter]) -> None:
        for waiter in waiters:
            if not self._claim(waiter):
                continue
            try:
                response = waiter.answer()
            except ApiError as error:
                response = error_response(error, "")
            except Exception:
                log.exception("answering a waiting request failed")
                response = error_response(ApiError(ErrorCode.INTERNAL_SERVER_ERROR,
                                                   "the answer could not be made"), "")
            waiter.resume(response)

    def _claim(self, waiter: _Waiter) -> bool:
        """True for the one caller that answers ``waiter`` (the listener, the timer and
        ``stop`` may all try)."""
        with self._lock:
            if waiter.done:
                return False
            waiter.done = True
            group = self._by_key.get(waiter.key)
            if group is not None and waiter in group:
                group.remove(waiter)
                if not group:
                    del self._by_key[waiter.key]
            return True

    def _ensure_thread(self) -> None:
        """With the lock held: the one timer thread, started on first use."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._expire, name="run-waiters",
                                            daemon=True)
            self._thread.start()

    def _expire(self) -> None:
        """The waiters' thread: answers runs that are done and waits that ran out."""
        while True:
            with self._lock:
                due = self._next_due()
                if due is None:
                    return
            self._resolve(due)

    def _next_due(self) -> list[_Waiter] | None:
        """With the lock held: waiters to answer now (waiting until there are some);
        None once stopped."""
        while not self._stopped:
            if self._ready:
                ready, self._ready = self._ready, []
                return ready
            while self._heap and self._heap[0].done:
                heapq.heappop(self._heap)
            wait = self._heap[0].deadline - self._clock() if self._heap else None
            if wait is not None and wait <= 0:
                return [heapq.heappop(self._heap)]
            self._lock.wait(wait)
        return None
