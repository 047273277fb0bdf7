"""The gallery at scale: running generations as rows and the queue as a count, one shared
event stream for the page, the index updated by generation and removal (issue 19)."""

import http.client
import json

import pytest

from dalleserver.imaging.thumbnails import THUMBNAIL
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

A = ["0x" + f"{i:040x}" for i in range(1, 12)]


@pytest.fixture
def held(tmp_path):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend,
                        flags={"workers": "1"},
                        env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, app):
        yield client, app, backend
        backend.gate.set()


def test_preview_shows_running_rows_and_the_queue_as_a_count(held):
    client, app, backend = held
    for address in A[:8]:
        assert client.json("GET", f"/dalle/empty/{address}?generate=1")[0].status == 202
    assert backend.started.wait(10)
    page = client.get("/preview")[1].decode()
    assert page.count('class="run"') == 1  # the one running, not a row per queued job
    assert "7 waiting in the queue" in page


def test_one_event_stream_follows_every_generation(held):
    client, app, backend = held
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    conn.request("GET", "/preview/events")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    client.json("GET", f"/dalle/empty/{A[0]}?generate=1")
    client.json("GET", f"/dalle/empty/{A[1]}?generate=1")
    events = []
    done = set()
    while done != {A[0], A[1]}:
        line = response.fp.readline().decode()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            events.append((kind, data))
            # the first runs at the gate, the second waits in the queue: once the stream
            # has shown both, let them finish
            if ("queue", {"queued": 1}) in events and any(k == "progress" for k, _ in events):
                backend.gate.set()
            if kind == "progress" and data["done"]:
                done.add(data["address"])
    conn.close()
    progress = [data for kind, data in events if kind == "progress"]
    assert {p["address"] for p in progress} == {A[0], A[1]}
    assert any(p["done"] and p["address"] == A[0] for p in progress)
    assert ("queue", {"queued": 1}) in events


def test_new_pictures_show_at_once_and_removal_takes_the_thumbnail(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        assert "0 images" in client.get("/preview")[1].decode()
        client.json("GET", f"/dalle/empty/{A[2]}?generate=1")
        wait_done(app.runtime, ("empty", A[2]))
        page = client.get("/preview")[1].decode()
        assert ">1 image<" in page and f'data-address="{A[2]}"' in page  # "1 image"
        assert client.get(f"/thumbs/empty/{A[2]}")[0].status == 200
        thumb = app.runtime.variants.path(("empty", A[2]), THUMBNAIL)
        assert thumb.is_file()
        assert client.json("GET", f"/dalle/empty/{A[2]}?remove=1")[1]["data"]["removed"]
        assert not thumb.exists()
        assert "0 images" in client.get("/preview")[1].decode()
