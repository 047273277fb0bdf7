"""Deliveries: a bounded schedule of webhooks worked by threads of their own. Each attempt
goes through the breaker of its host; a failed one is tried again after a growing, jittered
delay (or the receiver's ``Retry-After``) until it succeeds, the receiver answers 410 Gone,
or the total deadline passes. A dead receiver costs these threads, never a generation."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dalleserver.observability.instruments import Instruments
from dalleserver.resilience.breaker import CircuitBreaker, CircuitOpenError
from dalleserver.resilience.retry import RetryPolicy, backoff_delay
from dalleserver.webhooks.sender import SUCCESS, AttemptFailed, AttemptResult, post
from dalleserver.webhooks.signing import new_message_id, signed_headers
from dalleserver.webhooks.targets import CallbackTarget

log = logging.getLogger("dalleserver.webhooks")

GONE = 410  # the receiver wants no more webhooks: no retry
REJECTED = "rejected"  # an attempt the host's open breaker refused


@dataclass
class Delivery:
    """One webhook: where it goes, its signed body's bytes, its ID (the same on every
    attempt) and the moment, on the dispatcher's clock, after which it is given up."""

    target: CallbackTarget
    body: bytes
    message_id: str
    deadline: float
    attempts: int = 0


@dataclass(frozen=True)
class Timing:
    """How long to try: the total deadline, one attempt's timeout, and the backoff."""

    deadline: float = 900.0
    attempt_timeout: float = 15.0
    first_delay: float = 1.0
    max_delay: float = 60.0


DEFAULT_TIMING = Timing()


class Dispatcher:
    """Sends webhooks signed with ``key``. ``breakers`` has one breaker per allow-list entry;
    ``capacity`` bounds the deliveries waiting or in flight (more are dropped and counted).
    The clocks, the jitter and ``send`` are injectable; ``run_due`` does a worker's job in
    the caller's thread, for tests that step a clock of their own."""

    def __init__(self, key: bytes, breakers: dict[str, CircuitBreaker],
                 instruments: Instruments | None = None, timing: Timing = DEFAULT_TIMING, *,
                 workers: int = 2, capacity: int = 1000,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random,
                 send: Callable[..., AttemptResult] = post) -> None:
        self._key = key
        self.breakers = breakers
        self.instruments = instruments
        self.timing = timing
        self.workers = workers
        self.capacity = capacity
        self._clock, self._wall, self._rand, self._send = clock, wall, rand, send
        self._policy = RetryPolicy(base_delay=timing.first_delay, max_delay=timing.max_delay)
        self._schedule: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self._threads: list[threading.Thread] = []

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"webhooks-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float = 2.0) -> None:
        """Stop taking deliveries; those not yet delivered are abandoned (and counted)."""
        with self._cond:
            self._stopping = True
            abandoned = [entry[2] for entry in self._schedule]
            self._schedule.clear()
            self._cond.notify_all()
        for delivery in abandoned:
            self._finish(delivery, "abandoned")
        ends = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, ends - time.monotonic()))

    @property
    def pending(self) -> int:
        """Deliveries waiting for their next attempt or being attempted now."""
        with self._cond:
            return len(self._schedule) + self._in_flight

    # -- sending ------------------------------------------------------------------------
    def send(self, target: CallbackTarget, body: bytes) -> bool:
        """Schedule one webhook now; False (counted as dropped) when the schedule is full
        or the dispatcher stopped."""
        delivery = Delivery(target, body, new_message_id(),
                            self._clock() + self.timing.deadline)
        with self._cond:
            accepted = not self._stopping and (
                len(self._schedule) + self._in_flight < self.capacity)
            if accepted:
                self._push(delivery, self._clock())
        if not accepted:
            self._finish(delivery, "dropped")
        return accepted

    def _push(self, delivery: Delivery, due: float) -> None:
        """With the condition held: schedule ``delivery``'s next attempt at ``due``."""
        heapq.heappush(self._schedule, (due, next(self._order), delivery))
        self._cond.notify()

    def _take(self, block: bool) -> Delivery | None:
        """The next due delivery (marked in flight); None when stopping, or when nothing is
        due and ``block`` is false."""
        with self._cond:
            while not self._stopping:
                wait = None
                if self._schedule:
                    wait = self._schedule[0][0] - self._clock()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._schedule)[2]
                if not block:
                    return None
                self._cond.wait(wait)
            return None

    def _work(self) -> None:
        while (delivery := self._take(block=True)) is not None:
            self._attempt_in_flight(delivery)

    def run_due(self) -> int:
        """Attempt every delivery due now in this thread; returns how many were attempted."""
        attempted = 0
        while (delivery := self._take(block=False)) is not None:
            self._attempt_in_flight(delivery)
            attempted += 1
        return attempted

    def _attempt_in_flight(self, delivery: Delivery) -> None:
        try:
            self._attempt(delivery)
        except Exception:  # a bug here must not end the worker
            log.exception("webhook %s failed unexpectedly", delivery.message_id)
            self._finish(delivery, "expired")
        finally:
            with self._cond:
                self._in_flight -= 1

    # -- one attempt --------------------------------------------------------------------
    def _attempt(self, delivery: Delivery) -> None:
        remaining = delivery.deadline - self._clock()
        if remaining <= 0:
            self._finish(delivery, "expired")
            return
        delivery.attempts += 1
        headers = signed_headers(self._key, delivery.message_id, int(self._wall()),
                                 delivery.body)
        breaker = self.breakers[delivery.target.entry]
        try:
            result = breaker.call(self._send, delivery.target, delivery.body, headers,
                                  min(self.timing.attempt_timeout, remaining))
        except CircuitOpenError as exc:
            self._count_attempt(REJECTED)
            self._retry(delivery, exc.retry_after)
            return
        except AttemptFailed as exc:
            result = exc.result
        self._count_attempt(result.outcome)
        if result.outcome == SUCCESS:
            self._finish(delivery, "delivered")
        elif result.status == GONE:
            self._finish(delivery, "gone")
        else:
            self._retry(delivery, result.retry_after)

    def _retry(self, delivery: Delivery, asked: float | None) -> None:
        """Schedule the next attempt, or give up when it would come after the deadline."""
        delay = asked if asked is not None else backoff_delay(
            delivery.attempts, self._policy, lambda: 0.5 + self._rand() / 2)
        due = self._clock() + delay
        with self._cond:
            scheduled = due < delivery.deadline and not self._stopping
            if scheduled:
                self._push(delivery, due)
        if not scheduled:
            self._finish(delivery, "expired" if not self._stopping else "abandoned")

    # -- accounting ---------------------------------------------------------------------
    def _count_attempt(self, outcome: str) -> None:
        if self.instruments is not None:
            self.instruments.webhook_attempts.inc(outcome=outcome)

    def _finish(self, delivery: Delivery, outcome: str) -> None:
        if self.instruments is not None:
            self.instruments.webhook_deliveries.inc(outcome=outcome)
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(level, "webhook %s to %s: %s after %d attempt(s)", delivery.message_id,
                delivery.target.host, outcome, delivery.attempts,
                extra={"webhook_id": delivery.message_id, "outcome": outcome,
                       "attempts": delivery.attempts})
