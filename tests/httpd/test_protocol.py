"""RFC 9110 / 9112 rules the engine enforces, each as an attacker or a strict checker would
probe it: head deadlines, per-client caps, lengths, Host, versions, methods, control bytes,
Connection tokens, ranges, lingering close and encoded slashes. Real sockets on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import socket

import pytest

from dalleserver.httpd import HTTPServer, Timeouts
from dalleserver.httpd.router import Match, Router
from tests.httpd.test_engine import ENGINES, TinyApp, port_of, raw, serving


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def header_of(reply: bytes, name: str) -> str | None:
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.lower() == name.lower():
            return value.strip()
    return None


def ask(server, data: bytes) -> bytes:
    return raw(port_of(server), data)


@pytest.mark.parametrize("engine", ENGINES)
def test_leading_blank_lines_run_on_the_head_deadline(engine):
    # idle keep-alive would wait 60 s; blank lines must not move the connection onto it
    timeouts = Timeouts(header=0.5, idle=60.0)
    with serving(engine, timeouts=timeouts) as (server, _):
        sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=1)
        closed = False
        for _ in range(60):  # 60 x 1 s at most; the head deadline is 0.5 s
            try:
                sock.sendall(b"\r\n")
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
            if closed:
                break
        sock.close()
    assert closed


@pytest.mark.parametrize("engine", ENGINES)
def test_one_client_cannot_take_every_slot(engine):
    with serving(engine, max_connections=10, max_per_client=2) as (server, _):
        held = [socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
                for _ in range(2)]
        for sock in held:
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        reply = ask(server, b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(reply) == 503 and b"from this address" in reply
        assert header_of(reply, "X-Request-ID") and header_of(reply, "Date")
        held.pop().close()
        for _ in range(200):  # the slot comes back once the server saw the close
            reply = ask(server, b"GET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if status_of(reply) == 200:
                break
        assert status_of(reply) == 200
        for sock in held:
            sock.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_exempt_peer_counts_only_in_all(engine):
    with serving(engine, max_per_client=1, cap_exempt=lambda peer: True) as (server, _):
        first = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
        first.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert first.recv(4096).startswith(b"HTTP/1.1 200 ")
        reply = ask(server, b"GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first.close()
    assert status_of(reply) == 200


@pytest.mark.parametrize(("name", "head", "status"), [
    ("unicode digit", b"Content-Length: \xb2", 400),
    ("5000 digits", b"Content-Length: " + b"9" * 5000, 400),
    ("sign", b"Content-Length: +5", 400),
    ("two lengths", b"Content-Length: 5\r\nContent-Length: 6", 400),
    ("same length twice", b"Content-Length: 5\r\nContent-Length: 5", 400),
    ("length and chunked", b"Content-Length: 5\r\nTransfer-Encoding: chunked", 400),
    ("chunked with junk", b"Transfer-Encoding: xchunked", 400),
    ("empty", b"Content-Length: ", 400),
    ("too large", b"Content-Length: 1048577", 413),
    ("no host", None, 400),
    ("two hosts", b"Host: b", 400),
    ("host with a space", b"Host: a b", 400),
    ("host with a slash", b"Host: a/b", 400),
    ("bare CR in a value", b"X-A: one\rtwo", 400),
    ("NUL in a value", b"X-A: one\x00two", 400),
    ("ESC in a value", b"X-A: \x1b[31m", 400),
    ("folded line", b"X-A: one\r\n two", 400),
    ("space before colon", b"X-A : one", 400),
])
def test_bad_heads_get_an_answer_not_a_reset(name, head, status):
    lines = [b"POST /echo HTTP/1.1"]
    if head is not None:
        lines.append(b"Host: a")
        lines.append(head)
    data = b"\r\n".join(lines) + b"\r\n\r\nhello"
    with serving("epoll") as (server, app):
        reply = ask(server, data)
    assert status_of(reply) == status, name
    assert header_of(reply, "X-Request-ID") and header_of(reply, "Date"), name
    assert app.recorded[-1][4] is True  # refused before the application saw it


@pytest.mark.parametrize(("line", "status"), [
    (b"GET /x HTTP/1.2", 200),  # a later 1.x is answered as 1.1
    (b"GET /x HTTP/2.0", 505),
    (b"GET /x HTTP/3.0", 505),
    (b"GET /x HTTP/1", 400),
    (b"GET /x HTTP/1.10", 400),
    (b"BREW /x HTTP/1.1", 501),
    (b"get /x HTTP/1.1", 501),  # methods are case-sensitive
    (b"GET /x\x1b[31m HTTP/1.1", 400),
    (b"GET /x\ty HTTP/1.1", 400),
    (b"GET http://[::1/x HTTP/1.1", 400),
    (b"GET http:///x HTTP/1.1", 400),
    (b"GET example.com:80 HTTP/1.1", 400),
    (b"GET http://a.example/x?y=1 HTTP/1.1", 200),
    (b"GET http://[::1]:8080/x HTTP/1.1", 200),
])
def test_request_lines(line, status):
    with serving("epoll") as (server, _):
        reply = ask(server, line + b"\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == status, line
    if status == 200:
        assert reply.endswith(b"hello /x")


def test_http_1_0_needs_no_host():
    with serving("epoll") as (server, _):
        reply = ask(server, b"GET /x HTTP/1.0\r\n\r\n")
    assert status_of(reply) == 200


@pytest.mark.parametrize(("connection", "kept"), [
    ("closed", True), ("close", False), ("keep-alive, close", False), ("Close ,x", False),
    ("upgrade", True),
])
def test_connection_is_a_token_list(connection, kept):
    with serving("epoll") as (server, _):
        conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
        conn.request("GET", "/x", headers={"Connection": connection})
        response = conn.getresponse()
        response.read()
        conn.close()
    assert response.getheader("Connection") == ("keep-alive" if kept else "close")


@pytest.fixture()
def ten_bytes(tmp_path):
    (tmp_path / "a.png").write_bytes(b"0123456789")
    with serving("epoll", TinyApp(tmp_path)) as (server, _):
        yield server


def get_file(server, headers: dict[str, str], method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
    conn.request(method, "/files/a.png", headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


@pytest.mark.parametrize(("range_header", "status", "body"), [
    ("bytes=2-4", 206, b"234"),
    ("bytes = 2 - 4", 206, b"234"),
    ("BYTES=-3", 206, b"789"),
    ("bytes=7-", 206, b"789"),
    ("bytes=0-", 200, b"0123456789"),
    ("bytes=" + "9" * 5000 + "-", 416, b""),
    ("bytes=2-" + "9" * 5000, 206, b"23456789"),
    ("bytes=-" + "9" * 5000, 200, b"0123456789"),
    ("bytes=10-", 416, b""),
    ("bytes=-0", 416, b""),
    ("items=0-5", 200, b"0123456789"),
    ("bytes=0-1,3-4", 200, b"0123456789"),
    ("bytes=5-2", 200, b"0123456789"),
    ("bytes=²-3", 200, b"0123456789"),
    ("bytes=x", 200, b"0123456789"),
])
def test_ranges(ten_bytes, range_header, status, body):
    response, data = get_file(ten_bytes, {"Range": range_header})
    assert (response.status, data) == (status, body), range_header
    if status == 416:
        assert response.getheader("Content-Type") is None
        assert response.getheader("Content-Range") == "bytes */10"


def test_head_with_range_answers_as_get_without_it(ten_bytes):
    response, data = get_file(ten_bytes, {"Range": "bytes=2-4"}, method="HEAD")
    assert (response.status, data) == (200, b"")
    assert response.getheader("Content-Length") == "10"
    assert response.getheader("Content-Range") is None


def test_not_modified_has_no_length_or_type(ten_bytes):
    response, _ = get_file(ten_bytes, {})
    etag = response.getheader("ETag")
    reply = ask(ten_bytes, b"GET /files/a.png HTTP/1.1\r\nHost: a\r\nIf-None-Match: "
                + etag.encode() + b"\r\nConnection: close\r\n\r\n")
    assert status_of(reply) == 304
    assert header_of(reply, "Content-Length") is None
    assert header_of(reply, "Content-Type") is None
    assert header_of(reply, "ETag") == etag


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and Content-Length body), read without waiting for a close."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    length = int(header_of(data, "Content-Length") or 0)
    while len(data.split(b"\r\n\r\n", 1)[1]) < length:
        data += sock.recv(65536)
    return data


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("oversized", [
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",  # 414
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999\r\n\r\n",  # 413
])
def test_a_refused_upload_ends_with_a_lingering_close(engine, oversized):
    """A client still sending after the refusal (its upload) must not be reset: a reset
    can destroy the answer in flight before the client reads it. The server stops
    writing and drops what keeps arriving, then closes cleanly."""
    with serving(engine) as (server, _):
        sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
        sock.sendall(oversized)
        reply = read_answer(sock)
        for _ in range(8):  # the rest of the upload, 512 KiB
            sock.sendall(b"x" * 65536)
        end = sock.recv(65536)  # a clean end of stream, not ECONNRESET
        sock.close()
    assert status_of(reply) in (413, 414) and header_of(reply, "Connection") == "close"
    assert end == b""


def test_an_encoded_slash_is_data_in_a_segment():
    router = Router()
    router.add("/dalle/{series}/{address}", ("GET",), lambda: None)
    router.add("/dalle/{series}/{address}/events", ("GET",), lambda: None, name="events")
    router.add("/files/{path:.*}", ("GET",), lambda: None, name="files")
    kind, _, params, _ = router.resolve("GET", "/dalle/empty%2F0xab")
    assert kind is Match.NONE
    kind, route, params, _ = router.resolve("GET", "/dalle/empty/0xab%2Fevents")
    assert kind is Match.FULL and route.name == "/dalle/{series}/{address}"
    assert params == {"series": "empty", "address": "0xab/events"}
    kind, route, params, _ = router.resolve("GET", "/dalle/%65mpty/0xab/events")
    assert (kind, route.name, params["series"]) == (Match.FULL, "events", "empty")
    kind, route, params, _ = router.resolve("GET", "/files/a%2Fb/c.png")
    assert (route.name, params) == ("files", {"path": "a%2Fb/c.png"})  # raw, for the view
    assert router.resolve("GET", "/files")[0] is Match.NONE
    assert router.resolve("GET", "/dalle/%ff/0xab")[0] is Match.NONE  # not UTF-8
    kind, _, _, allowed = router.resolve("POST", "/dalle/a/b")
    assert kind is Match.PARTIAL and allowed == ("GET", "HEAD")


def test_templates_take_whole_segments_only():
    with pytest.raises(ValueError):
        Router().add("/thumbs/{name}.png", ("GET",), lambda: None)


def test_the_server_takes_a_per_client_cap():
    server = HTTPServer(("127.0.0.1", 0), TinyApp(), max_per_client=3)
    try:
        assert server.max_per_client == 3
    finally:
        server.server_close()
        server.drain(1)
