"""Operational views: route list, series, health, metrics, errors, OpenAPI."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from dalleserver import __version__
from dalleserver.observability.metrics import CONTENT_TYPE as PROMETHEUS_TYPE
from dalleserver.web.guards import require_admin
from dalleserver.web.http import (
    ERROR_STATUS,
    ApiError,
    Request,
    Response,
    envelope,
    error_response,
    text_response,
)

if TYPE_CHECKING:
    from dalleserver.web.app import App


def index(app: App, request: Request) -> Response:
    lines = [f"dalleserver {__version__}", "", "routes:"]
    for route in app.router.routes:
        methods = ",".join(m for m in route.methods if m != "HEAD")
        lines.append(f"  {methods:<9} {_public_path(route.template):<36} {route.summary}")
    return text_response("\n".join(lines) + "\n")


def series(app: App, request: Request) -> Response:
    items = [s.to_json_dict() for s in app.catalog.series.all(include_hidden=False)]
    return envelope({"series": items, "count": len(items)}, request.request_id)


def health(app: App, request: Request) -> Response:
    check = (request.arg("check") or "").strip().lower()
    if check == "liveness":
        return livez(app, request)
    if check == "readiness":
        return readyz(app, request)
    if check:
        raise ApiError("INVALID_REQUEST", "?check= takes liveness or readiness")
    report = app.health.report()
    if report["status"] == "unhealthy":
        failing = [n for n, c in report["components"].items() if c["status"] == "unhealthy"]
        response = error_response(
            ApiError("SERVICE_UNAVAILABLE", "unhealthy: " + ", ".join(failing),
                     headers={"Retry-After": "30"}), request.request_id)
        # keep the report readable for monitors that only look at the body
        doc = json.loads(response.body)
        doc["data"] = report
        response.body = json.dumps(doc, separators=(",", ":")).encode()
        return response
    return envelope(report, request.request_id)


def livez(app: App, request: Request) -> Response:
    return envelope({"status": "alive"}, request.request_id)


def readyz(app: App, request: Request) -> Response:
    ready, reason = app.ready()
    if not ready:
        raise ApiError("SERVICE_UNAVAILABLE", f"not ready: {reason}",
                       headers={"Retry-After": "5"})
    return envelope({"status": "ready"}, request.request_id)


def metrics(app: App, request: Request) -> Response:
    fmt = (request.arg("format") or "prometheus").strip().lower()
    if fmt == "json":
        return envelope(app.instruments.json(), request.request_id)
    if fmt not in ("prometheus", "text"):
        raise ApiError("INVALID_REQUEST", "?format= takes json or prometheus")
    return text_response(app.instruments.text(), content_type=PROMETHEUS_TYPE)


def errors(app: App, request: Request) -> Response:
    if request.method == "POST":
        if (request.arg("clear") or "").strip().lower() not in ("1", "true", "yes"):
            raise ApiError("INVALID_REQUEST", "POST /errors needs ?clear=1")
        require_admin(request, app.config.admin_token)
        app.errors.clear()
        return envelope({"cleared": True}, request.request_id)
    if request.has("clear"):
        raise ApiError("METHOD_NOT_ALLOWED", "clearing needs POST /errors?clear=1",
                       headers={"Allow": "GET, HEAD, POST"})
    if (request.arg("format") or "").strip().lower() == "json":
        return envelope(app.errors.to_json(), request.request_id)
    return text_response(app.errors.to_text())


# -- OpenAPI ------------------------------------------------------------------------------

_PARAM = re.compile(r"\{([a-zA-Z_]+)(?::[^}]+)?\}")


def _public_path(template: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", template)


def _operation(route, method: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.template)
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in route.doc.get("query", ())
    ]
    responses: dict[str, Any] = {"200": {"description": "success"}}
    if "{address}" in route.template and route.template.count("/") == 3:
        responses["202"] = {"description": "generation queued"}
    for code in sorted({str(s) for s in ERROR_STATUS.values()}):
        responses[code] = {"description": "error envelope",
                           "content": {"application/json": {
                               "schema": {"$ref": "#/components/schemas/Error"}}}}
    op: dict[str, Any] = {"summary": route.summary, "operationId": f"{method}{route.name}",
                          "responses": responses}
    if params:
        op["parameters"] = params
    return op


def openapi_document(app: App) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in app.router.routes:
        item = paths.setdefault(_public_path(route.template), {})
        for method in route.methods:
            item[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": "dalleserver", "version": __version__,
                 "description": "Deterministic, annotated AI art for Ethereum addresses."},
        "paths": paths,
        "components": {"schemas": {"Error": {
            "type": "object",
            "required": ["success", "error", "request_id"],
            "properties": {
                "success": {"type": "boolean", "const": False},
                "request_id": {"type": "string"},
                "error": {"type": "object", "required": ["code", "message", "timestamp"],
                          "properties": {"code": {"type": "string",
                                                  "enum": sorted(ERROR_STATUS)},
                                         "message": {"type": "string"},
                                         "details": {},
                                         "timestamp": {"type": "string"},
                                         "request_id": {"type": "string"}}},
            }}}},
    }


def openapi(app: App, request: Request) -> Response:
    return envelope_free_json(openapi_document(app))


def envelope_free_json(doc: dict[str, Any]) -> Response:
    """The OpenAPI document is served as itself, as tools expect, not inside an envelope."""
    return Response(200, json.dumps(doc, separators=(",", ":")).encode(), "application/json")
