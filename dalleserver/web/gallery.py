"""``/files/`` (contained, no listings) and the ``/preview`` gallery page."""

from __future__ import annotations

import html
import math
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dalleserver.address import to_checksum_address
from dalleserver.web.files import file_response, resolve_inside
from dalleserver.web.http import HTML_TYPE, ApiError, Request, Response

if TYPE_CHECKING:
    from dalleserver.web.app import App

PAGE_SIZE = 48


def files(app: App, request: Request) -> Response:
    raw = request.raw_path[len("/files/"):] if request.raw_path.startswith("/files/") else ""
    path = resolve_inside(app.data_dir.output, raw)
    return file_response(request, path)


@dataclass(frozen=True)
class Picture:
    series: str
    address: str
    mtime: float

    @property
    def url(self) -> str:
        return f"/files/{self.series}/annotated/{self.address}.png"


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
                found.sort(key=lambda p: (-p.mtime, p.address))
                cached = (stamp, found)
                with self._lock:
                    self._cache[series] = cached
            out.extend(cached[1])
        return out


_INDEX = GalleryIndex()


def _checksum(address: str) -> str:
    try:
        return to_checksum_address(address)
    except (ValueError, IndexError):
        return address


def preview(app: App, request: Request) -> Response:
    try:
        page = int(request.arg("page") or "1")
    except ValueError:
        raise ApiError("INVALID_REQUEST", "?page= takes a number") from None
    pictures = _INDEX.pictures(app)
    pages = max(1, math.ceil(len(pictures) / PAGE_SIZE))
    if page < 1 or page > pages:
        raise ApiError("NOT_FOUND", f"page {page} does not exist (1-{pages})")
    shown = pictures[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    running = []
    for key in app.board.active_keys():
        snap = app.board.snapshot(key)
        if snap:
            running.append(snap)
    return Response(200, render_page(shown, page, pages, running,
                                     app.catalog.series.names()).encode(), HTML_TYPE,
                    {"Cache-Control": "no-store"})


def render_page(shown: list[Picture], page: int, pages: int, running: list[dict],
                series_names: list[str]) -> str:
    esc = html.escape
    groups: dict[str, list[Picture]] = {}
    for picture in shown:
        groups.setdefault(picture.series, []).append(picture)
    parts = [PAGE_HEAD]
    parts.append('<form id="generate" class="bar"><select name="series">')
    parts += [f"<option>{esc(n)}</option>" for n in series_names]
    parts.append('</select><input name="address" placeholder="0x… address" size="44" '
                 'required pattern="0[xX][0-9a-fA-F]{40}"><button>Generate</button>'
                 '<input id="filter" placeholder="filter by series or address"></form>')
    parts.append('<section id="running">')
    for snap in running:
        parts.append(
            f'<div class="run"><b>{esc(snap["series"])}</b> '
            f'{esc(_checksum(snap["address"]))} — {esc(snap["currentPhase"])} '
            f'<progress max="100" value="{snap["percent"]:.0f}"></progress> '
            f'{snap["percent"]:.0f}%</div>')
    parts.append("</section>")
    if not shown:
        parts.append("<p>No images yet. Generate one above.</p>")
    for series, items in groups.items():
        parts.append(f'<h2>{esc(series)}</h2><div class="grid">')
        for p in items:
            shown_address = esc(_checksum(p.address))
            parts.append(
                f'<figure data-key="{esc(series)} {esc(p.address)}"><a href="{esc(p.url)}">'
                f'<img loading="lazy" src="{esc(p.url)}" alt="{esc(series)} {shown_address}">'
                f'</a><figcaption>{shown_address}</figcaption></figure>')
        parts.append("</div>")
    nav = []
    if page > 1:
        nav.append(f'<a href="/preview?page={page - 1}">← newer</a>')
    nav.append(f"page {page} of {pages}")
    if page < pages:
        nav.append(f'<a href="/preview?page={page + 1}">older →</a>')
    parts.append(f'<nav>{" · ".join(nav)}</nav>')
    parts.append(PAGE_SCRIPT)
    return "".join(parts)


PAGE_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dalleserver preview</title><style>
body{font-family:system-ui,sans-serif;margin:1rem;background:#f6f5f2;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:.8rem}
figure{margin:0;background:#fff;padding:.4rem;border-radius:6px}
img{width:100%;height:auto;display:block}
figcaption{font:11px monospace;word-break:break-all}
.bar{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:1rem}
.run{margin:.3rem 0}nav{margin:1.5rem 0}
</style></head><body><h1>dalleserver</h1>"""

PAGE_SCRIPT = """<script>
const filter=document.getElementById('filter');
filter.addEventListener('input',()=>{const q=filter.value.toLowerCase();
document.querySelectorAll('figure').forEach(f=>{
f.style.display=f.dataset.key.toLowerCase().includes(q)?'':'none';});});
document.getElementById('generate').addEventListener('submit',async e=>{e.preventDefault();
const d=new FormData(e.target);
const r=await fetch(`/dalle/${d.get('series')}/${d.get('address')}?generate=1`);
const j=await r.json();if(!j.success){alert(j.error.message);return;}
setTimeout(()=>location.reload(),1500);});
</script></body></html>"""
