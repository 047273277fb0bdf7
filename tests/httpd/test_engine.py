"""The HTTP engine on its own: a five-method application, real sockets on 127.0.0.1.

Nothing of dalleserver's application is imported here: if these pass, the engine works
whatever it serves.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from dalleserver.httpd import EngineHooks, HTTPServer, ProtocolError, Response
from dalleserver.httpd.files import NotFound, file_response, resolve_inside

ENGINES = ["epoll", "threads"]


class TinyApp:
    """Answers ``/hello``, echoes bodies at ``/echo``, fails at ``/boom``, serves files
    under ``/files/``; records every exchange."""

    def __init__(self, root=None) -> None:
        self.root = root
        self.recorded = []
        self.is_draining = False

    def handle(self, request):
        if request.path == "/boom":
            raise RuntimeError("a handler bug")
        if request.path == "/echo":
            return Response(200, request.body, "application/octet-stream",
                            {"X-Method": request.method})
        if request.path.startswith("/files/"):
            try:
                path = resolve_inside(self.root, request.raw_path[len("/files/"):])
                return file_response(request, path)
            except NotFound:
                return Response(404, b"no such file", "text/plain")
        return Response(200, b"hello " + request.path.encode(), "text/plain")

    def refuse(self, error, request_id):
        return Response(error.status, f"refused: {error.message}".encode(), "text/plain",
                        error_code=f"E{error.status}")

    def record(self, exchange, seconds):
        self.recorded.append((exchange.method, exchange.target, exchange.response.status,
                              exchange.sent, exchange.request is None))

    def client_ip(self, peer, headers):
        return headers.get("X-Test-Client") or peer

    def draining(self):
        return self.is_draining


@contextmanager
def serving(engine, app=None, **options):
    app = app or TinyApp()
    server = HTTPServer(("127.0.0.1", 0), app, name="tiny/1", engine=engine, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server, app
    finally:
        server.shutdown()
        server.server_close()
        server.drain(2)


def raw(port, data: bytes, timeout=5.0) -> bytes:
    """Send ``data`` and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def port_of(server):
    return server.server_address[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_answers_keep_alive_and_headers(engine):
    with serving(engine) as (server, app):
        conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
        for path in ("/hello", "/again"):
            conn.request("GET", path, headers={"X-Request-ID": "abc-1"})
            response = conn.getresponse()
            assert response.read() == b"hello " + path.encode()
            assert response.getheader("Server") == "tiny/1"
            assert response.getheader("X-Request-ID") == "abc-1"
            assert response.getheader("Date") and response.getheader("Content-Length")
            assert response.getheader("Connection") == "keep-alive"
        conn.request("POST", "/echo", body=b"x" * 1000)
        response = conn.getresponse()
        assert response.read() == b"x" * 1000 and response.getheader("X-Method") == "POST"
        conn.close()
    assert ("GET", "/hello", 200, 12, False) in app.recorded
    assert ("POST", "/echo", 200, 1000, False) in app.recorded


@pytest.mark.parametrize("engine", ENGINES)
def test_pipelined_requests_in_one_write_are_answered_in_order(engine):
    with serving(engine) as (server, _):
        data = (b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = raw(port_of(server), data)
    assert reply.count(b"HTTP/1.1 200 OK") == 3
    assert reply.index(b"hello /a") < reply.index(b"hello /b") < reply.index(b"hello /c")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_request_gets_the_applications_body_and_a_close(engine):
    with serving(engine) as (server, app):
        reply = raw(port_of(server), b"GET / HTTP/9.9\r\nHost: x\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
        assert b"Connection: close" in reply and b"X-Request-ID: " in reply
        assert reply.endswith(b"refused: only HTTP/1.0 and HTTP/1.1 are spoken here")
        reply = raw(port_of(server), b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 414 ")
    assert (True in [rec[4] for rec in app.recorded])  # recorded without a parsed request


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failing_handler_gets_a_500_and_the_server_carries_on(engine):
    with serving(engine) as (server, _):
        reply = raw(port_of(server), b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 500 ")
        assert b"refused: the server hit an unexpected error" in reply
        reply = raw(port_of(server), b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_connection_cap_refuses_through_the_application_and_counts(engine):
    refused = []
    hooks = EngineHooks(connection_refused=lambda: refused.append(1))
    with serving(engine, max_connections=1, hooks=hooks) as (server, _):
        holder = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
        holder.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert holder.recv(4096).startswith(b"HTTP/1.1 200 ")  # the slot is taken
        reply = raw(port_of(server), b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
        holder.close()
    assert reply.startswith(b"HTTP/1.1 503 ") and reply.endswith(b"too many connections, "
                                                                   b"retry shortly")
    assert refused == [1]


@pytest.mark.parametrize("engine", ENGINES)
def test_draining_ends_keep_alive(engine):
    with serving(engine) as (server, app):
        app.is_draining = True
        conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
        conn.request("GET", "/last")
        response = conn.getresponse()
        assert response.read() == b"hello /last"
        assert response.getheader("Connection") == "close"
        conn.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_files_with_ranges_and_containment(engine, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"0123456789")
    (tmp_path / "link.txt").symlink_to("/etc/hostname")
    with serving(engine, TinyApp(tmp_path)) as (server, app):
        conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
        conn.request("GET", "/files/a.txt", headers={"Range": "bytes=2-4"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (206, b"234")
        assert response.getheader("Content-Range") == "bytes 2-4/10"
        etag = response.getheader("ETag")
        conn.request("GET", "/files/a.txt", headers={"If-None-Match": etag})
        response = conn.getresponse()
        assert (response.status, response.read()) == (304, b"")
        for trick in ("/files/link.txt", "/files/..%2Fa.txt", "/files/%2e%2e/a.txt"):
            conn.request("GET", trick)
            response = conn.getresponse()
            assert (response.status, response.read()) == (404, b"no such file"), trick
        conn.close()
    assert ("GET", "/files/a.txt", 206, 3, False) in app.recorded


@pytest.mark.parametrize("engine", ENGINES)
def test_the_client_ip_comes_from_the_application(engine):
    seen = []

    class Watching(TinyApp):
        def handle(self, request):
            seen.append(request.client_ip)
            return super().handle(request)

    with serving(engine, Watching()) as (server, _):
        raw(port_of(server), b"GET / HTTP/1.1\r\nHost: x\r\nX-Test-Client: 203.0.113.9\r\n"
                             b"Connection: close\r\n\r\n")
    assert seen == ["203.0.113.9"]


def test_protocol_error_carries_a_status_hint():
    error = ProtocolError(431, "too many headers")
    assert (error.status, error.message, str(error)) == (431, "too many headers",
                                                         "too many headers")


def test_shutdown_waits_for_a_request_in_flight():
    gate = threading.Event()

    class Slow(TinyApp):
        def handle(self, request):
            gate.wait(5)
            return super().handle(request)

    app = Slow()
    server = HTTPServer(("127.0.0.1", 0), app, engine="epoll")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    replies = []
    client = threading.Thread(target=lambda: replies.append(
        raw(port_of(server), b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")))
    client.start()
    deadline = time.monotonic() + 5
    while server.busy == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.shutdown()
    server.server_close()
    threading.Timer(0.2, gate.set).start()
    assert server.drain(5) is True
    client.join(5)
    assert replies and replies[0].startswith(b"HTTP/1.1 200 ")


class Deferring(TinyApp):
    """``/later`` answers from a timer thread after 0.2 s; ``/now`` resumes at once, inside
    ``defer`` itself."""

    def handle(self, request):
        if request.path == "/now":
            return Response(defer=lambda resume: resume(Response(200, b"now", "text/plain")))
        if request.path == "/later":
            def defer(resume):
                threading.Timer(0.2, resume, [Response(200, b"later", "text/plain")]).start()
            return Response(defer=defer)
        return super().handle(request)


@pytest.mark.parametrize("engine", ENGINES)
def test_deferred_answers_resume_from_any_thread(engine):
    with serving(engine, Deferring()) as (server, app):
        conn = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
        for path, body in (("/later", b"later"), ("/now", b"now"), ("/hello", b"hello /hello")):
            conn.request("GET", path)
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, body)
        conn.close()
        reply = raw(port_of(server), b"GET /later HTTP/1.1\r\nHost: a\r\n\r\n"
                                     b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert reply.index(b"later") < reply.index(b"hello /x")  # pipelined, in order
    assert ("GET", "/later", 200, 5, False) in app.recorded


def test_parked_requests_hold_no_thread():
    with serving("epoll", Deferring()) as (server, _):
        socks = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
            sock.sendall(b"GET /later HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            socks.append(sock)
        replies = []
        for sock in socks:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            sock.close()
            replies.append(data)
        # a hundred waiting answers, yet the engine never needed more than its workers
        assert server.pool.threads <= 8
    assert all(r.startswith(b"HTTP/1.1 200 ") and r.endswith(b"later") for r in replies)
