"""``/preview/generate``: the gallery's form without its script. The form's GET starts (or
joins) a generation and answers a progress page that the browser reloads (a ``Refresh``
header, which the page offers to stop) until the picture opens in the gallery's viewer."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from dalleserver.address import to_checksum_address
from dalleserver.dress import SeriesError
from dalleserver.httpd import Request, Response
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.gallery_page import render_static
from dalleserver.web.gallery_query import GalleryQuery
from dalleserver.web.names import address_of
from dalleserver.web.progress_words import is_estimated, phase_words, time_words
from dalleserver.web.triggers import submit_trigger
from dalleserver.web.views.gallery import html_page, message_page
from dalleserver.web.views.live import run_summary

if TYPE_CHECKING:
    from dalleserver.web.app import App

REFRESH_SECONDS = 2
# What to do about each refusal, after the server's own message.
ADVICE = {
    ErrorCode.INVALID_ADDRESS: "Enter 0x followed by 40 hexadecimal digits. If you typed "
                               "capital letters and the checksum is wrong, enter it all in "
                               "lower case.",
    ErrorCode.NAME_NOT_FOUND: "Check the spelling of the name, or enter the address.",
    ErrorCode.RATE_LIMITED: "Wait a little, then try again.",
    ErrorCode.SERVICE_UNAVAILABLE: "Try again in a few seconds.",
}


def generate_page(app: App, request: Request) -> Response:
    """Start (or follow) a generation from the form's fields and show how far it is."""
    series_name = (request.arg("series") or "").strip().lower()
    typed = (request.arg("address") or "").strip()
    try:
        series = app.catalog.series.usable(series_name).suffix
    except SeriesError:
        return message_page(400, "Choose a series", "Choose one of the series in the list.",
                            [("/preview", "Back to the form")])
    if not typed:
        return message_page(400, "Enter an address", "The address field is empty: enter "
                            "0x followed by 40 hexadecimal digits.",
                            [("/preview", "Back to the form")])
    try:
        address, name = address_of(app, typed)
        submit_trigger(app, request, (series, address), name=name)
    except ApiError as exc:
        return _refused(exc, typed)
    here = "/preview/generate?" + urlencode({"series": series, "address": typed})
    return _progress(app, (series, address), here, stopped=request.arg("refresh") == "0")


def _refused(error: ApiError, typed: str) -> Response:
    advice = ADVICE.get(error.code, "Go back and try again.")
    message = f"“{typed[:80]}” was refused: {error.message}. {advice}"
    return message_page(error.status, "The picture was not started", message,
                        [("/preview", "Back to the form")])


def _progress(app: App, key: Key, here: str, stopped: bool) -> Response:
    """The progress page; the viewer once the picture is there."""
    snapshot = app.board.snapshot(key) or {}
    if not snapshot or (snapshot.get("done") and not snapshot.get("error")):
        view = GalleryQuery().href(view=key) + "#viewer"
        return Response(303, b"", "text/plain", {"Location": view, "Cache-Control": "no-store"})
    label = f"{key[0]} · {to_checksum_address(key[1])}"
    if snapshot.get("error"):
        return message_page(200, "The picture could not be made",
                            f"{label}: {snapshot['error']}",
                            [(here, "Try again"), ("/preview", "Back to the gallery")])
    summary = run_summary(app, key) or {**snapshot, "estimated": False}
    phase = "queued" if snapshot.get("queuePosition") else snapshot.get("currentPhase", "")
    esc = html.escape
    value = f' value="{float(summary.get("percent") or 0):.0f}"' if is_estimated(summary) else ""
    toggle = (f'<a href="{esc(here)}">Update automatically again</a>' if stopped else
              f'<a href="{esc(here)}&amp;refresh=0">Stop updating</a>')
    words = esc(phase_words(phase))
    body = render_static(
        "generate.html", f"{words} · {esc(label)} · dalleserver", label=esc(label), phase=words,
        time=esc(time_words(summary)), value=value, here=esc(here), toggle=toggle,
        updating=("Updates are stopped." if stopped else
                  f"This page updates every {REFRESH_SECONDS} seconds."))
    return html_page(200, body, {} if stopped else {"Refresh": str(REFRESH_SECONDS)})
