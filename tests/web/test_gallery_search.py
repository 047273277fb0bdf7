"""The gallery's search, series filter, orders and paging, across the whole collection and
in the URL (issue 18); its readable error pages, the viewer for a deep link, the form's
page without a script, the favicon. Pictures are files made here; the server is real."""

import hashlib
import os
import re
from pathlib import Path

import pytest

from dalleserver.address import to_checksum_address
from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

SERIES = ("nocturne", "reef-and-tide", "bug-guild")
COUNT = 120
ADDRESSES = ["0x" + hashlib.sha256(f"pic{i}".encode()).hexdigest()[:40] for i in range(COUNT)]


def title_of(i: int) -> str:
    return f"Calm Owl Number{i}" if i % 10 == 0 else f"Lively Moth Number{i}"


def make_picture(output: Path, series: str, address: str, mtime: float, title: str,
                 png: bytes) -> None:
    for folder, name, data in (("annotated", f"{address}.png", png),
                               ("generated", f"{address}.png", png),
                               ("title", f"{address}.txt", title),
                               ("prompt", f"{address}.txt", f"Draw {title}."),
                               ("enhanced", f"{address}.txt", f"Draw {title}.")):
        path = output / series / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    os.utime(output / series / "annotated" / f"{address}.png", (mtime, mtime))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    output = root / "data" / "output"
    for i, address in enumerate(ADDRESSES):  # picture i is the i-th oldest
        make_picture(output, SERIES[i % 3], address, 1_700_000_000 + i, title_of(i),
                     b"\x89PNG picture")
    with running_server(root, backend=GatedBackend(), env={"TB_DALLE_RATE_LIMIT": "0"}
                        ) as (client, app):
        yield client, app


def page_of(client, target: str) -> str:
    response, body = client.get(target)
    assert response.status == 200, (target, body[:300])
    return body.decode()


def shown(page: str) -> list[str]:
    return re.findall(r'<figure class="card" data-series="[^"]+" data-address="([^"]+)"', page)


def count(page: str) -> str:
    return re.search(r'id="count"[^>]*>([^<]*)<', page).group(1)


def test_an_address_on_the_last_page_is_found_from_the_first(gallery):
    client, _ = gallery
    oldest = ADDRESSES[0]  # the last picture of the last page, newest first
    assert oldest in shown(page_of(client, "/preview?page=3"))
    assert oldest not in shown(page_of(client, "/preview"))
    for typed in (oldest[:12], to_checksum_address(oldest)[:12], oldest[2:12].upper(),
                  f"  {to_checksum_address(oldest)}  "):
        page = page_of(client, f"/preview?q={typed.strip()}")
        assert shown(page) == [oldest], typed
        assert count(page) == f"1 image for “{typed.strip()}” (of {COUNT})"


def test_title_words_every_word_must_match(gallery):
    client, _ = gallery
    page = page_of(client, "/preview?q=calm+owl&size=200")
    assert sorted(shown(page)) == sorted(ADDRESSES[i] for i in range(0, COUNT, 10))
    assert count(page).startswith("12 images for")
    # a word matches the start of a title word: "number11" is in "Number110" too
    assert shown(page_of(client, "/preview?q=owl+number11")) == [ADDRESSES[110]]
    assert shown(page_of(client, "/preview?q=owl+lively")) == []


def test_no_results_say_so_and_offer_the_way_back(gallery):
    client, _ = gallery
    page = page_of(client, "/preview?q=zebra")
    assert count(page) == "No images for “zebra”"
    assert 'class="empty"' in page and 'href="/preview">show all pictures' in page
    assert shown(page) == []


def test_series_filter_counts_and_keeps_itself_in_the_page_links(gallery):
    client, _ = gallery
    page = page_of(client, "/preview?series=bug-guild&size=10")
    assert count(page) == f"40 images in bug-guild (of {COUNT})"
    assert all(ADDRESSES.index(a) % 3 == 2 for a in shown(page))
    links = re.findall(r'href="(/preview\?[^"]+)"', page)
    assert "/preview?series=bug-guild&amp;size=10&amp;page=2" in links
    assert "/preview?series=bug-guild&amp;size=10&amp;page=4" in links  # the last page
    last = page_of(client, "/preview?series=bug-guild&size=10&page=4")
    assert len(shown(last)) == 10 and 'aria-current="page"' in last
    assert page.count('<nav class="pages"') == 2  # paging above and below


def test_every_order_across_the_collection(gallery):
    client, _ = gallery
    newest = shown(page_of(client, "/preview?series=nocturne&size=200"))
    assert newest == ADDRESSES[0::3][::-1]
    oldest = shown(page_of(client, "/preview?sort=oldest&size=5&series=bug-guild"))
    assert oldest == ADDRESSES[2::3][:5]
    by_address = shown(page_of(client, "/preview?sort=address&size=200"))
    assert by_address == sorted(ADDRESSES)
    by_series = shown(page_of(client, "/preview?sort=series&size=50&page=2"))
    expected = [a for s in sorted(SERIES) for a in reversed(ADDRESSES[SERIES.index(s)::3])]
    assert by_series == expected[50:100]
    found = shown(page_of(client, "/preview?q=calm&sort=oldest&size=2&page=2&series=nocturne"))
    assert found == [ADDRESSES[60], ADDRESSES[90]]  # 0, 30, 60, 90 are calm nocturnes


def test_the_newest_page_groups_by_series_in_time_order(gallery):
    client, _ = gallery
    page = page_of(client, "/preview?size=6")
    assert re.findall(r'<h3 class="series">([^<]+)</h3>', page) == [
        SERIES[(COUNT - 1) % 3], SERIES[(COUNT - 2) % 3], SERIES[(COUNT - 3) % 3]]
    assert count(page) == f"{COUNT} images"


def test_page_sizes_to_choose_from(gallery):
    client, _ = gallery
    page = page_of(client, "/preview?size=96")
    assert len(shown(page)) == 96
    for size in (24, 48, 96, 200):
        assert f'<option value="{size}"' in page
    assert '<option value="96" selected>' in page


@pytest.mark.parametrize("target, status, says", [
    ("/preview?page=99", 404, "Page 99 does not exist: the 120 images of this view fill 3"),
    ("/preview?page=two", 400, "“page” takes a whole number from 1 up"),
    ("/preview?size=0", 400, "“size” takes a whole number from 1 to 200"),
    ("/preview?sort=random", 400, "use newest, oldest, series, address"),
    ("/preview?series=nope", 400, "There is no series called “nope”"),
    ("/preview?view=nocturne/0x12", 400, "“view” takes a series and an address"),
    (f"/preview?view=nocturne/{'0x' + '9' * 40}", 404, "That picture does not exist"),
])
def test_bad_or_out_of_range_views_are_readable_pages(gallery, target, status, says):
    client, _ = gallery
    response, body = client.get(target)
    assert response.status == status
    assert response.getheader("Content-Type").startswith("text/html")
    page = body.decode()
    assert says in page and "<h1>" in page and 'href="/preview' in page


def test_a_deep_link_opens_the_viewer_without_a_script(gallery):
    client, _ = gallery
    address = ADDRESSES[60]  # nocturne
    page = page_of(client, f"/preview?size=200&view=nocturne/{address}")
    viewer = page[page.index('<dialog id="viewer"'):]
    assert viewer.startswith('<dialog id="viewer" aria-labelledby="viewer-title" open>')
    assert f'href="/files/nocturne/annotated/{address}.png" download=' in viewer
    assert f'href="/files/nocturne/generated/{address}.png" download=' in viewer
    assert f'/dalle/nocturne/{address}.webp?size=512' in viewer
    assert "Enhanced prompt" not in viewer  # the same words as the prompt
    assert 'rel="prev"' in viewer and 'rel="next"' in viewer
    assert f'href="/files/nocturne/prompt/{address}.txt"' in viewer
    closed = re.search(r'<a class="close" href="([^"]+)"', viewer).group(1)
    assert closed == "/preview?size=200"


def test_the_viewer_fragment_shows_an_enhanced_prompt_that_differs(gallery):
    client, app = gallery
    address = ADDRESSES[61]
    path = app.data_dir.text("reef-and-tide", "enhanced", address)
    path.write_text("A richer prompt.")
    body = page_of(client, f"/preview/viewer/reef-and-tide/{address}")
    assert "Enhanced prompt" in body and "A richer prompt." in body
    assert client.get(f"/preview/viewer/reef-and-tide/{'0x' + '8' * 40}")[0].status == 404


def test_pictures_made_later_are_found_by_their_title(tmp_path):
    png = b"\x89PNG"
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        output = app.data_dir.output
        make_picture(output, "nocturne", ADDRESSES[0], 1_700_000_000, "First Heron", png)
        app.pictures.add(("nocturne", ADDRESSES[0]))
        assert shown(page_of(client, "/preview?q=heron")) == [ADDRESSES[0]]
        make_picture(output, "nocturne", ADDRESSES[1], 1_700_000_001, "Second Heron", png)
        app.pictures.add(("nocturne", ADDRESSES[1]))
        assert shown(page_of(client, "/preview?q=heron")) == ADDRESSES[1::-1]
        app.data_dir.annotated("nocturne", ADDRESSES[0]).unlink()
        app.pictures.remove(("nocturne", ADDRESSES[0]))
        assert shown(page_of(client, "/preview?q=first")) == []


def test_the_form_without_a_script_generates_and_polls(tmp_path):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend, env={"TB_DALLE_RATE_LIMIT": "0"}
                        ) as (client, app):
        address = ADDRESSES[5]
        target = f"/preview/generate?series=nocturne&address=++{address.upper()[2:]}"
        response, body = client.get(f"/preview/generate?series=nocturne&address=+{address}+")
        assert response.status == 200 and response.getheader("Refresh") == "2"
        page = body.decode()
        # the gated backend has no seeds: no estimate, queued or running
        assert "Making" in page and ("estimating…" in page or "in the queue" in page)
        assert "<progress" in page and " value=" not in page.split("<progress")[1][:80]
        stopped = client.get(f"/preview/generate?series=nocturne&address={address}&refresh=0")
        assert stopped[0].getheader("Refresh") is None and b"Updates are stopped" in stopped[1]
        backend.gate.set()
        wait_done(app.runtime, ("nocturne", address))
        response, _ = client.get(f"/preview/generate?series=nocturne&address={address}")
        assert response.status == 303
        assert response.getheader("Location") == f"/preview?view=nocturne/{address}#viewer"
        bad = client.get(target.replace(address.upper()[2:], "0x5aAeb6053F3E94C9b9A09f33669435E"
                                        "7Ef1BeAeD"))
        assert bad[0].status == 400 and "enter it all in lower case" in bad[1].decode()
        assert client.get("/preview/generate?series=nocturne&address=")[0].status == 400


def test_favicon_and_the_new_parameters_in_openapi(gallery):
    client, _ = gallery
    for path, kind in (("/favicon.ico", "image/x-icon"), ("/favicon.svg", "image/svg+xml")):
        response, body = client.get(path)
        assert response.status == 200 and response.getheader("Content-Type").startswith(kind)
    _, doc = client.json("GET", "/openapi.json")
    preview = doc["paths"]["/preview"]["get"]
    names = {p["name"]: p["schema"] for p in preview["parameters"]}
    assert names["sort"]["enum"] == ["newest", "oldest", "series", "address"]
    assert {"q", "series", "page", "size", "view"} <= set(names)
    assert "text/html" in preview["responses"]["404"]["content"]


def test_progress_summaries_say_whether_there_is_an_estimate(tmp_path):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend) as (client, app):
        key = ("nocturne", ADDRESSES[7])
        client.get(f"/dalle/nocturne/{ADDRESSES[7]}?generate=1")
        assert backend.started.wait(10)
        page = page_of(client, "/preview")
        assert "Painting" in page and "s so far · estimating…" in page
        from dalleserver.web.views.live import run_summary
        summary = run_summary(app, key)
        assert summary["estimated"] is False and summary["elapsedSeconds"] >= 0
        backend.gate.set()
        wait_done(app.runtime, key)


def test_the_local_backend_starts_with_seeded_estimates(tmp_path):
    with running_server(tmp_path) as (client, app):
        _, doc = client.json("GET", f"/dalle/nocturne/{ADDRESSES[8]}?generate=1")
        averages = doc["data"]["phaseAverages"]
        assert averages["image_wait"] > 0 and averages["annotate"] > 0
        wait_done(app.runtime, ("nocturne", ADDRESSES[8]))


def test_pattern_takes_a_pasted_address_with_spaces(gallery):
    client, _ = gallery
    page = page_of(client, "/preview")
    pattern = re.search(r'id="address"[^>]* pattern="([^"]+)"', page, re.S).group(1)
    assert re.fullmatch(pattern, f"  {ADDRESSES[0]} ")
    assert not re.fullmatch(pattern, f"x{ADDRESSES[0]}")
