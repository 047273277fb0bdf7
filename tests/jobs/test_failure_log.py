"""Operators' eyes (issue 14): a failed generation's log line carries fields, and every
cache-hit answer is counted."""

import json
import logging

from dalleserver.observability.logs import JsonFormatter
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

A = "0x" + "3c" * 20


def test_a_failed_generation_logs_its_fields(tmp_path, caplog):
    backend = GatedBackend(fail="the picture could not be made")
    with running_server(tmp_path, backend=backend) as (client, app), \
            caplog.at_level(logging.WARNING, logger="dalleserver.jobs"):
        client.json("GET", f"/dalle/empty/{A}?generate=1", headers={"X-Request-ID": "trig-1"})
        wait_done(app.runtime, ("empty", A))
    records = [r for r in caplog.records if r.name == "dalleserver.jobs"]
    assert len(records) == 1
    doc = json.loads(JsonFormatter().format(records[0]))
    assert doc["series"] == "empty" and doc["address"] == A
    assert doc["request_id"] == "trig-1" and doc["backend"] == "gated"
    assert doc["error_kind"] == "internal" and doc["attempts"] == 0
    assert "the picture could not be made" in doc["msg"]


def test_every_cache_hit_answer_is_counted(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        for _ in range(5):
            client.json("GET", f"/dalle/empty/{A}?generate=1")
        counted = app.instruments.generations.value(outcome="cache_hit")
    assert counted == 5


def test_a_provider_failure_carries_its_attempts():
    from dalleserver.provider.guard import GuardedEndpoint
    from dalleserver.provider.http import SERVER, ProviderError
    from dalleserver.resilience.breaker import CircuitBreaker
    from dalleserver.resilience.retry import RetryPolicy

    endpoint = GuardedEndpoint("images", CircuitBreaker("images", failure_threshold=10), None,
                               policy=RetryPolicy(max_attempts=3), sleep=lambda _: None)

    def failing():
        raise ProviderError(SERVER, "the provider answered 500", status=500)

    try:
        endpoint.call(failing)
    except ProviderError as exc:
        assert exc.attempts == 3 and exc.kind == SERVER
    else:
        raise AssertionError("the call should have failed")
