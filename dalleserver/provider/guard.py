"""One guarded endpoint: retry with backoff around a circuit breaker, with metrics."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from dalleserver.observability.instruments import Instruments
from dalleserver.provider.http import TIMEOUT, ProviderError, classify_for_retry
from dalleserver.resilience.breaker import CircuitBreaker, CircuitOpenError
from dalleserver.resilience.retry import DEFAULT_POLICY, RetryPolicy, call_with_retry

T = TypeVar("T")


class GuardedEndpoint:
    """Calls to one provider endpoint (``chat`` or ``images``): each attempt goes through the
    endpoint's breaker; failed attempts are retried per the policy; all of it is counted."""

    def __init__(
        self,
        name: str,
        breaker: CircuitBreaker,
        instruments: Instruments | None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.breaker = breaker
        self.instruments = instruments
        self.policy = policy
        self.sleep = sleep
        self.rand = rand

    def _count(self, outcome: str, exc: BaseException | None = None) -> None:
        ins = self.instruments
        if ins is None:
            return
        ins.openai_requests.inc(endpoint=self.name, outcome=outcome)
        if exc is not None and not isinstance(exc, CircuitOpenError):
            ins.openai_errors.inc()
            if isinstance(exc, ProviderError) and exc.kind == TIMEOUT:
                ins.openai_timeouts.inc()

    def _attempt(self, fn: Callable[[], T]) -> T:
        try:
            result = self.breaker.call(fn)
        except CircuitOpenError as exc:
            self._count("rejected", exc)
            raise
        except ProviderError as exc:
            self._count(exc.kind, exc)
            raise
        except Exception as exc:
            self._count("error", exc)
            raise
        self._count("success")
        return result

    def call(self, fn: Callable[[], T]) -> T:
        """``fn`` through the breaker, retried per the policy; a final failure carries the
        number of attempts made (``attempts``) for the failure's log line."""
        attempts = [1]

        def on_retry(operation: str, attempt: int, delay: float, exc: BaseException) -> None:
            attempts[0] = attempt + 1
            if self.instruments is not None:
                self.instruments.retries.inc(operation=operation)

        try:
            return call_with_retry(
                lambda: self._attempt(fn),
                operation=self.name,
                classify=classify_for_retry,
                policy=self.policy,
                sleep=self.sleep,
                rand=self.rand,
                on_retry=on_retry,
            )
        except Exception as exc:
            exc.attempts = attempts[0]  # type: ignore[attr-defined]
            raise
