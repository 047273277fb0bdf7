"""The request-head parser: what it accepts, what it refuses and with which status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dalleserver.httpd import wire
from dalleserver.httpd.messages import ProtocolError


def head(text: str) -> wire.Head:
    return wire.parse_head(text.encode("latin-1"))


def refused(raw: bytes) -> int:
    with pytest.raises(ProtocolError) as caught:
        wire.parse_head(raw)
    return caught.value.status


def test_request_line_and_headers():
    h = head("GET /dalle/x/y?generate=1 HTTP/1.1\r\nHost: a\r\nX-Request-ID:  abc \r\n"
             "x-forwarded-for: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8")
    assert (h.method, h.target, h.version) == ("GET", "/dalle/x/y?generate=1", (1, 1))
    assert h.headers.get("x-request-id") == "abc"  # case-insensitive, OWS stripped
    assert h.headers["X-REQUEST-ID"] == "abc"
    assert h.headers.get("X-Forwarded-For") == "1.2.3.4, 5.6.7.8"  # repeats joined
    assert h.headers.get("Missing") is None and "host" in h.headers
    assert len(h.headers) == 4 and h.headers.items()[0] == ("Host", "a")
    assert h.keep_alive and h.length == 0 and not h.expects_continue


def test_bare_lf_lines_are_accepted():
    h = head("GET / HTTP/1.1\nHost: a\nConnection: close")
    assert h.headers.get("Host") == "a" and not h.keep_alive


@pytest.mark.parametrize(("version", "connection", "keep"), [
    ("HTTP/1.1", "", True), ("HTTP/1.1", "close", False), ("HTTP/1.1", "Close", False),
    ("HTTP/1.0", "", False), ("HTTP/1.0", "keep-alive", True),
    ("HTTP/1.0", "Keep-Alive", True),
])
def test_keep_alive_follows_version_and_connection(version, connection, keep):
    extra = f"\r\nConnection: {connection}" if connection else ""
    assert head(f"GET / {version}\r\nHost: a{extra}").keep_alive is keep


def test_body_length_and_expect():
    h = head("POST /errors HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-continue")
    assert h.length == 12 and h.expects_continue
    assert not head("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue"
                    ).expects_continue
    assert refused(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1") == 400
    assert refused(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3") == 400
    assert refused(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577") == 413
    assert refused(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked") == 400


@pytest.mark.parametrize("raw", [
    b"garbage", b"GET /", b"GET  / HTTP/1.1", b"GET / HTTP/2", b"GET / http/1.1",
    b"G(T / HTTP/1.1", b"GET / HTTP/1.1\r\nNo colon here", b"GET / HTTP/1.1\r\nBad Name: x",
    b"GET / HTTP/1.1\r\n folded: x", b"GET / HTTP/1.1 extra",
])
def test_malformed_heads_are_invalid_requests(raw):
    assert refused(raw) == 400


def test_limits():
    assert refused(b"GET /" + b"a" * 9000 + b" HTTP/1.1") == 414
    assert refused(b"GET / HTTP/1.1\r\nX: " + b"b" * 9000) == 431
    many = b"GET / HTTP/1.1" + b"".join(b"\r\nX-%d: 1" % i for i in range(101))
    assert refused(many) == 431
    wide = b"GET / HTTP/1.1" + b"".join(b"\r\nX-%d: " % i + b"v" * 8000 for i in range(9))
    assert refused(wide) == 431  # each line fits, the sum not


def test_incomplete_heads_are_refused_once_too_long():
    wire.check_incomplete(b"GET / HTTP/1.1\r\nHost: a\r\n")  # fine so far
    with pytest.raises(ProtocolError) as caught:
        wire.check_incomplete(b"GET /" + b"a" * 9000)
    assert caught.value.status == 414
    with pytest.raises(ProtocolError) as caught:
        wire.check_incomplete(b"GET / HTTP/1.1\r\nX: " + b"b" * 9000)
    assert caught.value.status == 431
    with pytest.raises(ProtocolError) as caught:
        wire.check_incomplete(b"GET / HTTP/1.1\r\n" + b"X: 1234567\r\n" * 6000)
    assert caught.value.status == 431


def test_find_head_end():
    assert wire.find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n") == (-1, -1)
    data = b"GET / HTTP/1.1\r\nA: b\r\n\r\nBODY"
    end, start = wire.find_head_end(data)
    assert data[:end] == b"GET / HTTP/1.1\r\nA: b" and data[start:] == b"BODY"
    data = b"GET / HTTP/1.1\nA: b\n\nBODY"
    end, start = wire.find_head_end(data)
    assert data[:end] == b"GET / HTTP/1.1\nA: b" and data[start:] == b"BODY"


def test_response_head_and_date():
    raw = wire.response_head(404, [("Content-Length", "0"), ("X-A", "b")])
    assert raw == b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-A: b\r\n\r\n"
    dates = wire.DateCache()
    first = dates.now()
    assert first.endswith(" GMT") and dates.now() in (first, dates.now())


fields = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126,
                                        blacklist_characters=':()<>@,;\\"/[]?={}'),
                 min_size=1, max_size=20)
values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@given(st.lists(st.tuples(fields, values), max_size=20))
def test_any_valid_header_set_round_trips(pairs):
    framing = ("host", "content-length", "transfer-encoding")  # checked on their own
    pairs = [(n, v) for n, v in pairs if n.lower() not in framing]
    raw = "GET /x HTTP/1.0" + "".join(f"\r\n{n}: {v}" for n, v in pairs)
    h = head(raw)
    assert [(n, v.strip(" \t")) for n, v in pairs] == h.headers.items()
    for name, _ in pairs:
        assert h.headers.get(name.upper()) is not None


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused_cleanly(raw):
    try:
        parsed = wire.parse_head(raw)
    except ProtocolError as error:
        assert error.status in (400, 413, 414, 431, 501, 505)
    else:
        assert parsed.method and parsed.target


@given(st.binary(max_size=300))
def test_any_incomplete_prefix_is_checked_cleanly(raw):
    try:
        wire.check_incomplete(raw)
        wire.find_head_end(raw)
    except ProtocolError as error:
        assert error.status in (414, 431)
