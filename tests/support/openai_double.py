"""A scriptable stand-in for the OpenAI HTTP API: a real server on 127.0.0.1, for tests.

It answers ``POST /v1/chat/completions`` ("chat"), ``POST /v1/images/generations``
("images") and ``POST /v1/audio/speech`` ("speech", a few bytes of audio), and serves
``GET /v1/files/<id>.png`` for URL-style image answers. What each call gets is scripted
per endpoint; an exhausted script answers with a success::

    with OpenAIDouble() as api:
        api.script("images", rate_limited(retry_after="1"), server_error(503))
        ...  # point the client at api.base_url; the third images call succeeds
        assert api.calls("images") == 3

Being a real socket server (rather than a mocked ``urlopen``), it exercises the client's
actual timeouts, connection handling and header parsing. It never checks the API key but
records every request (headers included) so tests can assert where the key went.
"""

from __future__ import annotations

import base64
import functools
import io
import itertools
import json
import socket
import struct
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ENDPOINTS = {
    "/v1/chat/completions": "chat",
    "/v1/images/generations": "images",
    "/v1/audio/speech": "speech",
}
# not a playable MP3, but shaped like one: an ID3 header and an MPEG frame sync
FAKE_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(64)
FILES_PREFIX = "/v1/files/"

_ids = itertools.count(1)


@functools.cache
def small_png(size: int = 64, colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A real, decodable PNG of one solid colour (Pillow is a runtime dependency)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _error(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# -- the exchange an action answers ------------------------------------------------------------


class Exchange:
    """One request being answered: what actions use to reply (or to misbehave)."""

    def __init__(self, handler: _Handler, double: OpenAIDouble, request: dict[str, Any]):
        self.handler = handler
        self.double = double
        self.request = request

    def send(self, status: int, body: Any = None,
             headers: Mapping[str, str] | None = None) -> None:
        """Answer with ``body``: a dict/list is sent as JSON, bytes as they are."""
        if body is None:
            payload, content_type = b"", "application/json"
        elif isinstance(body, (bytes, bytearray)):
            payload, content_type = bytes(body), "application/octet-stream"
        else:
            payload, content_type = json.dumps(body).encode("utf-8"), "application/json"
        extra = dict(headers or {})
        handler = self.handler
        handler.send_response(status)
        if not any(k.lower() == "content-type" for k in extra):
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("x-request-id", f"req_{next(_ids)}")
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def trickle(self, status: int, payload: bytes, content_type: str, interval: float) -> None:
        """Answer the head at once, then the body one byte every ``interval`` seconds, as a
        provider (or a proxy) that never stalls long enough for a per-read timeout."""
        handler = self.handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.flush()
        for index in range(len(payload)):
            handler.wfile.write(payload[index:index + 1])
            handler.wfile.flush()
            if self.double._closing.wait(interval):
                return

    def reset(self) -> None:
        """Drop the connection with a TCP RST and no HTTP answer at all.

        SO_LINGER with a zero timeout makes close() discard unsent data and send RST, so the
        client sees ECONNRESET (or an empty read: RemoteDisconnected) rather than a clean EOF.
        """
        sock = self.handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.handler.close_connection = True
        sock.close()


# -- actions -----------------------------------------------------------------------------------


class Action(ABC):
    """Something the double does with one scripted request."""

    @abstractmethod
    def perform(self, exchange: Exchange) -> None:
        """Answer (or refuse to answer) the exchange."""


class Reply(Action):
    """A fixed status, body (dict -> JSON, bytes raw, None empty) and extra headers."""

    def __init__(self, status: int, body: Any = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def perform(self, exchange: Exchange) -> None:
        exchange.send(self.status, self.body, self.headers)


class _OkChat(Action):
    def __init__(self, content: str) -> None:
        self.content = content

    def perform(self, exchange: Exchange) -> None:
        doc = exchange.request.get("json") or {}
        model = doc.get("model", "gpt-4o-mini") if isinstance(doc, dict) else "gpt-4o-mini"
        exchange.send(200, {
            "id": f"chatcmpl-double{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.content},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59},
        })


# Image output tokens the GPT image models bill per quality and size (OpenAI's image
# generation guide); "auto" answers as medium at 1024x1024, as a real answer names what it chose.
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}


def image_answer(request: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """An images answer as the real API gives it: for the GPT image models also the quality,
    size and output format it used, and the ``usage`` it bills (input tokens from the
    prompt's length, output tokens from the table above)."""
    doc = request.get("json") if isinstance(request.get("json"), dict) else {}
    answer: dict[str, Any] = {"created": int(time.time()), "data": items}
    if not str(doc.get("model", "")).startswith("gpt-image"):
        return answer
    quality = doc.get("quality") if doc.get("quality") in OUTPUT_TOKENS else "medium"
    size = doc.get("size") if doc.get("size") in OUTPUT_TOKENS["low"] else "1024x1024"
    text = max(1, len(str(doc.get("prompt", ""))) // 4)
    output = OUTPUT_TOKENS[quality][size]
    answer.update({
        "quality": quality, "size": size, "output_format": doc.get("output_format", "png"),
        "usage": {"input_tokens": text, "output_tokens": output, "total_tokens": text + output,
                  "input_tokens_details": {"text_tokens": text, "image_tokens": 0}},
    })
    return answer


class _OkImageB64(Action):
    def __init__(self, png: bytes | None) -> None:
        self.png = png

    def perform(self, exchange: Exchange) -> None:
        data = small_png() if self.png is None else self.png
        exchange.send(200, image_answer(exchange.request, [{
            "b64_json": base64.b64encode(data).decode("ascii"),
            "revised_prompt": "a revised prompt"}]))


class _OkImageUrl(Action):
    def __init__(self, png: bytes | None, download_status: int, download_delay: float,
                 download_trickle: float = 0.0):
        self.png = png
        self.download_status = download_status
        self.download_delay = download_delay
        self.download_trickle = download_trickle

    def perform(self, exchange: Exchange) -> None:
        file_id = f"img-{next(_ids)}"
        png = small_png() if self.png is None else self.png
        exchange.double._files[file_id] = (png, self.download_status, self.download_delay,
                                           self.download_trickle)
        url = f"{exchange.double.base_url}/files/{file_id}.png"
        exchange.send(200, image_answer(exchange.request, [{"url": url}]))


class _Slow(Action):
    def __init__(self, seconds: float, then: Action | None) -> None:
        self.seconds = seconds
        self.then = then

    def perform(self, exchange: Exchange) -> None:
        # Waiting on the double's closing event (not time.sleep) lets teardown cut it short.
        exchange.double._closing.wait(self.seconds)
        then = self.then or exchange.double._default_action(exchange.request["endpoint"])
        then.perform(exchange)


class _Trickle(Action):
    def __init__(self, interval: float) -> None:
        self.interval = interval

    def perform(self, exchange: Exchange) -> None:
        answer = image_answer(exchange.request, [{
            "b64_json": base64.b64encode(small_png()).decode("ascii")}])
        exchange.trickle(200, json.dumps(answer).encode(), "application/json", self.interval)


class _Reset(Action):
    def perform(self, exchange: Exchange) -> None:
        exchange.reset()


class _OkSpeech(Action):
    def __init__(self, audio: bytes) -> None:
        self.audio = audio

    def perform(self, exchange: Exchange) -> None:
        exchange.send(200, self.audio, {"Content-Type": "audio/mpeg"})


def ok_speech(audio: bytes = FAKE_MP3) -> Action:
    """200 with ``audio`` as ``audio/mpeg``, as the speech endpoint answers."""
    return _OkSpeech(audio)


def ok_chat(content: str = "Enhanced prompt text") -> Action:
    """200 with a chat.completion whose single choice says ``content``."""
    return _OkChat(content)


def ok_image_b64(png: bytes | None = None) -> Action:
    """200 with one base64-encoded image (default: a small real PNG), and the usage."""
    return _OkImageB64(png)


def ok_image_url(png: bytes | None = None, *, download_status: int = 200,
                 download_delay: float = 0.0, download_trickle: float = 0.0) -> Action:
    """200 with one image URL on this double; downloading it answers ``download_status``
    after ``download_delay`` seconds with ``png`` (or an error body when not 200), one
    byte every ``download_trickle`` seconds when that is set."""
    return _OkImageUrl(png, download_status, download_delay, download_trickle)


def rate_limited(retry_after: str | None = None, retry_after_ms: str | None = None) -> Action:
    """429 rate_limit_exceeded, with ``Retry-After`` / ``retry-after-ms`` when given."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Reply(429, _error("Rate limit reached for requests per min (RPM): Limit 5, Used 5. "
                             "Please try again later.", "requests", "rate_limit_exceeded"),
                 headers)


def insufficient_quota() -> Action:
    """429 insufficient_quota: a 429 that no amount of retrying will fix."""
    return Reply(429, _error("You exceeded your current quota, please check your plan and "
                             "billing details.", "insufficient_quota", "insufficient_quota"))


def server_error(status: int = 500) -> Action:
    """A 5xx (500, 502, 503, ...) with OpenAI's generic server error body."""
    return Reply(status, _error("The server had an error while processing your request. "
                                "Sorry about that!", "server_error", None))


def content_policy() -> Action:
    """400 content_policy_violation: the prompt was refused."""
    return Reply(400, _error("Your request was rejected as a result of our safety system. "
                             "Your prompt may contain text that is not allowed by our safety "
                             "system.", "invalid_request_error", "content_policy_violation"))


def invalid_key() -> Action:
    """401 invalid_api_key (the message masks the key the way OpenAI does)."""
    return Reply(401, _error("Incorrect API key provided: sk-abc***xyz. You can find your API "
                             "key at https://platform.openai.com/account/api-keys.",
                             "invalid_request_error", "invalid_api_key"))


def bad_request(message: str = "Invalid value for 'size': must be one of 1024x1024.",
                param: str | None = "size") -> Action:
    """400 invalid_request_error about a parameter: a generic non-retryable client error."""
    return Reply(400, _error(message, "invalid_request_error", None, param))


def trickle(interval: float) -> Action:
    """200 with an image answer whose body comes one byte every ``interval`` seconds."""
    return _Trickle(interval)


def slow(seconds: float, then: Action | None = None) -> Action:
    """Wait ``seconds`` before answering with ``then`` (default: the endpoint's success)."""
    return _Slow(seconds, then)


def broken_json() -> Action:
    """200 whose body claims to be JSON but is not."""
    return Reply(200, b'{"created": 1, "data": [', {"Content-Type": "application/json"})


def connection_reset() -> Action:
    """No HTTP answer at all: the connection is reset after the request is read."""
    return _Reset()


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Action:
    """Any status with any body (dict -> JSON, bytes raw, None empty) and headers."""
    return Reply(code, body, headers)


# -- the server --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 with Content-Length on every answer, like the real API (keep-alive capable).
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent on purpose: tests assert on the recorded requests, not on log lines."""

    def _record(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        path = self.path.split("?", 1)[0]
        endpoint = ENDPOINTS.get(path)
        if endpoint is None and path.startswith(FILES_PREFIX):
            endpoint = "files"
        request = {
            "method": self.command,
            "path": self.path,
            "endpoint": endpoint,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "json": doc,
            "time": time.monotonic(),
        }
        self.server.double._record(request)
        return request

    def _serve(self) -> None:
        request = self._record()
        double = self.server.double
        exchange = Exchange(self, double, request)
        try:
            double._action_for(request).perform(exchange)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired)

    do_GET = _serve
    do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow answer must not block teardown

    def __init__(self, double: OpenAIDouble) -> None:
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets and abandoned connections are the point of this server; anything else is a
        # bug in the double and should be seen.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class OpenAIDouble:
    """The scriptable fake API; use as a context manager (or call start()/close())."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Action]] = {"chat": deque(), "images": deque(),
                                                   "speech": deque()}
        self._files: dict[str, tuple[bytes, int, float, float]] = {}
        self._closing = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> OpenAIDouble:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.02},
                                            name="openai-double", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OpenAIDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scripting and inspection --------------------------------------------------------------

    def script(self, endpoint: str, *actions: Action) -> OpenAIDouble:
        """Queue ``actions`` for the next calls to ``endpoint`` ("chat", "images" or
        "speech")."""
        if endpoint not in self._scripts:
            raise ValueError(f"unknown endpoint {endpoint!r}; use 'chat', 'images' or "
                             "'speech'")
        with self._lock:
            self._scripts[endpoint].extend(actions)
        return self

    def pending(self, endpoint: str) -> int:
        """How many scripted actions for ``endpoint`` have not been used yet."""
        with self._lock:
            return len(self._scripts[endpoint])

    def calls(self, endpoint: str) -> int:
        """How many requests reached ``endpoint`` ("chat", "images", "speech", "files")."""
        with self._lock:
            return sum(1 for r in self.requests if r["endpoint"] == endpoint)

    def requests_to(self, endpoint: str) -> list[dict[str, Any]]:
        """The recorded requests for ``endpoint``, oldest first."""
        with self._lock:
            return [r for r in self.requests if r["endpoint"] == endpoint]

    # -- internals used by the handler ---------------------------------------------------------

    def _record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(request)

    def _default_action(self, endpoint: str | None) -> Action:
        if endpoint == "speech":
            return ok_speech()
        return ok_chat() if endpoint == "chat" else ok_image_b64()

    def _action_for(self, request: dict[str, Any]) -> Action:
        endpoint = request["endpoint"]
        method = request["method"]
        if endpoint in self._scripts and method == "POST":
            with self._lock:
                queue = self._scripts[endpoint]
                action = queue.popleft() if queue else None
            return action or self._default_action(endpoint)
        if endpoint == "files" and method == "GET":
            return _ServeFile()
        return Reply(404, _error(f"Invalid URL ({method} {request['path']})",
                                 "invalid_request_error", None))


class _ServeFile(Action):
    def perform(self, exchange: Exchange) -> None:
        name = exchange.request["path"].split("?", 1)[0][len(FILES_PREFIX):]
        file_id = name.removesuffix(".png")
        entry = exchange.double._files.get(file_id)
        if entry is None:
            exchange.send(404, _error("File not found", "invalid_request_error", None))
            return
        png, code, delay, trickle_interval = entry
        if delay:
            exchange.double._closing.wait(delay)
        if code != 200:
            exchange.send(code, _error(f"download failed ({code})", "server_error", None))
            return
        if trickle_interval:
            exchange.trickle(200, png, "image/png", trickle_interval)
            return
        exchange.send(200, png, {"Content-Type": "image/png"})
