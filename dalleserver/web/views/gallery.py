"""The ``/preview`` gallery: the page, its assets, card fragments and thumbnails."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.imaging.thumbnails import is_fresh, make_thumbnail
from dalleserver.storage import StorageError
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.gallery_index import Picture
from dalleserver.web.gallery_page import PAGE_SIZE, STATIC, card_html, render_page
from dalleserver.web.params import resolve_key
from dalleserver.web.responses import HTML_TYPE
from dalleserver.web.views.files import send_file

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
    pictures = app.gallery.pictures(set(series_names))
    pages = max(1, math.ceil(len(pictures) / size))
    if page < 1 or page > pages:
        raise ApiError(ErrorCode.NOT_FOUND, f"page {page} does not exist (1-{pages})")
    shown = pictures[(page - 1) * size : page * size]
    running = [snap for key in app.board.active_keys() if (snap := app.board.snapshot(key))]
    body = render_page(shown, len(pictures), page, pages, size, running, series_names)
    return Response(200, body.encode("utf-8"), HTML_TYPE, {"Cache-Control": "no-store"})


def card(app: App, request: Request) -> Response:
    """One gallery card, for the script to insert when a generation finishes."""
    series, address = resolve_key(app, request)
    png = app.data_dir.annotated(series, address)
    try:
        mtime = png.stat().st_mtime
    except OSError:
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address yet") from None
    return Response(200, card_html(Picture(series, address, mtime)).encode(), HTML_TYPE,
                    {"Cache-Control": "no-store"})


def thumbnail(app: App, request: Request) -> Response:
    """A downscaled JPEG of an annotated image, made once and cached in the data dir."""
    series, address = resolve_key(app, request)
    png = app.data_dir.annotated(series, address)
    thumb = app.data_dir.thumbnail(series, address)
    try:
        fresh = is_fresh(thumb, png)
    except OSError:
        raise ApiError(ErrorCode.NOT_FOUND, "no image for this address") from None
    if not fresh:
        try:
            make_thumbnail(png, thumb)
        except (OSError, StorageError) as exc:
            raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR,
                           f"cannot make the thumbnail: {exc}") from None
    return send_file(request, thumb, cache_control="public, max-age=86400")
