"""The application: the route table, middleware (request IDs, access log, metrics, panic
recovery) and the state the views share. State lives here, not in module globals, so tests
can run two apps side by side."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from dalleserver.config import Config
from dalleserver.observability.health import HealthChecker
from dalleserver.runtime import Runtime
from dalleserver.web import views
from dalleserver.web.errorlog import ErrorLog
from dalleserver.web.gallery import GalleryIndex
from dalleserver.web.guards import ClientResolver, RateLimiter
from dalleserver.web.http import ApiError, Request, Response, error_response
from dalleserver.web.router import Match, Router

access_log = logging.getLogger("dalleserver.access")
log = logging.getLogger("dalleserver.app")


class App:
    def __init__(self, config: Config, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self.catalog = runtime.catalog
        self.data_dir = runtime.data_dir
        self.board = runtime.board
        self.jobs = runtime.jobs
        self.breakers: dict[str, Any] = runtime.breakers
        self.instruments = runtime.instruments
        self.health = HealthChecker(
            runtime.data_dir,
            queue_depth=lambda: self.jobs.queue_depth,
            queue_size=self.jobs.queue_size,
            breaker_states=self.breaker_states,
            openai_in_use=config.image_backend == "openai" or config.enhance_enabled,
        )
        self.limiter = RateLimiter(config.rate_limit)
        self.clients = ClientResolver(config.trusted_proxies)
        self.errors = ErrorLog()
        self.gallery = GalleryIndex()
        self.shutting_down = False
        self.started = time.time()
        self.jobs.observer = self._on_generation
        self.router = Router()
        views.register(self)
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    # -- shared helpers -----------------------------------------------------------------
    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state for name, breaker in self.breakers.items()}

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        return self.clients.client_ip(peer, forwarded_for)

    def ready(self) -> tuple[bool, str]:
        if self.shutting_down:
            return False, "shutting down"
        error = self.health.writable_error()
        if error:
            return False, f"data dir not writable: {error}"
        return True, "ready"

    def _on_generation(self, outcome: str, seconds: float) -> None:
        self.instruments.generations.inc(outcome=outcome)
        if outcome != "cache_hit":
            self.instruments.generation_duration.observe(seconds)

    # -- middleware ---------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Route and run a request; every failure becomes an envelope, never a crash."""
        try:
            kind, route, params, allowed = self.router.resolve(request.method, request.path)
            if kind is Match.NONE:
                raise ApiError("NOT_FOUND", f"no route for {request.path}")
            assert route is not None
            request.route_name = route.name
            if kind is Match.PARTIAL:
                raise ApiError("METHOD_NOT_ALLOWED",
                               f"{request.method} is not allowed on {route.template}",
                               details={"allowed": list(allowed)},
                               headers={"Allow": ", ".join(allowed)})
            request.params = params
            return route.handler(self, request)
        except ApiError as error:
            return error_response(error, request.request_id)
        except Exception:
            log.exception("request %s %s failed [%s]", request.method, request.path,
                          request.request_id)
            return error_response(
                ApiError("INTERNAL_SERVER_ERROR",
                         "the server hit an unexpected error; it keeps serving"),
                request.request_id)

    def record(self, request: Request | None, response: Response, seconds: float, sent: int,
               rid: str, peer: str, method: str, target: str) -> None:
        """Access log line and metrics for one answered request."""
        route = request.route_name if request is not None else "unparsed"
        status = response.status
        ins = self.instruments
        ins.http_requests.inc(route=route, method=method[:16], status=str(status))
        ins.http_duration.observe(seconds, route=route)
        if status >= 400:
            code = _error_code(response)
            ins.errors.inc()
            ins.error_codes.inc(code=code)
            ins.error_endpoints.inc(endpoint=route)
            self.errors.record(code, route, status, target, rid)
            if code == "RATE_LIMITED":
                ins.rate_limited.inc()
        if not access_log.isEnabledFor(logging.INFO):
            return  # the line and its fields cost more than the rest of this method
        client = request.client_ip if request is not None else peer
        access_log.info(
            '%s "%s %s" %d %d %.1fms id=%s', client, method, target[:2048], status, sent,
            seconds * 1000, rid or "-",
            extra={"request_id": rid, "client": client, "method": method, "path": target,
                   "status": status, "bytes": sent, "duration_ms": round(seconds * 1000, 3)},
        )


def _error_code(response: Response) -> str:
    body = response.body
    marker = b'"code":"'
    start = body.find(marker)
    if start < 0:
        return "HTTP_" + str(response.status)
    start += len(marker)
    return body[start : body.find(b'"', start)].decode("ascii", errors="replace")
