"""The ``/preview`` gallery: the page, its assets, card fragments and thumbnails."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.imaging.thumbnails import THUMBNAIL
from dalleserver.picture_index import picture
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.gallery_page import PAGE_SIZE, STATIC, card_html, render_page
from dalleserver.web.names import display_name
from dalleserver.web.params import resolve_key
from dalleserver.web.responses import HTML_TYPE
from dalleserver.web.views.files import send_file
from dalleserver.web.views.variants import serve_variant

if TYPE_CHECKING:
    from dalleserver.web.app import App

ASSETS = {"preview.css", "preview.js"}
MAX_PAGE_SIZE = 200


def assets(app: App, request: Request) -> Response:
    """The gallery's stylesheet and script."""
    name = request.params.get("name", "")
    if name not in ASSETS:
        raise ApiError(ErrorCode.NOT_FOUND, "no such asset")
    return send_file(request, STATIC / name, cache_control="public, max-age=300")


def _page_args(request: Request) -> tuple[int, int]:
    try:
        page = int(request.arg("page") or "1")
        size = int(request.arg("size") or str(PAGE_SIZE))
    except ValueError:
        raise ApiError(ErrorCode.INVALID_REQUEST,
                       "?page= and ?size= take whole numbers") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(ErrorCode.INVALID_REQUEST, f"?size= takes 1 to {MAX_PAGE_SIZE}")
    return page, size


def preview(app: App, request: Request) -> Response:
    """One page of the gallery, with the generations running now."""
    page, size = _page_args(request)
    series_names = app.catalog.series.names()  # hidden series are left out
    visible = set(series_names)
    total = app.pictures.count(visible)
    pages = max(1, math.ceil(total / size))
    if page < 1 or page > pages:
        raise ApiError(ErrorCode.NOT_FOUND, f"page {page} does not exist (1-{pages})")
    shown = app.pictures.page(visible, (page - 1) * size, size)
    running = [snap for key in app.board.running_keys()
               if key[0] in visible and (snap := app.board.snapshot(key))]
    body = render_page(shown, total, page, pages, size, running, app.jobs.queue_depth,
                       series_names, name_of=partial(display_name, app),
                       takes_names=app.runtime.resolver is not None)
    return Response(200, body.encode("utf-8"), HTML_TYPE, {"Cache-Control": "no-store"})


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


def thumbnail(app: App, request: Request) -> Response:
    """A downscaled JPEG of an annotated image: a variant (made with the picture, else now)
    from the variant cache; ``?v=`` as on variants."""
    key = resolve_key(app, request)
    try:
        return serve_variant(app, request, key, app.data_dir.annotated(*key), THUMBNAIL,
                             short="public, max-age=86400")
    except FileNotFoundError:
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address") from None
