"""Callback URLs on triggers (``?callback=`` here, the v1 body's ``callback`` field): checked
against the allow-list, then waiting for the run's end, when its final snapshot is POSTed
(``dalleserver.webhooks``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING

from dalleserver.httpd import Request
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.names import named_snapshot
from dalleserver.webhooks import CallbackRefused, TooManyCallbacks

if TYPE_CHECKING:
    from dalleserver.web.app import App

TOO_MANY_RETRY_AFTER = 30


def callback_arg(request: Request, generate: bool) -> str | None:
    """``?callback=`` of a ``/dalle`` request (None when absent); it goes with
    ``?generate=1`` only."""
    url = request.arg("callback")
    if url is not None and not generate:
        raise ApiError(ErrorCode.INVALID_REQUEST, "?callback= goes with ?generate=1",
                       details={"parameter": "callback"})
    return url


@contextmanager
def notify_when_done(app: App, key: Key, url: str | None, parameter: str = "callback",
                     name: str = "") -> Iterator[None]:
    """Around a trigger of ``key``: when ``url`` is given, check it (400 INVALID_REQUEST
    naming ``parameter`` when this server may not send to it) and have the final snapshot
    POSTed to it when the run ends. A trigger that raises takes its callback back; one that
    returns may have found the run over already, and then the webhook goes now. ``name`` is
    the ENS name the trigger used, shown in the snapshot sent."""
    if url is None:
        yield
        return
    webhooks = app.runtime.webhooks
    if webhooks is None:
        raise ApiError(ErrorCode.INVALID_REQUEST,
                       f"{parameter}: this server sends no webhooks (TB_DALLE_WEBHOOK_HOSTS "
                       "is not set)", details={"parameter": parameter})
    try:
        target = webhooks.allow_list.check(url)
    except CallbackRefused as exc:
        raise ApiError(ErrorCode.INVALID_REQUEST, f"{parameter}: {exc}",
                       details={"parameter": parameter}) from None
    try:
        added = webhooks.callbacks.subscribe(key, target,
                                             partial(named_snapshot, app, key[1], name))
    except TooManyCallbacks:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "too many callbacks are waiting; retry "
                       "shortly", headers={"Retry-After": str(TOO_MANY_RETRY_AFTER)}) from None
    try:
        yield
    except BaseException:
        if added:
            webhooks.callbacks.cancel(key, target)
        raise
    webhooks.callbacks.settle(key)
