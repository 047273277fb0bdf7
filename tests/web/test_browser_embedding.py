"""A page on another origin uses dalleserver as a dapp would, in headless Chromium: it
reads progress JSON and the exposed headers through CORS, is refused a cross-origin
delete, and shows <img> pictures, variants and the placeholder (issue 16).

Marker ``browser`` (run by .ci/run). The page is served by a second server on another
loopback port, so the browser treats it as another origin.
"""

import functools
import http.server
import threading

import pytest

from tests.support.server import running_server, wait_done
from tests.web.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.browser
A = "0x" + "5e" * 20
B = "0x" + "6f" * 20

PAGE = """<!doctype html><html><body>
<img id="missing" alt="" src="API/dalle/empty/%(b)s">
<script>
window.results = (async () => {
  const out = {};
  const started = await fetch("API/dalle/empty/%(a)s?generate=1&wait=30");
  const body = await started.json();
  out.status = started.status;
  out.done = body.data.done;
  out.requestId = started.headers.get("X-Request-ID");
  out.rateLimit = started.headers.get("RateLimit-Limit");
  out.imageUrl = body.data.urls.image;
  try {
    const removed = await fetch("API/dalle/empty/%(a)s/job", {method: "DELETE"});
    out.deleteStatus = removed.status;
  } catch (error) {
    out.deleteStatus = "blocked";
  }
  const img = document.createElement("img");
  img.id = "picture";
  img.src = "API" + out.imageUrl;
  document.body.append(img);
  await img.decode();
  out.pictureWidth = img.naturalWidth;
  const variant = document.createElement("img");
  variant.src = "API/dalle/empty/%(a)s.webp?size=64";
  document.body.append(variant);
  await variant.decode();
  out.variantWidth = variant.naturalWidth;
  const missing = document.getElementById("missing");
  await missing.decode();
  out.placeholderWidth = missing.naturalWidth;
  return out;
})();
</script></body></html>"""


@pytest.fixture
def origins(tmp_path):
    """(page URL, API base) on two loopback ports, CORS allowing the page's origin."""
    folder = tmp_path / "page"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # the test reads the browser, not this log
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=page_server.serve_forever, daemon=True).start()
    page_origin = f"http://127.0.0.1:{page_server.server_address[1]}"
    try:
        with running_server(tmp_path, env={"TB_DALLE_CORS_ORIGINS": page_origin}) as (
                client, app):
            api = f"http://127.0.0.1:{client.port}"
            html = PAGE.replace("API", api) % {"a": A, "b": B}
            (folder / "index.html").write_text(html)
            yield f"{page_origin}/index.html", api, app
    finally:
        page_server.shutdown()


def test_a_page_on_another_origin(origins):
    playwright = pytest.importorskip("playwright.sync_api")
    page_url, api, app = origins
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(page_url)
            results = page.evaluate("window.results")
        finally:
            browser.close()
    assert results["status"] == 200 and results["done"] is True
    assert results["requestId"] and results["rateLimit"]  # exposed to the page
    assert results["deleteStatus"] in (401, 403, "blocked")  # no token: refused
    assert results["pictureWidth"] > 256  # the annotated picture
    assert results["placeholderWidth"] == 256  # the stand-in for the missing one
    assert results["variantWidth"] == 64  # a small WebP variant
    assert wait_done(app.runtime, ("empty", A))["state"] == "completed"  # not deleted
