"""The HTTP/1.1 server on ``ThreadingHTTPServer``: keep-alive, limits, deadlines, shutdown.

Each connection gets a thread (bounded by a connection cap). A reaper thread enforces real
deadlines: 10 s to send the request line and headers, 30 s for a body, 120 s idle between
requests on a keep-alive connection, so a slow client holds at most its own thread.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from dalleserver import __version__
from dalleserver.web.http import (
    REASONS,
    ApiError,
    Request,
    Response,
    error_response,
    http_date,
    request_id_from,
)

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.server")

MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_BODY = 1024 * 1024
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
IDLE_TIMEOUT = 120.0
SEND_TIMEOUT = 120.0  # a client that does not read a file response for this long is cut
SERVER_NAME = f"dalleserver/{__version__}"


class Deadlines:
    """Closes connections whose current deadline passed (checked every 0.5 s).

    The hot path takes no lock: single dict stores and pops are atomic in CPython, and the
    reaper works on a copy.
    """

    def __init__(self) -> None:
        self._deadlines: dict[socket.socket, float] = {}
        self._idle: dict[socket.socket, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deadline-reaper", daemon=True)
        self._thread.start()

    def watch(self, conn: socket.socket, seconds: float, idle: bool = False) -> None:
        self._deadlines[conn] = time.monotonic() + seconds
        if idle:
            self._idle[conn] = True
        else:
            self._idle.pop(conn, None)

    def clear(self, conn: socket.socket) -> None:
        self._deadlines.pop(conn, None)
        self._idle.pop(conn, None)

    def close_idle(self) -> None:
        """Shutdown: wake every connection that is waiting for a next request."""
        for conn in list(self._idle.copy()):
            _shutdown_quietly(conn)

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            late = [c for c, d in self._deadlines.copy().items() if d < now]
            for conn in late:
                if self._deadlines.get(conn, now + 1) < now:
                    self.clear(conn)
                    _shutdown_quietly(conn)


def _shutdown_quietly(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class DalleHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: App, max_connections: int = 512) -> None:
        self.app = app
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(max_connections)
        self.deadlines = Deadlines()
        # requests in flight = started - finished; next() on itertools.count is atomic
        self._started = itertools.count()
        self._finished = itertools.count()
        app.instruments.http_in_flight_source = lambda: float(self.busy)
        super().__init__(address, RequestHandler)

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
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.deadlines.clear(request)
            self.slots.release()

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

    def server_close(self) -> None:
        super().server_close()
        self.deadlines.stop()


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


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    server: DalleHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(IDLE_TIMEOUT + 5)

    # The stdlib's own logging is replaced by the access log written in _finish.
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def handle_one_request(self) -> None:
        server = self.server
        conn = self.connection
        server.deadlines.watch(conn, IDLE_TIMEOUT, idle=True)
        try:
            if server.app.shutting_down and getattr(self, "_served", False):
                self.close_connection = True
                return
            if not self.rfile.peek(1):
                self.close_connection = True
                return
            server.deadlines.watch(conn, HEADER_TIMEOUT)
            self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
            started = time.perf_counter()
            server.request_started()
        except OSError:
            server.deadlines.clear(conn)
            self.close_connection = True
            return
        try:
            self._serve_one(started)
        finally:
            server.request_finished()
            self._served = True

    def _serve_one(self, started: float) -> None:
        server = self.server
        conn = self.connection
        rid = request_id_from(None)
        self.command, self.path = None, "-"
        try:
            if len(self.raw_requestline) > MAX_LINE:
                self.request_version = "HTTP/1.1"
                raise ApiError("URI_TOO_LONG", "the request line is longer than 8 KiB")
            if not self.parse_request():  # sends its own error through send_error
                server.deadlines.clear(conn)
                return
            rid = request_id_from(self.headers.get("X-Request-ID"))
            self._check_headers()
            body = self._read_body()
        except ApiError as error:
            server.deadlines.clear(conn)
            self.close_connection = True
            self._respond(None, error_response(error, rid), started, rid)
            return
        except (OSError, ValueError):
            server.deadlines.clear(conn)
            self.close_connection = True
            return
        server.deadlines.clear(conn)
        request = self._build_request(rid, body)
        response = server.app.handle(request)
        if server.app.shutting_down:
            self.close_connection = True
        self._respond(request, response, started, rid)

    def _check_headers(self) -> None:
        items = self.headers.items()
        if len(items) > MAX_HEADERS:
            raise ApiError("REQUEST_HEADER_FIELDS_TOO_LARGE", "more than 100 headers")
        for name, value in items:
            if len(name) + len(value) + 2 > MAX_LINE:
                raise ApiError("REQUEST_HEADER_FIELDS_TOO_LARGE",
                               f"header {name!r} is longer than 8 KiB")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise ApiError("INVALID_REQUEST", "chunked request bodies are not accepted")
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ApiError("INVALID_REQUEST", "Content-Length is not a number") from None
        if length < 0:
            raise ApiError("INVALID_REQUEST", "Content-Length is negative")
        if length > MAX_BODY:
            raise ApiError("PAYLOAD_TOO_LARGE", "request bodies are limited to 1 MiB")
        self.server.deadlines.watch(self.connection, BODY_TIMEOUT)
        body = self.rfile.read(length)
        if len(body) != length:
            raise ValueError("short body")
        return body

    def _build_request(self, rid: str, body: bytes) -> Request:
        split = urlsplit(self.path)
        raw_path = split.path or "/"
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            path = raw_path
        peer = self.client_address[0]
        return Request(
            method=self.command,
            target=self.path,
            path=path,
            raw_path=raw_path,
            query=Request.parse_query(split.query),
            headers=self.headers,
            client_ip=self.server.app.client_ip(peer, self.headers.get("X-Forwarded-For")),
            peer_ip=peer,
            request_id=rid,
            body=body,
        )

    def _send_file(self, head: bytes, fd: int, offset: int, length: int) -> int:
        """Headers (held back with MSG_MORE so they leave with the first file bytes), then
        the file by os.sendfile on a blocking socket; the reaper bounds a stalled client."""
        conn = self.connection
        conn.sendall(head, socket.MSG_MORE if hasattr(socket, "MSG_MORE") else 0)
        self.server.deadlines.watch(conn, SEND_TIMEOUT)
        conn.settimeout(None)
        sent = 0
        try:
            while sent < length:
                n = os.sendfile(conn.fileno(), fd, offset + sent, length - sent)
                if n == 0:
                    break
                sent += n
        finally:
            conn.settimeout(IDLE_TIMEOUT + 5)
            self.server.deadlines.clear(conn)
        return sent

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Errors found by the stdlib parser (bad request line, version) as envelopes."""
        codes = {400: "INVALID_REQUEST", 414: "URI_TOO_LONG",
                 431: "REQUEST_HEADER_FIELDS_TOO_LARGE"}
        error = ApiError(codes.get(code, "INVALID_REQUEST"), message or "bad request")
        self.close_connection = True
        if not getattr(self, "request_version", None):
            self.request_version = "HTTP/1.1"
        self._respond(None, error_response(error, request_id_from(None)), time.perf_counter(),
                      "")

    def _respond(self, request: Request | None, response: Response, started: float,
                 rid: str) -> None:
        head_only = self.command == "HEAD"
        headers = {
            "Date": http_date(time.time()),
            "Server": SERVER_NAME,
            "Content-Type": response.content_type,
        }
        if rid:
            headers["X-Request-ID"] = rid
        if response.stream is None:
            headers["Content-Length"] = str(response.length)
        else:
            headers["Cache-Control"] = "no-cache"
            headers["X-Accel-Buffering"] = "no"
            self.close_connection = True
        headers.update(response.headers)
        headers["Connection"] = "close" if self.close_connection else "keep-alive"
        reason = REASONS.get(response.status, "Unknown")
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        sent = 0
        conn = self.connection
        try:
            if head_only or response.status == 304:
                conn.sendall(head)
            elif response.file_fd is not None:
                sent = self._send_file(head, response.file_fd, response.file_offset,
                                       response.file_length)
            elif response.stream is not None:
                conn.sendall(head)
                counter = [0]

                def write(chunk: bytes) -> None:
                    conn.sendall(chunk)
                    counter[0] += len(chunk)

                response.stream(write)
                sent = counter[0]
            else:
                conn.sendall(head + response.body)  # one write for a small response
                sent = len(response.body)
        except OSError:
            self.close_connection = True
        finally:
            if response.file_fd is not None:
                os.close(response.file_fd)
                response.file_fd = None
            self.server.app.record(request, response, time.perf_counter() - started, sent, rid,
                                   self.client_address[0], self.command or "-",
                                   getattr(self, "path", "-"))
