"""The spending budget over real HTTP, with the OpenAI double as the paid provider: exactly
N paid generations across many clients and keys, 429 BUDGET_EXHAUSTED with Retry-After for
the next, pictures still served, admins never refused, a restart that remembers, the local
fallback, and the usage of each call in the selector JSON and the metrics."""

import json
import threading
from datetime import datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dalleserver.costs.prices import PriceTable
from tests.support import openai_double as od
from tests.support.server import running_server, wait_done

TOKEN = "budget-admin-token"
SERIES = "empty"
ADDRESSES = ["0x" + f"{i:02x}" * 20 for i in range(1, 13)]
# noon UTC: the daily budget resets in exactly 12 hours
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def api():
    with od.OpenAIDouble() as double:
        yield double


def paid_server(tmp_path, api, budget, **env):
    """A server whose images and chat go to the double, behind a proxy it trusts (so each
    X-Forwarded-For is a client of its own), with an admin token (so loopback is no admin)."""
    environ = {"OPENAI_API_KEY": "sk-test-" + "b" * 40, "OPENAI_BASE_URL": api.base_url,
               "TB_DALLE_BUDGET": budget, "TB_DALLE_TRUSTED_PROXIES": "127.0.0.1",
               "TB_DALLE_NO_ENHANCE": "1", **env}
    return running_server(tmp_path, flags={"image_backend": "openai", "admin_token": TOKEN,
                                           "workers": "2"},
                          env=environ, budget_clock=lambda: NOON)


def trigger(client, address, client_ip="203.0.113.9", admin=False):
    headers = {"X-Forwarded-For": client_ip}
    if admin:
        headers["Authorization"] = f"Bearer {TOKEN}"
    response, body = client.request("GET", f"/dalle/{SERIES}/{address}?generate=1",
                                    headers=headers)
    return response, json.loads(body)


def finish(runtime, addresses):
    return [wait_done(runtime, (SERIES, a)) for a in addresses]


def test_a_budget_of_n_allows_exactly_n_across_clients_and_keys(tmp_path, api):
    with paid_server(tmp_path, api, "3/day") as (client, app):
        answers = {}

        def one(i):
            answers[i] = trigger(client, ADDRESSES[i], client_ip=f"198.51.100.{i + 1}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accepted = [i for i, (response, _) in answers.items() if response.status == 202]
        refused = [answers[i] for i in answers if i not in accepted]
        assert len(accepted) == 3 and len(refused) == 7
        for response, doc in refused:
            assert response.status == 429
            assert doc["error"]["code"] == "BUDGET_EXHAUSTED"
            assert response.getheader("Retry-After") == str(12 * 3600)
            assert "until 2026-12-01T00:00:00Z" in doc["error"]["message"]
            assert doc["error"]["details"]["retry_after_seconds"] == 12 * 3600
        for snap in finish(app.runtime, [ADDRESSES[i] for i in accepted]):
            assert snap["error"] == ""
        assert api.calls("images") == 3

        # finished pictures still serve, and asking again for one is no new run
        made = ADDRESSES[accepted[0]]
        response, png = client.get(f"/dalle/{SERIES}/{made}")
        assert response.status == 200 and png.startswith(b"\x89PNG")
        response, doc = trigger(client, made)
        assert response.status == 200 and doc["data"]["cacheHit"]

        # an admin is never refused, and is counted
        response, _ = trigger(client, ADDRESSES[11], admin=True)
        assert response.status == 202
        finish(app.runtime, [ADDRESSES[11]])
        assert api.calls("images") == 4
        assert app.runtime.spending.budget.spent() == 4


def test_the_budget_survives_a_restart(tmp_path, api):
    with paid_server(tmp_path, api, "2/day") as (client, app):
        for address in ADDRESSES[:2]:
            assert trigger(client, address)[0].status == 202
        finish(app.runtime, ADDRESSES[:2])
    with paid_server(tmp_path, api, "2/day") as (client, app):
        response, doc = trigger(client, ADDRESSES[2], client_ip="192.0.2.77")
        assert response.status == 429 and doc["error"]["code"] == "BUDGET_EXHAUSTED"
    assert api.calls("images") == 2
    # a larger budget on the next start counts what was already spent
    with paid_server(tmp_path, api, "3/day") as (client, app):
        assert trigger(client, ADDRESSES[2])[0].status == 202
        assert trigger(client, ADDRESSES[3])[0].status == 429


def test_a_failed_paid_call_costs_nothing(tmp_path, api):
    api.script("images", od.content_policy())
    with paid_server(tmp_path, api, "1/day") as (client, app):
        assert trigger(client, ADDRESSES[0])[0].status == 202
        assert "content policy" in finish(app.runtime, ADDRESSES[:1])[0]["error"]
        assert trigger(client, ADDRESSES[1])[0].status == 202
        assert finish(app.runtime, ADDRESSES[1:2])[0]["error"] == ""
        assert trigger(client, ADDRESSES[2])[0].status == 429


def test_the_fallback_draws_locally_and_says_so(tmp_path, api):
    with paid_server(tmp_path, api, "1/day", TB_DALLE_BUDGET_FALLBACK="local") as (client, app):
        assert trigger(client, ADDRESSES[0])[0].status == 202
        paid = finish(app.runtime, ADDRESSES[:1])[0]
        response, _ = trigger(client, ADDRESSES[1])
        assert response.status == 202
        local = finish(app.runtime, ADDRESSES[1:2])[0]
        assert api.calls("images") == 1
        assert paid["dalleDress"]["downloadMode"] == "b64"
        assert local["error"] == "" and local["dalleDress"]["downloadMode"] == ""
        assert any("drawn with the local renderer" in note for note in local["notes"])
        png = tmp_path / "data/output" / SERIES / "annotated" / f"{ADDRESSES[1]}.png"
        assert png.read_bytes().startswith(b"\x89PNG")
        selector = json.loads((tmp_path / "data/output" / SERIES / "selector" /
                               f"{ADDRESSES[1]}.json").read_text())
        assert selector["generation"]["fallback"]["backend"] == "local"
        assert selector["generation"]["paidCalls"] == []
        _, text = client.get("/metrics")
        assert metric(text, "dalleserver_budget_exhausted", outcome="fallback") == 1


def metric(text, family, **labels):
    for fam in text_string_to_metric_families(text.decode()):
        if fam.name == family:
            return sum(s.value for s in fam.samples
                       if all(s.labels.get(k) == v for k, v in labels.items()))
    raise KeyError(family)


def test_usage_reaches_the_metadata_and_the_metrics(tmp_path, api):
    api.script("chat", od.ok_chat("a wide landscape, enhanced"))
    with paid_server(tmp_path, api, "$10/day", TB_DALLE_NO_ENHANCE="0") as (client, app):
        _, before = client.get("/metrics")
        assert metric(before, "dalleserver_openai_paid_calls", endpoint="images") == 0
        assert metric(before, "dalleserver_budget_remaining", unit="dollars") == 10
        assert trigger(client, ADDRESSES[0])[0].status == 202
        assert finish(app.runtime, ADDRESSES[:1])[0]["error"] == ""
        _, text = client.get("/metrics")
    image_request = api.requests_to("images")[0]["json"]
    assert image_request["size"] == "1536x1024"  # the enhanced prompt is a landscape
    selector = json.loads((tmp_path / "data/output" / SERIES / "selector" /
                           f"{ADDRESSES[0]}.json").read_text())
    chat, image = selector["generation"]["paidCalls"]
    assert chat["endpoint"] == "chat" and chat["model"] == "gpt-5.5"
    assert chat["usage"] == {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
    assert (image["model"], image["quality"], image["size"]) == ("gpt-image-2", "high",
                                                                 "1536x1024")
    assert image["usage"]["output_tokens"] == od.OUTPUT_TOKENS["high"]["1536x1024"]
    prices = PriceTable()
    chat_cost = (42 * 5.0 + 17 * 30.0) / 1e6
    assert chat["estimatedCost"] == pytest.approx(chat_cost)
    assert image["estimatedCost"] == prices.image("gpt-image-2", "high", "1536x1024")
    assert selector["generation"]["pricesAsOf"] == prices.as_of

    assert metric(text, "dalleserver_openai_paid_calls", endpoint="images", model="gpt-image-2",
                  quality="high", size="1536x1024") == 1
    assert metric(text, "dalleserver_openai_usage_tokens", endpoint="chat", kind="input") == 42
    assert metric(text, "dalleserver_openai_usage_tokens", endpoint="images",
                  kind="output") == image["usage"]["output_tokens"]
    spend = metric(text, "dalleserver_openai_estimated_spend_dollars")
    assert spend == pytest.approx(0.165 + chat_cost)
    assert metric(text, "dalleserver_budget_limit", unit="dollars") == 10
    assert metric(text, "dalleserver_budget_remaining", unit="dollars") == pytest.approx(
        10 - spend)


def test_runs_nobody_admitted_are_counted_never_refused(tmp_path, api):
    """The generate command (and anything that queues without a trigger) pays as it goes."""
    from dalleserver.config import load_config
    from dalleserver.runtime import build_runtime

    config = load_config({"data_dir": str(tmp_path / "data")}, {
        "HOME": str(tmp_path), "OPENAI_API_KEY": "sk-test-" + "c" * 40,
        "OPENAI_BASE_URL": api.base_url, "TB_DALLE_NO_ENHANCE": "1",
        "TB_DALLE_BUDGET": "1/day"}, cwd=tmp_path)
    runtime = build_runtime(config, workers=1, budget_clock=lambda: NOON)
    runtime.jobs.start()
    try:
        for address in ADDRESSES[:2]:
            runtime.jobs.submit(SERIES, address)
        assert all(s["error"] == "" for s in finish(runtime, ADDRESSES[:2]))
    finally:
        runtime.jobs.stop(1)
    assert api.calls("images") == 2 and runtime.spending.budget.spent() == 2
