"""What a route declares: its handler, query parameters and the answers it can give."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PARAM = re.compile(r"\{([a-zA-Z_]+)(?::[^}]+)?\}")

JSON = "application/json"
PNG = "image/png"
JPEG = "image/jpeg"
HTML = "text/html"
TEXT = "text/plain"
SSE = "text/event-stream"
ANY = "*/*"


@dataclass(frozen=True)
class Param:
    """A query parameter: its name, what it does and its JSON schema."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


FLAG = {"type": "string", "enum": ["1", "0", "true", "false", "yes", "no", "on", "off"]}


@dataclass(frozen=True)
class RouteSpec:
    """One route. ``answers`` maps each status the route itself can give to its media
    types; every route may also answer 405 and 500 (added for the OpenAPI document).
    ``body`` is the JSON Schema of a JSON request body (the handler validates against the
    same schema, see ``json_body``), ``data`` the schema of the envelope's ``data`` by
    status, so clients and schemathesis know both."""

    template: str
    handler: Callable[..., Any]
    summary: str
    answers: dict[int, tuple[str, ...]]
    methods: tuple[str, ...] = ("GET",)
    query: tuple[Param, ...] = ()
    admin: bool = False  # some requests need the admin rule of CONTRACT §4.4
    body: dict[str, Any] | None = None
    body_required: bool = True
    data: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The public path template (custom patterns removed): the route's name."""
        return _PARAM.sub(lambda m: "{" + m.group(1) + "}", self.template)

    @property
    def path_params(self) -> list[str]:
        return _PARAM.findall(self.template)
