"""Retry with capped exponential backoff and full jitter, honouring server-sent delays.

Whether an error is worth retrying is the caller's business (``classify``); this module only
decides *how long* to wait and *how often* to try. Two rules are enforced here regardless:

* :class:`~dalleserver.resilience.breaker.CircuitOpenError` is never retried: the breaker
  has just told us the provider is down, and retrying would only spin against it.
* A server that asks us to wait longer than ``max_retry_after`` gets no retry at all
  (:class:`RetryAfterTooLong`): holding a worker for minutes is worse than failing clearly.
"""

from __future__ import annotations

import datetime
import email.message
import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from dalleserver.resilience.breaker import CircuitOpenError

__all__ = [
    "DEFAULT_POLICY",
    "RetryAfterTooLong",
    "RetryDecision",
    "RetryPolicy",
    "backoff_delay",
    "call_with_retry",
    "parse_retry_after",
]

T = TypeVar("T")
log = logging.getLogger("dalleserver.retry")

# 2 ** 64 times any sane base delay is far beyond any max_delay; capping the exponent keeps
# the arithmetic from overflowing a float for absurd attempt numbers.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts (the first call included) and how long to wait between them."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0:
            raise ValueError("delays must not be negative")


# Frozen, so one shared instance is a safe default argument (and keeps ruff's B008 quiet).
DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class RetryDecision:
    """What ``classify`` says about one failure: retry or not, and the server-provided
    delay in seconds (from ``Retry-After`` / ``retry-after-ms``), if any."""

    retry: bool
    retry_after: float | None = None


class RetryAfterTooLong(Exception):
    """The provider asked us to wait longer than the policy allows, so we gave up."""

    def __init__(self, operation: str, retry_after: float, limit: float) -> None:
        super().__init__(operation, retry_after, limit)
        self.operation = operation
        self.retry_after = retry_after
        self.limit = limit

    def __str__(self) -> str:
        return (f"{self.operation}: the provider asked to wait {int(self.retry_after)}s "
                f"(more than {int(self.limit)}s); giving up")


def backoff_delay(attempt: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """Full-jitter delay before retry number ``attempt`` (1 for the first retry).

    Full jitter (a uniform draw between 0 and the capped exponential) spreads out clients
    that failed together, so they do not all come back at the same instant.
    """
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    return rand() * min(policy.max_delay, policy.base_delay * 2**exponent)


def _header(headers: Mapping[str, str] | email.message.Message, name: str) -> str | None:
    if isinstance(headers, email.message.Message):
        value = headers.get(name)  # Message lookups are already case-insensitive
        return None if value is None else str(value)
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _seconds(text: str | None, scale: float = 1.0) -> float | None:
    """A non-negative, finite number of seconds from a numeric header value, else None."""
    if text is None:
        return None
    try:
        value = float(text.strip()) * scale
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(
    headers: Mapping[str, str] | email.message.Message | None,
    now: Callable[[], float] = time.time,
) -> float | None:
    """The delay, in seconds, a response asks for, or None when it asks for none (or
    nonsense).

    ``retry-after-ms`` (OpenAI's millisecond-precision variant) wins over ``Retry-After``;
    an invalid ``retry-after-ms`` falls back to ``Retry-After``, which may be a number of
    seconds or an HTTP-date (turned into seconds from ``now()``, never negative).
    """
    if headers is None:
        return None
    millis = _seconds(_header(headers, "retry-after-ms"), scale=0.001)
    if millis is not None:
        return millis
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    seconds = _seconds(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # older Pythons returned None rather than raising
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - now())


def call_with_retry(
    fn: Callable[[], T],
    *,
    operation: str,
    classify: Callable[[BaseException], RetryDecision],
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    on_retry: Callable[[str, int, float, BaseException], None] | None = None,
) -> T:
    """Call ``fn`` up to ``policy.max_attempts`` times and return its first result.

    After a failure, ``classify(exc)`` decides whether to try again; the original exception
    is re-raised when it says no or when attempts are used up. The delay is the server's
    ``retry_after`` when given (above ``policy.max_retry_after`` -> :class:`RetryAfterTooLong`,
    without sleeping), else :func:`backoff_delay`. ``on_retry(operation, retry_number, delay,
    exc)`` is called before each sleep, so metrics can count retries.

    :class:`CircuitOpenError` is re-raised at once, whatever ``classify`` would say. Only
    ``Exception`` subclasses are considered: an interrupt is never retried.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except CircuitOpenError:
            raise
        except Exception as exc:
            decision = classify(exc)
            if not decision.retry or attempt >= policy.max_attempts:
                raise
            if decision.retry_after is not None:
                if decision.retry_after > policy.max_retry_after:
                    raise RetryAfterTooLong(operation, decision.retry_after,
                                            policy.max_retry_after) from exc
                delay = max(0.0, decision.retry_after)
            else:
                delay = backoff_delay(attempt, policy, rand)
            if on_retry is not None:
                on_retry(operation, attempt, delay, exc)
            # a warning: retries are the first sign of a struggling provider, long before a
            # breaker opens or a generation fails
            log.warning("%s: attempt %d of %d failed (%s); retrying in %.1fs", operation,
                        attempt, policy.max_attempts, exc, delay,
                        extra={"operation": operation, "attempt": attempt,
                               "max_attempts": policy.max_attempts,
                               "retry_in_seconds": round(delay, 3), "error": str(exc),
                               "error_type": type(exc).__name__})
            sleep(delay)
            attempt += 1
