"""The gallery's HTML: the page (``static/preview.html``) around the cards, one card, a
running generation, the paging, the series with their descriptions and samples."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from dalleserver.address import to_checksum_address
from dalleserver.imaging.thumbnails import THUMB_WIDTH
from dalleserver.picture_index import Picture
from dalleserver.picture_search import ADDRESS, Found
from dalleserver.web.gallery_query import PAGE_SIZES, SORT_NAMES, GalleryQuery
from dalleserver.web.progress_words import PHASE_WORDS, is_estimated, phase_words, time_words

STATIC = Path(__file__).resolve().parent / "static"
THUMB_HEIGHT = 373  # the thumbnail of a 1024 x 1194 picture
# The generate form's address field; with an Ethereum node it takes ENS names too (ASCII
# labels, as the server accepts them). Spaces around a pasted value are allowed: the server
# and the script trim them. Patterns are compiled with the "v" flag: "-" escaped.
ADDRESS_FIELD = {"address_label": "Address", "address_placeholder": "0x… (40 hex digits)",
                 "address_pattern": r"\s*0[xX][0-9a-fA-F]{40}\s*",
                 "address_title": "0x followed by 40 hexadecimal digits",
                 "address_help": "0x and 40 hexadecimal digits (0-9, a-f), in lower case or "
                                 "with a correct checksum"}
NAME_FIELD = {"address_label": "Address or ENS name",
              "address_placeholder": "0x… (40 hex digits) or name.eth",
              "address_pattern": r"\s*(0[xX][0-9a-fA-F]{40}|[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)+)\s*",
              "address_title": "0x followed by 40 hexadecimal digits, or an ENS name such as "
                               "vitalik.eth",
              "address_help": "0x and 40 hexadecimal digits, or an ENS name such as "
                              "vitalik.eth"}
WINDOW = 2  # page numbers shown on each side of the current one


@dataclass(frozen=True)
class SeriesInfo:
    """A series as the form and the filter show it: its description and a sample."""

    name: str
    purpose: str
    sample: Picture | None


@dataclass
class GalleryPage:
    """Everything one page of the gallery shows."""

    query: GalleryQuery
    found: Found
    everything: int  # pictures in every visible series, unfiltered
    series: list[SeriesInfo]
    running: list[dict] = field(default_factory=list)
    queued: int = 0
    viewer: str = ""  # the open picture's viewer body, when the URL names one
    viewer_bar: dict[str, str] = field(default_factory=dict)
    name_of: Callable[[str], str] = lambda address: ""
    takes_names: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.found.total // self.query.size))


def thumb_url(p: Picture) -> str:
    """The thumbnail's URL, versioned by the picture's modification time: a regenerated
    picture gets a new URL, so no cache shows its old thumbnail."""
    return f"/thumbs/{p.series}/{p.address}?v={int(p.mtime * 1000):x}"


def card_html(p: Picture, name: str = "", href: str = "") -> str:
    """One card: the thumbnail (a link that opens the picture), the series, the address's
    ENS name when known, and the checksummed address with a copy button."""
    esc = html.escape
    series, address, checksum = esc(p.series), esc(p.address), esc(p.checksum)
    shown_name = f'<span class="ens">{esc(name)}</span>' if name else ""
    link = esc(href or f"/preview?view={p.series}/{p.address}")
    return (
        f'<figure class="card" data-series="{series}" data-address="{address}" '
        f'data-checksum="{checksum}" data-name="{esc(name)}">'
        f'<a class="thumb" href="{link}">'
        f'<img loading="lazy" src="{esc(thumb_url(p))}" alt="{series} {checksum}" '
        f'width="{THUMB_WIDTH}" height="{THUMB_HEIGHT}"></a>'
        f'<figcaption>{shown_name}<span class="card-series">{series}</span>'
        f'<code class="addr">{checksum}</code>'
        f'<button class="copy" type="button" data-copy="{checksum}" hidden>'
        f'Copy<span class="visually-hidden"> the address {checksum}</span></button>'
        f'</figcaption></figure>'
    )


def run_html(summary: dict) -> str:
    """One running generation (the page's script keeps it live), with the same look
    whether this page started it or someone else did."""
    esc = html.escape
    s = summary
    series, address = esc(s["series"]), esc(s["address"])
    ident = esc(f'run-{s["series"]}-{s["address"]}')
    estimated = is_estimated(s)
    value = f' value="{float(s.get("percent") or 0):.0f}"' if estimated else ""
    phase = "queued" if s.get("queuePosition") else s.get("currentPhase", "setup")
    return (
        f'<article class="run" data-series="{series}" data-address="{address}" '
        f'aria-labelledby="{ident}-title">'
        f'<h3 class="run-title" id="{ident}-title">{series} · '
        f'<code>{esc(to_checksum_address(s["address"]))}</code></h3>'
        f'<progress class="run-bar" max="100"{value} '
        f'aria-labelledby="{ident}-title {ident}-status"></progress>'
        f'<p class="run-status" id="{ident}-status"><span class="run-phase">'
        f'{esc(phase_words(phase))}</span> · <span class="run-time">'
        f'{esc(time_words(s))}</span></p>'
        f'<button class="run-cancel" type="button" hidden>Cancel'
        f'<span class="visually-hidden"> {series} {address}</span></button></article>'
    )


def queue_html(queued: int) -> str:
    """The queue as a count: a deep queue must not become a row per waiting job."""
    return f'{queued} waiting in the queue' if queued else ""


def count_text(page: GalleryPage) -> str:
    """"1 image", "300 images", or how many of them match."""
    total, query = page.found.total, page.query
    noun = "image" if total == 1 else "images"
    if not query.filtered:
        return f"{total:,} {noun}"
    where = f" in {query.series}" if query.series else ""
    words = f" for “{query.q}”" if query.q else ""
    if not total:
        return f"No images{where}{words}"
    return f"{total:,} {noun}{where}{words} (of {page.everything:,})"


def pages_html(page: GalleryPage) -> str:
    """Previous, numbered pages around the current one (with the first and last), next."""
    query, last = page.query, page.pages
    if last <= 1:
        return ""
    items = []
    if query.page > 1:
        items.append(_page_link(query, query.page - 1, "← Previous", rel="prev"))
    numbers = sorted({1, last, *range(max(1, query.page - WINDOW),
                                      min(last, query.page + WINDOW) + 1)})
    previous = 0
    for number in numbers:
        if number - previous > 1:
            items.append('<li class="gap" aria-hidden="true">…</li>')
        items.append(_page_link(query, number, str(number)))
        previous = number
    if query.page < last:
        items.append(_page_link(query, query.page + 1, "Next →", rel="next"))
    return f'<ul>{"".join(items)}</ul>'


def _page_link(query: GalleryQuery, number: int, text: str, rel: str = "") -> str:
    if number == query.page and not rel:
        return (f'<li><a aria-current="page" href="{html.escape(query.href(page=number))}">'
                f'<span class="visually-hidden">Page </span>{text}</a></li>')
    label = "" if rel else '<span class="visually-hidden">Page </span>'
    rel_attr = f' rel="{rel}"' if rel else ""
    return (f'<li><a{rel_attr} href="{html.escape(query.href(page=number))}">{label}{text}'
            f'</a></li>')


def groups_html(page: GalleryPage) -> str:
    """The cards grouped by series, each group in the page's order (ordered by address:
    one list, each card naming its series)."""
    esc = html.escape
    query = page.query
    groups: dict[str, list[Picture]] = {}
    for picture in page.found.pictures:
        groups.setdefault("" if query.sort == ADDRESS else picture.series, []).append(picture)
    parts = []
    for label, pictures in groups.items():
        cards = "".join(card_html(p, page.name_of(p.address),
                                  query.href(view=(p.series, p.address)) + "#viewer")
                        for p in pictures)
        parts.append(f'<section class="group" data-series="{esc(label)}">'
                     f'<h3 class="series">{esc(label or "By address")}</h3>'
                     f'<div class="grid">{cards}</div></section>')
    return "".join(parts)


def empty_html(page: GalleryPage) -> str:
    """What an empty page says, and the way out."""
    if page.found.total:
        return ""
    if page.query.filtered:
        return ('<p class="empty">No pictures match. Check the spelling, search fewer '
                'words or the start of an address, or <a href="/preview">show all '
                'pictures</a>.</p>')
    return '<p class="empty">No images yet: make one above.</p>'


def series_about_html(info: SeriesInfo | None) -> str:
    """A series' sample picture and its one-line description."""
    if info is None:
        return ""
    esc = html.escape
    sample = ""
    if info.sample is not None:
        sample = (f'<img src="{esc(thumb_url(info.sample))}" alt="" '
                  f'width="64" height="75" loading="lazy">')
    purpose = esc(info.purpose) or "No description."
    return f'{sample}<p><strong>{esc(info.name)}</strong>: {purpose}</p>'


def _options(values: list[tuple[str, str]], selected: str) -> str:
    esc = html.escape
    return "".join(
        f'<option value="{esc(value)}"{" selected" if value == selected else ""}>'
        f'{esc(text)}</option>' for value, text in values)


def page_data(page: GalleryPage) -> str:
    """What the script needs from the server: the phase words, the series' descriptions
    and samples (as JSON inside a script element: "<" escaped)."""
    data = {
        "phases": PHASE_WORDS,
        "series": {s.name: {"purpose": s.purpose,
                            "sample": s.sample.address if s.sample else ""}
                   for s in page.series},
    }
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


def render_page(page: GalleryPage) -> str:
    """The whole page."""
    esc = html.escape
    query = page.query
    names = [s.name for s in page.series]
    form_series = query.series or (names[0] if names else "")
    chosen = next((s for s in page.series if s.name == form_series), None)
    filtered = next((s for s in page.series if s.name == query.series), None)
    pages = pages_html(page)
    title = "dalleserver · gallery"
    if query.filtered:
        title = f"{count_text(page)} · {title}"
    return render_static(
        "preview.html", esc(title),
        series_options=_options([(s.name, f"{s.name} — {s.purpose}" if s.purpose else s.name)
                                 for s in page.series], form_series),
        series_about=series_about_html(chosen),
        filter_series_options=_options([("", "All series"), *((n, n) for n in names)],
                                       query.series),
        sort_options=_options(list(SORT_NAMES.items()), query.sort),
        size_options=_options([(str(n), str(n)) for n in sorted({*PAGE_SIZES, query.size})],
                              str(query.size)),
        q=esc(query.q),
        filter_about=series_about_html(filtered),
        running="".join(run_html(s) for s in page.running),
        queued=queue_html(page.queued),
        count=esc(count_text(page)),
        groups=groups_html(page),
        empty=empty_html(page),
        pages=pages,
        viewer_open=" open" if page.viewer else "",
        viewer=page.viewer,
        viewer_title=page.viewer_bar.get("title", ""),
        viewer_prev=page.viewer_bar.get("prev", ""),
        viewer_next=page.viewer_bar.get("next", ""),
        viewer_close=esc(query.href()),
        data=page_data(page),
        **{k: esc(v) for k, v in (NAME_FIELD if page.takes_names else ADDRESS_FIELD).items()},
    )


_TEMPLATES: dict[str, Template] = {}


def _template(name: str) -> Template:
    """A packaged page template, read once."""
    template = _TEMPLATES.get(name)
    if template is None:
        template = _TEMPLATES[name] = Template((STATIC / name).read_text(encoding="utf-8"))
    return template


def render_static(name: str, title: str, **values: str) -> str:
    """A page: the body ``name`` in ``static/`` with its values, in the shell that every
    page shares (``page.html``: head, icons, stylesheet); values escaped by the caller."""
    body = _template(name).substitute(**values)
    return _template("page.html").substitute(title=title, body=body)
