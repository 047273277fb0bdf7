"""The HTTP/1.1 server: ``ThreadingHTTPServer`` accepts; connections wait in epoll.

``socketserver`` gives the listening socket, the accept loop and ``shutdown()``. What it does
with an accepted connection is changed: instead of a thread that blocks on the socket for
the connection's whole life, each connection is a small state machine
(:mod:`dalleserver.web.connection`) registered in one epoll set, and a few worker threads
wait on that set. A worker runs a connection only while the kernel says its socket is ready
(``EPOLLONESHOT``: one worker at a time), answers what has arrived and parks it again. Idle
keep-alive connections and slow clients therefore cost no thread, and the few threads that
compete for the GIL take turns in the kernel's first-come order instead of fifty threads
convoying on it. Where epoll is missing (not Linux), the stdlib's thread per connection
runs the same state machine, waiting with a selector.

A reaper thread enforces the deadlines the connections set (see connection.py).
"""

from __future__ import annotations

import itertools
import logging
import select
import selectors
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from dalleserver import __version__
from dalleserver.web import wire
from dalleserver.web.connection import DONE, READ, Connection, Timeouts
from dalleserver.web.workers import EpollWorkers

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.server")

SERVER_NAME = f"dalleserver/{__version__}"
DEFAULT_WORKERS = 8
REAP_INTERVAL = 0.5


class DalleHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: App, max_connections: int = 512,
                 workers: int = DEFAULT_WORKERS, engine: str = "auto",
                 timeouts: Timeouts | None = None) -> None:
        """``engine``: "epoll" (Linux), "threads" (a thread per connection) or "auto"."""
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.timeouts = timeouts or Timeouts()
        self.name = SERVER_NAME
        self.dates = wire.DateCache()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.connections: dict[int, Connection] = {}
        # requests in flight = started - finished; next() on itertools.count is atomic
        self._started = itertools.count()
        self._finished = itertools.count()
        app.instruments.http_in_flight_source = lambda: float(self.busy)
        app.instruments.http_connections_source = lambda: float(len(self.connections))
        super().__init__(address, Connection)
        if engine == "auto":
            engine = "epoll" if hasattr(select, "epoll") else "threads"
        self.pool = (EpollWorkers(self.connections, workers, lambda: _peek(self._started),
                                  on_stall=app.instruments.http_worker_stalls.inc)
                     if engine == "epoll" else None)
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="http-reaper", daemon=True)
        self._reaper.start()

    # -- accepting ----------------------------------------------------------------------
    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        conn, addr = super().get_request()
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return conn, addr

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        if not self.slots.acquire(blocking=False):
            self.app.instruments.connections_rejected.inc()
            try:
                request.sendall(_overloaded_response())
            except OSError:
                pass
            self.shutdown_request(request)
            return
        if self.pool is None:
            super().process_request(request, client_address)  # a thread of its own
            return
        conn = self._adopt(request, client_address)
        if conn is None:
            return
        try:
            self.pool.add(conn)
        except OSError:
            conn.close()

    def _adopt(self, request: socket.socket, client_address) -> Connection | None:
        """The accepted socket as a tracked connection; None (slot given back) when the
        socket died before it could be set up."""
        try:
            conn = self.RequestHandlerClass(self, request, client_address[0])
        except OSError:
            self.shutdown_request(request)
            self.slots.release()
            return None
        self.connections[conn.fd] = conn
        return conn

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[override]
        """The thread-per-connection engine: the same state machine, waiting in a selector."""
        conn = self._adopt(request, client_address)
        if conn is None:
            return
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(conn.fd, selectors.EVENT_READ)
                while True:
                    waiting = conn.on_ready()
                    if waiting == DONE:
                        return
                    selector.modify(conn.fd, selectors.EVENT_READ if waiting == READ
                                    else selectors.EVENT_WRITE)
                    selector.select()
        except Exception:
            log.exception("connection from %s failed", conn.peer)
            conn.close()

    def workers_alive(self) -> bool:
        return self.pool is None or self.pool.alive()

    def forget(self, conn: Connection) -> None:
        """A connection closed: its slot comes back."""
        if self.connections.get(conn.fd) is conn:
            del self.connections[conn.fd]
        self.slots.release()

    # -- requests in flight -------------------------------------------------------------
    def request_started(self) -> None:
        next(self._started)

    def request_finished(self) -> None:
        next(self._finished)

    @property
    def busy(self) -> int:
        # each count's repr is its next value; reading both is lock-free
        return _peek(self._started) - _peek(self._finished)

    def wait_for_requests(self, timeout: float) -> bool:
        """Wait until no request is being handled; False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self.busy > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    # -- deadlines and shutdown ---------------------------------------------------------
    def _reap(self) -> None:
        while not self._reaper_stop.wait(REAP_INTERVAL):
            now = time.monotonic()
            for conn in list(self.connections.values()):
                deadline = conn.deadline
                if deadline and deadline < now:
                    conn.deadline = 0.0
                    conn.cut()

    def close_idle(self) -> None:
        """Wake every connection that is waiting for a next request, so it closes."""
        for conn in list(self.connections.values()):
            if conn.idle:
                conn.cut()

    def drain(self, timeout: float) -> bool:
        """After ``shutdown()`` and ``server_close()``: close idle connections, let requests
        in flight finish (up to ``timeout``), then stop the workers and close the rest.
        False when requests were still running at the timeout."""
        self.close_idle()
        finished = self.wait_for_requests(timeout)
        if self._reaper_stop.is_set():
            return finished  # drained before
        self._reaper_stop.set()
        if self.pool is not None:
            self.pool.stop()
        for conn in list(self.connections.values()):
            conn.cut()
            if self.pool is not None:
                conn.close()
        return finished


def _peek(counter: itertools.count) -> int:
    return int(repr(counter)[6:-1])


def _overloaded_response() -> bytes:
    body = (b'{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":'
            b'"too many connections, retry shortly"},"request_id":""}')
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
