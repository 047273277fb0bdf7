"""The OpenAI test double answers like the real API, over a real socket."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests.support.openai_double import (
    OpenAIDouble,
    bad_request,
    broken_json,
    connection_reset,
    content_policy,
    insufficient_quota,
    invalid_key,
    ok_chat,
    ok_image_b64,
    ok_image_url,
    rate_limited,
    server_error,
    slow,
    status,
)

# No proxies: the double is on 127.0.0.1 and must be reached directly whatever the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
KEY = "sk-test-double-0123456789"


def post(url: str, payload: dict | None = None, timeout: float = 5.0):
    """POST JSON like a client would; (status, headers, body) whatever the status."""
    body = json.dumps(payload or {"model": "dall-e-3", "prompt": "a cat"}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def get(url: str, timeout: float = 5.0):
    try:
        with OPENER.open(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


@pytest.fixture
def api():
    with OpenAIDouble() as double:
        yield double


def chat_url(api: OpenAIDouble) -> str:
    return f"{api.base_url}/chat/completions"


def images_url(api: OpenAIDouble) -> str:
    return f"{api.base_url}/images/generations"


def test_binds_loopback_only(api):
    assert api.base_url == f"http://127.0.0.1:{api.port}/v1"
    assert api._server.server_address[0] == "127.0.0.1"


def test_default_answers_are_successes(api):
    code, headers, body = post(chat_url(api), {"model": "gpt-4o", "messages": []})
    doc = json.loads(body)
    assert code == 200 and headers["Content-Type"] == "application/json"
    assert doc["object"] == "chat.completion" and doc["model"] == "gpt-4o"
    assert doc["choices"][0]["message"] == {"role": "assistant",
                                            "content": "Enhanced prompt text"}
    assert doc["choices"][0]["finish_reason"] == "stop" and "usage" in doc

    code, _, body = post(images_url(api))
    png = base64.b64decode(json.loads(body)["data"][0]["b64_json"])
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", (64, 64))


def test_scripted_success_bodies(api):
    api.script("chat", ok_chat("A vivid prompt"))
    api.script("images", ok_image_b64(b"not really a png"))
    assert json.loads(post(chat_url(api))[2])["choices"][0]["message"]["content"] == (
        "A vivid prompt")
    data = json.loads(post(images_url(api))[2])["data"][0]["b64_json"]
    assert base64.b64decode(data) == b"not really a png"


@pytest.mark.parametrize(("action", "code", "error_code", "error_type"), [
    (rate_limited(), 429, "rate_limit_exceeded", "requests"),
    (insufficient_quota(), 429, "insufficient_quota", "insufficient_quota"),
    (server_error(), 500, None, "server_error"),
    (server_error(502), 502, None, "server_error"),
    (server_error(503), 503, None, "server_error"),
    (content_policy(), 400, "content_policy_violation", "invalid_request_error"),
    (invalid_key(), 401, "invalid_api_key", "invalid_request_error"),
    (bad_request("size is wrong"), 400, None, "invalid_request_error"),
])
def test_error_actions(api, action, code, error_code, error_type):
    api.script("images", action)
    got, headers, body = post(images_url(api))
    error = json.loads(body)["error"]
    assert got == code
    assert (error["code"], error["type"]) == (error_code, error_type)
    assert error["message"]
    assert "retry-after" not in {k.lower() for k in headers}


def test_bad_request_carries_the_message_and_param(api):
    api.script("chat", bad_request("size is wrong", param="size"))
    error = json.loads(post(chat_url(api))[2])["error"]
    assert (error["message"], error["param"]) == ("size is wrong", "size")


def test_rate_limit_headers_are_sent_when_given(api):
    api.script("images", rate_limited(retry_after="7", retry_after_ms="6500"))
    code, headers, _ = post(images_url(api))
    assert code == 429
    assert headers["Retry-After"] == "7" and headers["retry-after-ms"] == "6500"


def test_generic_status_and_broken_json(api):
    api.script("chat", status(418, {"teapot": True}, {"X-Extra": "yes"}), status(204),
               broken_json())
    code, headers, body = post(chat_url(api))
    assert (code, json.loads(body), headers["X-Extra"]) == (418, {"teapot": True}, "yes")
    code, _, body = post(chat_url(api))
    assert (code, body) == (204, b"")
    code, headers, body = post(chat_url(api))
    assert code == 200 and headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(body)


def test_url_images_are_downloadable(api):
    api.script("images", ok_image_url(), ok_image_url(b"\x89PNG custom"))
    first = json.loads(post(images_url(api))[2])["data"][0]["url"]
    second = json.loads(post(images_url(api))[2])["data"][0]["url"]
    assert first.startswith(f"{api.base_url}/files/") and first.endswith(".png")
    code, headers, body = get(first)
    assert code == 200 and headers["Content-Type"] == "image/png"
    assert body.startswith(b"\x89PNG") and int(headers["Content-Length"]) == len(body)
    assert get(second)[2] == b"\x89PNG custom"
    assert api.calls("files") == 2 and api.calls("images") == 2


def test_url_image_downloads_can_fail_be_big_or_be_slow(api):
    big = b"x" * 300_000
    api.script("images", ok_image_url(download_status=404), ok_image_url(big),
               ok_image_url(download_delay=0.3))
    missing, oversized, sluggish = (json.loads(post(images_url(api))[2])["data"][0]["url"]
                                    for _ in range(3))
    assert get(missing)[0] == 404
    code, headers, body = get(oversized)
    assert code == 200 and headers["Content-Length"] == str(len(big)) and body == big
    started = time.monotonic()
    assert get(sluggish)[0] == 200
    assert time.monotonic() - started >= 0.3
    assert get(f"{api.base_url}/files/unknown.png")[0] == 404


def test_slow_answers_take_their_time(api):
    api.script("chat", slow(0.3), slow(0.3, then=server_error(503)))
    started = time.monotonic()
    code, _, body = post(chat_url(api))
    assert time.monotonic() - started >= 0.3
    assert code == 200 and json.loads(body)["object"] == "chat.completion"
    assert post(chat_url(api))[0] == 503


def test_slow_answers_trip_client_timeouts(api):
    api.script("images", slow(1.0))
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        post(images_url(api), timeout=0.2)


def test_connection_reset_is_a_connection_error(api):
    api.script("images", connection_reset())
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError,
                        urllib.error.URLError)):
        post(images_url(api))
    assert api.calls("images") == 1
    assert post(images_url(api))[0] == 200  # the server carries on


def test_scripts_are_consumed_in_order_per_endpoint(api):
    api.script("images", server_error(502), rate_limited())
    api.script("chat", invalid_key())
    assert api.pending("images") == 2
    assert post(chat_url(api))[0] == 401
    assert [post(images_url(api))[0] for _ in range(3)] == [502, 429, 200]
    assert post(chat_url(api))[0] == 200
    assert (api.calls("images"), api.calls("chat"), api.pending("images")) == (3, 2, 0)
    with pytest.raises(ValueError):
        api.script("embeddings", ok_chat())


def test_requests_are_recorded(api):
    before = time.monotonic()
    post(images_url(api), {"model": "dall-e-3", "prompt": "a fox", "n": 1})
    (request,) = api.requests
    assert api.requests_to("images") == [request] and api.requests_to("chat") == []
    assert request["method"] == "POST" and request["path"] == "/v1/images/generations"
    assert request["json"] == {"model": "dall-e-3", "prompt": "a fox", "n": 1}
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert request["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in request["headers"])
    assert before <= request["time"] <= time.monotonic()
    assert KEY not in request["body"].decode()


def test_unknown_paths_are_404(api):
    code, _, body = post(f"{api.base_url}/embeddings")
    assert code == 404 and json.loads(body)["error"]["type"] == "invalid_request_error"


def test_concurrent_requests_are_served_in_parallel(api):
    api.script("images", slow(0.4), slow(0.4), slow(0.4))
    codes: list[int] = []

    def call() -> None:
        codes.append(post(images_url(api))[0])

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert codes == [200, 200, 200]
    assert time.monotonic() - started < 1.0  # serialized would take 1.2 s
