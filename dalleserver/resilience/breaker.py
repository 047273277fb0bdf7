"""A small, thread-safe circuit breaker (closed -> open -> half-open -> closed).

The breaker protects a flaky dependency (here: the image provider) from being hammered while
it is down, and protects our own workers from waiting on timeouts that are bound to happen:

* CLOSED: calls go through. ``failure_threshold`` consecutive failures open the breaker.
* OPEN: calls fail fast with :class:`CircuitOpenError` until ``reset_timeout`` has passed.
* HALF_OPEN: one probe call at a time is let through. ``success_threshold`` successful
  probes close the breaker again; a failed probe re-opens it for a fresh ``reset_timeout``.

The lock is only held to admit a call and to record its outcome, never while the wrapped
function runs, so calls in the CLOSED state run fully in parallel.

Outcomes of calls admitted under an earlier state are ignored (each transition bumps a
generation number): a slow call that started while CLOSED and succeeds after the breaker has
opened must not count as a successful probe, and a slow failure must not extend an opening.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "CircuitOpenError"]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# What callers are told to wait while another caller's probe is in flight: the probe will
# settle the matter soon, so a short hint is more useful than the full reset timeout.
PROBE_RETRY_AFTER = 1.0

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)

# Outcomes as seen by the state machine.
_SUCCESS = "success"
_FAILURE = "failure"
_NEUTRAL = "neutral"  # e.g. a 400 for a bad prompt: says nothing about the provider's health


class CircuitOpenError(Exception):
    """Raised instead of calling the function while the breaker is open (or probing)."""

    def __init__(self, breaker: str, retry_after: float) -> None:
        # Passing both to Exception keeps the error picklable and its repr informative.
        super().__init__(breaker, retry_after)
        self.breaker = breaker
        self.retry_after = max(0.0, float(retry_after))

    def __str__(self) -> str:
        return f"provider unavailable, retry after {math.ceil(self.retry_after)}s"


@dataclass(frozen=True)
class _Ticket:
    """Proof of admission: the generation the call was admitted in, and whether it is the
    half-open probe (whose slot must be released whatever happens)."""

    generation: int
    probe: bool


def _always_failure(exc: BaseException) -> bool:
    return True


class CircuitBreaker:
    """A circuit breaker around calls to one dependency.

    ``is_failure`` decides which exceptions say something about the dependency's health;
    for the others (e.g. a rejected prompt) the exception is re-raised and the state machine
    is left untouched. ``clock`` is injectable so tests need not sleep. ``on_state_change``
    is called as ``(name, old_state, new_state)`` for every transition, in order, while the
    breaker's (re-entrant) lock is held: keep it quick; reading ``state`` or ``snapshot()``
    from it is fine.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 2,
        is_failure: Callable[[BaseException], bool] = _always_failure,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[str, str, str], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or success_threshold < 1:
            raise ValueError("failure_threshold and success_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = float(reset_timeout)
        self.success_threshold = success_threshold
        self._is_failure = is_failure
        self._clock = clock
        self._on_state_change = on_state_change
        # Re-entrant so that a state-change callback may read ``state`` or ``snapshot()``.
        self._lock = threading.RLock()
        self._state = CLOSED
        self._generation = 0
        self._failures = 0  # consecutive failures (CLOSED), kept for the snapshot when OPEN
        self._successes = 0  # successful probes in the current HALF_OPEN period
        self._opened_at: float | None = None
        self._probing = False  # a HALF_OPEN probe is in flight

    # -- public API ----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"``; an expired OPEN reads as HALF_OPEN."""
        with self._lock:
            self._expire_open()
            return self._state

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` through the breaker and return its result.

        Raises :class:`CircuitOpenError` without calling ``fn`` when the breaker is open or
        a probe is already in flight; otherwise re-raises whatever ``fn`` raised.
        """
        ticket = self._admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._record(ticket, self._classify(exc))
            raise
        self._record(ticket, _SUCCESS)
        return result

    def snapshot(self) -> dict[str, Any]:
        """A consistent view for health endpoints and logs."""
        with self._lock:
            self._expire_open()
            return {
                "name": self.name,
                "state": self._state,
                "consecutive_failures": self._failures,
                "opened_at": self._opened_at,
                "retry_after": self._retry_after(),
            }

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r})"

    # -- admission and accounting (all called with or taking the lock) -------------------------

    def _admit(self) -> _Ticket:
        with self._lock:
            self._expire_open()
            if self._state == CLOSED:
                return _Ticket(self._generation, probe=False)
            if self._state == HALF_OPEN and not self._probing:
                self._probing = True
                return _Ticket(self._generation, probe=True)
            raise CircuitOpenError(self.name, self._retry_after())

    def _classify(self, exc: BaseException) -> str:
        # KeyboardInterrupt, SystemExit and friends are about this process, not the provider.
        if not isinstance(exc, Exception):
            return _NEUTRAL
        try:
            failure = self._is_failure(exc)
        except Exception:  # a broken predicate must not leak the probe slot
            log.exception("breaker %s: is_failure raised; counting as a failure", self.name)
            failure = True
        return _FAILURE if failure else _NEUTRAL

    def _record(self, ticket: _Ticket, outcome: str) -> None:
        with self._lock:
            if ticket.generation != self._generation:
                return  # admitted under an earlier state: its outcome is stale news
            if ticket.probe:
                self._probing = False
            if outcome == _NEUTRAL:
                return
            if self._state == CLOSED:
                if outcome == _FAILURE:
                    self._failures += 1
                    if self._failures >= self.failure_threshold:
                        self._open()
                else:
                    self._failures = 0
            elif self._state == HALF_OPEN:
                if outcome == _FAILURE:
                    self._failures += 1
                    self._open()
                else:
                    self._successes += 1
                    if self._successes >= self.success_threshold:
                        self._close()

    def _retry_after(self) -> float:
        if self._state == OPEN and self._opened_at is not None:
            return max(0.0, self._opened_at + self.reset_timeout - self._clock())
        if self._state == HALF_OPEN and self._probing:
            return PROBE_RETRY_AFTER
        return 0.0

    # -- transitions ---------------------------------------------------------------------------

    def _expire_open(self) -> None:
        if self._state == OPEN and self._opened_at is not None:
            if self._clock() - self._opened_at >= self.reset_timeout:
                self._successes = 0
                self._probing = False
                self._transition(HALF_OPEN)

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._successes = 0
        self._probing = False
        self._transition(OPEN)

    def _close(self) -> None:
        self._failures = 0
        self._successes = 0
        self._opened_at = None
        self._probing = False
        self._transition(CLOSED)

    def _transition(self, new: str) -> None:
        old, self._state = self._state, new
        self._generation += 1
        # opening is what an operator must see (calls now fail fast); probing and closing
        # again are routine
        log.log(logging.WARNING if new == OPEN else logging.INFO,
                "breaker %s: %s -> %s%s", self.name, old, new,
                f" after {self._failures} failures, for {self.reset_timeout:g}s"
                if new == OPEN else "",
                extra={"breaker": self.name, "from_state": old, "to_state": new,
                       "consecutive_failures": self._failures})
        if self._on_state_change is None:
            return
        try:
            self._on_state_change(self.name, old, new)
        except Exception:  # observers must not be able to break the breaker
            log.exception("breaker %s: on_state_change callback failed", self.name)
