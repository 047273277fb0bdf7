"""The HTTP/1.1 server: ``ThreadingHTTPServer`` accepts; connections wait in epoll.

``socketserver`` gives the listening socket, the accept loop and ``shutdown()``. What it does
with an accepted connection is changed: instead of a thread that blocks on the socket for
the connection's whole life, each connection is a small state machine
(:mod:`dalleserver.httpd.connection`) registered in one epoll set, and a few worker threads
wait on that set. A worker runs a connection only while the kernel says its socket is ready
(``EPOLLONESHOT``: one worker at a time), answers what has arrived and parks it again. Idle
keep-alive connections and slow clients therefore cost no thread, and the few threads that
compete for the GIL take turns in the kernel's first-come order instead of fifty threads
convoying on it. Where epoll is missing (not Linux), the stdlib's thread per connection
runs the same state machine, waiting with a selector.

A reaper thread enforces the deadlines the connections set (see connection.py).

Connections are capped twice: in all (``max_connections``) and per client address
(``max_per_client``), so one client cannot take every slot; peers for which
``cap_exempt`` says yes (a trusted reverse proxy carrying many clients) only count in all.
"""

from __future__ import annotations

import collections
import itertools
import logging
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer

from dalleserver.httpd import wire
from dalleserver.httpd.connection import DONE, PARKED, READ, Connection, Timeouts
from dalleserver.httpd.interface import Application, EngineHooks
from dalleserver.httpd.messages import ProtocolError, request_id_from
from dalleserver.httpd.workers import EpollWorkers

log = logging.getLogger("dalleserver.server")

DEFAULT_WORKERS = 8
REAP_INTERVAL = 0.5


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], application: Application, *,
                 name: str = "httpd", max_connections: int = 512,
                 workers: int = DEFAULT_WORKERS, engine: str = "auto",
                 timeouts: Timeouts | None = None, hooks: EngineHooks | None = None,
                 max_per_client: int = 0,
                 cap_exempt: Callable[[str], bool] | None = None) -> None:
        """Listen on ``address`` and serve ``application``. ``name`` is the Server header;
        ``engine``: "epoll" (Linux), "threads" (a thread per connection) or "auto";
        ``max_per_client``: connections one peer address may hold (0: no limit)."""
        self.application = application
        self.hooks = hooks or EngineHooks()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.timeouts = timeouts or Timeouts()
        self.name = name
        self.dates = wire.DateCache()
        self.slots = threading.BoundedSemaphore(max_connections)
        self.max_per_client = max_per_client
        self._cap_exempt = cap_exempt or _never
        self._per_client: collections.Counter[str] = collections.Counter()
        self._per_client_lock = threading.Lock()
        self.connections: dict[int, Connection] = {}
        # requests in flight = started - finished; next() on itertools.count is atomic
        self._started = itertools.count()
        self._finished = itertools.count()
        super().__init__(address, Connection)
        if engine == "auto":
            engine = "epoll" if hasattr(select, "epoll") else "threads"
        self.pool = (EpollWorkers(self.connections, workers, lambda: _peek(self._started),
                                  on_stall=self.hooks.worker_stalled)
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
            self._refuse_connection(request, "too many connections, retry shortly")
            return
        if not self._take_client_slot(client_address[0]):
            self.slots.release()
            self._refuse_connection(request, "too many connections from this address, "
                                             "retry shortly")
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

    def _refuse_connection(self, request: socket.socket, message: str) -> None:
        self.hooks.connection_refused()
        try:
            request.sendall(self._refusal(ProtocolError(503, message)))
        except OSError:
            pass
        self.shutdown_request(request)

    def _take_client_slot(self, peer: str) -> bool:
        """Count one more connection of ``peer``; False when it already holds its share."""
        if not self.max_per_client or self._cap_exempt(peer):
            return True
        with self._per_client_lock:
            if self._per_client[peer] >= self.max_per_client:
                return False
            self._per_client[peer] += 1
        return True

    def _give_client_slot(self, peer: str) -> None:
        if not self.max_per_client:
            return
        with self._per_client_lock:
            held = self._per_client.get(peer, 0)
            if held <= 1:
                self._per_client.pop(peer, None)  # no entry per address ever seen
            else:
                self._per_client[peer] = held - 1

    def _adopt(self, request: socket.socket, client_address) -> Connection | None:
        """The accepted socket as a tracked connection; None (slots given back) when the
        socket died before it could be set up."""
        try:
            conn = self.RequestHandlerClass(self, request, client_address[0])
        except OSError:
            self.shutdown_request(request)
            self.slots.release()
            self._give_client_slot(client_address[0])
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
                    # parked: rearm() makes the socket's write interest the wake-up
                    selector.modify(conn.fd, selectors.EVENT_READ if waiting == READ
                                    else selectors.EVENT_WRITE)
                    if waiting != PARKED:
                        selector.select()
                    else:
                        _wait_resumed(conn)
        except Exception:
            log.exception("connection from %s failed", conn.peer)
            conn.close()

    def _refusal(self, error: ProtocolError) -> bytes:
        """A whole answer to a connection that gets no slot: head and body, then close."""
        rid = request_id_from(None)
        response = self.application.refuse(error, rid)
        headers = [("Date", self.dates.now()), ("Server", self.name),
                   ("Content-Type", response.content_type), ("X-Request-ID", rid),
                   ("Content-Length", str(len(response.body))),
                   *response.headers.items(), ("Connection", "close")]
        return wire.response_head(response.status, headers) + response.body

    def rearm(self, conn: Connection) -> None:
        """A parked connection has its answer: a worker (or its own thread) writes it."""
        if self.pool is not None:
            try:
                self.pool.rearm(conn)
            except OSError:  # closed meanwhile
                pass
        else:
            with _RESUMED:
                _RESUMED.notify_all()

    @property
    def connection_count(self) -> int:
        return len(self.connections)

    def workers_alive(self) -> bool:
        return self.pool is None or self.pool.alive()

    def forget(self, conn: Connection) -> None:
        """A connection closed: its slot comes back."""
        if self.connections.get(conn.fd) is conn:
            del self.connections[conn.fd]
        self.slots.release()
        self._give_client_slot(conn.peer)

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


def _never(_peer: str) -> bool:
    return False


# The thread-per-connection engine (no epoll) waits for resumes on one condition.
_RESUMED = threading.Condition()


def _wait_resumed(conn: Connection) -> None:
    with _RESUMED:
        while conn.parked and conn.resumed is None and not conn.closed:
            _RESUMED.wait(1.0)


def _peek(counter: itertools.count) -> int:
    return int(repr(counter)[6:-1])

