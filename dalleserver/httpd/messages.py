"""Requests, responses and the protocol error: what the engine and an application exchange.

Nothing here knows what the application serves. A ``Request`` is what arrived, a
``Response`` is what to send (bytes, an open file for ``sendfile``, or a long-lived stream),
and a ``ProtocolError`` is a request the engine refused before any application code ran,
with the status it should get; the application decides the body (see ``interface.py``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qs

REASONS = {
    200: "OK", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Content Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
    416: "Range Not Satisfiable", 422: "Unprocessable Content", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# request IDs need to be unique-ish, not secret: a seeded PRNG avoids a syscall per request
_ids = random.Random()


class ProtocolError(Exception):
    """A request the engine cannot hand to the application, and the status it deserves
    (400 malformed, 413 body too large, 414 request line too long, 431 head too large,
    501 unknown method, 503 no connection slot, 505 HTTP version). Like h11's
    ``RemoteProtocolError``, it carries a status hint, not a body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID when it is 1-64 safe characters, else a new 8-hex ID."""
    if header and _REQUEST_ID.match(header):
        return header
    return f"{_ids.getrandbits(32):08x}"


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7) for ``Date`` and ``Last-Modified``."""
    return formatdate(timestamp, usegmt=True)


class Headers:
    """Request headers: case-insensitive ``get``, order and repeats kept in ``items``.

    A repeated field reads as its values joined by ", ", as RFC 9110 §5.3 allows.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        index: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            index[key] = f"{index[key]}, {value}" if key in index else value
        self._index = index

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._index.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class Request:
    """One parsed request, as the application sees it."""

    method: str
    target: str  # the raw request target, as sent
    path: str  # decoded path
    raw_path: str  # the path before percent-decoding
    query: dict[str, list[str]]
    headers: Headers
    client_ip: str  # the peer, or who the application says is behind a trusted proxy
    request_id: str
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # from the router's match
    route_name: str = "unmatched"  # the matched route's name, for logs and metrics
    peer: str = ""  # the socket's peer address, whoever client_ip says is behind it

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter, or None (the first one wins, as in Go's
        ``url.Values.Get``: a proxy that appends a parameter cannot override the client's)."""
        values = self.query.get(name)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return name in self.query

    @staticmethod
    def parse_query(text: str) -> dict[str, list[str]]:
        return parse_qs(text, keep_blank_values=True, strict_parsing=False)


@dataclass
class Response:
    """What to send: ``body`` bytes, or an open file (``file_fd``, sent with sendfile and
    closed by the engine), or a ``stream`` that writes for as long as it likes (SSE).

    ``error_code`` is the application's label for an error answer; the engine only carries
    it to ``record`` so nothing has to parse the body to learn it. An empty ``content_type``
    sends no Content-Type (a 416, for instance, has no representation)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    file_fd: int | None = None
    file_offset: int = 0
    file_length: int = 0
    stream: Callable[[Callable[[bytes], None]], None] | None = None
    # Not ready yet: the engine calls defer(resume) once and parks the connection, holding
    # no thread; the application calls resume(response) exactly once, from any thread.
    # Header fields set on the deferred response are added to the one it resumes with.
    defer: Callable[[Callable[[Response], None]], None] | None = None
    error_code: str = ""

    @property
    def length(self) -> int:
        if self.file_length or self.file_fd is not None:
            return self.file_length
        return len(self.body)


@dataclass(slots=True)
class Exchange:
    """One request and the answer written for it, handed to the application's ``record``
    once the answer is out (or the connection was cut mid-answer)."""

    request: Request | None  # None when the request could not be parsed
    response: Response
    started: float  # time.perf_counter() when the request was complete
    request_id: str
    method: str
    target: str
    peer: str
    sent: int = 0  # body bytes written
