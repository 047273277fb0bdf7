"""/dalle/<series>/<address>: every row of the state table, errors, files and progress."""

import http.client
import json
import os
import threading
import time

import pytest

from dalleserver.imaging.thumbnails import THUMBNAIL
from tests.support.backends import GatedBackend
from tests.support.server import running_server
from tests.support.server import wait_done as wait_run_done

A = "0x" + "ab" * 20
B = "0x" + "bc" * 20


def wait_done(client, path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response, body = client.get(path)
        if response.getheader("Content-Type") == "image/png":
            # the PNG appears a moment before its run shows done: wait for the run too
            _, _, series, address = path.split("/")[:4]
            board = client.server.application.board
            while board.get((series.lower(), address.lower())) is not None:
                assert time.monotonic() < deadline, "the run never finished"
                time.sleep(0.01)
            return None
        doc = json.loads(body)
        if doc["data"].get("done"):
            return doc["data"]
        time.sleep(0.02)
    raise AssertionError("not done")


@pytest.fixture
def gated(tmp_path):
    backend = GatedBackend()
    with running_server(tmp_path, backend=backend, flags={"workers": "2"}) as (client, app):
        yield client, app, backend


def test_validation_errors(gated):
    client, _, _ = gated
    cases = [
        ("/dalle/nope/" + A, 400, "INVALID_SERIES"),
        ("/dalle/empty/0x1234", 400, "INVALID_ADDRESS"),
        ("/dalle/empty/0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", 400, "INVALID_ADDRESS"),
        ("/dalle/empty/", 400, "MISSING_PARAMETER"),
        ("/dalle//" + A, 400, "MISSING_PARAMETER"),
        ("/dalle/empty", 400, "MISSING_PARAMETER"),
        ("/dalle", 400, "MISSING_PARAMETER"),
        (f"/dalle/empty/{A}?generate=maybe", 400, "INVALID_REQUEST"),
    ]
    for path, status, code in cases:
        response, doc = client.json("GET", path)
        assert (response.status, doc["error"]["code"]) == (status, code), path


def test_state_table(gated):
    client, app, backend = gated
    path = f"/dalle/Empty/{A.upper().replace('0X', '0x')}"
    # missing, no run known: plain GET answers {} and starts nothing
    response, doc = client.json("GET", path)
    assert response.status == 200 and doc["data"] == {}
    assert app.board.snapshot(("empty", A)) is None
    # remove when missing
    response, doc = client.json("GET", path + "?remove=1")
    assert doc["data"]["removed"] is False
    # ?generate=1 queues: 202 with progress
    backend.gate.clear()
    response, doc = client.json("GET", path + "?generate=1")
    assert response.status == 202 and doc["data"]["series"] == "empty"
    assert doc["data"]["address"] == A and not doc["data"]["done"]
    # missing, running: plain and generate both answer the same run, 200
    response, doc = client.json("GET", path)
    assert response.status == 200 and doc["data"]["done"] is False
    response, doc = client.json("GET", path + "?generate=1")
    assert response.status == 200 and not doc["data"]["done"]
    backend.gate.set()
    wait_done(client, path)
    assert backend.renders == 1
    # PNG exists: plain GET serves it
    response, body = client.get(path)
    assert response.status == 200 and response.getheader("Content-Type") == "image/png"
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert response.getheader("ETag") and response.getheader("Last-Modified")
    assert "max-age" in response.getheader("Cache-Control")
    # PNG exists + generate: cache hit, nothing regenerated
    response, doc = client.json("GET", path + "?generate=1")
    assert response.status == 200 and doc["data"]["cacheHit"] and doc["data"]["done"]
    assert backend.renders == 1
    # PNG exists + remove (loopback, no token configured)
    response, doc = client.json("GET", path + "?remove=1")
    assert doc["data"]["removed"] is True
    response, doc = client.json("GET", path)
    assert doc["data"] == {}
    # regenerate after removal
    response, doc = client.json("GET", path + "?generate=1")
    assert response.status == 202
    wait_done(client, path)
    assert backend.renders == 2


def test_failed_run_is_reported_then_retried(gated):
    client, _, backend = gated
    backend.fail = "content policy: the prompt was refused"
    path = f"/dalle/empty/{B}"
    assert client.json("GET", path + "?generate=1")[0].status == 202
    data = wait_done(client, path)
    assert data["error"].endswith("the prompt was refused") and data["done"]
    response, doc = client.json("GET", path)  # plain GET: 200 with the error, still there
    assert response.status == 200 and doc["data"]["error"]
    backend.fail = None
    response, doc = client.json("GET", path + "?generate=1")  # starts a new run
    assert response.status == 202
    wait_done(client, path)


def test_conditional_and_range_requests(gated):
    client, _, _ = gated
    path = f"/dalle/empty/{A}"
    client.json("GET", path + "?generate=1")
    wait_done(client, path)
    response, full = client.get(path)
    etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
    assert client.get(path, headers={"If-None-Match": etag})[0].status == 304
    assert client.get(path, headers={"If-Modified-Since": modified})[0].status == 304
    response, part = client.get(path, headers={"Range": "bytes=0-99"})
    assert response.status == 206 and part == full[:100]
    assert response.getheader("Content-Range") == f"bytes 0-99/{len(full)}"
    response, part = client.get(path, headers={"Range": "bytes=-10"})
    assert part == full[-10:]
    response, _ = client.get(path, headers={"Range": f"bytes={len(full) + 5}-"})
    assert response.status == 416
    head, body = client.request("HEAD", path)
    assert head.status == 200 and body == b"" and int(head.getheader("Content-Length")) == len(full)


def test_hundred_concurrent_triggers_make_one_generation(gated):
    client, _, backend = gated
    backend.gate.clear()
    statuses = []
    barrier = threading.Barrier(100)

    def trigger():
        barrier.wait()
        response, _ = client.json("GET", f"/dalle/empty/{A}?generate=1")
        statuses.append(response.status)

    threads = [threading.Thread(target=trigger) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(202) == 1 and statuses.count(200) == 99
    backend.gate.set()
    wait_done(client, f"/dalle/empty/{A}")
    assert backend.renders == 1


def test_queue_full_is_503_with_retry_after(tmp_path):
    backend = GatedBackend(open_gate=False)
    flags = {"workers": "1", "queue_size": "1"}
    with running_server(tmp_path, backend=backend, flags=flags) as (client, _):
        assert client.json("GET", f"/dalle/empty/{A}?generate=1")[0].status == 202
        assert backend.started.wait(10)
        assert client.json("GET", f"/dalle/empty/{B}?generate=1")[0].status == 202
        response, doc = client.json("GET", "/dalle/empty/0x" + "cd" * 20 + "?generate=1")
        assert response.status == 503 and doc["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert int(response.getheader("Retry-After")) > 0
        backend.gate.set()


def test_rate_limit_counts_only_new_generations(tmp_path):
    backend = GatedBackend(open_gate=False)
    env = {"TB_DALLE_RATE_LIMIT": "2"}
    with running_server(tmp_path, backend=backend, env=env) as (client, _):
        assert client.json("GET", f"/dalle/empty/{A}?generate=1")[0].status == 202
        for _ in range(5):  # polling the same run is free
            assert client.json("GET", f"/dalle/empty/{A}?generate=1")[0].status == 200
        assert client.json("GET", f"/dalle/empty/{B}?generate=1")[0].status == 202
        response, doc = client.json("GET", "/dalle/empty/0x" + "cd" * 20 + "?generate=1")
        assert response.status == 429 and doc["error"]["code"] == "RATE_LIMITED"
        assert int(response.getheader("Retry-After")) >= 1
        backend.gate.set()
        _, body = client.get("/metrics")
        assert "dalleserver_rate_limited_total 1" in body.decode()


def test_admin_token_guards_destructive_requests(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(),
                        flags={"admin_token": "s3cret"}) as (client, _):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        response, doc = client.json("GET", path + "?remove=1")
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED"
        assert response.getheader("WWW-Authenticate").startswith("Bearer")
        response, _ = client.json("GET", path + "?remove=1",
                                  headers={"Authorization": "Bearer wrong"})
        assert response.status == 401
        assert client.get(path)[0].getheader("Content-Type") == "image/png"  # unchanged
        response, doc = client.json("GET", path + "?remove=1",
                                    headers={"Authorization": "Bearer s3cret"})
        assert response.status == 200 and doc["data"]["removed"]
        response, _ = client.json("POST", "/errors?clear=1")
        assert response.status == 401


def test_non_loopback_clients_need_a_token(tmp_path):
    env = {"TB_DALLE_TRUSTED_PROXIES": "127.0.0.1"}
    with running_server(tmp_path, backend=GatedBackend(), env=env) as (client, _):
        headers = {"X-Forwarded-For": "203.0.113.9"}  # documentation range, never contacted
        response, _ = client.json("GET", f"/dalle/empty/{A}?remove=1", headers=headers)
        assert response.status == 401
        response, _ = client.json("GET", f"/dalle/empty/{A}?remove=1")
        assert response.status == 200


def test_file_traversal_never_escapes_output(tmp_path):
    secret = tmp_path / "data" / "secret.txt"
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        secret.write_text("top secret")
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(client, f"/dalle/empty/{A}")
        good, body = client.get(f"/files/empty/terse/{A}.txt")
        assert good.status == 200 and body.decode().strip()
        assert good.getheader("Content-Type").startswith("text/plain")
        outside = app.data_dir.output / "empty" / "link"
        os.symlink(secret, outside)
        os.symlink(tmp_path, app.data_dir.output / "dirlink")
        attacks = [
            "/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/empty/..%2f..%2fsecret.txt",
            "/files/..%5csecret.txt", "/files/empty%2fterse%2f" + A + ".txt",
            "/files/%00", "/files/empty/terse/%00.txt", "/files//etc/passwd",
            "/files/%2fetc%2fpasswd", "/files/empty/link", "/files/dirlink/data/secret.txt",
            "/files/empty", "/files/empty/", "/files/", "/files/.%2e/secret.txt",
            "/files/empty/./terse/" + A + ".txt", "/files/%c0%ae%c0%ae/secret.txt",
        ]
        for attack in attacks:
            conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
            conn.putrequest("GET", attack, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            conn.close()
            assert response.status == 404, attack
            assert b"top secret" not in body, attack


def test_server_sent_events_end_with_the_terminal_snapshot(gated):
    client, _, backend = gated
    backend.gate.clear()
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    threading.Timer(0.6, backend.gate.set).start()
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=30)
    conn.request("GET", f"/dalle/empty/{A}/events")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in response.read().decode().splitlines()
              if line.startswith("data: ")]
    conn.close()
    assert len(events) >= 2
    assert events[-1]["done"] and events[-1]["percent"] == 100
    assert not events[0]["done"]
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents)


def test_events_for_an_unknown_key_end_at_once(gated):
    client, _, _ = gated
    response, body = client.get(f"/dalle/empty/{B}/events")
    assert response.status == 200 and body.count(b"event: progress") == 1


def test_preview_page_lists_images(gated):
    client, _, _ = gated
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    wait_done(client, f"/dalle/empty/{A}")
    response, body = client.get("/preview")
    page = body.decode()
    assert response.status == 200 and '<h3 class="series">empty</h3>' in page
    from dalleserver.address import to_checksum_address
    assert to_checksum_address(A) in page
    assert f'src="/thumbs/empty/{A}?v=' in page
    assert client.get("/preview?page=99")[0].status == 404
    assert client.get("/preview?size=0")[0].status == 400
    for asset, kind in (("preview.css", "text/css"), ("preview.js", "text/javascript")):
        response, body = client.get(f"/preview/assets/{asset}")
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
    assert client.get("/preview/assets/../app.py")[0].status == 404


def test_thumbnails_are_made_once_and_cached(gated):
    client, app, _ = gated
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    wait_done(client, f"/dalle/empty/{A}")
    cached = app.runtime.variants.path(("empty", A), THUMBNAIL)
    first = cached.stat().st_mtime_ns  # made with the picture, before anyone asked
    response, body = client.get(f"/thumbs/empty/{A}")
    assert response.status == 200 and response.getheader("Content-Type") == "image/jpeg"
    assert cached.stat().st_mtime_ns == first
    again, body2 = client.get(f"/thumbs/empty/{A}")
    assert body2 == body and cached.stat().st_mtime_ns == first
    assert client.get(f"/thumbs/empty/{B}")[0].status == 404
    response, body = client.get(f"/preview/card/empty/{A}")
    assert response.status == 200 and b'class="card"' in body


def test_gallery_leaves_out_hidden_series(gated):
    client, app, _ = gated
    client.json("GET", f"/dalle/nocturne/{A}?generate=1")
    wait_run_done(app.runtime, ("nocturne", A))  # the picture exists before the run ends
    assert "nocturne" in client.get("/preview")[1].decode()
    (app.data_dir.series_dir).mkdir(parents=True, exist_ok=True)
    (app.data_dir.series_dir / "nocturne.json").write_text('{"deleted": true}')
    app.catalog.series.refresh(force=True)
    page = client.get("/preview")[1].decode()
    assert f'data-address="{A}"' not in page


def test_png_deleted_by_hand_is_generated_again(gated):
    client, app, backend = gated
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    # the PNG appears a moment before the run shows done: wait for the run itself
    wait_run_done(app.runtime, ("empty", A))
    app.data_dir.annotated("empty", A).unlink()  # not through ?remove=1: the run is retained
    response, doc = client.json("GET", f"/dalle/empty/{A}?generate=1")
    assert response.status == 202
    wait_done(client, f"/dalle/empty/{A}")
    assert backend.renders == 2


def test_a_failed_run_seen_done_is_retried_at_once(tmp_path):
    """The client sees done with an error and asks again straight away: a new run (202),
    every time, not the old snapshot (the manager releases the key before done shows)."""
    backend = GatedBackend(fail="the provider said no")
    with running_server(tmp_path, backend=backend, env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, _):
        path = f"/dalle/empty/{A}"
        statuses = []
        for _ in range(15):
            response, doc = client.json("GET", path + "?generate=1")
            statuses.append(response.status)
            while not doc["data"].get("done"):
                response, doc = client.json("GET", path)
            assert doc["data"]["error"] == "generation failed: the provider said no"
    assert statuses == [202] * 15
