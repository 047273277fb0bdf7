"""Webhooks through a running server: ?callback= on a trigger, the final snapshot POSTed to
a receiver on loopback once, signed; hosts off the allow-list refused; a stuck receiver
never holds up generation."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import quote

import pytest
from standardwebhooks import Webhook

from tests.support.backends import GatedBackend
from tests.support.receiver import Receiver
from tests.support.server import running_server, wait_done

SERIES = "empty"
A = "0x" + "ab" * 20
B = "0x" + "bc" * 20
SECRET = "whsec_" + base64.b64encode(b"a webhook secret, 32 bytes long").decode()


def _env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {"TB_DALLE_WEBHOOK_HOSTS": receiver.host, "TB_DALLE_WEBHOOK_SECRET": SECRET,
            **extra}


def _settled(app, timeout: float = 20) -> None:
    """Wait until no webhook is waiting for a run or for its next attempt."""
    webhooks = app.runtime.webhooks
    deadline = time.monotonic() + timeout
    while webhooks.callbacks.waiting or webhooks.dispatcher.pending:
        assert time.monotonic() < deadline, "webhooks never settled"
        time.sleep(0.01)


def _delivered(app) -> float:
    return app.instruments.webhook_deliveries.value(outcome="delivered")


def test_the_final_snapshot_is_posted_once_and_signed(tmp_path):
    backend = GatedBackend(open_gate=False)
    with Receiver() as receiver, running_server(tmp_path, backend=backend,
                                                env=_env(receiver)) as (client, app):
        callback = receiver.url("/hook?run=1")
        path = f"/dalle/{SERIES}/{A}?generate=1&callback={quote(callback, safe='')}"
        response, doc = client.json("GET", path)
        assert response.status == 202, doc
        client.json("GET", path)  # the same callback again, joining the run: one webhook
        backend.gate.set()
        wait_done(app.runtime, (SERIES, A))
        (received,) = receiver.wait_for(1)
        _settled(app)
        assert len(receiver.received) == 1 and _delivered(app) == 1
    assert received.path == "/hook?run=1"
    assert received.headers["Content-Type"] == "application/json"
    event = Webhook(SECRET).verify(received.body, received.headers)
    assert event["type"] == "generation.completed" and event["timestamp"].endswith("Z")
    data = event["data"]
    assert data["done"] and data["address"] == A and data["series"] == SERIES
    assert not data["error"] and data["percent"] == 100


def test_a_cache_hit_and_a_failure_are_posted_too(tmp_path):
    with Receiver() as receiver, running_server(tmp_path, backend=GatedBackend(),
                                                env=_env(receiver)) as (client, app):
        client.get(f"/dalle/{SERIES}/{A}?generate=1")
        wait_done(app.runtime, (SERIES, A))
        response, _ = client.json("GET", f"/dalle/{SERIES}/{A}?generate=1"
                                         f"&callback={receiver.url()}")
        assert response.status == 200
        (received,) = receiver.wait_for(1)
        event = Webhook(SECRET).verify(received.body, received.headers)
        assert event["type"] == "generation.completed" and event["data"]["cacheHit"]
    backend = GatedBackend(fail="the renderer broke")
    with Receiver() as receiver, running_server(tmp_path / "2", backend=backend,
                                                env=_env(receiver)) as (client, app):
        client.get(f"/dalle/{SERIES}/{B}?generate=1&callback={receiver.url()}")
        (received,) = receiver.wait_for(1)
        event = json.loads(received.body)
        assert event["type"] == "generation.failed"
        assert "the renderer broke" in event["data"]["error"]


def test_callbacks_outside_the_allow_list_are_refused_and_never_sent(tmp_path):
    with Receiver() as receiver, running_server(tmp_path, backend=GatedBackend(),
                                                env=_env(receiver)) as (client, app):
        other_port = f"http://127.0.0.1:{receiver.port + 1}/hook"
        by_name = f"http://localhost:{receiver.port}/hook"
        for url in (other_port, by_name, f"ftp://{receiver.host}/",
                    f"http://me:pw@{receiver.host}/", "not a url"):
            response, doc = client.json(
                "GET", f"/dalle/{SERIES}/{A}?generate=1&callback={quote(url, safe='')}")
            assert response.status == 400, url
            assert doc["error"]["code"] == "INVALID_REQUEST"
            assert doc["error"]["message"].startswith("callback: ")
            assert doc["error"]["details"]["parameter"] == "callback"
        assert app.board.get((SERIES, A)) is None  # refused before anything started
        response, doc = client.json("GET", f"/dalle/{SERIES}/{A}?callback={receiver.url()}")
        assert response.status == 400 and "?generate=1" in doc["error"]["message"]
        client.get(f"/dalle/{SERIES}/{B}?generate=1&callback={receiver.url('/allowed')}")
        receiver.wait_for(1)
        _settled(app)
        assert [r.path for r in receiver.received] == ["/allowed"]


def test_a_server_without_webhook_hosts_refuses_callbacks(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        url = "http://127.0.0.1:9/hook"
        response, doc = client.json("GET", f"/dalle/{SERIES}/{A}?generate=1&callback={url}")
        assert response.status == 400 and "TB_DALLE_WEBHOOK_HOSTS" in doc["error"]["message"]
        assert app.runtime.webhooks is None


def test_a_refused_trigger_takes_its_callback_back(tmp_path):
    with Receiver() as receiver, running_server(
            tmp_path, backend=GatedBackend(),
            env=_env(receiver, TB_DALLE_RATE_LIMIT="1")) as (client, app):
        client.get(f"/dalle/{SERIES}/{A}?generate=1")
        response, _ = client.json("GET", f"/dalle/{SERIES}/{B}?generate=1"
                                         f"&callback={receiver.url()}")
        assert response.status == 429
        assert app.runtime.webhooks.callbacks.waiting == 0


def test_a_stuck_receiver_never_holds_up_generation(tmp_path):
    with Receiver() as receiver, running_server(tmp_path, backend=GatedBackend(),
                                                env=_env(receiver)) as (client, app):
        receiver.gate.clear()  # the receiver takes the POST and does not answer
        client.get(f"/dalle/{SERIES}/{A}?generate=1&callback={receiver.url()}")
        deadline = time.monotonic() + 20
        while not receiver.holding:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        response, _ = client.json("GET", f"/dalle/{SERIES}/{B}?generate=1")
        assert response.status == 202
        wait_done(app.runtime, (SERIES, B))  # made while the webhook hangs
        assert receiver.holding == 1 and app.runtime.webhooks.dispatcher.pending == 1
        receiver.gate.set()
        _settled(app)
        assert _delivered(app) == 1


@pytest.mark.parametrize("outcome", ["delivered", "gone", "expired", "dropped", "abandoned"])
def test_delivery_outcomes_are_metrics_from_zero(tmp_path, outcome):
    with running_server(tmp_path) as (client, _):
        metrics = client.get("/metrics")[1].decode()
    assert f'dalleserver_webhook_deliveries_total{{outcome="{outcome}"}} 0' in metrics
