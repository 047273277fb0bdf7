"""The JSON envelope of CONTRACT §4.1 and the other response bodies the views build."""

from __future__ import annotations

import json
import time
from typing import Any

from dalleserver.httpd import Response
from dalleserver.web.errors import ApiError, ErrorCode

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
SSE_TYPE = "text/event-stream; charset=utf-8"
# Envelopes, errors and reports change from one request to the next (progress, health,
# metrics): no cache, browser or proxy, may keep one.
NO_STORE = "no-store"


def rfc3339_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def envelope(data: Any, request_id: str, status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    """``{"success": true, "data": ..., "request_id": ...}``."""
    doc = {"success": True, "data": data, "request_id": request_id}
    return Response(status, _dumps(doc), JSON_TYPE, {"Cache-Control": NO_STORE, **(headers or {})})


def envelope_json(data_json: bytes, request_id: str, status: int = 200) -> Response:
    """An envelope around data that is already JSON (cached progress snapshots)."""
    body = b'{"success":true,"data":' + data_json + b',"request_id":' + _dumps(request_id) + b"}"
    return Response(status, body, JSON_TYPE, {"Cache-Control": NO_STORE})


def error_response(error: ApiError, request_id: str, data: Any = None) -> Response:
    """The error envelope; ``data`` rides along where a monitor wants a report with the
    error (``/health`` when unhealthy)."""
    body: dict[str, Any] = {
        "code": error.code.wire,
        "message": error.message,
        "timestamp": rfc3339_now(),
        "request_id": request_id,
    }
    if error.details is not None:
        body["details"] = error.details
    doc: dict[str, Any] = {"success": False, "error": body, "request_id": request_id}
    if data is not None:
        doc["data"] = data
    headers = {"Cache-Control": NO_STORE, **error.headers}
    if error.code is ErrorCode.UNAUTHORIZED:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="dalleserver"')
    return Response(error.status, _dumps(doc), JSON_TYPE, headers,
                    error_code=error.code.wire)


def text_response(text: str, status: int = 200, content_type: str = TEXT_TYPE) -> Response:
    return Response(status, text.encode("utf-8"), content_type, {"Cache-Control": NO_STORE})


def json_document(doc: Any) -> Response:
    """A JSON document served as itself, not inside the envelope (OpenAPI, as tools expect)."""
    return Response(200, json.dumps(doc, separators=(",", ":")).encode(), JSON_TYPE)


def sse_event(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
