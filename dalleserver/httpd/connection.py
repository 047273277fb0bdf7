"""One client connection as a small state machine on a non-blocking socket.

``on_ready`` is called whenever the socket may be read or written. It reads what has
arrived, answers every complete request, writes as much as the socket takes and then says
what it waits for next: more bytes (``READ``), room to write (``WRITE``), or nothing
(``DONE``: closed, or handed to a thread of its own for a long-lived stream). No call ever
waits on the client, so a slow or idle client holds no thread; the server parks it until
the kernel says it is ready again.

Deadlines are plain attributes the reaper reads: the time by which the current head, body
or write must progress. A head must be complete 10 s after its first byte (a slow-loris
cannot stretch that by trickling), a body 30 s after its head, an idle keep-alive
connection may wait 120 s for its next request, and a write that makes no progress for
120 s is cut. Blank lines before a request line count as the head's first bytes, so a
client sending CRLFs cannot hold a connection on the idle timer.

A request the parser refuses is answered, then the connection closes with a lingering
close: the server stops writing and reads (and drops) what the client still sends for a
short while, so the client reads the answer instead of a reset (RFC 9112 §9.6).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from dalleserver.httpd import wire
from dalleserver.httpd.messages import (
    Exchange,
    ProtocolError,
    Request,
    Response,
    request_id_from,
)

if TYPE_CHECKING:
    from dalleserver.httpd.server import HTTPServer

log = logging.getLogger("dalleserver.server")

READ, WRITE, DONE, PARKED = 1, 2, 0, 3  # PARKED: the application will resume it
TURN = 64  # reads and requests one connection may take before the others get a turn
_MSG_MORE = getattr(socket, "MSG_MORE", 0)
INTERNAL = "the server hit an unexpected error; it keeps serving"
LINGER_SECONDS = 2.0  # how long a refused client's remaining bytes are read and dropped
LINGER_BYTES = 1 << 20  # and at most this many


@dataclass(frozen=True)
class Timeouts:
    header: float = 10.0
    body: float = 30.0
    idle: float = 120.0
    send: float = 120.0  # without progress


class Connection:
    __slots__ = (
        "server", "sock", "fd", "peer", "buffer", "head", "head_started", "deadline",
        "idle", "out", "file", "exchange", "close_after", "closed", "continued", "preface",
        "linger", "lingering", "parked", "resumed", "park_lock",
    )

    def __init__(self, server: HTTPServer, sock: socket.socket, peer: str) -> None:
        self.server = server
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        self.buffer = b""
        self.head: wire.Head | None = None  # parsed, waiting for its body
        self.head_started = 0.0
        self.deadline = time.monotonic() + server.timeouts.header
        self.idle = False  # waiting for a next request with nothing received
        self.out: memoryview | None = None  # response bytes not yet written
        self.file: list[int] | None = None  # [fd, offset, remaining] not yet written
        self.exchange: Exchange | None = None  # the request whose answer is being written
        self.close_after = False
        self.closed = False
        self.continued = False
        self.preface = False  # blank lines before a request line arrived
        self.linger = False  # close with a lingering close (after a refused request)
        self.lingering = 0  # bytes still to drop while lingering; 0 when not lingering
        self.parked = False  # a deferred answer: waiting for the application's resume
        self.resumed: Response | None = None  # the answer it resumed with, not yet started
        self.park_lock = threading.Lock()
        sock.setblocking(False)

    # -- the loop ---------------------------------------------------------------------
    def on_ready(self) -> int:
        """Make all the progress the socket allows; return what to wait for next."""
        try:
            if self.lingering:
                return self._drop_input()
            if self.parked:
                waiting = self._unpark()
                if waiting != READ:
                    return waiting
            elif self.exchange is not None:
                waiting = self._write_on()
                if waiting != READ or self.lingering:
                    return waiting
            return self._serve_available()
        except OSError:
            self.close()
            return DONE

    def _serve_available(self) -> int:
        for _ in range(TURN):
            try:
                found = self._take_request()
            except ProtocolError as error:
                self.close_after = self.linger = True
                return self._answer_error(error)
            if found is None:
                try:
                    data = self.sock.recv(65536)
                except BlockingIOError:
                    if (not self.buffer and self.head is None and self.head_started
                            and self.server.application.draining()):
                        # answered before, nothing asked since, and nothing will be: done
                        # (a new connection still gets its first request answered)
                        self.close()
                        return DONE
                    self._arm_read_deadline()
                    return READ
                if not data:
                    self.close()
                    return DONE
                if not self.buffer and self.head is None:
                    self.head_started = time.monotonic()
                self.buffer += data
                continue
            head, body = found
            waiting = self._answer(head, body)
            if waiting != READ:
                return waiting
        # A client that pipelines without pause gives up its turn here so the others get
        # theirs. Its bytes stay buffered, where epoll cannot see them; waiting for
        # "writable", which is true at once, brings it back after them.
        self._arm_read_deadline()
        return WRITE

    def _take_request(self) -> tuple[wire.Head, bytes] | None:
        """The next complete request in the buffer, or None while bytes are missing."""
        head = self.head
        if head is None:
            buffer = self.buffer
            if buffer[:1] in (b"\r", b"\n"):
                # RFC 9112 §2.2 lets a server ignore them; their arrival still starts the
                # head's clock (preface), so a client cannot idle forever by sending them
                buffer = self.buffer = buffer.lstrip(b"\r\n")
                self.preface = True
            end, start = wire.find_head_end(buffer)
            if end < 0:
                if buffer:
                    wire.check_incomplete(buffer)
                return None
            head = wire.parse_head(buffer[:end])
            self.preface = False
            self.buffer = buffer[start:]
            if head.length > len(self.buffer):
                self.head = head
                self.head_started = time.monotonic()  # now the body's clock
                if head.expects_continue and not self.continued:
                    self.continued = True
                    self.sock.send(wire.CONTINUE)
                return None
        elif head.length > len(self.buffer):
            return None
        self.head = None
        self.continued = False
        body = self.buffer[: head.length]
        self.buffer = self.buffer[head.length :]
        if self.buffer:  # a pipelined request: its own header clock starts now
            self.head_started = time.monotonic()
        return head, body

    def _arm_read_deadline(self) -> None:
        timeouts = self.server.timeouts
        if self.head is not None:
            self.idle = False
            self.deadline = self.head_started + timeouts.body
        elif self.buffer or self.preface:
            self.idle = False
            self.deadline = self.head_started + timeouts.header
        else:
            self.idle = True
            self.deadline = time.monotonic() + timeouts.idle

    # -- answering --------------------------------------------------------------------
    def _answer(self, head: wire.Head, body: bytes) -> int:
        server = self.server
        application = server.application
        started = time.perf_counter()
        server.request_started()
        self.idle = False
        self.deadline = 0.0  # the app's own time is not the client's fault
        rid = request_id_from(head.headers.get("X-Request-ID"))
        request = None
        try:
            request = self._request(head, body, rid)
            response = application.handle(request)
        except Exception:  # the application answers its own failures; this is a last guard
            log.exception("request %s %s failed [%s]", head.method, head.target[:200], rid)
            response = application.refuse(ProtocolError(500, INTERNAL), rid)
        if not head.keep_alive or application.draining():
            self.close_after = True
        return self._start(Exchange(request, response, started, rid, head.method,
                                    head.target, self.peer))

    def _answer_error(self, error: ProtocolError) -> int:
        """Answer a request the parser refused; the connection closes after it."""
        self.server.request_started()
        rid = request_id_from(None)
        response = self.server.application.refuse(error, rid)
        return self._start(Exchange(None, response, time.perf_counter(), rid, "-", "-",
                                    self.peer))

    def _request(self, head: wire.Head, body: bytes, rid: str) -> Request:
        target = head.target
        if target.startswith("/"):
            raw_path, _, query = target.partition("?")
            query = query.partition("#")[0]
        else:  # absolute-form
            split = urlsplit(target)
            raw_path, query = split.path or "/", split.query
        path = raw_path
        if "%" in raw_path:
            try:
                path = unquote(raw_path, errors="strict")
            except UnicodeDecodeError:
                path = raw_path
        headers = head.headers
        return Request(
            method=head.method,
            target=target,
            path=path,
            raw_path=raw_path,
            query=Request.parse_query(query) if query else {},
            headers=headers,
            client_ip=self.server.application.client_ip(self.peer, headers),
            request_id=rid,
            peer=self.peer,
            body=body,
        )

    def _start(self, exchange: Exchange) -> int:
        response = exchange.response
        if response.defer is not None:
            return self._park(exchange)
        stream = response.stream is not None
        if stream:
            self.close_after = True
        head = self._response_head(response, exchange.request_id, stream)
        self.exchange = exchange
        if exchange.method == "HEAD" or response.status == 304:
            self.out = memoryview(head)
        elif response.file_fd is not None:
            self.out = memoryview(head)
            self.file = [response.file_fd, response.file_offset, response.file_length]
        elif stream:
            self._detach(head)
            return DONE
        else:
            self.out = memoryview(head + response.body)
            exchange.sent = len(response.body)
        return self._write_on()

    def _park(self, exchange: Exchange) -> int:
        """A deferred answer: hold no thread and no socket interest until resumed. The
        application's own wait is bounded; the send deadline is a safety net."""
        self.exchange = exchange
        self.parked = True
        self.deadline = time.monotonic() + self.server.timeouts.send
        defer = exchange.response.defer
        assert defer is not None
        defer(self._resume)
        return PARKED

    def _resume(self, response: Response) -> None:
        """The application's answer to a parked request (any thread, once)."""
        with self.park_lock:
            if self.closed or not self.parked or self.resumed is not None:
                return
            self.resumed = response
        self.server.rearm(self)

    def _unpark(self) -> int:
        """Start writing the resumed answer (a wake-up before it is there waits again)."""
        with self.park_lock:
            response = self.resumed
            if response is None:
                return PARKED
            self.parked = False
            self.resumed = None
        exchange = self.exchange
        assert exchange is not None
        response.defer = None  # an answer is deferred once
        # fields set on the deferred response (CORS, say) carry over to the answer
        response.headers = {**exchange.response.headers, **response.headers}
        exchange.response = response
        return self._start(exchange)

    def _write_on(self) -> int:
        """Write what the answer still owes; once it is out, close or wait for more."""
        if not self._flush():
            return WRITE
        self._finish_exchange()
        if self.close_after:
            if self.linger:
                return self._start_lingering()
            self.close()
            return DONE
        return READ

    def _response_head(self, response: Response, rid: str, stream: bool) -> bytes:
        headers = [("Date", self.server.dates.now()), ("Server", self.server.name)]
        # a 304 describes the stored answer and has no content (RFC 9110 §15.4.5)
        not_modified = response.status == 304
        if response.content_type and not not_modified:
            headers.append(("Content-Type", response.content_type))
        if rid:
            headers.append(("X-Request-ID", rid))
        if stream:
            if "Cache-Control" not in response.headers:
                headers.append(("Cache-Control", "no-store"))
            headers.append(("X-Accel-Buffering", "no"))
        elif not not_modified:
            headers.append(("Content-Length", str(response.length)))
        headers += response.headers.items()
        headers.append(("Connection", "close" if self.close_after else "keep-alive"))
        return wire.response_head(response.status, headers)

    def _flush(self) -> bool:
        """Write what the socket takes; True once the whole answer is out."""
        sock = self.sock
        out = self.out
        if out is not None:
            while out:
                try:
                    n = sock.send(out, _MSG_MORE if self.file else 0)
                except BlockingIOError:
                    self.out = out
                    self.deadline = time.monotonic() + self.server.timeouts.send
                    return False
                out = out[n:]
            self.out = None
        spec = self.file
        if spec is not None:
            fd, offset, left = spec
            try:
                while left:
                    n = os.sendfile(self.fd, fd, offset, left)
                    if n == 0:
                        raise OSError("the file ended before its stated length")
                    offset += n
                    left -= n
                    assert self.exchange is not None
                    self.exchange.sent += n
            except BlockingIOError:
                spec[1], spec[2] = offset, left
                self.deadline = time.monotonic() + self.server.timeouts.send
                return False
            self.file = None
        return True

    def _finish_exchange(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        self.exchange = None
        self._close_file(exchange.response)
        self.server.request_finished()
        self.server.application.record(exchange, time.perf_counter() - exchange.started)

    @staticmethod
    def _close_file(response: Response) -> None:
        if response.file_fd is not None:
            os.close(response.file_fd)
            response.file_fd = None

    def _detach(self, head: bytes) -> None:
        """A long-lived stream (SSE) gets a thread of its own and blocking writes."""
        thread = threading.Thread(target=self._run_stream, args=(head,), name="http-stream",
                                  daemon=True)
        self.deadline = 0.0
        thread.start()

    def _run_stream(self, head: bytes) -> None:
        exchange = self.exchange
        assert exchange is not None
        sock = self.sock
        try:
            sock.settimeout(self.server.timeouts.send)
            sock.sendall(head)

            def write(chunk: bytes) -> None:
                sock.sendall(chunk)
                exchange.sent += len(chunk)

            assert exchange.response.stream is not None
            exchange.response.stream(write)
        except OSError:
            pass
        except Exception:
            log.exception("stream for %s failed", exchange.target)
        finally:
            self._finish_exchange()
            self.close()

    # -- closing ----------------------------------------------------------------------
    def _start_lingering(self) -> int:
        """Stop writing, then drop what the client still sends (bounded in time and
        bytes), so closing does not reset the connection under the answer."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return DONE
        self.lingering = LINGER_BYTES
        self.idle = False
        self.deadline = time.monotonic() + LINGER_SECONDS
        return self._drop_input()

    def _drop_input(self) -> int:
        while self.lingering > 0:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return READ
            if not data:
                break
            self.lingering = max(self.lingering - len(data), 0)
        self.close()
        return DONE

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.deadline = 0.0
        if self.exchange is not None:  # cut mid-answer: still logged, still counted
            self._finish_exchange()
        self.server.forget(self)
        try:
            self.sock.close()
        except OSError:
            pass

    def cut(self) -> None:
        """Wake whoever waits on this socket so it closes (reaper, shutdown)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
