"""Series through the v1 API: ``GET /v1/series`` (``includeHidden``, ``onlyHidden``),
``GET|PUT /v1/series/{name}`` and ``POST /v1/series/{name}/hidden``. Names are normalised
as the original does (``Test Series`` is ``test-series``); built-in series are read-only;
writes follow the admin rule."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dalleserver.dress import SeriesError
from dalleserver.dress.series import Series
from dalleserver.httpd import Request, Response
from dalleserver.series_store import (
    FolderClash,
    checked_name,
    safe_series_name,
    save_series,
    set_hidden,
)
from dalleserver.storage import StorageError
from dalleserver.web.errors import BUSY_RETRY_AFTER, ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.json_body import read_json_body
from dalleserver.web.params import flag
from dalleserver.web.responses import envelope
from dalleserver.web.v1_schemas import HIDDEN_BODY, SERIES_BODY

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.v1")


def list_series(app: App, request: Request) -> Response:
    """Built-in and user series, sorted by name; hidden ones with ``includeHidden=1``,
    only those with ``onlyHidden=1``."""
    only_hidden = _flag(request, "onlyHidden")
    include_hidden = _flag(request, "includeHidden") or only_hidden  # both are checked
    items = [s.to_json_dict() for s in app.catalog.series.all(include_hidden=include_hidden)
             if s.deleted or not only_hidden]
    return envelope(items, request.request_id)


def get_series(app: App, request: Request) -> Response:
    """One series (hidden ones too)."""
    return envelope(_existing(app, request.params.get("name", "")).to_json_dict(),
                    request.request_id)


def put_series(app: App, request: Request) -> Response:
    """Create or replace a user series; a blank ``suffix`` is the name in the path."""
    require_admin(request, app.config.admin_token)
    name = _writable_name(app, request)
    body = read_json_body(request, SERIES_BODY)
    if isinstance(body.get("last"), float):
        body["last"] = int(body["last"])  # 7.0 is an integer in JSON
    given = (body.get("suffix") or "").strip()
    if given and safe_series_name(given) != name:
        raise ApiError(ErrorCode.SERIES_INVALID,
                       f"the suffix {given[:100]!r} does not name the series of the path "
                       f"({name!r})")
    registry = app.catalog.series
    try:
        hidden = registry.get(name).deleted
    except SeriesError:
        hidden = False
    try:
        save_series(app.data_dir.series_dir, name, {**body, "suffix": name}, hidden)
    except SeriesError as exc:
        raise ApiError(ErrorCode.SERIES_INVALID, f"the series is not valid: {exc}") from None
    except StorageError as exc:
        log.error("cannot save series %s: %s", name, exc)
        raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR, "the series could not be saved") \
            from None
    registry.refresh(force=True)
    return envelope(_existing(app, name).to_json_dict(), request.request_id)


def hide_series(app: App, request: Request) -> Response:
    """Hide a user series (``{"hidden": true}``) or show it again; its output folder is
    renamed to ``<name>.deleted`` and back."""
    require_admin(request, app.config.admin_token)
    name = _writable_name(app, request)
    body = read_json_body(request, HIDDEN_BODY)
    busy = sum(1 for series, _ in app.board.active_keys() if series == name)
    if busy:  # they would write beside the folder put away (or into it, showing it)
        raise ApiError(ErrorCode.SERIES_CONFLICT,
                       f"{busy} generation(s) of series {name!r} are queued or running; "
                       "hide or show it once they are done",
                       headers={"Retry-After": str(BUSY_RETRY_AFTER)})
    try:
        set_hidden(app.data_dir.series_dir, app.data_dir.output, name,
                   bool(body.get("hidden")))
    except FileNotFoundError:
        raise ApiError(ErrorCode.SERIES_NOT_FOUND, f"there is no user series {name!r}") \
            from None
    except FolderClash as exc:
        raise ApiError(ErrorCode.SERIES_CONFLICT, str(exc)) from None
    except SeriesError as exc:
        raise ApiError(ErrorCode.SERIES_INVALID, str(exc)) from None
    except (OSError, StorageError) as exc:
        log.error("cannot hide series %s: %s", name, exc)
        raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR, "the series could not be changed") \
            from None
    app.catalog.series.refresh(force=True)
    return envelope(_existing(app, name).to_json_dict(), request.request_id)


def _existing(app: App, name: str) -> Series:
    try:
        return app.catalog.series.get(safe_series_name(name))
    except SeriesError:
        raise ApiError(ErrorCode.SERIES_NOT_FOUND, f"series {name[:100]!r} was not found") \
            from None


def _writable_name(app: App, request: Request) -> str:
    """The path's series name, normalised; 400 when it is unusable or built in."""
    try:
        name = checked_name(request.params.get("name", ""))
    except SeriesError as exc:
        raise ApiError(ErrorCode.SERIES_INVALID, str(exc)) from None
    if app.catalog.series.is_builtin(name):
        raise ApiError(ErrorCode.SERIES_READ_ONLY, f"{name!r} is a built-in series and cannot "
                       "be changed; save it under another name")
    return name


def _flag(request: Request, name: str) -> bool:
    """The server's flags, with the v1 code for a bad value."""
    try:
        return flag(request, name)
    except ApiError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, exc.message, exc.details) from None
