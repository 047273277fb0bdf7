"""h11, a strict HTTP/1.1 implementation written by others, reads the server's raw answers:
GET and HEAD, 304, 206, 416, errors (the application's and the engine's own refusals),
Server-Sent Events, 100-continue and pipelined requests. Any framing violation (a length
that lies, a body on HEAD or 304, a bad header) is an h11 error and fails the test."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import h11
import pytest

from tests.support.backends import GatedBackend
from tests.support.server import running_server
from tests.web.test_dalle import A, wait_done

pytestmark = pytest.mark.audit


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    informational: list[int]


def read_answer(conn: h11.Connection, sock: socket.socket) -> Answer:
    """Events until the end of one message; h11 raises on any framing violation."""
    status, headers, body, informational = 0, {}, b"", []
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode().lower(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return Answer(status, headers, body, informational)
        elif isinstance(event, h11.ConnectionClosed):
            raise AssertionError("closed before the end of the answer")


def request(method: str, target: str, *extra: tuple[str, str]) -> h11.Request:
    return h11.Request(method=method, target=target,
                       headers=[("Host", "audit"), *extra])


def exchange(port: int, *requests: h11.Request, body: bytes = b"") -> list[Answer]:
    """Send every request at once (pipelined), then read each answer with h11."""
    wire = b""
    for req in requests:  # each request's bytes from a throwaway client of its own
        writer = h11.Connection(h11.CLIENT)
        wire += writer.send(req) + (writer.send(h11.Data(data=body)) if body else b"") + (
            writer.send(h11.EndOfMessage()))
    conn = h11.Connection(h11.CLIENT)
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(wire)
        for req in requests:
            conn.send(req)  # the state h11 needs to frame the answer (HEAD, say)
            if body:
                conn.send(h11.Data(data=body))
            conn.send(h11.EndOfMessage())
            answers.append(read_answer(conn, sock))
            if conn.our_state is h11.MUST_CLOSE:
                break
            conn.start_next_cycle()
    return answers


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("framing"), backend=GatedBackend()) as (
            client, app):
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(client, f"/dalle/empty/{A}")
        etag = client.get(f"/dalle/empty/{A}")[0].getheader("ETag")
        yield client.port, etag


PNG = f"/dalle/empty/{A}"


def test_get_head_and_conditional_answers_are_framed(site):
    port, etag = site
    get, head, not_modified, part, past, whole = exchange(
        port, request("GET", PNG), request("HEAD", PNG),
        request("GET", PNG, ("If-None-Match", etag)),
        request("GET", PNG, ("Range", "bytes=0-99")),
        request("GET", PNG, ("Range", "bytes=999999999-")),
        request("GET", PNG, ("Range", "items=0-1")))
    assert get.status == 200 and get.body.startswith(b"\x89PNG")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(get.body))
    assert not_modified.status == 304 and not_modified.body == b""
    assert part.status == 206 and part.body == get.body[:100]
    assert past.status == 416 and "content-type" not in past.headers
    assert whole.status == 200 and whole.body == get.body


def test_errors_and_operational_answers_are_framed(site):
    port, _ = site
    answers = exchange(port, request("GET", "/nowhere"), request("PUT", "/metrics"),
                       request("GET", "/dalle/nope/0x" + "1" * 40), request("GET", "/series"),
                       request("HEAD", "/health"), request("GET", "/metrics"),
                       request("GET", "/errors"), request("GET", "/readyz"),
                       request("OPTIONS", "/readyz"), request("GET", "/"))
    assert [a.status for a in answers[:8]] == [404, 405, 400, 200, 200, 200, 200, 200]
    assert answers[4].body == b"" and answers[4].headers["content-length"] != "0"  # HEAD
    assert len(answers) == 10 and answers[9].body.startswith(b"dalleserver")


def test_the_engines_own_refusals_are_framed(site):
    port, _ = site
    for raw, status in ((b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n", 400),
                        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
                        (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
                        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
                        (b"GET / HTTP/1.1\r\n\r\n", 400)):
        conn = h11.Connection(h11.CLIENT)
        conn.send(request("GET", "/"))
        conn.send(h11.EndOfMessage())
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            answer = read_answer(conn, sock)
        assert answer.status == status and answer.headers["connection"] == "close"
        assert answer.headers["x-request-id"] and answer.headers["date"]


def test_events_and_continue_are_framed(site):
    port, _ = site
    [events] = exchange(port, request("GET", f"{PNG}/events"))
    assert events.status == 200 and b"event: progress" in events.body
    assert events.headers["cache-control"] == "no-store"
    [cleared] = exchange(port, h11.Request(method="POST", target="/errors?clear=1", headers=[
        ("Host", "localhost"), ("Expect", "100-continue"), ("Content-Length", "2")]), body=b"{}")
    assert cleared.status == 200


def test_a_long_pipeline_is_answered_in_order(site):
    port, _ = site
    targets = [f"/livez?n={i}" for i in range(100)] + [PNG, "/series"] * 5
    answers = exchange(port, *(request("GET", t) for t in targets))
    assert len(answers) == len(targets)
    assert all(a.status == 200 for a in answers)
