"""``/files/`` (contained, no listings), the ``/preview`` gallery, its assets, thumbnails and
card fragments."""

from __future__ import annotations

import html
import io
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from PIL import Image

from dalleserver.address import to_checksum_address
from dalleserver.storage import StorageError, atomic_write
from dalleserver.web.files import file_response, resolve_inside
from dalleserver.web.http import HTML_TYPE, ApiError, Request, Response
from dalleserver.web.params import resolve_key

if TYPE_CHECKING:
    from dalleserver.web.app import App

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"preview.css", "preview.js"}
PAGE_SIZE = 48
MAX_PAGE_SIZE = 200
THUMB_WIDTH = 320


def files(app: App, request: Request) -> Response:
    raw = request.raw_path[len("/files/"):] if request.raw_path.startswith("/files/") else ""
    path = resolve_inside(app.data_dir.output, raw)
    return file_response(request, path)


def assets(app: App, request: Request) -> Response:
    name = request.params.get("name", "")
    if name not in ASSETS:
        raise ApiError("NOT_FOUND", "no such asset")
    return file_response(request, STATIC / name, cache_control="public, max-age=300")


@dataclass(frozen=True)
class Picture:
    series: str
    address: str
    mtime: float

    @property
    def checksum(self) -> str:
        try:
            return to_checksum_address(self.address)
        except (ValueError, IndexError):
            return self.address


class GalleryIndex:
    """Annotated images per visible series, re-scanned only when a folder changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, list[Picture]]] = {}

    def pictures(self, app: App) -> list[Picture]:
        out: list[Picture] = []
        visible = set(app.catalog.series.names())  # hidden series are left out
        try:
            folders = sorted(e.name for e in os.scandir(app.data_dir.output) if e.is_dir())
        except OSError:
            return out
        for series in folders:
            if series not in visible:
                continue
            folder = app.data_dir.output / series / "annotated"
            try:
                stamp = os.stat(folder).st_mtime_ns
            except OSError:
                continue
            with self._lock:
                cached = self._cache.get(series)
            if cached is None or cached[0] != stamp:
                found = []
                for entry in os.scandir(folder):
                    if entry.name.endswith(".png") and not entry.name.startswith("."):
                        try:
                            found.append(Picture(series, entry.name[:-4],
                                                 entry.stat().st_mtime))
                        except OSError:
                            continue
                cached = (stamp, found)
                with self._lock:
                    self._cache[series] = cached
            out.extend(cached[1])
        out.sort(key=lambda p: (-p.mtime, p.series, p.address))  # newest first
        return out


def _page_args(request: Request) -> tuple[int, int]:
    try:
        page = int(request.arg("page") or "1")
        size = int(request.arg("size") or str(PAGE_SIZE))
    except ValueError:
        raise ApiError("INVALID_REQUEST", "?page= and ?size= take whole numbers") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError("INVALID_REQUEST", f"?size= takes 1 to {MAX_PAGE_SIZE}")
    return page, size


def preview(app: App, request: Request) -> Response:
    page, size = _page_args(request)
    pictures = app.gallery.pictures(app)
    pages = max(1, math.ceil(len(pictures) / size))
    if page < 1 or page > pages:
        raise ApiError("NOT_FOUND", f"page {page} does not exist (1-{pages})")
    shown = pictures[(page - 1) * size : page * size]
    running = [snap for key in app.board.active_keys() if (snap := app.board.snapshot(key))]
    body = render_page(shown, len(pictures), page, pages, size, running,
                       app.catalog.series.names())
    return Response(200, body.encode("utf-8"), HTML_TYPE, {"Cache-Control": "no-store"})


def card(app: App, request: Request) -> Response:
    """One gallery card, for the script to insert when a generation finishes."""
    series, address = resolve_key(app, request)
    png = app.data_dir.annotated(series, address)
    try:
        mtime = png.stat().st_mtime
    except OSError:
        raise ApiError("NOT_FOUND", "no image for this address yet") from None
    return Response(200, card_html(Picture(series, address, mtime)).encode(), HTML_TYPE,
                    {"Cache-Control": "no-store"})


def thumbnail(app: App, request: Request) -> Response:
    """A downscaled JPEG of an annotated image, made once and cached in the data dir."""
    series, address = resolve_key(app, request)
    png = app.data_dir.annotated(series, address)
    thumb = app.data_dir.root / "cache" / "thumbs" / series / f"{address}.jpg"
    try:
        source_mtime = png.stat().st_mtime
    except OSError:
        raise ApiError("NOT_FOUND", "no image for this address") from None
    try:
        fresh = thumb.stat().st_mtime >= source_mtime
    except OSError:
        fresh = False
    if not fresh:
        try:
            with Image.open(png) as image:
                image = image.convert("RGB")
                height = round(image.height * THUMB_WIDTH / image.width)
                small = image.resize((THUMB_WIDTH, height), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            small.save(buffer, format="JPEG", quality=85, optimize=True)
            atomic_write(thumb, buffer.getvalue())
        except (OSError, StorageError) as exc:
            raise ApiError("INTERNAL_SERVER_ERROR", f"cannot make the thumbnail: {exc}") from None
    return file_response(request, thumb, cache_control="public, max-age=86400")


def card_html(p: Picture) -> str:
    esc = html.escape
    series, address, checksum = esc(p.series), esc(p.address), esc(p.checksum)
    search = esc(f"{p.series} {p.address}")
    return (
        f'<figure class="card" data-series="{series}" data-address="{address}" '
        f'data-checksum="{checksum}" data-search="{search}">'
        f'<button class="thumb" type="button" aria-label="Open {series} {checksum}">'
        f'<img loading="lazy" src="/thumbs/{series}/{address}" alt="{series} {checksum}" '
        f'width="{THUMB_WIDTH}" height="373"></button>'
        f'<figcaption><code class="addr">{checksum}</code>'
        f'<button class="copy" type="button" data-copy="{checksum}" '
        f'aria-label="Copy the address">Copy</button></figcaption></figure>'
    )


def render_page(shown: list[Picture], total: int, page: int, pages: int, size: int,
                running: list[dict], series_names: list[str]) -> str:
    esc = html.escape
    groups: dict[str, list[Picture]] = {}
    for picture in shown:
        groups.setdefault(picture.series, []).append(picture)
    group_html = "".join(
        f'<section class="group" data-series="{esc(series)}"><h3 class="series">'
        f'{esc(series)}</h3><div class="grid">{"".join(card_html(p) for p in items)}</div>'
        f"</section>"
        for series, items in groups.items()
    )
    running_html = "".join(
        f'<div class="run" data-series="{esc(s["series"])}" data-address="{esc(s["address"])}">'
        f'{esc(s["series"])} · <code>{esc(to_checksum_address(s["address"]))}</code> · '
        f'<span class="run-phase">{esc(s["currentPhase"].replace("_", " "))}</span> '
        f'<progress max="100" value="{float(s["percent"]):.0f}"></progress></div>'
        for s in running
    )
    nav = []
    query = f"&size={size}" if size != PAGE_SIZE else ""
    if page > 1:
        nav.append(f'<a rel="prev" href="/preview?page={page - 1}{query}">← newer</a>')
    nav.append(f"<span>page {page} of {pages}</span>")
    if page < pages:
        nav.append(f'<a rel="next" href="/preview?page={page + 1}{query}">older →</a>')
    options = "".join(f'<option value="{esc(n)}">{esc(n)}</option>' for n in series_names)
    return _template().substitute(
        series_options=options,
        series_options_plain=options,
        running=running_html,
        total=total,
        empty_hidden=" hidden" if total else "",
        groups=group_html,
        pages="".join(nav),
    )


_TEMPLATE: Template | None = None


def _template() -> Template:
    global _TEMPLATE  # a read-only cache of a packaged file
    if _TEMPLATE is None:
        _TEMPLATE = Template((STATIC / "preview.html").read_text(encoding="utf-8"))
    return _TEMPLATE
