"""Reading ``/dalle`` paths and query flags: validated series and address (or ENS name),
yes/no flags."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dalleserver.config import FALSE_WORDS, TRUE_WORDS
from dalleserver.dress import SeriesError
from dalleserver.dress.series import SeriesHidden
from dalleserver.httpd import Request
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.names import address_of

if TYPE_CHECKING:
    from dalleserver.web.app import App


def flag(request: Request, name: str) -> bool:
    """A yes/no query flag, the same on every route: absent is no; ``1``/``0`` (or true/
    false, yes/no, on/off) say yes or no; anything else, an empty value included, is
    INVALID_REQUEST naming the flag. Repeated, the first value counts (as in the original,
    whose ``url.Values.Get`` reads the first)."""
    if not request.has(name):
        return False
    value = request.arg(name) or ""  # exactly as documented: no case or spaces guessed
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ApiError(ErrorCode.INVALID_REQUEST, f"?{name}= takes 1 or 0, got {value[:32]!r}",
                   details={"parameter": name})


def choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """A query parameter that takes one of ``choices``: absent is ``default``; anything
    else, an empty value included, is INVALID_REQUEST naming it."""
    if not request.has(name):
        return default
    value = request.arg(name) or ""
    if value in choices:
        return value
    raise ApiError(ErrorCode.INVALID_REQUEST, f"?{name}= takes {' or '.join(choices)}, "
                   f"got {value[:32]!r}", details={"parameter": name})


def resolve_key(app: App, request: Request) -> Key:
    """Validate the series and address (or ENS name) of a ``/dalle`` path."""
    return resolve_target(app, request)[0]


def resolve_target(app: App, request: Request) -> tuple[Key, str]:
    """The key of a ``/dalle`` path and the ENS name it used ("" for an address); a name
    is resolved to its address (see ``web.names.address_of``)."""
    series_name = request.params.get("series", "").strip()
    address = request.params.get("address", "").strip()
    if not series_name:
        raise ApiError(ErrorCode.MISSING_PARAMETER,
                       "the series is missing: /dalle/<series>/<address>")
    if not address:
        raise ApiError(ErrorCode.MISSING_PARAMETER,
                       "the address is missing: /dalle/<series>/<address>")
    suffix = usable_series(app, series_name, ErrorCode.INVALID_SERIES)
    normalized, name = address_of(app, address)
    return (suffix, normalized), name


def usable_series(app: App, name: str, code: ErrorCode, field: str = "") -> str:
    """The suffix of a series pictures may be made in; ``code`` (the route family's) when
    it is hidden or unknown, the known ones in the details (and ``field`` when given)."""
    try:
        return app.catalog.series.usable(name).suffix
    except SeriesHidden as exc:
        raise ApiError(code, str(exc)) from None
    except SeriesError:
        details: dict[str, object] = {"field": field} if field else {}
        details["known"] = app.catalog.series.names()
        raise ApiError(code, f"unknown series {name[:100]!r}", details=details) from None
