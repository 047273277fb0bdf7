"""Reading ``/dalle`` paths and query flags: validated series and address, 1/0 flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dalleserver.address import AddressError, normalize_address
from dalleserver.dress import SeriesError
from dalleserver.jobs.progress import Key
from dalleserver.web.http import ApiError, Request

if TYPE_CHECKING:
    from dalleserver.web.app import App

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def flag(request: Request, name: str) -> bool:
    if not request.has(name):
        return False
    value = (request.arg(name) or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return name == "remove"  # a bare ?remove counts, like the original
    raise ApiError("INVALID_REQUEST", f"?{name}= takes 1 or 0, got {value!r}")


def resolve_key(app: App, request: Request) -> Key:
    """Validate the series and address of a ``/dalle`` path."""
    series_name = request.params.get("series", "").strip()
    address = request.params.get("address", "").strip()
    if not series_name:
        raise ApiError("MISSING_PARAMETER", "the series is missing: /dalle/<series>/<address>")
    if not address:
        raise ApiError("MISSING_PARAMETER", "the address is missing: /dalle/<series>/<address>")
    try:
        series = app.catalog.series.get(series_name)
    except SeriesError:
        raise ApiError("INVALID_SERIES", f"unknown series {series_name!r}",
                       details={"known": app.catalog.series.names()}) from None
    try:
        normalized = normalize_address(address)
    except AddressError as exc:
        raise ApiError("INVALID_ADDRESS", str(exc)) from None
    return series.suffix, normalized
