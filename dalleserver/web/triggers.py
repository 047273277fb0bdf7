"""Triggering a generation, for every route that makes pictures (``/dalle`` and the v1
API): the client's rate limit and the spending budget are asked just before a new run is
queued (joining a run asks neither), and a full queue or a shutdown is a 503 with
Retry-After."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dalleserver.httpd import Request
from dalleserver.jobs.manager import QueueFull, ShuttingDown, Submission
from dalleserver.storage import Key
from dalleserver.web.budget import admit_spending
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import has_admin_token

if TYPE_CHECKING:
    from dalleserver.web.app import App

QUEUE_FULL_RETRY_AFTER = 5


def limit_exempt(app: App, request: Request) -> bool:
    """With TB_DALLE_RATE_LIMIT_EXEMPT_ADMIN, requests with the admin token skip the limit."""
    config = app.config
    return config.rate_limit_exempt_admin and has_admin_token(request, config.admin_token)


def spend_trigger(app: App, request: Request) -> None:
    """Take one trigger from the client's rate limit (none from an exempt admin)."""
    if not limit_exempt(app, request):
        app.limiter.consume(request.client_ip)


def refuse_if_limited(app: App, request: Request) -> None:
    """429 RATE_LIMITED with Retry-After when the client has no trigger left."""
    if limit_exempt(app, request):
        return
    wait = app.limiter.retry_after(request.client_ip)
    if wait:
        raise ApiError(ErrorCode.RATE_LIMITED, "too many generation requests from this client",
                       details={"retry_after_seconds": wait},
                       headers={"Retry-After": str(wait),
                                **app.limiter.headers(request.client_ip)})


def submit_trigger(app: App, request: Request, key: Key, **options: Any) -> Submission:
    """Start (or join) the generation of ``key``; ``options`` go to ``submit_key``."""
    def admit() -> None:
        refuse_if_limited(app, request)
        admit_spending(app, request, key)
        spend_trigger(app, request)

    try:
        return app.jobs.submit_key(key, admit=admit, request_id=request.request_id, **options)
    except QueueFull:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the generation queue is full; retry shortly",
                       headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)}) from None
    except ShuttingDown:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down",
                       headers={"Retry-After": "10"}) from None
