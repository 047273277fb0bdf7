"""What ``/preview`` shows, read from its URL and written back into its links: the search
text, the series, the order, the page and its size, and the picture open in the viewer.
Everything lives in the URL, so a view can be shared and the back button works."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from dalleserver.httpd import Request
from dalleserver.picture_search import MAX_QUERY, NEWEST, SORTS, PictureQuery
from dalleserver.storage import Key

PAGE_SIZE = 48
PAGE_SIZES = (24, 48, 96, 200)
MAX_PAGE_SIZE = 200
SORT_NAMES = {"newest": "Newest first", "oldest": "Oldest first", "series": "By series",
              "address": "By address"}
_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")


class GalleryError(Exception):
    """A ``/preview`` URL the gallery cannot show: its status, and what to do instead."""

    def __init__(self, status: int, message: str,
                 links: list[tuple[str, str]] | None = None,
                 heading: str = "The gallery cannot show this") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.links = links or [("/preview", "Back to the gallery")]
        self.heading = heading


@dataclass(frozen=True)
class GalleryQuery:
    """One view of the gallery; the defaults are left out of its URLs."""

    q: str = ""
    series: str = ""
    sort: str = NEWEST
    page: int = 1
    size: int = PAGE_SIZE
    view: Key | None = None

    def picture_query(self) -> PictureQuery:
        """The index query of this view's page."""
        return PictureQuery(text=self.q, series=frozenset([self.series]) if self.series else None,
                            sort=self.sort, offset=(self.page - 1) * self.size, limit=self.size)

    def href(self, **changes: object) -> str:
        """This view's URL with ``changes`` (a changed search, series, order or size goes
        back to page 1; the open picture is kept only when given)."""
        if changes.keys() & {"q", "series", "sort", "size"}:
            changes.setdefault("page", 1)
        changes.setdefault("view", None)
        target = replace(self, **changes)  # type: ignore[arg-type]
        query = urlencode(target.params(), safe="/")
        return f"/preview?{query}" if query else "/preview"

    def params(self) -> list[tuple[str, str]]:
        """The query parameters that differ from the defaults."""
        found = [("q", self.q), ("series", self.series),
                 ("sort", self.sort if self.sort != NEWEST else ""),
                 ("size", str(self.size) if self.size != PAGE_SIZE else ""),
                 ("page", str(self.page) if self.page != 1 else ""),
                 ("view", f"{self.view[0]}/{self.view[1]}" if self.view else "")]
        return [(name, value) for name, value in found if value]

    @property
    def filtered(self) -> bool:
        """Whether the view leaves pictures out (by words or series)."""
        return bool(self.q or self.series)


def read_query(request: Request, series_names: list[str]) -> GalleryQuery:
    """The view a ``/preview`` request asks for; GalleryError (400) names what is wrong."""
    series = (request.arg("series") or "").strip().lower()
    if series and series not in series_names:
        raise GalleryError(400, f"There is no series called “{series}”. Choose one of: "
                           f"{', '.join(series_names)}.")
    sort = (request.arg("sort") or NEWEST).strip().lower()
    if sort not in SORTS:
        raise GalleryError(400, f"The order “{sort}” is not one the gallery knows: use "
                           f"{', '.join(SORTS)}.")
    page = _whole_number(request, "page", 1, 1, None)
    size = _whole_number(request, "size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return GalleryQuery(q=" ".join((request.arg("q") or "").split())[:MAX_QUERY],
                        series=series, sort=sort, page=page, size=size,
                        view=_view(request, series_names))


def _whole_number(request: Request, name: str, default: int, low: int, high: int | None
                  ) -> int:
    text = (request.arg(name) or "").strip()
    if not text:
        return default
    limits = f"from {low} to {high}" if high else f"from {low} up"
    try:
        value = int(text)
    except ValueError:
        raise GalleryError(400, f"“{name}” takes a whole number {limits}, not "
                           f"“{text[:40]}”.") from None
    if value < low or (high is not None and value > high):
        raise GalleryError(400, f"“{name}” takes a whole number {limits}; {value} is "
                           "out of range.")
    return value


def _view(request: Request, series_names: list[str]) -> Key | None:
    text = (request.arg("view") or "").strip()
    if not text:
        return None
    series, _, address = text.partition("/")
    series, address = series.lower(), address.lower()
    if series not in series_names or not _ADDRESS.match(address):
        raise GalleryError(400, "“view” takes a series and an address, such as "
                           "nocturne/0x… (40 hexadecimal digits).")
    return series, address
