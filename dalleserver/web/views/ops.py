"""Operational views: route list, series, health, metrics, errors, OpenAPI."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dalleserver import __version__
from dalleserver.httpd import Request, Response
from dalleserver.observability.metrics import CONTENT_TYPE as PROMETHEUS_TYPE
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.openapi import ADDRESS, openapi_document
from dalleserver.web.params import choice, flag
from dalleserver.web.responses import envelope, error_response, json_document, text_response

if TYPE_CHECKING:
    from dalleserver.web.app import App


def index(app: App, request: Request) -> Response:
    """The routes, one a line, from the route table."""
    lines = [f"dalleserver {__version__}", "", "routes:"]
    for spec in app.routes:
        methods = ",".join(spec.methods)
        lines.append(f"  {methods:<9} {spec.path:<36} {spec.summary}")
    return text_response("\n".join(lines) + "\n")


def series(app: App, request: Request) -> Response:
    """The visible series' names, as the original answers; with ``?details=1`` each
    series' definition (its filters) instead of its name."""
    visible = app.catalog.series.all(include_hidden=False)
    if flag(request, "details"):
        items: list = [s.to_json_dict() for s in visible]
    else:
        items = [s.suffix for s in visible]
    return envelope({"series": items, "count": len(items)}, request.request_id)


def health(app: App, request: Request) -> Response:
    """The health report; 503 with the report when a component is unhealthy."""
    check = choice(request, "check", ("liveness", "readiness"), "")
    if check == "liveness":
        return livez(app, request)
    if check == "readiness":
        return readyz(app, request)
    report = app.health.report()
    if report["status"] == "unhealthy":
        failing = [n for n, c in report["components"].items() if c["status"] == "unhealthy"]
        # the report rides along for monitors that only look at the body
        return error_response(
            ApiError(ErrorCode.SERVICE_UNAVAILABLE, "unhealthy: " + ", ".join(failing),
                     headers={"Retry-After": "30"}), request.request_id, data=report)
    return envelope(report, request.request_id)


def livez(app: App, request: Request) -> Response:
    """200 while the process runs."""
    return envelope({"status": "alive"}, request.request_id)


def readyz(app: App, request: Request) -> Response:
    """200 when the data dir is usable and the server is not shutting down."""
    ready, reason = app.ready()
    if not ready:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, f"not ready: {reason}",
                       headers={"Retry-After": "5"})
    return envelope({"status": "ready"}, request.request_id)


def metrics(app: App, request: Request) -> Response:
    """The metrics in the Prometheus text format, or JSON."""
    if choice(request, "format", ("prometheus", "text", "json"), "prometheus") == "json":
        return envelope(app.instruments.json(), request.request_id)
    return text_response(app.instruments.text(), content_type=PROMETHEUS_TYPE)


def errors(app: App, request: Request) -> Response:
    """The error report, as text or ``?format=json``."""
    if flag(request, "clear"):
        raise ApiError(ErrorCode.METHOD_NOT_ALLOWED, "clearing needs POST /errors?clear=1",
                       headers={"Allow": "GET, HEAD, POST"})
    if choice(request, "format", ("text", "json"), "text") == "json":
        return envelope(app.errors.to_json(), request.request_id)
    return text_response(app.errors.to_text())


def clear_errors(app: App, request: Request) -> Response:
    """``POST /errors?clear=1`` resets the report (admin)."""
    if not flag(request, "clear"):
        raise ApiError(ErrorCode.INVALID_REQUEST, "POST /errors needs ?clear=1",
                       details={"parameter": "clear"})
    require_admin(request, app.config.admin_token)
    app.errors.clear()
    return envelope({"cleared": True}, request.request_id)


def openapi(app: App, request: Request) -> Response:
    """This API as OpenAPI 3.1, built from the route table."""
    return json_document(openapi_document(app.routes, parameter_schemas(app)))


def parameter_schemas(app: App) -> dict[str, Any]:
    """What this configuration says of parameters by name: the series it knows (in paths
    and queries, and in the gallery's ``view``), addresses (plain ones: names need a node),
    and the callback hosts it accepts (no callback without webhook hosts)."""
    names = app.catalog.series.names()
    hosts = app.config.webhook_hosts
    callback = ({"type": "string", "pattern": "^https?://(" + "|".join(map(re.escape, hosts))
                 + ")([/?#]|$)"} if hosts else None)
    view = "^$|^(" + "|".join(map(re.escape, names)) + ")/0[xX][0-9a-fA-F]{40}$"
    return {"series": {"type": "string", "enum": names}, "address": ADDRESS,
            "view": {"type": "string", "pattern": view}, "callback": callback}
