"""The dispatcher against a real receiver on loopback, stepped with a clock of the test's
own: retries with growing delays, one ID per webhook, 410, the deadline, the breaker."""

from __future__ import annotations

import base64
import socket

import pytest
from standardwebhooks import Webhook

from dalleserver.observability.instruments import Instruments
from dalleserver.resilience.breaker import CircuitBreaker
from dalleserver.webhooks import AllowList, Dispatcher
from dalleserver.webhooks.dispatcher import Timing
from dalleserver.webhooks.sender import is_breaker_failure
from tests.support.clock import ManualClock
from tests.support.receiver import Receiver

KEY = bytes(range(40))
VERIFIER = Webhook("whsec_" + base64.b64encode(KEY).decode())
BODY = b'{"type":"generation.completed","data":{}}'


def _dispatcher(host: str, clock: ManualClock, deadline: float = 60.0, failures: int = 50):
    instruments = Instruments()
    breakers = {host: CircuitBreaker(host, failure_threshold=failures, reset_timeout=30.0,
                                     is_failure=is_breaker_failure, clock=clock)}
    timing = Timing(deadline=deadline, attempt_timeout=5.0, first_delay=1.0, max_delay=8.0)
    dispatcher = Dispatcher(KEY, breakers, instruments, timing, clock=clock, rand=lambda: 1.0)
    return dispatcher, instruments


def _count(instruments: Instruments, family: str, outcome: str) -> float:
    return getattr(instruments, family).value(outcome=outcome)


def _step(dispatcher: Dispatcher, clock: ManualClock, seconds: float) -> int:
    clock.now += seconds
    return dispatcher.run_due()


def test_a_failed_delivery_is_retried_with_growing_delays_under_one_id():
    clock = ManualClock(100.0)
    with Receiver(statuses=(500, 503, 200)) as receiver:
        dispatcher, instruments = _dispatcher(receiver.host, clock)
        target = AllowList((receiver.host,)).check(receiver.url())
        assert dispatcher.send(target, BODY)
        assert dispatcher.run_due() == 1  # at once
        assert _step(dispatcher, clock, 0.9) == 0  # the first delay is 1 s
        assert _step(dispatcher, clock, 0.1) == 1
        assert _step(dispatcher, clock, 1.9) == 0  # then 2 s
        assert _step(dispatcher, clock, 0.1) == 1
        assert dispatcher.pending == 0
        received = receiver.received
    assert len(received) == 3 and len({r.headers["webhook-id"] for r in received}) == 1
    for attempt in received:
        assert attempt.path == "/hook" and attempt.body == BODY
        assert VERIFIER.verify(attempt.body, attempt.headers)  # each attempt signed anew
    assert _count(instruments, "webhook_deliveries", "delivered") == 1
    assert _count(instruments, "webhook_attempts", "http_error") == 2
    assert _count(instruments, "webhook_attempts", "success") == 1


def test_a_delivery_is_given_up_after_its_deadline():
    clock = ManualClock(100.0)
    with Receiver(statuses=(500,)) as receiver:
        dispatcher, instruments = _dispatcher(receiver.host, clock, deadline=20.0)
        dispatcher.send(AllowList((receiver.host,)).check(receiver.url()), BODY)
        for _ in range(100):
            if not dispatcher.pending:
                break
            _step(dispatcher, clock, 1.0)
        attempts = len(receiver.received)
        assert _step(dispatcher, clock, 3600.0) == 0  # nothing is left to try
        assert len(receiver.received) == attempts
    # at 0, 1, 3, 7 and 15 s; the next (at 23 s) would come after the 20 s deadline
    assert attempts == 5
    assert _count(instruments, "webhook_deliveries", "expired") == 1
    assert _count(instruments, "webhook_deliveries", "delivered") == 0


def test_410_gone_stops_at_once():
    clock = ManualClock(100.0)
    with Receiver(statuses=(410,)) as receiver:
        dispatcher, instruments = _dispatcher(receiver.host, clock)
        dispatcher.send(AllowList((receiver.host,)).check(receiver.url()), BODY)
        dispatcher.run_due()
        assert dispatcher.pending == 0 and len(receiver.received) == 1
    assert _count(instruments, "webhook_deliveries", "gone") == 1


def test_a_dead_host_opens_its_breaker_and_attempts_fail_fast():
    clock = ManualClock(100.0)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{closed.getsockname()[1]}"
    dispatcher, instruments = _dispatcher(host, clock, failures=2)
    target = AllowList((host,)).check(f"http://{host}/hook")
    for _ in range(3):
        dispatcher.send(target, BODY)
    dispatcher.run_due()
    assert _count(instruments, "webhook_attempts", "connection") == 2
    assert _count(instruments, "webhook_attempts", "rejected") == 1
    assert dispatcher.breakers[host].state == "open"
    assert dispatcher.pending == 3  # all three try again later, within their deadline


def test_a_full_schedule_drops_and_counts():
    clock = ManualClock(100.0)
    dispatcher, instruments = _dispatcher("127.0.0.1:9", clock)
    dispatcher.capacity = 1
    target = AllowList(("127.0.0.1:9",)).check("http://127.0.0.1:9/")
    assert dispatcher.send(target, BODY) and not dispatcher.send(target, BODY)
    assert _count(instruments, "webhook_deliveries", "dropped") == 1
    dispatcher.stop(0)
    assert _count(instruments, "webhook_deliveries", "abandoned") == 1


@pytest.mark.parametrize("status", [301, 400, 429])
def test_other_answers_are_failures_retried(status):
    clock = ManualClock(100.0)
    with Receiver(statuses=(status, 200)) as receiver:
        dispatcher, instruments = _dispatcher(receiver.host, clock)
        dispatcher.send(AllowList((receiver.host,)).check(receiver.url()), BODY)
        dispatcher.run_due()
        _step(dispatcher, clock, 1.0)
    assert len(receiver.received) == 2
    assert _count(instruments, "webhook_deliveries", "delivered") == 1
