"""What web pages and apps need from /dalle (issue 16): Prefer: wait, Location, ready URLs,
RateLimit fields, a placeholder for <img>, cancel."""

import json
import threading
import time

import pytest
from PIL import Image

from dalleserver.imaging.placeholder import placeholder_png
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

A = ["0x" + f"{i:040x}" for i in range(1, 12)]
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"  # what a browser's <img> sends


@pytest.fixture
def held(tmp_path):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend, flags={"workers": "1"}) as (client, app):
        yield client, app, backend
        backend.gate.set()


def test_prefer_wait_answers_when_the_picture_is_done(held):
    client, app, backend = held
    threading.Timer(0.3, backend.gate.set).start()
    started = time.monotonic()
    response, doc = client.json("GET", f"/dalle/empty/{A[0]}?generate=1",
                                headers={"Prefer": "wait=20"})
    assert response.status == 200 and doc["data"]["done"] and not doc["data"]["error"]
    assert response.getheader("Preference-Applied") == "wait=20"
    assert time.monotonic() - started < 15  # answered at done, not after the 20 s
    assert doc["data"]["urls"]["image"].startswith(f"/dalle/empty/{A[0]}?v=")


def test_wait_times_out_with_202_and_the_progress_so_far(held):
    client, app, _ = held
    response, doc = client.json("GET", f"/dalle/empty/{A[1]}?generate=1&wait=1")
    assert response.status == 202 and not doc["data"]["done"]
    assert response.getheader("Location") == f"/dalle/empty/{A[1]}"
    assert response.getheader("Preference-Applied") == "wait=1"


def test_waiting_holds_no_http_thread(held):
    client, app, backend = held
    results = []

    def trigger(address):
        results.append(client.json("GET", f"/dalle/empty/{address}?generate=1&wait=30")[0]
                       .status)

    threads = [threading.Thread(target=trigger, args=(a,)) for a in A[2:8]]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while app.waiters.waiting < 6:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # six requests parked, yet the server answers at once on its one running worker
    response, doc = client.json("GET", "/readyz")
    assert response.status == 200
    assert client.server.pool.threads <= 2
    backend.gate.set()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200] * 6


def test_a_bad_wait_is_refused(held):
    client, _, _ = held
    response, doc = client.json("GET", f"/dalle/empty/{A[0]}?generate=1&wait=soon")
    assert response.status == 400 and "?wait=" in doc["error"]["message"]


def test_every_202_carries_location_and_rate_limit_fields(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(open_gate=False),
                        env={"TB_DALLE_RATE_LIMIT": "2"}) as (client, _):
        response, _ = client.json("GET", f"/dalle/empty/{A[0]}?generate=1")
        assert response.status == 202 and response.getheader("Location") == f"/dalle/empty/{A[0]}"
        assert response.getheader("RateLimit-Limit") == "2"
        assert response.getheader("RateLimit-Remaining") == "1"
        client.json("GET", f"/dalle/empty/{A[1]}?generate=1")
        response, doc = client.json("GET", f"/dalle/empty/{A[2]}?generate=1")
        assert response.status == 429 and response.getheader("Retry-After")
        assert response.getheader("RateLimit-Remaining") == "0"
        assert int(response.getheader("RateLimit-Reset")) >= 1


def test_an_img_gets_a_placeholder_until_the_picture_exists(held):
    client, app, backend = held
    path = f"/dalle/empty/{A[3]}"
    response, body = client.get(path, headers={"Accept": IMG_ACCEPT})
    assert response.status == 200 and response.getheader("Content-Type") == "image/png"
    assert response.getheader("Cache-Control") == "no-store"  # the browser asks again
    assert body == placeholder_png(A[3])
    assert Image.open(__import__("io").BytesIO(body)).size == (256, 256)
    assert placeholder_png(A[4]) != body  # each address its own
    # the same with ?fallback=placeholder; JSON clients keep getting JSON
    assert client.get(path + "?fallback=placeholder")[1] == body
    assert client.get(path)[0].getheader("Content-Type") == "application/json"
    assert client.get(path + "?fallback=other")[0].status == 400
    # an <img src="...?generate=1"> starts the run and shows the placeholder meanwhile
    response, body = client.get(path + "?generate=1", headers={"Accept": IMG_ACCEPT})
    assert response.getheader("Content-Type") == "image/png" and body == placeholder_png(A[3])
    backend.gate.set()
    wait_done(app.runtime, ("empty", A[3]))
    response, body = client.get(path, headers={"Accept": IMG_ACCEPT})
    assert body != placeholder_png(A[3]) and response.getheader("ETag")


def test_cancel_a_queued_and_a_running_generation(held):
    client, app, backend = held
    client.json("GET", f"/dalle/empty/{A[5]}?generate=1")
    assert backend.started.wait(10)
    for address in A[6:9]:
        client.json("GET", f"/dalle/empty/{address}?generate=1")
    assert client.json("GET", f"/dalle/empty/{A[8]}")[1]["data"]["queuePosition"] == 3
    response, doc = client.json("DELETE", f"/dalle/empty/{A[6]}/job")
    assert response.status == 200 and doc["data"]["state"] == "cancelled"
    assert doc["data"]["done"] and doc["data"]["error"] == "cancelled: by request"
    # the one behind moved up
    assert client.json("GET", f"/dalle/empty/{A[8]}")[1]["data"]["queuePosition"] == 2
    response, doc = client.json("DELETE", f"/dalle/empty/{A[5]}/job")  # running: held at the gate
    assert response.status == 202
    snap = wait_done(app.runtime, ("empty", A[5]))  # abandoned without waiting for the gate
    assert snap["state"] == "cancelled" and not backend.gate.is_set()
    assert client.json("DELETE", f"/dalle/empty/{A[6]}/job")[0].status == 404
    # a cancelled picture can be asked for again
    assert client.json("GET", f"/dalle/empty/{A[6]}?generate=1")[0].status == 202


def test_cancel_follows_the_admin_rule(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(open_gate=False),
                        env={"TB_DALLE_ADMIN_TOKEN": "s3cret"}) as (client, _):
        client.json("GET", f"/dalle/empty/{A[0]}?generate=1")
        assert client.json("DELETE", f"/dalle/empty/{A[0]}/job")[0].status == 401
        response, _ = client.json("DELETE", f"/dalle/empty/{A[0]}/job",
                                  headers={"Authorization": "Bearer s3cret"})
        assert response.status in (200, 202)


def test_queue_capacity_is_exported(tmp_path):
    with running_server(tmp_path) as (client, _):
        text = client.get("/metrics")[1].decode()
    assert "\ndalleserver_queue_capacity 64" in text


def test_snapshot_json_parses_with_urls(held):
    client, app, backend = held
    backend.gate.set()
    client.json("GET", f"/dalle/empty/{A[9]}?generate=1")
    wait_done(app.runtime, ("empty", A[9]))
    response, doc = client.json("GET", f"/dalle/empty/{A[9]}?generate=1")
    urls = doc["data"]["urls"]
    assert set(urls) >= {"image", "thumbnail", "annotated"}
    for url in (urls["image"], urls["thumbnail"], urls["annotated"]):
        assert client.get(url)[0].status == 200, url
    json.dumps(doc)


def test_a_versioned_picture_url_is_cached_for_long(held):
    client, app, backend = held
    backend.gate.set()
    _, doc = client.json("GET", f"/dalle/empty/{A[10]}?generate=1&wait=30")
    urls = doc["data"]["urls"]
    response, _ = client.get(urls["image"])
    assert "immutable" in response.getheader("Cache-Control")
    assert client.get(f"/dalle/empty/{A[10]}?v=stale")[0].getheader("Cache-Control") == \
        "public, max-age=60"
    response, body = client.get(urls["webp256"])
    assert response.getheader("Content-Type") == "image/webp" and body[:4] == b"RIFF"
