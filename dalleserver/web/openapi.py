"""The OpenAPI 3.1 document, built from the route table and nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dalleserver import __version__
from dalleserver.web.errors import ErrorCode
from dalleserver.web.route_spec import HTML, JSON, RouteSpec

ALWAYS = {405: (JSON,), 500: (JSON,)}  # any route: wrong method, or an unexpected error
DESCRIPTIONS = {
    200: "success", 202: "generation queued", 206: "partial content (a byte range)",
    304: "not modified", 400: "bad request", 401: "admin token or loopback client needed",
    404: "not found (or an ENS name without an address)", 405: "method not allowed",
    409: "conflict: made with other databases or another series definition",
    413: "request body too large", 415: "request body is not JSON",
    416: "range not satisfiable", 429: "rate limited, or the spending budget is used up",
    500: "unexpected error", 502: "the image provider failed",
    503: "unavailable (queue full, not ready, shutting down, Ethereum node unavailable)",
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# An address all lower or all upper case is valid whatever it is; a mixed-case one only
# with a right EIP-55 checksum, which no pattern can say (the server takes those too).
ADDRESS = {"type": "string", "pattern": "^0x([0-9a-f]{40}|[0-9A-F]{40})$"}
SERIES_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$"}
ADMIN_SCHEME = {"adminToken": {"type": "http", "scheme": "bearer",
                               "description": "TB_DALLE_ADMIN_TOKEN; without one configured, "
                                              "requests from this machine need none"}}
RANGES = {206, 416}  # HEAD ignores Range: these never answer it


def _content(status: int, media: tuple[str, ...], data: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    if status >= 400 and HTML not in media:  # errors are the envelope, pages are HTML
        return {JSON: {"schema": _ERROR_REF}}
    return {m: {"schema": _envelope(data) if m == JSON and data is not None else {}}
            for m in media}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    """A success envelope around ``data``'s schema."""
    return {"type": "object", "required": ["success", "data", "request_id"],
            "properties": {"success": {"const": True}, "data": data,
                           "request_id": {"type": "string"}}}


# a v1 seed: an address as above, or 64 hex digits (a sha256)
SEED = {"type": "string", "pattern": "^(0x([0-9a-f]{40}|[0-9A-F]{40})|[0-9a-fA-F]{64})$"}
# a name as the v1 routes take it: normalised by the server (trimmed, lower case, spaces
# and separators as "-"), as the original's pin PUT /v1/series/Test%20Series shows
NAME = {"type": "string", "maxLength": 100, "pattern": r"^ *[A-Za-z0-9][A-Za-z0-9._ /\\-]*$",
        "description": "trimmed and lower-cased by the server; spaces and separators are -"}
PATH_SCHEMAS = {"series": SERIES_NAME, "address": ADDRESS, "seed": SEED, "name": NAME}


def _body_schema(body: dict[str, Any], schemas: Mapping[str, dict[str, Any] | None]
                 ) -> dict[str, Any]:
    """A body's schema with the configuration's say on its properties by name (the series
    it knows; a callback it does not take is left out, and refused as unknown)."""
    properties = dict(body.get("properties", {}))
    for name in set(properties) & set(schemas):
        if schemas[name] is None:
            del properties[name]
        else:
            properties[name] = {**properties[name], **schemas[name]}
    return {**body, "properties": properties}


def _operation(spec: RouteSpec, method: str, schemas: Mapping[str, dict[str, Any] | None]
               ) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": schemas.get(name) or PATH_SCHEMAS.get(name) or {"type": "string"}}
        for name in spec.path_params
    ]
    params += [{"name": p.name, "in": "query", "required": p.required,
                "description": p.description, "schema": schemas.get(p.name) or p.schema}
               for p in spec.query if schemas.get(p.name, p.schema) is not None]
    responses: dict[str, Any] = {}
    head = method == "HEAD"
    for status, media in sorted({**spec.answers, **ALWAYS}.items()):
        if head and status in RANGES:
            continue
        answer: dict[str, Any] = {"description": DESCRIPTIONS.get(status, str(status))}
        content = {} if head else _content(status, media, spec.data.get(status))
        if content:
            answer["content"] = content
        responses[str(status)] = answer
    op: dict[str, Any] = {"summary": spec.summary,
                          "operationId": f"{method.lower()}_{spec.handler.__name__}",
                          "responses": responses}
    if params:
        op["parameters"] = params
    if spec.admin:  # the admin token, or none from this machine
        op["security"] = [{}, {"adminToken": []}]
    if spec.body is not None and method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {"required": spec.body_required,
                             "content": {JSON: {"schema": _body_schema(spec.body,
                                                                       schemas)}}}
    return op


def openapi_document(routes: Sequence[RouteSpec],
                     schemas: Mapping[str, dict[str, Any] | None] | None = None
                     ) -> dict[str, Any]:
    """The whole document: one path item per route, one operation per method. ``schemas``
    are what this server's configuration says of parameters by name (the series it knows;
    None: a parameter it does not take, such as a callback without webhook hosts). A route
    that only refuses (an incomplete ``/dalle`` path) is no operation."""
    schemas = schemas or {}
    paths: dict[str, Any] = {}
    for spec in routes:
        if not any(status < 400 for status in spec.answers):
            continue
        item = paths.setdefault(spec.path, {})
        # the engine answers HEAD wherever GET is served: document it as well
        methods = (*spec.methods, "HEAD") if "GET" in spec.methods else spec.methods
        for method in methods:
            item[method.lower()] = _operation(spec, method, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "dalleserver", "version": __version__,
                 "description": "Deterministic, annotated AI art for Ethereum addresses."},
        "paths": paths,
        "components": {"schemas": {"Error": _error_schema()},
                       "securitySchemes": ADMIN_SCHEME},
    }


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error", "request_id"],
        "properties": {
            "success": {"type": "boolean", "const": False},
            "request_id": {"type": "string"},
            "error": {"type": "object", "required": ["code", "message", "timestamp"],
                      "properties": {"code": {"type": "string",
                                              "enum": sorted({c.wire for c in ErrorCode})},
                                     "message": {"type": "string"},
                                     "details": {},
                                     "timestamp": {"type": "string"},
                                     "request_id": {"type": "string"}}},
        },
    }
