"""Attacks on the engine as a whole: slot exhaustion by blank-line senders, and request
smuggling forms. Real sockets on 127.0.0.1, the tiny application of test_engine."""

from __future__ import annotations

import socket
import time

import pytest

from dalleserver.httpd import Timeouts
from tests.httpd.test_engine import port_of, raw, serving


def test_blank_line_senders_cannot_hold_the_slots():
    """Connections that only send CRLFs get at most their address's share of the slots,
    and lose those at the head deadline; the server then serves as before."""
    timeouts = Timeouts(header=0.5, idle=60.0)
    with serving("epoll", max_connections=30, max_per_client=10, timeouts=timeouts) as (
            server, _):
        attackers = []
        for _ in range(30):
            sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=10)
            sock.sendall(b"\r\n")
            attackers.append(sock)
        assert server.connection_count <= 10
        # each gets a 503 at once, or is closed at its head deadline: none waits longer
        outcomes = [sock.recv(4096) for sock in attackers]
        for sock in attackers:
            sock.close()
        assert sum(o.startswith(b"HTTP/1.1 503 ") for o in outcomes) == 20
        assert outcomes.count(b"") == 10
        # the client sees the end a moment before the server has counted the slot free
        deadline = time.monotonic() + 10
        while server.connection_count and time.monotonic() < deadline:
            time.sleep(0.01)
        reply = raw(port_of(server), b"GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 ")


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked",  # CL.TE
    b"Transfer-Encoding: chunked\r\nContent-Length: 5",  # TE.CL
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: xchunked",
    b"Transfer-Encoding : chunked",
    b"Transfer-Encoding:\tchunked",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
    b"X: y\r\n Transfer-Encoding: chunked",  # obs-fold
    b"Content-Length: 5\r\nContent-Length: 60",
    b"Content-Length: 5, 60",
    b"Content-Length: +5",
    b"Content-Length: 0x5",
    b"Content-Length: 5\x00",
    b"Content-Length:\x0b5",
])
def test_smuggling_forms_are_refused_and_nothing_rides_along(framing):
    data = (b"POST /echo HTTP/1.1\r\nHost: a\r\n" + framing + b"\r\n\r\n"
            b"0\r\n\r\n" + SMUGGLED)
    with serving("epoll") as (server, app):
        reply = raw(port_of(server), data)
    assert reply.startswith(b"HTTP/1.1 400 "), framing
    assert reply.count(b"HTTP/1.1 ") == 1 and b"Connection: close" in reply
    assert not any(target == "/smuggled" for _, target, *_ in app.recorded)
