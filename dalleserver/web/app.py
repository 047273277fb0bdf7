"""The application: the route table served through one middleware (request IDs, access log,
metrics, panic recovery), and the state the views share. It is what the engine is given
(``httpd.interface.Application``). State lives here, not in module globals, so tests can
run two apps side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from dalleserver.config import Config
from dalleserver.httpd import Exchange, Headers, ProtocolError, Request, Response
from dalleserver.httpd.router import Match, Router
from dalleserver.httpd.wire import KNOWN_METHODS
from dalleserver.jobs.interface import CoordinationUnavailable
from dalleserver.observability.access_log import AccessLog
from dalleserver.observability.health import HealthChecker
from dalleserver.runtime import Runtime
from dalleserver.web.cors import CorsPolicy
from dalleserver.web.errorlog import ErrorLog
from dalleserver.web.errors import PROTOCOL_CODES, ApiError, ErrorCode
from dalleserver.web.guards import ClientResolver, RateLimiter
from dalleserver.web.names import NameLookupNeeded, NameLookups
from dalleserver.web.responses import error_response
from dalleserver.web.route_spec import RouteSpec
from dalleserver.web.routes import ROUTES
from dalleserver.web.waiters import RunWaiters

log = logging.getLogger("dalleserver.app")


class App:
    def __init__(self, config: Config, runtime: Runtime,
                 routes: Sequence[RouteSpec] = ROUTES) -> None:
        self.config = config
        self.runtime = runtime
        self.catalog = runtime.catalog
        self.data_dir = runtime.data_dir
        self.board = runtime.board
        self.jobs = runtime.jobs
        self.instruments = runtime.instruments
        self.health = HealthChecker(
            runtime.data_dir,
            queue_depth=lambda: self.jobs.queue_depth,
            queue_size=self.jobs.queue_size,
            breaker_states=self.breaker_states,
            openai_in_use=config.image_backend == "openai" or config.enhance_enabled,
            ethereum_node=runtime.resolver.state if runtime.resolver is not None else None,
            coordination=runtime.cluster.health if runtime.cluster is not None else None,
        )
        # cluster mode: one limit per client across the instances
        self.limiter = (runtime.cluster.rate_limiter(config.rate_limit) if runtime.cluster
                        else RateLimiter(config.rate_limit))
        self.clients = ClientResolver(config.trusted_proxies)
        self.errors = ErrorLog()
        self.access = AccessLog()  # the service closes it after the last request
        self.pictures = runtime.pictures
        self.waiters = RunWaiters(runtime.board)
        self.cors = CorsPolicy(config.cors_origins)
        resolver = runtime.resolver
        self.lookups = (NameLookups(resolver, resolver.max_cold or 1)
                        if resolver is not None else None)
        self.shutting_down = False
        self.started = time.time()
        self.jobs.observer = self._on_generation
        self.routes = tuple(routes)
        self.router = Router()
        for spec in self.routes:
            self.router.add(spec.template, spec.methods, spec.handler, spec.path, spec)

    # -- shared helpers -----------------------------------------------------------------
    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state for name, breaker in self.runtime.breakers.items()}

    def ready(self) -> tuple[bool, str]:
        if self.shutting_down:
            return False, "shutting down"
        error = self.health.writable_error()
        if error:
            return False, f"data dir not writable: {error}"
        if self.runtime.cluster is not None:
            return self.runtime.cluster.readiness()
        return True, "ready"

    def _on_generation(self, outcome: str, seconds: float) -> None:
        self.instruments.generations.inc(outcome=outcome)
        if outcome != "cache_hit":
            self.instruments.generation_duration.observe(seconds)

    # -- what the engine calls ----------------------------------------------------------
    def client_ip(self, peer: str, headers: Headers) -> str:
        return self.clients.client_ip(peer, headers.get("X-Forwarded-For"))

    def draining(self) -> bool:
        return self.shutting_down

    def refuse(self, error: ProtocolError, request_id: str) -> Response:
        code = PROTOCOL_CODES.get(error.status, ErrorCode.INVALID_REQUEST)
        headers = {"Retry-After": "1"} if code is ErrorCode.SERVICE_UNAVAILABLE else None
        return error_response(ApiError(code, error.message, headers=headers), request_id)

    def handle(self, request: Request) -> Response:
        """Route and run a request; every failure becomes an envelope, never a crash;
        cross-origin fields follow TB_DALLE_CORS_ORIGINS."""
        response = self._dispatch(request)
        self.cors.decorate(request, response)
        return response

    def _dispatch(self, request: Request) -> Response:
        try:
            kind, route, params, allowed = self.router.resolve(request.method,
                                                                  request.raw_path)
            if kind is Match.NONE:
                raise ApiError(ErrorCode.NOT_FOUND, f"no route for {request.path}")
            assert route is not None
            request.route_name = route.name
            if kind is Match.PARTIAL and request.method == "OPTIONS":
                # what the path allows, and a CORS preflight's answer when it is one
                return (self.cors.preflight(request, allowed)
                        or Response(204, b"", "", {"Allow": ", ".join(allowed)}))
            if kind is Match.PARTIAL:
                # the v1 API answers the original's code for it (with Allow, unlike it)
                code = (ErrorCode.INVALID_INPUT_METHOD if route.name.startswith("/v1/")
                        else ErrorCode.METHOD_NOT_ALLOWED)
                raise ApiError(code, f"{request.method} is not allowed on {route.name}",
                               details={"allowed": list(allowed)},
                               headers={"Allow": ", ".join(allowed)})
            request.params = params
            return route.handler(self, request)
        except NameLookupNeeded as need:
            assert self.lookups is not None  # only raised with a resolver
            try:
                return self.lookups.answer_after(need.name, lambda: self._dispatch(request))
            except ApiError as error:
                return error_response(error, request.request_id)
        except ApiError as error:
            return error_response(error, request.request_id)
        except CoordinationUnavailable as exc:  # cluster mode, Redis away: from any view
            return error_response(ApiError(
                ErrorCode.SERVICE_UNAVAILABLE, str(exc),
                headers={"Retry-After": str(exc.retry_after)}), request.request_id)
        except Exception:
            log.exception("request %s %s failed [%s]", request.method, request.path,
                          request.request_id)
            return error_response(
                ApiError(ErrorCode.INTERNAL_SERVER_ERROR,
                         "the server hit an unexpected error; it keeps serving"),
                request.request_id)

    def record(self, exchange: Exchange, seconds: float) -> None:
        """Access log line and metrics for one answered request."""
        request, response = exchange.request, exchange.response
        route = request.route_name if request is not None else "unparsed"
        status = response.status
        ins = self.instruments
        # one label for every method HTTP does not define: random ones cannot grow /metrics
        method = exchange.method if exchange.method in KNOWN_METHODS else "OTHER"
        ins.http_requests.inc(route=route, method=method, status=str(status))
        ins.http_duration.observe(seconds, route=route)
        if status >= 400:
            code = response.error_code or f"HTTP_{status}"
            ins.errors.inc()
            ins.error_codes.inc(code=code)
            ins.error_endpoints.inc(endpoint=route)
            self.errors.record(code, route, status, exchange.target, exchange.request_id)
            if code == "RATE_LIMITED":
                ins.rate_limited.inc()
        if self.access.wanted():  # queued: the line is written off the request's path
            client = request.client_ip if request is not None else exchange.peer
            self.access.add((time.time(), client, exchange.method, exchange.target, status,
                             exchange.sent, seconds, exchange.request_id))
