"""The gallery's HTML: the page around the cards, one card, the running generations."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from dalleserver.address import to_checksum_address
from dalleserver.imaging.thumbnails import THUMB_WIDTH
from dalleserver.web.gallery_index import Picture

STATIC = Path(__file__).resolve().parent / "static"
PAGE_SIZE = 48


def card_html(p: Picture) -> str:
    """One card: the thumbnail button and the checksummed address with a copy button."""
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
    """The whole page: running generations, the cards grouped by series, paging."""
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
