"""HTTP/1.1 on the wire: parsing a request head from bytes, and writing a response head.

The stdlib's ``http.server`` reads the head line by line through a buffered file and hands
the headers to the ``email`` parser; that costs more per request than everything the app
does for ``/readyz``. This parser works on the bytes already received, in one pass, and
never blocks, so a connection can wait for the rest of a head without holding a thread.
"""

from __future__ import annotations

import re
import time

from dalleserver.httpd.messages import REASONS, Headers, ProtocolError, http_date

MAX_LINE = 8 * 1024  # request line, and each header line
MAX_HEADERS = 100
MAX_HEAD = 64 * 1024  # the whole head
MAX_BODY = 1024 * 1024

_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSIONS = {b"HTTP/1.1": (1, 1), b"HTTP/1.0": (1, 0)}


class Head:
    """A parsed request head."""

    __slots__ = ("method", "target", "version", "headers", "keep_alive", "length",
                 "expects_continue")

    def __init__(self, method: str, target: str, version: tuple[int, int],
                 headers: Headers) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        connection = (headers.get("Connection") or "").lower()
        if version >= (1, 1):
            self.keep_alive = "close" not in connection
        else:
            self.keep_alive = "keep-alive" in connection
        self.length = _body_length(headers)
        self.expects_continue = (version >= (1, 1) and self.length > 0 and
                                 (headers.get("Expect") or "").lower() == "100-continue")


def find_head_end(buffer: bytes) -> tuple[int, int]:
    """(end of the head, start of the body), or (-1, -1) while the head is incomplete.

    Lines may end in CRLF or, leniently, in a bare LF.
    """
    end = buffer.find(b"\r\n\r\n")
    if end >= 0:
        bare = buffer.find(b"\n\n", 0, end)
        return (bare, bare + 2) if bare >= 0 else (end, end + 4)
    end = buffer.find(b"\n\n")
    if end >= 0:
        return end, end + 2
    return -1, -1


def check_incomplete(buffer: bytes) -> None:
    """Refuse a head that is already too long before it is complete."""
    first = buffer.find(b"\n")
    if (first < 0 and len(buffer) > MAX_LINE) or first > MAX_LINE:
        raise ProtocolError(414, "the request line is longer than 8 KiB")
    if len(buffer) > MAX_HEAD:
        raise ProtocolError(431, "the request head is over 64 KiB")
    last = buffer.rfind(b"\n")
    if len(buffer) - last - 1 > MAX_LINE:
        raise ProtocolError(431, "a header line is over 8 KiB")


def parse_head(raw: bytes) -> Head:
    """The request line and header fields of one head (without its blank line)."""
    if len(raw) > MAX_HEAD:
        raise ProtocolError(431, "the request head is over 64 KiB")
    lines = raw.split(b"\n")
    request_line = lines[0].rstrip(b"\r")
    if len(request_line) > MAX_LINE:
        raise ProtocolError(414, "the request line is longer than 8 KiB")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[1] or not _METHOD.fullmatch(parts[0]):
        raise ProtocolError(400, "malformed request line")
    version = _VERSIONS.get(parts[2])
    if version is None:
        raise ProtocolError(400, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    if len(lines) - 1 > MAX_HEADERS:
        raise ProtocolError(431, "more than 100 headers")
    items = []
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise ProtocolError(431,
                           "a header line is longer than 8 KiB")
        text = line.decode("latin-1").rstrip("\r")
        name, colon, value = text.partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise ProtocolError(400, "malformed header line")
        items.append((name, value.strip(" \t")))
    target = parts[1].decode("latin-1")
    return Head(parts[0].decode("ascii"), target, version, Headers(items))


def _body_length(headers: Headers) -> int:
    if headers.get("Transfer-Encoding"):
        raise ProtocolError(400, "chunked request bodies are not accepted")
    raw = headers.get("Content-Length")
    if not raw:
        return 0
    if not raw.isdigit():
        raise ProtocolError(400, "Content-Length is not a number")
    length = int(raw)
    if length > MAX_BODY:
        raise ProtocolError(413, "request bodies are limited to 1 MiB")
    return length


class DateCache:
    """The Date header, formatted once per second instead of once per response."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            # two threads may both format the same second; both get the right text
            self._text = http_date(second)
            self._second = second
        return self._text


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1", errors="replace")


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
