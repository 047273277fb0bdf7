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
MAX_LENGTH_DIGITS = 15  # far above MAX_BODY; int() of a longer string costs time

# Methods of RFC 9110, RFC 5789 and the HTTP QUERY method: any other token is a method this
# server does not know (501), not one a route refuses (405).
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
                           "TRACE", "CONNECT", "QUERY"))
_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSIONS = {b"HTTP/1.1": (1, 1), b"HTTP/1.0": (1, 0)}
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# In a head, CR may only end a line; NUL and the other controls (HTAB aside) never appear
# (RFC 9110 §5.5, RFC 9112 §2.2). Smuggling relies on parsers that disagree about them.
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n|\Z)")
_TARGET_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_LENGTH = re.compile(f"[0-9]{{1,{MAX_LENGTH_DIGITS}}}")
# RFC 3986 host (IP-literal, IPv4 or reg-name) with an optional port; an empty Host is valid
# for a target without an authority (RFC 9112 §3.2).
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?")
_ABSOLUTE = re.compile(r"https?://([^/?#]*)([^#]*)", re.IGNORECASE)


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
        connection = headers.get("Connection")
        # a token list: "Connection: closed" is not "close" (RFC 9110 §7.6.1)
        tokens = ({t.strip().lower() for t in connection.split(",")} if connection
                  else ())
        if version >= (1, 1):
            self.keep_alive = "close" not in tokens
        else:
            self.keep_alive = "keep-alive" in tokens
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
    if _FORBIDDEN.search(raw):
        raise ProtocolError(400, "control characters or a bare CR in the request head")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[1] or not _METHOD.fullmatch(parts[0]):
        raise ProtocolError(400, "malformed request line")
    version = _version(parts[2])
    if len(lines) - 1 > MAX_HEADERS:
        raise ProtocolError(431, "more than 100 headers")
    items = []
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise ProtocolError(431, "a header line is longer than 8 KiB")
        text = line.decode("latin-1").rstrip("\r")
        name, colon, value = text.partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise ProtocolError(400, "malformed header line")
        items.append((name, value.strip(" \t")))
    method = parts[0].decode("ascii")
    if method not in KNOWN_METHODS:
        raise ProtocolError(501, f"the method {method[:32]} is not implemented here")
    target = parts[1].decode("latin-1")
    headers = Headers(items)
    _check_target(target)
    _check_host(items, version)
    return Head(method, target, version, headers)


def _version(raw: bytes) -> tuple[int, int]:
    """HTTP/1.0 or 1.1; a later 1.x is answered as 1.1 (RFC 9110 §6.2), other majors 505."""
    known = _VERSIONS.get(raw)
    if known is not None:
        return known
    match = _VERSION.fullmatch(raw)
    if match is None:
        raise ProtocolError(400, "malformed HTTP version")
    if match.group(1) != b"1":
        raise ProtocolError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    return (1, 1)


def _check_target(target: str) -> None:
    """Origin-form, or absolute-form with a valid authority (RFC 9112 §3.2)."""
    if _TARGET_FORBIDDEN.search(target):
        raise ProtocolError(400, "control characters in the request target")
    if target.startswith("/"):
        return
    match = _ABSOLUTE.fullmatch(target)
    if match is None or not match.group(1) or not _HOST.fullmatch(match.group(1)):
        raise ProtocolError(400, "malformed request target")


def _check_host(items: list[tuple[str, str]], version: tuple[int, int]) -> None:
    """HTTP/1.1 needs exactly one Host, and any Host must be a valid host[:port]."""
    hosts = [value for name, value in items if name.lower() == "host"]
    if len(hosts) > 1:
        raise ProtocolError(400, "more than one Host header")
    if not hosts:
        if version >= (1, 1):
            raise ProtocolError(400, "HTTP/1.1 requests need a Host header")
        return
    if not _HOST.fullmatch(hosts[0]):
        raise ProtocolError(400, "the Host header is not a valid host")


def _body_length(headers: Headers) -> int:
    if headers.get("Transfer-Encoding"):
        raise ProtocolError(400, "chunked request bodies are not accepted")
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    # ASCII digits only (str.isdigit takes "²", int() does not), and few of them; repeated
    # headers arrive joined by ", " and are refused, as a smuggling defence
    if not _LENGTH.fullmatch(raw):
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
