"""The gallery's HTML: the page around the cards, one card, the running generations."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from string import Template

from dalleserver.address import to_checksum_address
from dalleserver.imaging.thumbnails import THUMB_WIDTH
from dalleserver.picture_index import Picture

STATIC = Path(__file__).resolve().parent / "static"
PAGE_SIZE = 48
# The generate form's address field; with an Ethereum node it takes ENS names too (ASCII
# labels, as the server accepts them). Patterns are compiled with the "v" flag: "-" escaped.
ADDRESS_FIELD = {"address_label": "Address", "address_placeholder": "0x… (40 hex digits)",
                 "address_pattern": "0[xX][0-9a-fA-F]{40}",
                 "address_title": "0x followed by 40 hexadecimal digits"}
NAME_FIELD = {"address_label": "Address or ENS name",
              "address_placeholder": "0x… (40 hex digits) or name.eth",
              "address_pattern": r"0[xX][0-9a-fA-F]{40}|[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)+",
              "address_title": "0x followed by 40 hexadecimal digits, or an ENS name such as "
                               "vitalik.eth"}


def _no_name(address: str) -> str:
    return ""


def card_html(p: Picture, name: str = "") -> str:
    """One card: the thumbnail button, the address's ENS name when known, and the
    checksummed address with a copy button."""
    esc = html.escape
    series, address, checksum = esc(p.series), esc(p.address), esc(p.checksum)
    search = esc(f"{p.series} {p.address} {name}".rstrip())
    shown_name = f'<span class="ens">{esc(name)}</span>' if name else ""
    return (
        f'<figure class="card" data-series="{series}" data-address="{address}" '
        f'data-checksum="{checksum}" data-name="{esc(name)}" data-search="{search}">'
        f'<button class="thumb" type="button" aria-label="Open {series} {checksum}">'
        f'<img loading="lazy" src="/thumbs/{series}/{address}" alt="{series} {checksum}" '
        f'width="{THUMB_WIDTH}" height="373"></button>'
        f'<figcaption>{shown_name}<code class="addr">{checksum}</code>'
        f'<button class="copy" type="button" data-copy="{checksum}" '
        f'aria-label="Copy the address">Copy</button></figcaption></figure>'
    )


def run_html(snapshot: dict) -> str:
    """One running generation's row (the page's script keeps it live)."""
    esc = html.escape
    s = snapshot
    return (
        f'<div class="run" data-series="{esc(s["series"])}" data-address="{esc(s["address"])}">'
        f'{esc(s["series"])} · <code>{esc(to_checksum_address(s["address"]))}</code> · '
        f'<span class="run-phase">{esc(s["currentPhase"].replace("_", " "))}</span> '
        f'<progress max="100" value="{float(s["percent"]):.0f}"></progress></div>'
    )


def queue_html(queued: int) -> str:
    """The queue as a count: a deep queue must not become a row per waiting job."""
    return f'{queued} waiting in the queue' if queued else ""


def render_page(shown: list[Picture], total: int, page: int, pages: int, size: int,
                running: list[dict], queued: int, series_names: list[str], *,
                name_of: Callable[[str], str] = _no_name, takes_names: bool = False) -> str:
    """The whole page: running generations and the queue's length, the cards grouped by
    series (each with ``name_of(address)``, its ENS name or ""), paging; with
    ``takes_names`` the form accepts ENS names too."""
    esc = html.escape
    groups: dict[str, list[Picture]] = {}
    for picture in shown:
        groups.setdefault(picture.series, []).append(picture)
    group_html = "".join(
        f'<section class="group" data-series="{esc(series)}"><h3 class="series">'
        f'{esc(series)}</h3><div class="grid">'
        f'{"".join(card_html(p, name_of(p.address)) for p in items)}</div></section>'
        for series, items in groups.items()
    )
    running_html = "".join(run_html(s) for s in running)
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
        queued=queue_html(queued),
        total=total,
        empty_hidden=" hidden" if total else "",
        groups=group_html,
        pages="".join(nav),
        **(NAME_FIELD if takes_names else ADDRESS_FIELD),
    )


_TEMPLATE: Template | None = None


def _template() -> Template:
    global _TEMPLATE  # a read-only cache of a packaged file
    if _TEMPLATE is None:
        _TEMPLATE = Template((STATIC / "preview.html").read_text(encoding="utf-8"))
    return _TEMPLATE
