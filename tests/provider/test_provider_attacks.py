"""A provider (or whatever answers in its name) that misbehaves on purpose: answers a byte at
a time, points at local files or plain-http URLs, sends a decompression bomb. Each call has
a total deadline, only https images (http when the API itself is http) are fetched, and a
picture over the pixel cap is refused before it is decoded. A real HTTP double on loopback.
"""

from __future__ import annotations

import base64
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dalleserver.provider.http import BAD_RESPONSE, TIMEOUT, OpenAIClient, ProviderError
from dalleserver.provider.images import MAX_PIXELS
from tests.provider.test_openai import KEY, generate, make
from tests.support import openai_double as od

TRICKLE = 0.2  # seconds between bytes: each read is quick, the whole answer is not


@pytest.fixture
def api():
    with od.OpenAIDouble() as double:
        yield double


def test_a_trickling_answer_ends_at_the_total_deadline(api):
    api.script("images", od.trickle(TRICKLE))
    client = OpenAIClient(KEY)
    with pytest.raises(ProviderError) as caught:
        client.post_json(f"{api.base_url}/images/generations", {"prompt": "x"}, timeout=1.0)
    assert caught.value.kind == TIMEOUT and "within 1s" in caught.value.message


def test_a_trickling_download_ends_at_the_total_deadline(api):
    api.script("images", od.ok_image_url(download_trickle=TRICKLE))
    client = OpenAIClient(KEY)
    answer = client.post_json(f"{api.base_url}/images/generations", {"prompt": "x"}, 5.0)
    with pytest.raises(ProviderError) as caught:
        client.download(answer["data"][0]["url"], 1.0, 1 << 20, ("http", "https"))
    assert caught.value.kind == TIMEOUT


def run_once(tmp_path, api, **env: str) -> tuple[dict, object]:
    """One generation's final snapshot (and the runtime) against what ``api`` scripts."""
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1", **env})
    try:
        return generate(runtime), runtime
    finally:
        runtime.jobs.stop()


def test_a_trickling_provider_fails_the_run_not_the_worker(tmp_path, api):
    api.script("images", *[od.trickle(TRICKLE)] * 3)
    snap, _ = run_once(tmp_path, api, TB_DALLE_IMAGE_TIMEOUT="1s")
    assert snap["error"] and "did not answer within 1s" in snap["error"]


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/x.png",
                                 "data:image/png;base64,AAAA", "gopher://127.0.0.1/x"])
def test_image_urls_of_other_schemes_are_never_fetched(tmp_path, api, url):
    api.script("images", od.status(200, {"created": 1, "data": [{"url": url}]}))
    snap, runtime = run_once(tmp_path, api)
    assert "scheme" in snap["error"] and "is not accepted" in snap["error"]
    assert not runtime.data_dir.annotated("songbird-morning", snap["address"]).exists()


def test_plain_http_images_only_when_the_api_is_plain_http(api):
    client = OpenAIClient(KEY)
    url = f"{api.base_url}/files/img-1.png"
    with pytest.raises(ProviderError) as caught:
        client.download(url, 5.0, 1 << 20)  # the default: an https API, https images
    assert caught.value.kind == BAD_RESPONSE and "https only" in caught.value.message
    assert api.calls("files") == 0


class Redirecting(BaseHTTPRequestHandler):
    """Every GET is redirected to a local file."""

    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", "file:///etc/hostname")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        """Silent: the test looks at what the client did."""


def test_redirects_only_to_allowed_schemes():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProviderError) as caught:
            OpenAIClient(KEY).download(f"http://127.0.0.1:{server.server_address[1]}/a.png",
                                       5.0, 1 << 20, ("http", "https"))
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP 302" in caught.value.message


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` black pixels: tiny compressed, huge
    decoded (built row by row so the test itself never holds the pixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # ours is stricter
def test_a_pixel_bomb_is_refused_before_it_is_decoded(tmp_path, api):
    bomb = bomb_png(12000, 12000)
    assert len(bomb) < 64 * 1024 and 12000 * 12000 > MAX_PIXELS
    api.script("images", od.ok_image_b64(bomb))
    snap, _ = run_once(tmp_path, api)
    assert "12000x12000 pixels" in snap["error"] and "megapixels" in snap["error"]
    assert base64.b64encode(bomb)[:16].decode() not in snap["error"]
