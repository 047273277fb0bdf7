"""Batches through a running server: POST /v1/batches, GET with counts and pages, DELETE;
the admin rule, bad bodies, the size bound, pictures already made skipped unless force,
interactive triggers first, a restart resuming a batch, and the webhook at the end."""

from __future__ import annotations

import base64
import json
import time
from contextlib import contextmanager

from tests.support.backends import GatedBackend
from tests.support.receiver import Receiver
from tests.support.server import running_server, wait_done

TOKEN = "batch-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SERIES = "empty"
SECRET = "whsec_" + base64.b64encode(b"a webhook secret, 32 bytes long").decode()


def _addresses(count: int, start: int = 1) -> list[str]:
    return [f"0x{n:040x}" for n in range(start, start + count)]


def _post(client, body, headers=ADMIN):
    return client.json("POST", "/v1/batches", headers=headers, body=json.dumps(body).encode())


def _create(client, addresses, **extra) -> str:
    response, doc = _post(client, {"series": SERIES, "addresses": addresses, **extra})
    assert response.status == 202, doc
    assert response.getheader("Location") == doc["data"]["location"]
    return doc["data"]["location"]


def _batch(client, location, query=""):
    response, doc = client.json("GET", location + query)
    assert response.status == 200, doc
    return doc["data"]


def _until(client, location, states=("completed", "cancelled"), timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        batch = _batch(client, location)
        if batch["state"] in states:
            return batch
        assert time.monotonic() < deadline, f"batch still {batch['state']}: {batch['counts']}"
        time.sleep(0.02)


class OrderedBackend(GatedBackend):
    """A gated backend that notes the order in which it drew the addresses."""

    def __init__(self, open_gate=True):
        super().__init__(open_gate)
        self.order: list[str] = []

    def render(self, dress, progress):
        self.order.append(dress.original.lower())
        return super().render(dress, progress)


def _server(tmp_path, backend=None, workers="2", **env):
    return running_server(tmp_path, backend=backend, flags={"workers": workers},
                          env={"TB_DALLE_ADMIN_TOKEN": TOKEN, **env})


def test_a_batch_is_made_and_paged(tmp_path):
    with _server(tmp_path) as (client, _app):
        addresses = _addresses(5)
        location = _create(client, addresses + [addresses[0].upper().replace("0X", "0x")])
        batch = _until(client, location)
        assert batch["state"] == "completed" and batch["total"] == 5
        assert batch["counts"]["completed"] == 5 and batch["endedAt"]
        first = _batch(client, location, "?limit=2")
        assert [i["index"] for i in first["items"]] == [0, 1]
        assert first["items"][0] == {"index": 0, "address": addresses[0],
                                     "state": "completed"}
        response, _ = client.json("GET", location + "?limit=2&cursor=2")
        assert response.getheader("Next-Cursor") == "4"
        last = _batch(client, location, "?limit=2&cursor=4")
        assert [i["address"] for i in last["items"]] == [addresses[4]]
        assert last["nextCursor"] is None
        response, doc = client.json("GET", location + "?limit=0")
        assert response.status == 400 and doc["error"]["details"]["field"] == "limit"
        response, doc = client.json("GET", "/v1/batches/nosuchbatch")
        assert response.status == 404


def test_creating_and_cancelling_take_the_admin_token(tmp_path):
    with _server(tmp_path) as (client, _app):
        body = {"series": SERIES, "addresses": _addresses(1)}
        response, _ = _post(client, body, headers={"Content-Type": "application/json"})
        assert response.status == 401
        location = _create(client, _addresses(1))
        response, _ = client.json("DELETE", location)
        assert response.status == 401


def test_bad_bodies_name_the_field(tmp_path):
    with _server(tmp_path, TB_DALLE_BATCH_MAX="3") as (client, _app):
        cases = [
            ({"series": SERIES}, "addresses"),
            ({"series": SERIES, "addresses": []}, "addresses"),
            ({"series": SERIES, "addresses": ["0x1", "nope"]}, "addresses[0]"),
            ({"series": SERIES, "addresses": _addresses(1), "colour": 1}, "colour"),
            ({"series": SERIES, "addresses": _addresses(1), "force": "yes"}, "force"),
            ({"series": SERIES, "addresses": _addresses(1), "callback": "http://x/"},
             "callback"),
        ]
        for body, field in cases:
            response, doc = _post(client, body)
            assert response.status == 400, body
            assert field in doc["error"]["message"], (field, doc)
        response, doc = _post(client, {"series": "no-such", "addresses": _addresses(1)})
        assert response.status == 400 and doc["error"]["code"] == "series_invalid"
        response, doc = _post(client, {"series": SERIES, "addresses": _addresses(4)})
        assert response.status == 413
        assert doc["error"]["details"] == {"field": "addresses", "max": 3}
        assert "/" + str(tmp_path).strip("/") not in json.dumps(doc)


def test_pictures_already_made_are_skipped_unless_force(tmp_path):
    backend = GatedBackend()
    with _server(tmp_path, backend) as (client, app):
        made, new = _addresses(2)
        app.runtime.jobs.submit(SERIES, made)
        wait_done(app.runtime, (SERIES, made))
        assert backend.renders == 1
        batch = _until(client, _create(client, [made, new]))
        assert batch["counts"]["skipped"] == 1 and batch["counts"]["completed"] == 1
        assert backend.renders == 2
        batch = _until(client, _create(client, [made, new], force=True))
        assert batch["counts"]["completed"] == 2 and batch["force"]
        assert backend.renders == 4


@contextmanager
def _held_batch(tmp_path, backend, count: int):
    """(client, app, batch location) of a one-worker server whose backend holds the
    batch's first item at its gate."""
    with _server(tmp_path, backend, workers="1") as (client, app):
        location = _create(client, _addresses(count))
        assert backend.started.wait(20)
        yield client, app, location


def test_cancelling_stops_what_has_not_started(tmp_path):
    backend = GatedBackend(open_gate=False)
    with _held_batch(tmp_path, backend, 10) as (client, _app, location):
        response, doc = client.json("DELETE", location, headers=ADMIN)
        assert response.status == 200 and doc["data"]["state"] == "cancelling"
        assert doc["data"]["counts"]["pending"] == 0
        backend.gate.set()
        batch = _until(client, location)
        assert batch["state"] == "cancelled"
        assert batch["counts"]["completed"] == 1 and batch["counts"]["cancelled"] == 9
        assert backend.renders == 1


def test_an_interactive_trigger_runs_before_the_rest_of_a_big_batch(tmp_path):
    backend = OrderedBackend(open_gate=False)
    with _held_batch(tmp_path, backend, 30) as (client, app, location):
        interactive = _addresses(1, start=1000)[0]
        response, _ = client.get(f"/dalle/{SERIES}/{interactive}?generate=1")
        assert response.status == 202
        backend.gate.set()
        wait_done(app.runtime, (SERIES, interactive))
        batch = _until(client, location)
        assert batch["counts"]["completed"] == 30
        # one batch item was running, one or two were queued: then the interactive one
        assert backend.order.index(interactive) <= 3, backend.order[:5]


def test_a_restart_resumes_a_batch(tmp_path):
    held = GatedBackend(open_gate=False)
    with _server(tmp_path, held, workers="1") as (client, _app):
        location = _create(client, _addresses(4))
        assert held.started.wait(20)
    held.gate.set()  # the render stopped at shutdown lets go of its thread
    with _server(tmp_path, GatedBackend()) as (client, _app):
        batch = _until(client, location)
        assert batch["state"] == "completed"
        assert batch["counts"]["completed"] + batch["counts"]["skipped"] == 4


def test_a_webhook_says_when_the_batch_ended(tmp_path):
    with Receiver() as receiver, _server(
            tmp_path, TB_DALLE_WEBHOOK_HOSTS=receiver.host,
            TB_DALLE_WEBHOOK_SECRET=SECRET) as (client, _app):
        location = _create(client, _addresses(2), callback=receiver.url())
        _until(client, location)
        [received] = receiver.wait_for(1)
        doc = json.loads(received.body)
        assert doc["type"] == "batch.ended"
        assert doc["data"]["counts"]["completed"] == 2
        assert "webhook-signature" in {k.lower() for k in received.headers}


def test_an_item_that_joined_a_run_making_less_is_made_whole(tmp_path):
    """A v1 request for the raw picture alone (no annotation) of an address holds its key;
    the batch item joins that run, and once it is over makes the annotated picture."""
    backend = GatedBackend(open_gate=False)
    with _server(tmp_path, backend=backend) as (client, app):
        address = _addresses(1, start=77)[0]
        response, doc = client.json(
            "POST", "/v1/images/generate", headers=ADMIN,
            body=json.dumps({"seed": address, "series": SERIES, "image": True}).encode())
        assert response.status == 202, doc
        assert backend.started.wait(10)
        location = _create(client, [address])
        backend.gate.set()
        batch = _until(client, location)
        assert batch["counts"]["completed"] == 1, batch
        assert app.data_dir.annotated(SERIES, address).is_file()
        assert backend.renders == 2  # the raw picture, then the whole one
