"""Connections on both engines: pipelining, trickled and late bytes, HTTP/1.0, 100-continue,
slow readers, deadlines, a blocked handler, and shutdown."""

from __future__ import annotations

import http.client
import re
import select
import socket
import threading
import time

import pytest

from dalleserver.httpd import Timeouts
from dalleserver.web.responses import envelope
from tests.support.server import running_server, wait_done

ENGINES = ["threads"] + (["epoll"] if hasattr(select, "epoll") else [])
SHORT = Timeouts(header=0.6, body=0.6, idle=1.0, send=1.0)
A = "0x" + "cd" * 20


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes the connection before ``seconds`` pass."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def get(path: str, rid: str = "", close: bool = False) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: x"]
    if rid:
        lines.append(f"X-Request-ID: {rid}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_pipelined_requests_are_answered_in_order(tmp_path, engine):
    with running_server(tmp_path, engine=engine) as (client, _):
        with connect(client.port) as sock:
            sock.sendall(get("/livez", "one") + get("/readyz", "two")
                         + get("/nowhere", "three", close=True))
            answer = read_all(sock)
    statuses = re.findall(rb"HTTP/1.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"200", b"404"]
    assert re.findall(rb"X-Request-ID: (\w+)", answer) == [b"one", b"two", b"three"]


def test_a_long_pipeline_takes_turns_and_is_answered_in_full(tmp_path, engine):
    with running_server(tmp_path, engine=engine) as (client, _):
        with connect(client.port) as sock:
            burst = b"".join(get("/livez", f"r{i}") for i in range(300))
            sock.sendall(burst + get("/readyz", "last", close=True))
            answer = read_all(sock)
    ids = re.findall(rb"X-Request-ID: (\w+)", answer)
    assert ids == [b"r%d" % i for i in range(300)] + [b"last"]


def test_a_request_trickled_byte_by_byte(tmp_path, engine):
    with running_server(tmp_path, engine=engine) as (client, _):
        with connect(client.port) as sock:
            for byte in get("/livez", close=True):
                sock.send(bytes([byte]))
                time.sleep(0.001)
            assert read_all(sock).startswith(b"HTTP/1.1 200 OK")


def test_http10_closes_unless_asked_to_keep_alive(tmp_path, engine):
    with running_server(tmp_path, engine=engine) as (client, _):
        with connect(client.port) as sock:
            sock.sendall(b"GET /livez HTTP/1.0\r\n\r\n")
            answer = read_all(sock)  # returns: the server closed
            assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer
        with connect(client.port) as sock:
            sock.sendall(b"GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert b"Connection: keep-alive" in sock.recv(65536)
            sock.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            assert read_all(sock).startswith(b"HTTP/1.1 200")


def test_expect_continue_and_a_late_body(tmp_path, engine):
    with running_server(tmp_path, engine=engine) as (client, _):
        with connect(client.port) as sock:
            sock.sendall(b"POST /errors?clear=1 HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
            assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
            time.sleep(0.2)
            sock.sendall(b"hel")
            time.sleep(0.1)
            sock.sendall(b"lo")
            answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b'"success":true' in answer


def test_slow_readers_park_while_others_are_served(tmp_path, engine):
    """One HTTP thread, five clients that ask for a PNG forty times and read nothing."""
    env = {"TB_DALLE_HTTP_THREADS": "1"}
    with running_server(tmp_path, env=env, engine=engine) as (client, app):
        client.get(f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        path = f"/dalle/empty/{A}"
        size = int(client.get(path)[0].getheader("Content-Length"))
        assert size > 100_000
        stuck = [connect(client.port) for _ in range(5)]
        for sock in stuck:
            sock.sendall(get(path) * 40)
        started = time.monotonic()
        for _ in range(20):
            assert client.get("/livez")[0].status == 200
        assert time.monotonic() - started < 3
        # a parked answer resumes when its client reads: every byte arrives, in order
        reader = stuck.pop()
        reader.sendall(get("/livez", close=True))
        answer = read_all(reader)
        assert answer.count(b"\x89PNG\r\n\x1a\n") == 40
        assert answer.count(b"Content-Length: %d" % size) == 40
        assert len(answer) > 40 * size
        for sock in stuck:
            sock.close()
        time.sleep(0.3)
        assert client.get("/livez")[0].status == 200


def test_deadlines_cut_slow_and_idle_clients(tmp_path, engine):
    with running_server(tmp_path, engine=engine, timeouts=SHORT) as (client, _):
        loris = connect(client.port)
        loris.sendall(b"GET /livez HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(10):  # trickling for 2 s does not extend the 0.6 s header deadline
            time.sleep(0.2)
            try:
                loris.sendall(b"X-A: b\r\n")
            except OSError:
                break
        assert closed_within(loris, 2.0)
        assert time.monotonic() - started < 1.7

        slow_body = connect(client.port)
        slow_body.sendall(b"POST /errors?clear=1 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        assert closed_within(slow_body, 2.0)

        idle = connect(client.port)
        idle.sendall(get("/livez"))
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        assert not closed_within(idle, 0.5)  # kept alive for a while
        assert closed_within(idle, 2.0)  # then closed
        for sock in (loris, slow_body, idle):
            sock.close()
        assert client.get("/livez")[0].status == 200


def test_a_blocked_handler_does_not_stop_the_others(tmp_path):
    if "epoll" not in ENGINES:
        pytest.skip("epoll only")
    release = threading.Event()
    with running_server(tmp_path, engine="epoll") as (client, app):
        def slow(app_, request):
            release.wait(5)
            return envelope({"slow": True}, request.request_id)

        app.router.add("/slow", ("GET",), slow, "/slow")
        answers = []
        waiter = threading.Thread(target=lambda: answers.append(client.get("/slow")))
        waiter.start()
        time.sleep(0.1)
        started = time.monotonic()
        for _ in range(10):
            assert client.get("/livez")[0].status == 200
        assert time.monotonic() - started < 1.0
        assert client.server.pool.stalls >= 1
        metrics = client.get("/metrics")[1].decode()
        stalls = re.search(r"^dalleserver_http_worker_stalls_total (\S+)$", metrics, re.M)
        assert stalls and float(stalls.group(1)) >= 1
        # the /slow client's connection and this one, at least
        opened = re.search(r"^dalleserver_http_connections (\S+)$", metrics, re.M)
        assert opened and float(opened.group(1)) >= 2
        release.set()
        waiter.join(5)
        assert answers[0][0].status == 200
        # the stalled worker stands by again: one runs, the rest wait
        for _ in range(20):
            client.get("/livez")
        assert client.server.pool.threads >= 2
        assert client.server.workers_alive()
    assert not client.server.workers_alive()  # stopped with the server


def test_shutdown_finishes_requests_and_closes_idle_connections(tmp_path, engine):
    release = threading.Event()
    with running_server(tmp_path, engine=engine) as (client, app):
        def slow(app_, request):
            release.wait(5)
            return envelope({"slow": True}, request.request_id)

        app.router.add("/slow", ("GET",), slow, "/slow")
        idle = connect(client.port)
        idle.sendall(get("/livez"))
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        busy = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
        busy.request("GET", "/slow")
        time.sleep(0.2)
        server = client.server
        app.shutting_down = True
        server.shutdown()
        server.server_close()
        threading.Timer(0.3, release.set).start()
        assert server.drain(5)
        response = busy.getresponse()
        assert response.status == 200 and response.getheader("Connection") == "close"
        assert closed_within(idle, 1.0)
        assert not server.connections
        idle.close()
        busy.close()


def test_random_bytes_never_break_the_server(tmp_path, engine):
    import random

    rng = random.Random(20261124)
    pieces = [b"GET", b" ", b"/livez", b"/dalle/x/0x", b"?generate=1", b"HTTP/1.1", b"\r\n",
              b"\n", b":", b"Content-Length: 3", b"Transfer-Encoding: chunked", b"\x00",
              b"\xff\xfe", b"%", b"Expect: 100-continue", b"Connection: close"]
    with running_server(tmp_path, engine=engine, timeouts=SHORT) as (client, _):
        for _ in range(60):
            blob = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
            if rng.random() < 0.3:
                blob += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 50)))
            with connect(client.port) as sock:
                sock.sendall(blob + b"\r\n\r\n")
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(5)
                try:
                    answer = read_all(sock)
                except ConnectionResetError:
                    answer = b""
            for status in re.findall(rb"HTTP/1.1 (\d{3}) ", answer):
                assert status in (b"100", b"200", b"202", b"400", b"404", b"405", b"413",
                                  b"414", b"431"), blob
        assert client.get("/livez")[0].status == 200
        _, metrics = client.get("/metrics")
        assert b'status="500"' not in metrics
