"""The gallery's viewer of one picture: the picture, its downloads (annotated, raw and
other formats), its prompts (the enhanced one only when it differs) and links to its files.
The page renders it for a URL that names a picture (it works without the script); the
script asks ``/preview/viewer/<series>/<address>`` for the same HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass

from dalleserver.address import to_checksum_address
from dalleserver.imaging.variants import FORMATS
from dalleserver.storage import DataDir, Key
from dalleserver.web.gallery_query import GalleryQuery
from dalleserver.web.views.variants import variant_url

TEXT_LIMIT = 20_000  # characters of a prompt file shown
SMALL_WIDTH = 512  # the smaller download offered in each other format
FORMAT_NAMES = {"webp": "WebP", "jpg": "JPEG", "avif": "AVIF", "png": "PNG"}
# (folder, extension, what the link says)
FILES = (("prompt", ".txt", "prompt"), ("enhanced", ".txt", "enhanced prompt"),
         ("title", ".txt", "title"), ("terse", ".txt", "short description"),
         ("data", ".txt", "data"), ("selector", ".json", "selector (JSON)"),
         ("metadata", ".json", "metadata record (JSON)"))


@dataclass(frozen=True)
class PictureTexts:
    """A picture's prompts as written next to it ("" when missing)."""

    title: str
    terse: str
    prompt: str
    enhanced: str


def read_texts(data_dir: DataDir, key: Key) -> PictureTexts:
    """The picture's title, short description, prompt and enhanced prompt."""
    return PictureTexts(*(_read(data_dir, key, kind)
                          for kind in ("title", "terse", "prompt", "enhanced")))


def _read(data_dir: DataDir, key: Key, kind: str) -> str:
    try:
        with open(data_dir.text(key[0], kind, key[1]), encoding="utf-8",
                  errors="replace") as handle:
            return handle.read(TEXT_LIMIT).strip()
    except OSError:
        return ""


def viewer_title(key: Key, name: str = "") -> str:
    """The viewer's heading: series, ENS name when known, checksummed address."""
    esc = html.escape
    shown = f' · <span class="ens">{esc(name)}</span>' if name else ""
    return (f'{esc(key[0])}{shown} · <code class="addr">'
            f'{esc(to_checksum_address(key[1]))}</code>')


def viewer_bar(query: GalleryQuery, key: Key, before: Key | None, after: Key | None,
               name: str = "") -> dict[str, str]:
    """The viewer's heading and its links to the pictures before and after on the page."""
    def link(target: Key | None, rel: str, text: str, label: str) -> str:
        if target is None:
            return ""
        href = html.escape(query.href(view=target) + "#viewer")
        return (f'<a class="viewer-{rel}" rel="{rel}" href="{href}" '
                f'aria-label="{label}">{text}</a>')

    return {"title": viewer_title(key, name),
            "prev": link(before, "prev", "‹", "Previous picture"),
            "next": link(after, "next", "›", "Next picture")}


def viewer_body(data_dir: DataDir, key: Key) -> str:
    """The picture, its downloads, prompts and files."""
    esc = html.escape
    series, address = key
    checksum = to_checksum_address(address)
    texts = read_texts(data_dir, key)
    picture = f"/dalle/{series}/{address}"
    prompts = [_prompt_block("Prompt", "viewer-prompt", texts.prompt, copy=True)]
    if texts.enhanced and texts.enhanced != texts.prompt:
        prompts.append(_prompt_block("Enhanced prompt", "viewer-enhanced", texts.enhanced,
                                     copy=True))
    if texts.terse:
        prompts.append(_prompt_block("Short description", "viewer-terse", texts.terse))
    title = f'<p class="viewer-caption">{esc(texts.title)}</p>' if texts.title else ""
    return (
        f'<div class="viewer-body" data-series="{esc(series)}" data-address="{esc(address)}">'
        f'<a class="viewer-picture" href="{picture}">'
        f'<img id="viewer-image" src="{picture}" alt="{esc(series)} {esc(checksum)}: '
        f'{esc(texts.title or "annotated picture")}" width="1024" height="1194"></a>'
        f'<div class="viewer-info">{title}'
        f'<h3>Download</h3><ul class="downloads">{_downloads(data_dir, key)}</ul>'
        f'{"".join(prompts)}'
        f'<h3>Files</h3><ul class="files">{_files(data_dir, key)}</ul>'
        f'</div></div>'
    )


def _prompt_block(heading: str, ident: str, text: str, copy: bool = False) -> str:
    esc = html.escape
    if not text:
        return f'<h3>{heading}</h3><p class="muted">Not written yet.</p>'
    button = (f'<button class="copy" type="button" data-copy-from="{ident}" hidden>'
              f'Copy<span class="visually-hidden"> the {heading.lower()}</span></button>'
              if copy else "")
    return (f'<div class="prompt-head"><h3 id="{ident}-title">{heading}</h3>{button}</div>'
            f'<p class="prompt" id="{ident}">{esc(text)}</p>')


def _downloads(data_dir: DataDir, key: Key) -> str:
    series, address = key
    stem = f"{series}-{address}"
    links = [(f"/files/{series}/annotated/{address}.png", "Annotated PNG", f"{stem}.png")]
    if data_dir.generated(series, address).is_file():
        links.append((f"/files/{series}/generated/{address}.png", "Raw PNG (no caption)",
                      f"{stem}-raw.png"))
    for extension in FORMATS:
        if extension == "png":
            continue
        name = FORMAT_NAMES.get(extension, extension.upper())
        links.append((variant_url(key, extension), name, f"{stem}.{extension}"))
        links.append((variant_url(key, extension, SMALL_WIDTH), f"{name} {SMALL_WIDTH} px",
                      f"{stem}-{SMALL_WIDTH}.{extension}"))
    return "".join(f'<li><a href="{html.escape(href)}" download="{html.escape(file)}">'
                   f'{html.escape(text)}</a></li>' for href, text, file in links)


def _files(data_dir: DataDir, key: Key) -> str:
    series, address = key
    items = []
    for folder, extension, text in FILES:
        if (data_dir.output / series / folder / f"{address}{extension}").is_file():
            href = html.escape(f"/files/{series}/{folder}/{address}{extension}")
            items.append(f'<li><a href="{href}">{html.escape(text)}</a></li>')
    return "".join(items) or "<li>None yet.</li>"
