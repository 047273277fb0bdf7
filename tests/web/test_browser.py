"""The preview page in a real browser: Debian's Chromium, headless, driven by Playwright.

Marker ``browser``; .ci/run installs chromium and runs these after the main suite. The
gallery's own tests (and the README's screenshots) are in test_gallery_browser.py.
"""

import hashlib
import time

import pytest

from tests.support.server import running_server
from tests.web.conftest import ARGS, CHROMIUM  # noqa: F401 (test_browser_embedding's)

pytestmark = pytest.mark.browser
SEEDED = [("nocturne" if i % 2 else "reef-and-tide",
           "0x" + hashlib.sha256(f"seed{i}".encode()).hexdigest()[:40]) for i in range(7)]
NEW = "0x" + hashlib.sha256(b"fresh").hexdigest()[:40]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("browser"), flags={"workers": "2"},
                        env={"TB_DALLE_RATE_LIMIT": "100"}) as (client, app):
        for series, address in SEEDED:
            app.jobs.submit(series, address)
        assert app.jobs.wait_idle(120)
        yield f"http://127.0.0.1:{client.port}", app


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def test_gallery_pages_and_filter(site, page):
    base, _ = site
    page.goto(f"{base}/preview?size=6")
    cards = page.locator(".card")
    assert cards.count() == 6
    assert page.locator("h3.series").count() == 2
    first = page.locator(".card img").first
    first.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('.card img').naturalWidth > 0")
    assert "/thumbs/" in first.get_attribute("src")
    page.locator("a[rel=next]").first.click()
    page.wait_for_url("**page=2**")
    page.wait_for_function("document.querySelectorAll('.card').length === 1")
    page.locator("a[rel=prev]").first.click()
    page.wait_for_function("document.querySelectorAll('.card').length === 6")
    address = page.locator(".card").nth(3).get_attribute("data-address")
    page.fill("#q", address[2:12])  # searched by the server, across every page
    page.wait_for_function("document.querySelectorAll('.card').length === 1")
    assert page.locator(".card").first.get_attribute("data-address") == address
    page.fill("#q", "")
    page.select_option("#filter-series", "nocturne")
    page.wait_for_url("**series=nocturne**")
    page.wait_for_function("[...document.querySelectorAll('.card')].every("
                           "c => c.dataset.series === 'nocturne')")


def test_generate_with_live_progress(site, page):
    base, _ = site
    page.goto(f"{base}/preview?size=6")
    page.evaluate("window.__same_page = true")
    page.select_option("#series", "songbird-morning")
    page.focus("#address")
    page.keyboard.type(NEW)
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.wait_for_selector(f'.run[data-address="{NEW}"]')
    page.wait_for_function(f"document.querySelector('.run[data-address=\"{NEW}\"] .run-bar')"
                           ".value === 100", timeout=60_000)
    card = page.locator(f'.card[data-address="{NEW}"]')
    card.wait_for(timeout=30_000)
    assert page.evaluate("window.__same_page") is True  # no reload
    assert "in the gallery" in page.inner_text(f'.run[data-address="{NEW}"]')
    assert page.locator('section.group[data-series="songbird-morning"] .card').first \
        .get_attribute("data-address") == NEW
    page.wait_for_function(
        f"document.querySelector('.card[data-address=\"{NEW}\"] img').naturalWidth > 0")
    card.locator(".thumb").click()
    page.wait_for_selector("#viewer .viewer-caption")
    assert page.locator("#viewer").is_visible()
    assert page.inner_text("#viewer-terse").endswith(".")
    checksum = card.get_attribute("data-checksum")
    assert checksum != NEW and checksum.lower() == NEW  # shown in EIP-55 case
    page.keyboard.press("Escape")
    assert not page.locator("#viewer").is_visible()


def test_polling_fallback_without_event_source(site, browser):
    base, _ = site
    context = browser.new_context()
    context.add_init_script("delete window.EventSource")
    page = context.new_page()
    address = "0x" + hashlib.sha256(b"polled").hexdigest()[:40]
    page.goto(f"{base}/preview")
    page.fill("#address", address)
    page.click("#generate-button")
    page.locator(f'.card[data-address="{address}"]').wait_for(timeout=60_000)
    context.close()


def test_readable_errors(site, page):
    base, _ = site
    page.goto(f"{base}/preview")
    page.fill("#address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")  # bad checksum
    page.click("#generate-button")
    page.wait_for_selector("#address-error:not([hidden])")
    assert "lower case" in page.inner_text("#address-error")  # how to fix it
    assert page.get_attribute("#address", "aria-invalid") == "true"


def test_rate_limit_message(tmp_path, browser):
    with running_server(tmp_path, env={"TB_DALLE_RATE_LIMIT": "1"}) as (client, app):
        app.jobs.submit("empty", "0x" + "12" * 20)  # not through HTTP: no token used
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{client.port}/preview")
        for address in ("0x" + "34" * 20, "0x" + "56" * 20):
            page.fill("#address", address)
            page.click("#generate-button")
            time.sleep(0.3)
        page.wait_for_function("document.querySelector('#message').textContent.includes('try')")
        assert "Too many new images" in page.inner_text("#message")
        page.close()


def test_phone_width(site, browser):
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{base}/preview?size=6")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390
    context.close()
