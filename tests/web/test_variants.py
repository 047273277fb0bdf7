"""Image variants over HTTP: /dalle/<series>/<address>.<ext>?size=N&raw=1&v=..., made once,
served from the cache, removed with their picture."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dalleserver.imaging.variants import FORMATS, WIDTHS, XMP_NAMESPACE
from dalleserver.storage import atomic_write
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

SERIES = "empty"
A = "0x" + "ab" * 20
B = "0x" + "bc" * 20
KEY = (SERIES, A)
PILLOW_NAMES = {ext: fmt.pillow_name for ext, fmt in FORMATS.items()}


@pytest.fixture
def made(tmp_path: Path):
    """(client, app) with the picture of A generated."""
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        client.get(f"/dalle/{SERIES}/{A}?generate=1")
        wait_done(app.runtime, KEY)
        yield client, app


def _decode(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def _made(app) -> dict[str, int]:
    return app.runtime.variants.stats()["made"]


def test_formats_and_sizes_decode_to_what_was_asked(made):
    client, app = made
    annotated = app.data_dir.annotated(*KEY)
    width, height = Image.open(annotated).size
    for ext, pillow_name in PILLOW_NAMES.items():
        for size in (32, 256):
            response, body = client.get(f"/dalle/{SERIES}/{A}.{ext}?size={size}")
            assert response.status == 200, body
            assert response.getheader("Content-Type") == FORMATS[ext].media_type
            image = _decode(body)
            assert image.format == pillow_name
            assert image.size == (size, round(height * size / width))
    response, body = client.get(f"/dalle/{SERIES}/{A}.png")
    assert body == annotated.read_bytes()  # the PNG itself, not a copy
    response, body = client.get(f"/dalle/{SERIES}/{A.upper().replace('0X', '0x')}.JPEG")
    assert response.status == 200 and _decode(body).format == "JPEG"


def test_the_raw_picture_is_the_generated_one(made):
    client, app = made
    generated = Image.open(app.data_dir.generated(*KEY))
    response, body = client.get(f"/dalle/{SERIES}/{A}.png?raw=1")
    assert response.status == 200
    raw = _decode(body)
    assert raw.size == generated.size and raw.tobytes() == generated.convert(raw.mode).tobytes()
    annotated = _decode(client.get(f"/dalle/{SERIES}/{A}.png")[1])
    assert annotated.size != raw.size or annotated.tobytes() != raw.tobytes()
    response, body = client.get(f"/dalle/{SERIES}/{A}.webp?raw=1&size=64")
    assert response.status == 200 and _decode(body).width == 64


def test_a_variant_is_encoded_once_then_served_from_the_cache(made):
    client, app = made
    first, body = client.get(f"/dalle/{SERIES}/{A}.webp?size=128")
    again, body2 = client.get(f"/dalle/{SERIES}/{A}.webp?size=128")
    assert body2 == body and again.getheader("ETag") == first.getheader("ETag")
    assert _made(app)["webp"] == 1
    conditional, _ = client.get(f"/dalle/{SERIES}/{A}.webp?size=128",
                                headers={"If-None-Match": first.getheader("ETag")})
    assert conditional.status == 304
    partial, part = client.get(f"/dalle/{SERIES}/{A}.webp?size=128",
                               headers={"Range": "bytes=0-9"})
    assert partial.status == 206 and part == body[:10]
    metrics = client.get("/metrics")[1].decode()
    assert 'dalleserver_image_variants_made_total{format="webp"} 1' in metrics


def test_concurrent_first_requests_encode_once(made):
    client, app = made
    ext = "avif" if "avif" in FORMATS else "webp"  # the slowest encode there is
    bodies: list[bytes] = []
    start = threading.Barrier(8)

    def fetch() -> None:
        start.wait(10)
        bodies.append(client.get(f"/dalle/{SERIES}/{A}.{ext}?size=512")[1])

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(bodies) == 8 and len(set(bodies)) == 1
    assert _made(app)[ext] == 1


def test_bad_sizes_and_formats_are_400_naming_them(made):
    client, _ = made
    for size in ("7", "100", "2048", "abc", "-64", ""):
        response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.webp?size={size}")
        assert response.status == 400, size
        assert doc["error"]["code"] == "INVALID_REQUEST" and "size" in doc["error"]["message"]
        assert doc["error"]["details"]["parameter"] == "size"
        assert doc["error"]["details"]["sizes"] == list(WIDTHS)
    response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.gif")
    assert response.status == 400 and "format" in doc["error"]["message"]
    assert doc["error"]["details"]["parameter"] == "format"
    response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.webp?raw=maybe")
    assert response.status == 400 and "raw" in doc["error"]["message"]
    response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.png.webp")
    assert response.status == 400 and doc["error"]["code"] == "INVALID_ADDRESS"
    response, doc = client.json("GET", f"/dalle/{SERIES}/0x1234.webp")
    assert response.status == 400 and doc["error"]["code"] == "INVALID_ADDRESS"


def test_versioned_urls_are_cached_for_a_year(made):
    client, _ = made
    plain, _ = client.get(f"/dalle/{SERIES}/{A}")
    version = plain.getheader("ETag").strip('"')
    response, _ = client.get(f"/dalle/{SERIES}/{A}.webp?size=64&v={version}")
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    for stale in (f"/dalle/{SERIES}/{A}.webp?size=64", f"/dalle/{SERIES}/{A}.webp?v=old"):
        response, _ = client.get(stale)
        assert response.getheader("Cache-Control") == "public, max-age=60"
    response, _ = client.get(f"/thumbs/{SERIES}/{A}?v={version}")
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"


def test_a_missing_picture_answers_as_the_plain_url_does(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        plain, plain_body = client.get(f"/dalle/{SERIES}/{B}")
        for path in (f"{B}.webp?size=64", f"{B}.png", f"{B}.jpg?raw=1"):
            variant, variant_body = client.get(f"/dalle/{SERIES}/{path}")
            assert variant.status == plain.status, path
            assert variant.getheader("Content-Type") == plain.getheader("Content-Type")
        assert not any(app.runtime.variants.root.rglob("*.webp"))
        response, doc = client.json("GET", f"/dalle/{SERIES}/{B}.webp?generate=1")
        assert response.status == 202 and doc["data"]["address"] == B
        wait_done(app.runtime, (SERIES, B))
        response, body = client.get(f"/dalle/{SERIES}/{B}.webp?size=64")
        assert response.status == 200 and _decode(body).format == "WEBP"


def test_removing_a_picture_removes_its_variants(made):
    client, app = made
    for path in (f"{A}.webp?size=64", f"{A}.jpg?size=32&raw=1"):
        assert client.get(f"/dalle/{SERIES}/{path}")[0].status == 200
    folder = app.runtime.variants.folder(KEY)
    assert len(list(folder.iterdir())) == 3  # the two and the gallery's thumbnail
    response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.webp?remove=1")
    assert response.status == 200 and doc["data"]["removed"] is True
    assert not folder.exists()
    response, doc = client.json("GET", f"/dalle/{SERIES}/{A}.webp?size=64")
    assert response.status == 200 and doc["data"] == {}


def test_png_text_chunks_carry_over(made):
    client, app = made
    annotated = app.data_dir.annotated(*KEY)
    info = PngInfo()
    info.add_itxt("Description", "a <small> picture & its prompt: ü")
    info.add_text("Software", "dalleserver")
    buffer = io.BytesIO()
    Image.open(annotated).save(buffer, format="PNG", pnginfo=info)
    atomic_write(annotated, buffer.getvalue())
    png = _decode(client.get(f"/dalle/{SERIES}/{A}.png?size=64")[1])
    assert png.text == {"Description": "a <small> picture & its prompt: ü",
                        "Software": "dalleserver"}
    for ext in ("webp", "jpg", "avif"):
        if ext not in FORMATS:
            continue
        image = _decode(client.get(f"/dalle/{SERIES}/{A}.{ext}?size=64")[1])
        assert _xmp_pairs(image.info["xmp"]) == png.text, ext


def _xmp_pairs(xmp: bytes) -> dict[str, str]:
    """Keyword/value pairs of our XMP packet, read with the standard library's parser."""
    import xml.etree.ElementTree as ElementTree

    text = xmp.decode("utf-8")
    root = ElementTree.fromstring(text[text.index("<x:xmpmeta"):text.index("<?xpacket end")])
    keys = [e.text for e in root.iter(f"{{{XMP_NAMESPACE}}}keyword")]
    values = [e.text for e in root.iter(f"{{{XMP_NAMESPACE}}}value")]
    return dict(zip(keys, values, strict=True))
