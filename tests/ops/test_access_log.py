"""The access log: queued by the request, written in batches by its own thread, in the same
lines the log formatters write, control characters escaped, nothing lost at SIGTERM."""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest

from dalleserver.observability.access_log import AccessLog
from dalleserver.observability.logs import JsonFormatter, TextFormatter
from tests.ops.test_server_process import ServerProcess

ENTRY = (1_800_000_000.25, "198.51.100.7", "GET", "/readyz", 200, 60, 0.00125, "abc-1")


@pytest.fixture
def stream_log():
    """A fresh logger with a stream handler like the one ``setup_logging`` installs."""
    made = []

    def make(formatter: logging.Formatter, handler: logging.Handler | None = None):
        stream = io.StringIO()
        handler = handler or logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger = logging.getLogger(f"test.access.{len(made)}.{id(stream)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        access = AccessLog(logger.name, interval=60)
        made.append(access)
        return access, stream

    yield make
    for access in made:
        access.close()


def as_record(access: AccessLog, formatter: logging.Formatter) -> str:
    return formatter.format(access._record(ENTRY))


def test_a_request_only_queues_its_line(stream_log):
    access, stream = stream_log(TextFormatter())
    access.add(ENTRY)
    assert stream.getvalue() == ""  # nothing written on the request's thread
    assert access.flush() == 1
    assert stream.getvalue() == as_record(access, TextFormatter()) + "\n"
    assert stream.getvalue() == ('2027-01-15T08:00:00Z INFO    198.51.100.7 "GET /readyz" 200 60 '
                                 '1.2ms id=abc-1\n')


def test_json_lines_carry_the_fields_of_a_record(stream_log):
    access, stream = stream_log(JsonFormatter())
    access.add(ENTRY)
    access.close()
    written = json.loads(stream.getvalue())
    expected = json.loads(as_record(access, JsonFormatter()))
    assert written == expected
    assert written["ts"] == "2027-01-15T08:00:00.250Z" and written["path"] == "/readyz"


def test_any_other_handler_gets_records(stream_log):
    class Keeping(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    keeping = Keeping()
    access, _ = stream_log(TextFormatter(), keeping)
    access.add(ENTRY)
    access.flush()
    [record] = keeping.records
    assert record.created == ENTRY[0] and record.status == 200
    assert record.getMessage() == '198.51.100.7 "GET /readyz" 200 60 1.2ms id=abc-1'


def test_lines_after_close_are_written_at_once(stream_log):
    access, stream = stream_log(TextFormatter())
    access.close()
    access.add(ENTRY)  # a stream (SSE) that ended after the last request
    assert "GET /readyz" in stream.getvalue()


def test_control_characters_are_escaped_in_text_lines(stream_log):
    access, stream = stream_log(TextFormatter())
    forged = "/livez?x=\r\x1b[31mFAKE-LOG-LINE\x9b2J"
    access.add((*ENTRY[:3], forged, *ENTRY[4:]))
    access.flush()
    line = stream.getvalue()
    assert line.count("\n") == 1 and "\x1b" not in line and "\r" not in line
    assert "\\x0d\\x1b[31mFAKE-LOG-LINE\\x9b2J" in line
    record = logging.makeLogRecord({"msg": "path %s", "args": (forged,)})
    assert "\\x1b" in TextFormatter().format(record)


def test_every_line_is_written_by_sigterm(tmp_path):
    server = ServerProcess(tmp_path)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # 200 requests in one write, then a C1 control in a path, answered before SIGTERM
        sock.sendall(b"".join(
            b"GET /livez?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(200))
            + b"GET /livez?\x9b2J HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 200 ") == 201
    assert server.stop() == 0
    access = [line for line in server.lines if '"GET /livez?' in line]
    assert len(access) == 201
    assert any("/livez?\\x9b2J" in line for line in access)
