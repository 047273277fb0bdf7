"""Batches through the v1 API: ``POST /v1/batches`` (admin) asks for the pictures of many
addresses of one series, ``GET /v1/batches/{id}`` follows it (counts by state and a page of
items), ``DELETE`` (admin) cancels what has not started. A batch takes nothing from the
client's trigger rate limit: it is bounded in size instead (TB_DALLE_BATCH_MAX) and fed
into the queue behind interactive requests (``dalleserver.batches``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dalleserver.address import AddressError, normalize_address
from dalleserver.batches import BatchService
from dalleserver.httpd import Request, Response
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.json_body import read_json_body
from dalleserver.web.params import usable_series
from dalleserver.web.responses import envelope
from dalleserver.web.v1_schemas import BATCH_BODY
from dalleserver.webhooks import CallbackRefused

if TYPE_CHECKING:
    from dalleserver.web.app import App

DEFAULT_PAGE, MAX_PAGE = 100, 500
BYTES_PER_ADDRESS = 48  # "0x" and 40 hex digits, quoted, a comma and some spaces


def create_batch(app: App, request: Request) -> Response:
    """202 with the new batch and its ``Location``."""
    require_admin(request, app.config.admin_token)
    limit = app.config.batch_max
    body = read_json_body(request, BATCH_BODY, limit=4096 + limit * BYTES_PER_ADDRESS)
    series = _series(app, body["series"])
    keys = _keys(series, body["addresses"], limit)
    callback = body.get("callback") or ""
    if callback:
        _check_callback(app, callback)
    batch = _service(app).create(series, keys, bool(body.get("force")), callback)
    return envelope(batch, request.request_id, status=202,
                    headers={"Location": batch["location"]})


def get_batch(app: App, request: Request) -> Response:
    """The batch's counts and a page of its items (``limit``, ``cursor``)."""
    service = _service(app)
    batch_id = request.params.get("id", "")
    batch = service.summary(batch_id)
    if batch is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no batch with this id")
    start, limit = _page(request)
    batch["items"] = service.items(batch_id, start, limit)
    following = start + limit
    batch["nextCursor"] = str(following) if following < batch["total"] else None
    response = envelope(batch, request.request_id)
    if batch["nextCursor"]:
        response.headers["Next-Cursor"] = batch["nextCursor"]
    return response


def cancel_batch(app: App, request: Request) -> Response:
    """Cancel the batch's items that have not started (admin)."""
    require_admin(request, app.config.admin_token)
    batch = _service(app).cancel(request.params.get("id", ""))
    if batch is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no batch with this id")
    return envelope(batch, request.request_id)


def _service(app: App) -> BatchService:
    service = app.runtime.batches
    if service is None:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "batches are not available")
    return service


def _series(app: App, name: str) -> str:
    return usable_series(app, name, ErrorCode.SERIES_INVALID, field="series")


def _keys(series: str, addresses: list[str], limit: int) -> list[Key]:
    if not addresses:
        raise ApiError(ErrorCode.INVALID_INPUT, "addresses must not be empty",
                       details={"field": "addresses"})
    if len(addresses) > limit:
        raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE,
                       f"addresses has {len(addresses)} items; a batch takes at most {limit} "
                       "(TB_DALLE_BATCH_MAX)", details={"field": "addresses", "max": limit})
    keys = []
    for index, text in enumerate(addresses):
        try:
            keys.append((series, normalize_address(text)))
        except AddressError as exc:
            raise ApiError(ErrorCode.INVALID_INPUT, f"addresses[{index}]: {exc}",
                           details={"field": f"addresses[{index}]"}) from None
    return keys


def _check_callback(app: App, url: str) -> None:
    webhooks = app.runtime.webhooks
    if webhooks is None:
        raise ApiError(ErrorCode.INVALID_INPUT, "callback: this server sends no webhooks "
                       "(TB_DALLE_WEBHOOK_HOSTS is not set)", details={"field": "callback"})
    try:
        webhooks.allow_list.check(url)
    except CallbackRefused as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"callback: {exc}",
                       details={"field": "callback"}) from None


def _page(request: Request) -> tuple[int, int]:
    return _number(request, "cursor", 0, 0, 10**9), _number(request, "limit", DEFAULT_PAGE,
                                                            1, MAX_PAGE)


def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
    text: Any = request.arg(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(ErrorCode.INVALID_INPUT, f"{name} must be a whole number from {low} to "
                       f"{high}", details={"field": name})
    return int(text)
