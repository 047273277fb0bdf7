"""The spending budget at the trigger: a new run is charged its estimate, or refused with
429 BUDGET_EXHAUSTED and ``Retry-After`` until the budget's period ends (admins are never
refused; with TB_DALLE_BUDGET_FALLBACK=local it is drawn locally instead)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dalleserver.costs.budget import Exhausted
from dalleserver.httpd import Request
from dalleserver.storage import Key, StorageError
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.budget")
LEDGER_RETRY_AFTER = 10


def is_admin(request: Request, token: str) -> bool:
    """Whether ``request`` passes the admin rule of destructive requests."""
    try:
        require_admin(request, token)
    except ApiError:
        return False
    return True


def admit_spending(app: App, request: Request, key: Key) -> None:
    """Charge the run about to be queued for ``key`` to the budget, or refuse it."""
    spending = app.runtime.spending
    if spending is None or spending.budget is None:
        return
    try:
        spending.admit(key, admin=is_admin(request, app.config.admin_token))
    except Exhausted as exc:
        resets = f"{exc.window.ends:%Y-%m-%dT%H:%M:%SZ}"
        raise ApiError(ErrorCode.BUDGET_EXHAUSTED,
                       f"the server's spending budget for new pictures is used up until "
                       f"{resets}; pictures already made are still served",
                       details={"resets_at": resets, "retry_after_seconds": exc.retry_after},
                       headers={"Retry-After": str(exc.retry_after)}) from None
    except StorageError as exc:  # the path stays in the log, not in the answer
        log.error("cannot charge the spending budget: %s", exc)
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the spending ledger is unavailable; "
                       "retry shortly", headers={"Retry-After": str(LEDGER_RETRY_AFTER)}) from None
