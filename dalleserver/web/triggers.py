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

if TYPE_CHECKING:
    from dalleserver.web.app import App

QUEUE_FULL_RETRY_AFTER = 5


def submit_trigger(app: App, request: Request, key: Key, **options: Any) -> Submission:
    """Start (or join) the generation of ``key``; ``options`` go to ``submit_key``."""
    def admit() -> None:
        wait = app.limiter.retry_after(request.client_ip)
        if wait:
            raise ApiError(ErrorCode.RATE_LIMITED, "too many generation requests from this client",
                           details={"retry_after_seconds": wait},
                           headers={"Retry-After": str(wait),
                                    **app.limiter.headers(request.client_ip)})
        admit_spending(app, request, key)
        app.limiter.consume(request.client_ip)

    try:
        return app.jobs.submit_key(key, admit=admit, request_id=request.request_id, **options)
    except QueueFull:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the generation queue is full; retry shortly",
                       headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)}) from None
    except ShuttingDown:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down",
                       headers={"Retry-After": "10"}) from None
