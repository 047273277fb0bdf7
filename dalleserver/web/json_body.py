"""JSON request bodies: the ``Content-Type`` checked, a size limit, and the document checked
against the route's schema (the same schema the OpenAPI document shows), so an unknown or
misspelt field is a 400 that names it. Stricter than the original's Go decoder on purpose:
it ignored unknown fields, matched keys case-insensitively and read any size.

The schemas use a small part of JSON Schema: ``type`` (one name or a list), ``properties``,
``required``, ``additionalProperties: false``, ``anyOf`` (of ``required`` lists), ``items``,
``enum``, ``pattern``, ``minLength``, ``maxLength``, ``minItems``, ``maxItems``, ``minimum``
and ``maximum``. Other keywords are the handler's to check (``if``/``then``: a field that
needs another)."""

from __future__ import annotations

import json
import re
from typing import Any

from dalleserver.httpd import Request
from dalleserver.web.errors import ApiError, ErrorCode

MAX_JSON_BODY = 64 * 1024
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "boolean": (bool,), "integer": (int,),
                                       "array": (list,), "object": (dict,),
                                       "null": (type(None),)}


def read_json_body(request: Request, schema: dict[str, Any], *, required: bool = True,
                   limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request's JSON object, checked against ``schema``; ``{}`` for an absent optional
    body. ApiError: 413 over ``limit``, 415 not JSON, 400 (invalid_input) otherwise."""
    body = request.body
    if not body.strip():
        if required:
            raise ApiError(ErrorCode.INVALID_INPUT, "invalid JSON request: the body is empty")
        return {}
    if len(body) > limit:
        raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE,
                       f"the JSON body is larger than {limit} bytes")
    media = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise ApiError(ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                       "the body must be JSON, sent with Content-Type: application/json")
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"invalid JSON request: {exc}") from None
    problem = schema_problem(doc, schema, "the body")
    if problem is not None:
        message, details = problem
        raise ApiError(ErrorCode.INVALID_INPUT, message, details=details)
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def schema_problem(value: Any, schema: dict[str, Any], where: str
                   ) -> tuple[str, dict[str, Any]] | None:
    """The first way ``value`` breaks ``schema`` as (message, details), or None."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, name) for name in names):
            return f"{where} must be {' or '.join(_article(n) for n in names)}", {
                "field": where, "expected": names}
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(str, schema['enum']))}", {
            "field": where, "allowed": schema["enum"]}
    if isinstance(value, str):
        return _text_problem(value, schema, where)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_problem(value, schema, where)
    if isinstance(value, list):
        return _list_problem(value, schema, where)
    if isinstance(value, dict):
        return _object_problem(value, schema, where)
    return None


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()  # JSON Schema: 7.0 is an integer
    return isinstance(value, _TYPES.get(name, (object,)))


def _article(name: str) -> str:
    return {"integer": "an integer", "array": "an array", "object": "an object",
            "null": "null", "boolean": "true or false"}.get(name, f"a {name}")


def _text_problem(value: str, schema: dict[str, Any], where: str):
    if len(value) > schema.get("maxLength", len(value)):
        return f"{where} is longer than {schema['maxLength']} characters", {"field": where}
    if len(value) < schema.get("minLength", 0):
        return f"{where} must not be empty", {"field": where}
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{where} is not in the expected form", {"field": where,
                                                        "pattern": schema["pattern"]}
    return None


def _number_problem(value: float, schema: dict[str, Any], where: str):
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{where} must be between {low} and {high}", {"field": where}
    return None


def _list_problem(value: list, schema: dict[str, Any], where: str):
    if len(value) > schema.get("maxItems", len(value)):
        return f"{where} has more than {schema['maxItems']} items", {"field": where}
    if len(value) < schema.get("minItems", 0):
        return f"{where} must not be empty", {"field": where}
    items = schema.get("items")
    for i, item in enumerate(value if items is not None else ()):
        # an item is named as a path, addresses[3], without the field's JSON quotes
        problem = schema_problem(item, items, f"{where.strip(chr(34))}[{i}]")
        if problem is not None:
            return problem
    return None


def _object_problem(value: dict, schema: dict[str, Any], where: str):
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        unknown = [k for k in value if k not in properties]
        if unknown:
            shown = ", ".join(json.dumps(k) for k in unknown[:10])
            return (f"unknown field{'s' if len(unknown) > 1 else ''} in {where}: {shown} "
                    f"(field names are case-sensitive)",
                    {"unknown": unknown[:10], "allowed": list(properties)})
    for name in schema.get("required", ()):
        if name not in value:
            return f"{where} needs the field {json.dumps(name)}", {"missing": name}
    choices = schema.get("anyOf")
    if choices and not any(all(n in value for n in c.get("required", ())) for c in choices):
        names = " or ".join(json.dumps(n) for c in choices for n in c.get("required", ()))
        return f"{where} needs {names}", {"missing": names}
    for name, item in value.items():
        if name in properties:
            problem = schema_problem(item, properties[name], json.dumps(name))
            if problem is not None:
                return problem
    return None
