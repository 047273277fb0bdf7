"""The gallery as a demanding user tries it (issue 18): headless Chromium at 1280 and 390 px
wide, keyboard only where it matters, axe-core's WCAG 2.2 AA rules in every state, and a
5,000-picture data dir. Marker ``browser``; the screenshots land in docs/ for the README."""

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from dalleserver.picture_search import PictureQuery
from tests.conftest import REPO
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

pytestmark = pytest.mark.browser
DOCS = REPO / "docs"
WIDTHS = {1280: {"width": 1280, "height": 900}, 390: {"width": 390, "height": 844}}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
SERIES = ("nocturne", "reef-and-tide", "bug-guild", "neon-arcade", "folk-fables")
BIG = 5000


def address(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


def make_pictures(root: Path, count: int) -> None:
    """``count`` real pictures made by the local backend in the data dir under ``root``."""
    with running_server(root, flags={"workers": "2"}, env={"TB_DALLE_RATE_LIMIT": "0"}
                        ) as (_, app):
        for i in range(count):
            app.jobs.submit(SERIES[i % len(SERIES)], address(f"real{i}"))
        assert app.jobs.wait_idle(300)


def copy_pictures(root: Path, count: int) -> list[tuple[str, str]]:
    """``count`` more pictures made from the real ones, one a second older than the next;
    the (series, address) of each, oldest first. Each has a small annotated PNG of its own
    (its mtime orders it); the other files are links to the real picture's."""
    output = root / "data" / "output"
    real = [(s, p.stem) for s in SERIES for p in (output / s / "annotated").glob("*.png")]
    small = {}
    for series, source in real:
        with Image.open(output / series / "annotated" / f"{source}.png") as picture:
            buffer = io.BytesIO()
            picture.resize((64, 75)).save(buffer, format="PNG")
            small[source] = buffer.getvalue()
    made = []
    for i in range(count):
        series, source = real[i % len(real)]
        target = address(f"copy{i}")
        for folder, suffix in (("generated", ".png"), ("title", ".txt"), ("prompt", ".txt"),
                               ("enhanced", ".txt"), ("terse", ".txt")):
            os.link(output / series / folder / f"{source}{suffix}",
                    output / series / folder / f"{target}{suffix}")
        annotated = output / series / "annotated" / f"{target}.png"
        annotated.write_bytes(small[source])
        os.utime(annotated, (1_600_000_000 + i, 1_600_000_000 + i))
        made.append((series, target))
    return made


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """30 real pictures in five series."""
    root = tmp_path_factory.mktemp("gallery")
    make_pictures(root, 30)
    with running_server(root, env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, app):
        yield f"http://127.0.0.1:{client.port}", app


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """5,000 pictures: five real ones and 4,995 linked from them."""
    root = tmp_path_factory.mktemp("big")
    make_pictures(root, 5)
    copies = copy_pictures(root, BIG - 5)
    with running_server(root, env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, app):
        yield f"http://127.0.0.1:{client.port}", copies[0]  # the oldest: the last page


@pytest.fixture(params=sorted(WIDTHS), ids=lambda w: f"{w}px")
def width(request):
    return request.param


def open_page(browser, width: int, **options):
    context = browser.new_context(viewport=WIDTHS[width], is_mobile=width < 500,
                                  has_touch=width < 500, **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page


@pytest.fixture
def page(browser, width):
    context, page = open_page(browser, width)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield page
    errors = page.errors
    context.close()
    assert not errors, errors


def axe_violations(page) -> list[dict]:
    """The WCAG 2.0-2.2 A and AA violations axe-core finds in the page as it is now."""
    axe = pytest.importorskip("axe_playwright_python")
    if not page.evaluate("Boolean(window.axe)"):
        page.add_script_tag(path=str(Path(axe.__file__).parent / "axe.min.js"))
    return page.evaluate(
        """async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))
           .violations.map(v => ({id: v.id, help: v.help,
                                  nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""",
        WCAG_22_AA)


def assert_accessible(page, state: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{state}: {violations}"


def no_sideways_scroll(page) -> None:
    sizes = page.evaluate("""() => [document.scrollingElement.scrollWidth, innerWidth,
        ...[...document.querySelectorAll('dialog[open]')]
            .map(d => d.scrollWidth - d.clientWidth)]""")
    assert sizes[0] <= sizes[1] and all(extra <= 0 for extra in sizes[2:]), sizes


def contrast(first: str, second: str) -> float:
    def luminance(css: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def wait_count(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#count').textContent === t", arg=text)


# -- finding pictures ----------------------------------------------------------------------
def test_search_finds_an_address_on_the_last_of_5000(big, page, width):
    base, (series, oldest) = big
    page.goto(f"{base}/preview")
    assert page.inner_text("#count") == "5,000 images"
    last = page.locator("nav.pages").first.locator("a").all()[-2].inner_text()
    assert last.endswith("105")  # 5,000 / 48 per page
    page.goto(f"{base}/preview?page=105")
    assert page.locator(f'.card[data-address="{oldest}"]').count() == 1
    page.goto(f"{base}/preview")
    page.fill("#q", oldest[:12].upper().replace("0X", "0x"))  # any case
    wait_count(page, f"1 image for “{oldest[:12].upper().replace('0X', '0x')}” (of 5,000)")
    assert page.locator(".card").count() == 1
    assert page.locator(".card").get_attribute("data-address") == oldest
    assert "q=0x" in page.url  # shareable
    assert_accessible(page, "one result")
    page.go_back()
    wait_count(page, "5,000 images")
    assert page.input_value("#q") == ""
    page.go_forward()
    wait_count(page, f"1 image for “{oldest[:12].upper().replace('0X', '0x')}” (of 5,000)")


def test_no_results_and_title_words(gallery, page, width):
    base, app = gallery
    page.goto(f"{base}/preview")
    page.fill("#q", "zzzz nothing")
    wait_count(page, "No images for “zzzz nothing”")
    assert "No pictures match" in page.inner_text("#results")
    assert_accessible(page, "no results")
    key = app.pictures.find(set(SERIES), PictureQuery(limit=1)).pictures[0]
    title = app.data_dir.text(key.series, "title", key.address).read_text().split()
    page.fill("#q", f"{title[0]} {title[-1]}")
    page.wait_for_function("document.querySelectorAll('.card').length > 0")
    assert page.locator(f'.card[data-address="{key.address}"]').count() == 1
    if width == 1280:
        page.wait_for_function("[...document.querySelectorAll('.card img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(DOCS / "preview-search.png"))


def test_series_order_size_and_paging_live_in_the_url(gallery, page, width):
    base, _ = gallery
    page.goto(f"{base}/preview")
    page.select_option("#filter-series", "nocturne")
    wait_count(page, "6 images in nocturne (of 30)")
    assert "series=nocturne" in page.url
    assert "Night creatures" in page.inner_text("#filter-about")  # the series' description
    assert page.locator("#filter-about img").count() == 1  # and a sample picture
    page.select_option("#filter-series", "")
    page.select_option("#sort", "address")
    page.wait_for_url("**sort=address**")
    page.wait_for_function("document.querySelectorAll('.card').length === 30")
    shown = [c.get_attribute("data-address") for c in page.locator(".card").all()]
    assert shown == sorted(shown)
    page.select_option("#size", "24")
    page.wait_for_function("document.querySelectorAll('.card').length === 24")
    bottom = page.locator("nav.pages").nth(1)
    bottom.locator("a", has_text="2").first.click()  # paging at the bottom too
    page.wait_for_url("**page=2**")
    page.wait_for_function("document.querySelectorAll('.card').length === 6")
    assert "sort=address" in page.url  # the order survives paging
    assert page.evaluate("document.activeElement.id") == "results"
    assert page.locator('nav.pages a[aria-current="page"]').first.inner_text().endswith("2")
    assert_accessible(page, "address order, page 2")
    page.go_back()
    page.wait_for_function("document.querySelectorAll('.card').length === 24")


def test_an_out_of_range_page_is_a_readable_page(gallery, page, width):
    base, _ = gallery
    response = page.goto(f"{base}/preview?page=9")
    assert response.status == 404
    assert "Page 9 does not exist" in page.inner_text("main")
    page.click("text=Go to the last page (1)")
    page.wait_for_selector(".card")
    assert_accessible(page, "gallery after the error page")


# -- looking at pictures -------------------------------------------------------------------
def test_the_lightbox(gallery, page, width):
    base, _ = gallery
    page.goto(f"{base}/preview")
    cards = page.locator(".card")
    first = cards.nth(0).get_attribute("data-address")
    second = cards.nth(1).get_attribute("data-address")
    cards.nth(0).locator(".thumb").click()
    page.wait_for_selector("#viewer-image")
    assert "view=" in page.url and first in page.url  # a deep link
    no_sideways_scroll(page)
    assert page.locator("#viewer .downloads a", has_text="Annotated PNG").count() == 1
    assert page.locator("#viewer .downloads a", has_text="Raw PNG").count() == 1
    assert page.locator("#viewer .downloads a", has_text="WebP").count() >= 1
    assert page.locator("#viewer .files a", has_text="metadata").count() == 1
    assert page.locator("#viewer h3", has_text="Enhanced prompt").count() == 0  # the same
    assert_accessible(page, "viewer open")
    if width == 1280:
        page.screenshot(path=str(DOCS / "preview-viewer.png"))
    page.evaluate("document.querySelector('#viewer').scrollTop = 100000")
    close = page.locator("#viewer .close").bounding_box()
    assert close["y"] >= 0 and close["y"] + close["height"] <= WIDTHS[width]["height"]
    assert close["x"] + close["width"] <= WIDTHS[width]["width"]
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**{second}**")
    swipe(page, -200)  # back to the first
    page.wait_for_url(f"**{first}**")
    page.reload()  # the deep link opens the viewer again
    page.wait_for_selector("#viewer-image")
    assert page.evaluate("document.querySelector('#viewer').matches(':modal')")
    page.mouse.click(3, WIDTHS[width]["height"] - 3)  # outside the box
    page.wait_for_function("!document.querySelector('#viewer').open")
    assert "view=" not in page.url


def swipe(page, dx: int) -> None:
    box = page.locator("#viewer-image").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 200)
    for kind, at in (("pointerdown", x), ("pointerup", x - dx)):
        page.dispatch_event("#viewer-image", kind, {"clientX": at, "clientY": y,
                                                    "bubbles": True, "pointerType": "touch"})


def test_keyboard_only_open_next_copy_close_and_generate(gallery, page, width):
    base, app = gallery
    page.goto(f"{base}/preview")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('thumb')"):
            break
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        const card = getComputedStyle(document.activeElement.closest('.card'));
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor,
                card.backgroundColor, getComputedStyle(document.body).backgroundColor]; }""")
    assert ring[0] == "solid" and ring[1] >= 2
    assert contrast(ring[2], ring[3]) >= 3 and contrast(ring[2], ring[4]) >= 3, ring
    before = page.url
    page.keyboard.press("Enter")
    page.wait_for_selector("#viewer-image")
    opened = page.url
    page.keyboard.press("ArrowRight")
    page.wait_for_function("u => location.href !== u", arg=opened)
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.copyFrom === 'viewer-prompt'"):
            break
    page.keyboard.press("Enter")
    prompt = page.inner_text("#viewer-prompt")
    page.wait_for_function("t => navigator.clipboard.readText().then(c => c === t)", arg=prompt)
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#viewer').open")
    assert page.evaluate("document.activeElement.classList.contains('thumb')"), page.evaluate(
        "document.activeElement.outerHTML.slice(0, 200)")
    page.wait_for_function("u => location.href === u", arg=before)
    page.focus("#address")
    target = address(f"keyboard{width}")
    page.keyboard.type(target)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.run[data-address="{target}"] .run-open')
    page.wait_for_selector(f'.card[data-address="{target}"]')


# -- making pictures -----------------------------------------------------------------------
def test_several_generations_with_honest_progress(tmp_path, browser, width):
    backend = GatedBackend(open_gate=False)  # no phase timings and no seeds: estimating
    with running_server(tmp_path, backend=backend, flags={"workers": "2"},
                        env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, app):
        context, page = open_page(browser, width)
        page.goto(f"http://127.0.0.1:{client.port}/preview")
        page.evaluate("""() => { window.said = []; new MutationObserver(() => {
            const t = document.querySelector('#announcer').textContent;
            if (t) window.said.push(t); }).observe(document.querySelector('#announcer'),
            {childList: true, characterData: true, subtree: true}); }""")
        mine, elsewhere, queued = address("a"), address("b"), address("c")
        page.select_option("#series", "nocturne")
        page.fill("#address", f"   {mine}  ")  # pasted with spaces
        page.click("#generate-button")
        run = page.locator(f'.run[data-address="{mine}"]')
        run.locator(".run-phase", has_text="Painting").wait_for()
        assert run.locator(".run-bar").get_attribute("value") is None  # indeterminate
        page.wait_for_function(f"""document.querySelector('.run[data-address="{mine}"] '
            + '.run-time').textContent.includes('s so far · estimating…')""")
        client.get(f"/dalle/reef-and-tide/{elsewhere}?generate=1")  # started elsewhere
        other = page.locator(f'.run[data-address="{elsewhere}"]')
        other.locator(".run-phase", has_text="Painting").wait_for()
        assert (other.evaluate("e => [...e.children].map(c => c.className)")
                == run.evaluate("e => [...e.children].map(c => c.className)"))
        page.fill("#address", queued)
        page.click("#generate-button")
        waiting = page.locator(f'.run[data-address="{queued}"]')
        waiting.locator(".run-phase", has_text="Waiting in the queue").wait_for()
        assert_accessible(page, "three generations")
        no_sideways_scroll(page)
        waiting.locator(".run-cancel").click()
        waiting.locator(".run-phase", has_text="Cancelled").wait_for()
        backend.gate.set()
        run.locator(".run-open").wait_for()
        page.locator(f'.card[data-address="{mine}"]').wait_for()
        page.wait_for_function("window.said.some(s => s.includes('is ready'))")
        said = page.evaluate("window.said")
        assert said and len(said) <= 12 and not any("%" in s for s in said), said
        assert any("Painting" in s for s in said) and any("is ready" in s for s in said)
        wait_done(app.runtime, ("reef-and-tide", elsewhere))
        assert not page.errors, page.errors
        context.close()


def test_errors_are_tied_to_the_field_and_cleared_by_the_next_try(gallery, page, width):
    base, _ = gallery
    page.goto(f"{base}/preview")
    page.fill("#address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")  # bad checksum
    page.click("#generate-button")
    page.wait_for_selector("#address-error:not([hidden])")
    assert page.get_attribute("#address", "aria-invalid") == "true"
    assert "address-error" in page.get_attribute("#address", "aria-describedby")
    assert "enter it all in lower case" in page.inner_text("#address-error")
    assert_accessible(page, "an address error")
    page.fill("#address", "0x12")
    page.click("#generate-button")
    assert "exactly 40" in page.inner_text("#address-error")
    page.fill("#address", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    page.click("#generate-button")
    page.wait_for_selector('.run[data-address="0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"]')
    assert page.get_attribute("#address", "aria-invalid") is None
    assert page.locator("#address-error").is_hidden() and page.locator("#message").is_hidden()


def test_series_descriptions_and_samples_in_the_form(gallery, page, width):
    base, _ = gallery
    page.goto(f"{base}/preview")
    page.select_option("#series", "nocturne")
    assert "Night creatures" in page.inner_text("#series-about")
    assert page.locator("#series-about img").count() == 1
    option = page.locator('#series option[value="nocturne"]').inner_text()
    assert option.startswith("nocturne — Night creatures")


# -- looks and the page without its script -------------------------------------------------
def test_dark_mode_favicon_and_phone_screenshots(gallery, browser, width):
    base, _ = gallery
    context, page = open_page(browser, width, color_scheme="dark")
    response = page.goto(f"{base}/preview")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert contrast(background, "rgb(0, 0, 0)") < 1.5  # dark
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    assert page.request.get(icon).status == 200 and response.status == 200
    assert_accessible(page, "dark")
    no_sideways_scroll(page)
    page.wait_for_function("[...document.querySelectorAll('.card img')].slice(0, 4)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    if width == 1280:
        page.screenshot(path=str(DOCS / "preview-dark.png"))
    context.close()
    context, page = open_page(browser, width)
    page.goto(f"{base}/preview")
    targets = page.evaluate("""() => [...document.querySelectorAll(
        'button:not([hidden]), select, input, .pages a, .thumb, .downloads a, .close')]
        .filter(e => e.offsetParent).map(e => e.getBoundingClientRect())
        .map(r => Math.min(r.width, r.height))""")
    assert min(targets) >= 24, targets
    page.wait_for_function("[...document.querySelectorAll('.card img')].slice(0, 2)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(DOCS / ("preview.png" if width == 1280 else "preview-phone.png")))
    context.close()


def test_without_javascript_it_lists_opens_finds_and_makes(tmp_path, gallery, browser, width):
    base, _ = gallery
    context, page = open_page(browser, width, java_script_enabled=False)
    page.goto(f"{base}/preview")
    assert page.locator(".card").count() >= 30
    page.locator(".thumb").first.click()
    page.wait_for_selector("#viewer[open] #viewer-image")
    assert page.locator("#viewer").is_visible()
    assert_accessible_without_script(browser, page.url, width, "viewer without a script")
    page.click("#viewer .close")
    page.wait_for_selector("#viewer:not([open])", state="attached")
    page.fill("#q", "zzzz")
    page.click("#find-button")
    assert page.inner_text("#count") == "No images for “zzzz”"
    context.close()
    with running_server(tmp_path, env={"TB_DALLE_RATE_LIMIT": "0"}) as (client, app):
        context, page = open_page(browser, width, java_script_enabled=False)
        page.goto(f"http://127.0.0.1:{client.port}/preview")
        page.select_option("#series", "bug-guild")
        page.fill("#address", address(f"nojs{width}"))
        page.click("#generate-button")
        page.wait_for_url("**view=bug-guild/**", timeout=60_000)  # reloaded, then the viewer
        page.wait_for_selector("#viewer[open] #viewer-image")
        context.close()


def assert_accessible_without_script(browser, url: str, width: int, state: str) -> None:
    """axe is a script: it checks the page in a browser that runs scripts, with the page's
    own script blocked."""
    context, page = open_page(browser, width)
    context.route("**/preview.js", lambda route: route.abort())
    page.goto(url)
    assert_accessible(page, state)
    context.close()


def test_the_progress_page_without_javascript_is_accessible(tmp_path, browser, width):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend, env={"TB_DALLE_RATE_LIMIT": "0"}
                        ) as (client, app):
        context, page = open_page(browser, width)
        target = address("progress-page")
        page.goto(f"http://127.0.0.1:{client.port}/preview/generate?series=nocturne&"
                  f"address={target}&refresh=0")
        assert re.search(r"(Waiting in the queue · number 1 in the queue|Painting · \d+ s so "
                         r"far · estimating…)", page.inner_text("main"))
        assert "Stop updating" not in page.inner_text("main")
        assert_accessible(page, "progress page")
        no_sideways_scroll(page)
        backend.gate.set()
        wait_done(app.runtime, ("nocturne", target))
        context.close()
