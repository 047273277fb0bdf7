"""The ``/preview`` gallery: the page (search, series, order, paging and the open picture
from its URL), its assets and favicon, card and viewer fragments, thumbnails."""

from __future__ import annotations

import html
from functools import partial
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.imaging.thumbnails import THUMBNAIL
from dalleserver.picture_index import picture
from dalleserver.picture_search import PictureQuery
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.gallery_page import (
    STATIC,
    GalleryPage,
    SeriesInfo,
    card_html,
    render_page,
    render_static,
)
from dalleserver.web.gallery_query import GalleryError, GalleryQuery, read_query
from dalleserver.web.gallery_viewer import viewer_bar, viewer_body
from dalleserver.web.names import display_name
from dalleserver.web.params import resolve_key
from dalleserver.web.responses import HTML_TYPE
from dalleserver.web.views.files import send_file
from dalleserver.web.views.live import run_summary
from dalleserver.web.views.variants import serve_variant

if TYPE_CHECKING:
    from dalleserver.web.app import App

ASSETS = {"preview.css", "preview.js"}
FAVICONS = {"/favicon.svg": ("favicon.svg", "image/svg+xml"),
            "/favicon.ico": ("favicon.ico", "image/x-icon")}


def assets(app: App, request: Request) -> Response:
    """The gallery's stylesheet and script."""
    name = request.params.get("name", "")
    if name not in ASSETS:
        raise ApiError(ErrorCode.NOT_FOUND, "no such asset")
    return send_file(request, STATIC / name, cache_control="public, max-age=300")


def favicon(app: App, request: Request) -> Response:
    """The site's icon (SVG, and an ICO for browsers that ask for /favicon.ico)."""
    name, media_type = FAVICONS[request.path]
    return send_file(request, STATIC / name, cache_control="public, max-age=86400",
                     content_type=media_type)


def html_page(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """An HTML answer that no cache keeps."""
    return Response(status, body.encode("utf-8"), HTML_TYPE,
                    {"Cache-Control": "no-store", **(headers or {})})


def message_page(status: int, heading: str, message: str,
                 links: list[tuple[str, str]] | None = None) -> Response:
    """A readable page for a URL the gallery cannot show, with the ways on."""
    esc = html.escape
    items = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>'
                    for href, text in (links or [("/preview", "Back to the gallery")]))
    return html_page(status, render_static("message.html", f"{esc(heading)} · dalleserver",
                                           heading=esc(heading), message=esc(message),
                                           links=items))


def preview(app: App, request: Request) -> Response:
    """One page of the gallery as its URL asks (search, series, order, page, page size,
    open picture), with the generations running now."""
    names = app.catalog.series.names()  # hidden series are left out
    try:
        query = read_query(request, names)
        page = gallery_page(app, query, names)
    except GalleryError as exc:
        return message_page(exc.status, exc.heading, exc.message, exc.links)
    return html_page(200, render_page(page))


def gallery_page(app: App, query: GalleryQuery, names: list[str]) -> GalleryPage:
    """What the page of ``query`` shows; GalleryError (404) past the last page or for a
    picture that does not exist."""
    visible = set(names)
    found = app.pictures.find(visible, query.picture_query())
    page = GalleryPage(query, found, found.total, _series_infos(app, visible),
                       name_of=partial(display_name, app),
                       takes_names=app.runtime.resolver is not None)
    if query.page > page.pages:
        _past_the_end(query, page)
    if query.filtered:
        page.everything = app.pictures.count(visible)
    page.running = [summary for key in app.board.running_keys()
                    if key[0] in visible and (summary := run_summary(app, key))]
    page.queued = app.jobs.queue_depth
    if query.view is not None:
        _open_viewer(app, page, query.view)
    return page


def _past_the_end(query: GalleryQuery, page: GalleryPage) -> None:
    total, last = page.found.total, page.pages
    raise GalleryError(404, f"Page {query.page} does not exist: the {total:,} "
                       f"{'image' if total == 1 else 'images'} of this view fill "
                       f"{last} {'page' if last == 1 else 'pages'} of {query.size}.",
                       [(query.href(page=last), f"Go to the last page ({last})"),
                        (query.href(page=1), "Go to the first page"),
                        *([("/preview", "Show all pictures")] if query.filtered else [])],
                       heading="No such page")


def _series_infos(app: App, visible: set[str]) -> list[SeriesInfo]:
    """Each visible series with its description and its newest picture as a sample."""
    infos = []
    for series in app.catalog.series.all(include_hidden=False):
        if series.suffix not in visible:
            continue
        newest = app.pictures.find({series.suffix}, PictureQuery(limit=1)).pictures
        infos.append(SeriesInfo(series.suffix, series.purpose, newest[0] if newest else None))
    return infos


def _open_viewer(app: App, page: GalleryPage, key: Key) -> None:
    """The viewer of the picture the URL names, with the pictures before and after it."""
    if not app.data_dir.annotated(*key).is_file():
        raise GalleryError(404, "That picture does not exist (it may have been removed).",
                           [(page.query.href(), "Back to the gallery")],
                           heading="No such picture")
    keys = [p.key for p in page.found.pictures]
    at = keys.index(key) if key in keys else -1
    before = keys[at - 1] if at > 0 else None
    after = keys[at + 1] if 0 <= at < len(keys) - 1 else None
    page.viewer = viewer_body(app.data_dir, key)
    page.viewer_bar = viewer_bar(page.query, key, before, after, display_name(app, key[1]))


def card(app: App, request: Request) -> Response:
    """One gallery card, for the script to insert when a generation finishes."""
    series, address = resolve_key(app, request)
    png = app.data_dir.annotated(series, address)
    try:
        mtime = png.stat().st_mtime
    except OSError:
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address yet") from None
    body = card_html(picture(series, address, mtime), display_name(app, address))
    return Response(200, body.encode(), HTML_TYPE, {"Cache-Control": "no-store"})


def viewer(app: App, request: Request) -> Response:
    """The viewer's body for one picture (HTML fragment): the picture, downloads,
    prompts and files."""
    key = resolve_key(app, request)
    if not app.data_dir.annotated(*key).is_file():
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address yet")
    return Response(200, viewer_body(app.data_dir, key).encode(), HTML_TYPE,
                    {"Cache-Control": "no-store"})


def thumbnail(app: App, request: Request) -> Response:
    """A downscaled JPEG of an annotated image: a variant (made with the picture, else now)
    from the variant cache; ``?v=`` as on variants."""
    key = resolve_key(app, request)
    try:
        return serve_variant(app, request, key, app.data_dir.annotated(*key), THUMBNAIL,
                             short="public, max-age=86400")
    except FileNotFoundError:
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address") from None
