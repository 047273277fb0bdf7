"""Circuit breaker and retry: state machine, concurrency, backoff, Retry-After parsing.

Clocks, sleeps and randomness are injected, so nothing here waits for real (threads only wait
on events that the test itself sets, always with a timeout so a bug fails instead of hanging).
"""

from __future__ import annotations

import email.utils
import http.client
import io
import pickle
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dalleserver.resilience.breaker import CircuitBreaker, CircuitOpenError
from dalleserver.resilience.retry import (
    RetryAfterTooLong,
    RetryDecision,
    RetryPolicy,
    backoff_delay,
    call_with_retry,
    parse_retry_after,
)
from tests.support.clock import ManualClock

WAIT = 5.0  # generous upper bound for thread hand-offs; never reached when things work


class Boom(Exception):
    """A provider failure."""


class ClientMistake(Exception):
    """Something like a 400: not the provider's fault."""


def fail() -> None:
    raise Boom("provider down")


def make(clock: ManualClock | None = None, **kw) -> CircuitBreaker:
    kw.setdefault("is_failure", lambda e: not isinstance(e, ClientMistake))
    return CircuitBreaker("images", clock=clock or ManualClock(), **kw)


def fail_times(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        with pytest.raises(Boom):
            breaker.call(fail)


def open_breaker(clock: ManualClock, **kw) -> CircuitBreaker:
    breaker = make(clock, **kw)
    fail_times(breaker, breaker.failure_threshold)
    assert breaker.state == "open"
    return breaker


# -- circuit breaker: CLOSED -------------------------------------------------------------------


def test_call_returns_the_result_and_passes_arguments():
    breaker = make()
    assert breaker.call(lambda a, b=0, fn=None: (a, b, fn), 1, b=2, fn="x") == (1, 2, "x")
    assert breaker.state == "closed"


def test_the_original_exception_is_reraised_unchanged():
    breaker = make()
    error = Boom("exact")

    def raise_it():
        raise error

    with pytest.raises(Boom) as info:
        breaker.call(raise_it)
    assert info.value is error


def test_opens_after_five_consecutive_failures():
    breaker = make()
    fail_times(breaker, 4)
    assert breaker.state == "closed"
    fail_times(breaker, 1)
    assert breaker.state == "open"


def test_a_success_in_between_resets_the_count():
    breaker = make()
    fail_times(breaker, 4)
    breaker.call(lambda: None)
    fail_times(breaker, 4)
    assert breaker.state == "closed"
    assert breaker.snapshot()["consecutive_failures"] == 4
    fail_times(breaker, 1)
    assert breaker.state == "open"


def test_non_failures_neither_count_nor_reset():
    breaker = make()

    def mistake():
        raise ClientMistake("bad prompt")

    for _ in range(20):
        with pytest.raises(ClientMistake):
            breaker.call(mistake)
    assert breaker.state == "closed"
    assert breaker.snapshot()["consecutive_failures"] == 0

    fail_times(breaker, 4)
    with pytest.raises(ClientMistake):
        breaker.call(mistake)  # does not reset the streak either
    fail_times(breaker, 1)
    assert breaker.state == "open"


def test_interrupts_are_not_counted_as_provider_failures():
    breaker = make(failure_threshold=1)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert breaker.state == "closed"


def test_a_crashing_is_failure_predicate_counts_as_failure():
    def broken(exc: BaseException) -> bool:
        raise RuntimeError("predicate bug")

    breaker = make(failure_threshold=1, is_failure=broken)
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"


# -- OPEN --------------------------------------------------------------------------------------


def test_open_fails_fast_without_calling_fn_and_retry_after_counts_down():
    clock = ManualClock()
    breaker = open_breaker(clock)
    called = []

    with pytest.raises(CircuitOpenError) as info:
        breaker.call(called.append, 1)
    assert called == []
    assert info.value.breaker == "images"
    assert info.value.retry_after == pytest.approx(30.0)
    assert str(info.value) == "provider unavailable, retry after 30s"

    clock.advance(10.0)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(called.append, 1)
    assert info.value.retry_after == pytest.approx(20.0)

    clock.advance(19.5)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(called.append, 1)
    assert info.value.retry_after == pytest.approx(0.5)
    assert str(info.value) == "provider unavailable, retry after 1s"  # rounded up
    assert called == []
    assert breaker.state == "open"


def test_circuit_open_error_survives_pickling():
    error = pickle.loads(pickle.dumps(CircuitOpenError("chat", 12.2)))
    assert (error.breaker, error.retry_after, str(error)) == (
        "chat", 12.2, "provider unavailable, retry after 13s")


def test_after_reset_timeout_the_breaker_is_half_open():
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(29.999)
    assert breaker.state == "open"
    clock.advance(0.001)
    assert breaker.state == "half_open"


def test_snapshot_reports_the_state():
    clock = ManualClock(500.0)
    breaker = make(clock)
    assert breaker.snapshot() == {"name": "images", "state": "closed",
                                  "consecutive_failures": 0, "opened_at": None,
                                  "retry_after": 0.0}
    fail_times(breaker, 5)
    clock.advance(5.0)
    snap = breaker.snapshot()
    assert snap["state"] == "open" and snap["consecutive_failures"] == 5
    assert snap["opened_at"] == 500.0 and snap["retry_after"] == pytest.approx(25.0)


# -- HALF_OPEN ---------------------------------------------------------------------------------


def test_only_one_probe_at_a_time():
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(30.0)
    entered, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def probe() -> str:
        entered.set()
        assert release.wait(WAIT)
        return "probe ok"

    def run_probe() -> None:
        results["probe"] = breaker.call(probe)

    thread = threading.Thread(target=run_probe)
    thread.start()
    try:
        assert entered.wait(WAIT)
        called = []
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(called.append, 1)
        assert called == []
        assert 0 < info.value.retry_after <= 1.0
        assert breaker.snapshot()["state"] == "half_open"
    finally:
        release.set()
        thread.join(WAIT)
    assert results == {"probe": "probe ok"}
    assert breaker.state == "half_open"  # one success of the two needed


def test_two_probe_successes_close_the_breaker():
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(30.0)
    assert breaker.call(lambda: 1) == 1
    assert breaker.state == "half_open"
    assert breaker.call(lambda: 2) == 2
    assert breaker.state == "closed"
    snap = breaker.snapshot()
    assert snap["consecutive_failures"] == 0 and snap["opened_at"] is None
    fail_times(breaker, 4)  # the count starts afresh
    assert breaker.state == "closed"


def test_a_probe_failure_reopens_with_a_fresh_timeout():
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(30.0)
    breaker.call(lambda: None)  # one good probe does not save the next bad one
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"
    assert breaker.snapshot()["opened_at"] == clock.now
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: None)
    assert info.value.retry_after == pytest.approx(30.0)
    clock.advance(30.0)
    assert breaker.state == "half_open"
    breaker.call(lambda: None)
    assert breaker.state == "half_open"  # the earlier success did not carry over


def test_a_neutral_probe_outcome_frees_the_probe_slot():
    clock = ManualClock()
    breaker = open_breaker(clock)
    clock.advance(30.0)

    def mistake():
        raise ClientMistake("bad prompt")

    with pytest.raises(ClientMistake):
        breaker.call(mistake)
    assert breaker.state == "half_open"
    breaker.call(lambda: None)
    breaker.call(lambda: None)
    assert breaker.state == "closed"


def test_state_changes_are_reported_in_order():
    clock = ManualClock()
    seen: list[tuple[str, str, str]] = []
    breaker = open_breaker(clock, on_state_change=lambda *change: seen.append(change))
    clock.advance(30.0)
    with pytest.raises(Boom):
        breaker.call(fail)  # the probe fails
    clock.advance(30.0)
    breaker.call(lambda: None)
    breaker.call(lambda: None)
    assert seen == [
        ("images", "closed", "open"),
        ("images", "open", "half_open"),
        ("images", "half_open", "open"),
        ("images", "open", "half_open"),
        ("images", "half_open", "closed"),
    ]


def test_a_failing_state_change_callback_does_not_break_the_breaker():
    def explode(*change):
        raise RuntimeError("observer bug")

    breaker = make(failure_threshold=1, on_state_change=explode)
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.state == "open"


def test_the_callback_may_read_the_breaker():
    clock = ManualClock()
    states: list[str] = []
    holder: dict[str, CircuitBreaker] = {}
    holder["b"] = make(clock, failure_threshold=1,
                       on_state_change=lambda *c: states.append(holder["b"].state))
    with pytest.raises(Boom):
        holder["b"].call(fail)
    assert states == ["open"]


# -- concurrency -------------------------------------------------------------------------------


def test_no_lock_is_held_while_fn_runs():
    breaker = make()
    barrier = threading.Barrier(2, timeout=WAIT)  # serialized calls would break the barrier
    results: list[object] = []

    def meet() -> str:
        barrier.wait()
        return "met"

    def worker() -> None:
        try:
            results.append(breaker.call(meet))
        except threading.BrokenBarrierError as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert results == ["met", "met"]


def test_outcomes_of_calls_admitted_before_a_transition_are_ignored():
    clock = ManualClock()
    breaker = make(clock)
    entered, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def slow_success() -> str:
        entered.set()
        assert release.wait(WAIT)
        return "late"

    def run() -> None:
        outcome["value"] = breaker.call(slow_success)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert entered.wait(WAIT)
        fail_times(breaker, 5)  # opens while the slow call is still running
        clock.advance(30.0)
        assert breaker.state == "half_open"
    finally:
        release.set()
        thread.join(WAIT)
    assert outcome == {"value": "late"}
    # the late success was admitted while CLOSED: it is not a probe success
    assert breaker.state == "half_open"
    breaker.call(lambda: None)
    assert breaker.state == "half_open"
    breaker.call(lambda: None)
    assert breaker.state == "closed"


def test_concurrent_hammering_keeps_the_books_straight():
    breaker = make(failure_threshold=1000)
    barrier = threading.Barrier(8, timeout=WAIT)

    def worker() -> None:
        barrier.wait()
        for i in range(200):
            try:
                breaker.call(fail if i % 2 else (lambda: None))
            except Boom:
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert breaker.state == "closed"
    assert breaker.snapshot()["consecutive_failures"] <= 8


def test_invalid_thresholds_are_rejected():
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", success_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", reset_timeout=-1)


# -- retry -------------------------------------------------------------------------------------


class Recorder:
    """Injected sleep/rand/on_retry that remember what they were asked."""

    def __init__(self, draws: list[float] | None = None) -> None:
        self.sleeps: list[float] = []
        self.retries: list[tuple[str, int, float, BaseException]] = []
        self.draws = list(draws or [])
        self.rand_calls = 0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def rand(self) -> float:
        self.rand_calls += 1
        return self.draws.pop(0) if self.draws else 0.5

    def on_retry(self, operation: str, attempt: int, delay: float, exc: BaseException) -> None:
        self.retries.append((operation, attempt, delay, exc))

    def kwargs(self) -> dict:
        return {"sleep": self.sleep, "rand": self.rand, "on_retry": self.on_retry}


class Flaky:
    """Fails with the given exceptions in turn, then returns ``result``."""

    def __init__(self, *errors: BaseException, result: object = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


def always(decision: RetryDecision):
    return lambda exc: decision


RETRY = RetryDecision(True)
NO_RETRY = RetryDecision(False)


def test_success_is_never_retried():
    rec = Recorder()
    fn = Flaky()
    classified = []
    assert call_with_retry(fn, operation="chat", classify=classified.append, **rec.kwargs()) == "ok"
    assert (fn.calls, rec.sleeps, classified, rec.retries) == (1, [], [], [])


def test_retryable_failures_use_all_attempts_then_reraise_the_original():
    rec = Recorder()
    errors = [Boom(f"#{i}") for i in range(3)]
    fn = Flaky(*errors)
    with pytest.raises(Boom) as info:
        call_with_retry(fn, operation="images", classify=always(RETRY), **rec.kwargs())
    assert info.value is errors[2]
    assert fn.calls == 3 and len(rec.sleeps) == 2


def test_recovers_when_a_retry_succeeds():
    rec = Recorder()
    fn = Flaky(Boom("once"), result=42)
    assert call_with_retry(fn, operation="images", classify=always(RETRY), **rec.kwargs()) == 42
    assert fn.calls == 2 and len(rec.sleeps) == 1


def test_non_retryable_failures_are_raised_at_once():
    rec = Recorder()
    fn = Flaky(ClientMistake("400"))
    with pytest.raises(ClientMistake):
        call_with_retry(fn, operation="chat", classify=always(NO_RETRY), **rec.kwargs())
    assert (fn.calls, rec.sleeps, rec.retries) == (1, [], [])


def test_classification_is_per_exception():
    rec = Recorder()
    fn = Flaky(Boom("503"), ClientMistake("400"), Boom("unreached"))
    with pytest.raises(ClientMistake):
        call_with_retry(fn, operation="chat",
                        classify=lambda e: RetryDecision(isinstance(e, Boom)),
                        policy=RetryPolicy(max_attempts=5), **rec.kwargs())
    assert fn.calls == 2


def test_backoff_delays_are_full_jitter_of_a_capped_exponential():
    draws = [0.1, 0.9, 0.5, 1.0, 0.25, 0.75]
    rec = Recorder(draws)
    fn = Flaky(*[Boom(str(i)) for i in range(7)])
    with pytest.raises(Boom):
        call_with_retry(fn, operation="images", classify=always(RETRY),
                        policy=RetryPolicy(max_attempts=7), **rec.kwargs())
    expected = [r * min(8.0, 0.5 * 2 ** (n - 1)) for n, r in enumerate(draws, start=1)]
    assert rec.sleeps == pytest.approx(expected)
    assert expected[-1] == pytest.approx(0.75 * 8.0)  # the cap has kicked in
    assert fn.calls == 7


@given(attempt=st.integers(min_value=1, max_value=5000),
       draw=st.floats(min_value=0.0, max_value=1.0))
def test_backoff_delay_stays_within_bounds(attempt: int, draw: float):
    policy = RetryPolicy()
    delay = backoff_delay(attempt, policy, lambda: draw)
    assert 0.0 <= delay <= policy.max_delay
    assert delay == pytest.approx(draw * min(8.0, 0.5 * 2 ** min(attempt - 1, 64)))


def test_server_retry_after_is_honoured_exactly():
    rec = Recorder()
    fn = Flaky(Boom("429"), Boom("429"))
    decisions = iter([RetryDecision(True, 2.5), RetryDecision(True, 0.0)])
    assert call_with_retry(fn, operation="images", classify=lambda e: next(decisions),
                           **rec.kwargs()) == "ok"
    assert rec.sleeps == [2.5, 0.0]
    assert rec.rand_calls == 0


def test_retry_after_up_to_the_limit_is_accepted():
    rec = Recorder()
    fn = Flaky(Boom("429"))
    call_with_retry(fn, operation="images", classify=always(RetryDecision(True, 60.0)),
                    **rec.kwargs())
    assert rec.sleeps == [60.0]


def test_too_long_retry_after_gives_up_without_sleeping():
    rec = Recorder()
    original = Boom("429")
    fn = Flaky(original)
    with pytest.raises(RetryAfterTooLong) as info:
        call_with_retry(fn, operation="images", classify=always(RetryDecision(True, 120.5)),
                        **rec.kwargs())
    error = info.value
    assert (error.operation, error.retry_after, error.__cause__) == ("images", 120.5, original)
    assert str(error) == "images: the provider asked to wait 120s (more than 60s); giving up"
    assert (fn.calls, rec.sleeps, rec.retries) == (1, [], [])


def test_the_last_attempt_reraises_the_original_even_with_a_retry_after():
    rec = Recorder()
    original = Boom("429")
    with pytest.raises(Boom) as info:
        call_with_retry(Flaky(original), operation="images",
                        classify=always(RetryDecision(True, 600.0)),
                        policy=RetryPolicy(max_attempts=1), **rec.kwargs())
    assert info.value is original and rec.sleeps == []


def test_an_open_circuit_is_never_retried():
    rec = Recorder()
    fn = Flaky(CircuitOpenError("images", 12.0))
    classified = []

    def classify(exc):
        classified.append(exc)
        return RETRY

    with pytest.raises(CircuitOpenError):
        call_with_retry(fn, operation="images", classify=classify, **rec.kwargs())
    assert (fn.calls, classified, rec.sleeps) == (1, [], [])


def test_retry_around_a_breaker_stops_once_it_opens():
    clock = ManualClock()
    breaker = make(clock, failure_threshold=2)
    rec = Recorder()
    calls = []

    def attempt():
        calls.append(1)
        fail()

    with pytest.raises(CircuitOpenError):
        call_with_retry(lambda: breaker.call(attempt), operation="images",
                        classify=always(RETRY), policy=RetryPolicy(max_attempts=5),
                        **rec.kwargs())
    assert len(calls) == 2 and len(rec.sleeps) == 2  # third attempt was refused by the breaker


def test_on_retry_is_called_once_per_retry():
    rec = Recorder([0.5, 0.5])
    errors = [Boom("a"), Boom("b")]
    call_with_retry(Flaky(*errors), operation="chat", classify=always(RETRY), **rec.kwargs())
    assert rec.retries == [("chat", 1, 0.25, errors[0]), ("chat", 2, 0.5, errors[1])]
    assert rec.sleeps == [0.25, 0.5]


def test_policy_validation():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


# -- parse_retry_after -------------------------------------------------------------------------

NOW = 1_700_000_000.0


def parse(headers):
    return parse_retry_after(headers, now=lambda: NOW)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "3"}, 3.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"RETRY-AFTER": " 7 "}, 7.0),
    ({"Retry-After": "0"}, 0.0),
    ({"retry-after-ms": "250"}, 0.25),
    ({"Retry-After": "10", "retry-after-ms": "250"}, 0.25),  # ms wins
    ({"Retry-After": "10", "Retry-After-Ms": "1500.5"}, 1.5005),
    ({"Retry-After": "10", "retry-after-ms": "soon"}, 10.0),  # bad ms falls back
    ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
    ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),  # past: now
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": ""}, None),
    ({"Retry-After": "-5"}, None),
    ({"Retry-After": "nan"}, None),
    ({"Retry-After": "inf"}, None),
    ({"retry-after-ms": "-1"}, None),
    ({"Content-Type": "application/json"}, None),
    ({}, None),
    (None, None),
])
def test_parse_retry_after(headers, expected):
    result = parse(headers)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_parse_retry_after_reads_http_message_headers():
    raw = (b"Content-Type: application/json\r\nretry-after: 4\r\n"
           b"Retry-After-Ms: 1200\r\n\r\n")
    message = http.client.parse_headers(io.BytesIO(raw))
    assert parse(message) == pytest.approx(1.2)
    only_seconds = http.client.parse_headers(io.BytesIO(b"Retry-After: 4\r\n\r\n"))
    assert parse(only_seconds) == 4.0
    assert parse(http.client.parse_headers(io.BytesIO(b"\r\n"))) is None


def test_parse_retry_after_date_uses_the_clock():
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: NOW + 60) == pytest.approx(30.0)
