"""Image variants on the picture's URL: ``/dalle/<series>/<address>.<ext>`` with ``ext`` one
of the formats (png, webp, jpg, avif), ``?size=`` a width, ``?raw=1`` the picture before
annotation, ``?v=`` the picture's version (long-lived caching). Gallery thumbnails are
variants too. What is not an image answer (a missing picture, a trigger) is the plain
``/dalle`` view's, for the address without its extension."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.httpd.files import etag_for
from dalleserver.imaging.variant_cache import VariantError
from dalleserver.imaging.variants import EXTENSION_ALIASES, FORMATS, WIDTHS, VariantSpec
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.params import flag, resolve_target
from dalleserver.web.views.files import send_file

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.variants")

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
# ?generate= and ?remove= (and what goes with them) are the plain view's business
PLAIN_VIEW_FLAGS = ("generate", "remove")
_ADDRESS_WITH_SUFFIX = re.compile(r"0x[0-9a-fA-F]{40}\.[^.]*")


def image_extension(address: str) -> str | None:
    """The format an address path segment ends in (``vitalik.eth.webp`` -> ``webp``), or
    None: only the known image extensions count, so ENS names keep their dots."""
    stem, dot, ext = address.rpartition(".")
    ext = ext.lower()
    ext = EXTENSION_ALIASES.get(ext, ext)
    return ext if dot and stem and ext in FORMATS else None


def names_variant(address: str) -> bool:
    """True when an address path segment asks for an image variant: it ends in a known
    image extension, or it is an address with any suffix (an unknown format)."""
    return image_extension(address) is not None or bool(_ADDRESS_WITH_SUFFIX.fullmatch(address))


def picture_version(path: Path) -> str:
    """The version ``?v=`` names: the picture's ETag without quotes (OSError if missing)."""
    return etag_for(path.stat()).strip('"')


def variant_url(key: Key, extension: str, width: int | None = None, raw: bool = False,
                version: str = "") -> str:
    """The URL of one variant of a picture (with ``version``: one cached for a year)."""
    query = [f"size={width}"] if width else []
    if raw:
        query.append("raw=1")
    if version:
        query.append(f"v={version}")
    return f"/dalle/{key[0]}/{key[1]}.{extension}" + ("?" + "&".join(query) if query else "")


def requested_spec(request: Request, extension: str) -> VariantSpec:
    """The variant a request asks for; 400 naming ``size`` or ``raw`` when they are bad."""
    size = request.arg("size")
    width = None
    if size is not None:
        if not size.strip().isdigit() or int(size) not in WIDTHS:
            raise ApiError(ErrorCode.INVALID_REQUEST,
                           f"?size= takes one of {', '.join(map(str, WIDTHS))} (pixels wide)",
                           details={"parameter": "size", "sizes": list(WIDTHS)})
        width = int(size)
    return VariantSpec(extension, width, raw=flag(request, "raw"))


def dalle_variant(app: App, request: Request,
                  plain_view: Callable[[App, Request], Response]) -> Response:
    """``/dalle/<series>/<address>.<ext>``: the picture in that format and size; anything
    else (no picture yet, a trigger, a removal) as ``plain_view`` answers the address."""
    address = request.params["address"]
    extension = image_extension(address)
    if extension is None:
        raise ApiError(ErrorCode.INVALID_REQUEST,
                       f"unknown image format {address.rpartition('.')[2][:16]!r}: the "
                       f"formats are {', '.join(FORMATS)}", details={"parameter": "format"})
    stem = address[: address.rindex(".")]
    if image_extension(stem) is not None:
        raise ApiError(ErrorCode.INVALID_ADDRESS, "one image extension at most, as in "
                       "/dalle/<series>/<address>.webp", details={"parameter": "address"})
    request.params = {**request.params, "address": stem}  # from here on, the plain path
    spec = requested_spec(request, extension)
    if request.method != "HEAD" and any(flag(request, name) for name in PLAIN_VIEW_FLAGS):
        return plain_view(app, request)
    key, _name = resolve_target(app, request)
    annotated = app.data_dir.annotated(*key)
    source = app.data_dir.generated(*key) if spec.raw else annotated
    try:
        return serve_variant(app, request, key, source, spec)
    except FileNotFoundError:
        if spec.raw and annotated.is_file():
            raise ApiError(ErrorCode.NOT_FOUND, "no raw picture for this address") from None
        return plain_view(app, request)  # no picture (yet): as the plain URL answers


def serve_variant(app: App, request: Request, key: Key, source: Path, spec: VariantSpec,
                  short: str = SHORT) -> Response:
    """The variant of ``source``, made once and then sent from the cache (sendfile), cached
    by clients for a year when ``?v=`` names the source's current version, for ``short``
    otherwise. FileNotFoundError when the source is missing (or a symlink out of the data
    dir)."""
    if not app.data_dir.holds(source):
        raise FileNotFoundError(source.name)
    if spec.is_original:
        if not source.is_file():
            raise FileNotFoundError(source.name)
        path = source
    else:
        try:
            path = app.runtime.variants.get(key, source, spec)
        except VariantError as exc:
            raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR, str(exc)) from None
    version = request.arg("v")
    cache_control = IMMUTABLE if version and version == picture_version(source) else short
    return send_file(request, path, cache_control=cache_control,
                     content_type=spec.format.media_type,
                     inside=app.data_dir.real(app.data_dir.root))
