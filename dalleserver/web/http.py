"""Requests, responses, the JSON envelope and the error codes of CONTRACT §4.1."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

ERROR_STATUS = {
    "INVALID_REQUEST": 400,
    "INVALID_SERIES": 400,
    "INVALID_ADDRESS": 400,
    "MISSING_PARAMETER": 400,
    "UNAUTHORIZED": 401,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "REQUEST_HEADER_FIELDS_TOO_LARGE": 431,
    "URI_TOO_LONG": 414,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}
REASONS = {
    200: "OK", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    414: "URI Too Long", 416: "Range Not Satisfiable", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    503: "Service Unavailable",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# request IDs need to be unique-ish, not secret: a seeded PRNG avoids a syscall per request
_ids = random.Random()
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def request_id_from(header: str | None) -> str:
    """The client's X-Request-ID when it is 1-64 safe characters, else a new 8-hex ID."""
    if header and _REQUEST_ID.match(header):
        return header
    return f"{_ids.getrandbits(32):08x}"


def rfc3339_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


class ApiError(Exception):
    """An error answered with the envelope: code, message, optional details and headers."""

    def __init__(self, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]


@dataclass
class Request:
    method: str
    target: str  # the raw request target, as sent
    path: str  # decoded path
    raw_path: str  # the path before percent-decoding
    query: dict[str, list[str]]
    headers: Any  # wire.Headers (or any mapping with a case-insensitive get())
    client_ip: str
    peer_ip: str
    request_id: str
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    route_name: str = "unmatched"

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def has(self, name: str) -> bool:
        return name in self.query

    @staticmethod
    def parse_query(text: str) -> dict[str, list[str]]:
        return parse_qs(text, keep_blank_values=True, strict_parsing=False)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    file_fd: int | None = None  # an open file, sent with sendfile and closed by the server
    file_offset: int = 0
    file_length: int = 0
    stream: Callable[[Callable[[bytes], None]], None] | None = None  # long-lived (SSE)

    @property
    def length(self) -> int:
        if self.file_length or self.file_fd is not None:
            return self.file_length
        return len(self.body)


def envelope(data: Any, request_id: str, status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    doc = {"success": True, "data": data, "request_id": request_id}
    return Response(status, _dumps(doc), JSON_TYPE, dict(headers or {}))


def envelope_json(data_json: bytes, request_id: str, status: int = 200) -> Response:
    """An envelope around data that is already JSON (cached progress snapshots)."""
    body = b'{"success":true,"data":' + data_json + b',"request_id":' + _dumps(request_id) + b"}"
    return Response(status, body, JSON_TYPE)


def error_response(error: ApiError, request_id: str) -> Response:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "timestamp": rfc3339_now(),
        "request_id": request_id,
    }
    if error.details is not None:
        body["details"] = error.details
    doc = {"success": False, "error": body, "request_id": request_id}
    headers = dict(error.headers)
    if error.code == "UNAUTHORIZED":
        headers.setdefault("WWW-Authenticate", 'Bearer realm="dalleserver"')
    return Response(error.status, _dumps(doc), JSON_TYPE, headers)


def text_response(text: str, status: int = 200, content_type: str = TEXT_TYPE) -> Response:
    return Response(status, text.encode("utf-8"), content_type)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sse_event(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
