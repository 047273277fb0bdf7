"""A regex router: path templates compile once; a match is NONE, PARTIAL (path matched,
method not: 405 with Allow) or FULL. Routes carry whatever the application attaches
(``meta``); the router only matches."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([^}]+))?\}")


class Match(enum.Enum):
    NONE = 0
    PARTIAL = 1
    FULL = 2


def compile_template(template: str) -> re.Pattern[str]:
    """``/dalle/{series}/{address}`` -> a regex with named groups; ``{rest:.*}`` sets a
    custom pattern. A plain parameter matches one (possibly empty) path segment."""
    pattern = ""
    last = 0
    for m in _PARAM.finditer(template):
        pattern += re.escape(template[last : m.start()])
        pattern += f"(?P<{m.group(1)}>{m.group(2) or '[^/]*'})"
        last = m.end()
    pattern += re.escape(template[last:])
    return re.compile(f"^{pattern}$")


@dataclass
class Route:
    template: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    name: str
    meta: Any = None
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = compile_template(self.template)
        if "GET" in self.methods and "HEAD" not in self.methods:
            self.methods = (*self.methods, "HEAD")

    def match(self, method: str, path: str) -> tuple[Match, dict[str, str]]:
        found = self.regex.match(path)
        if not found:
            return Match.NONE, {}
        if method not in self.methods:
            return Match.PARTIAL, {}
        return Match.FULL, found.groupdict()


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, template: str, methods: tuple[str, ...], handler: Callable[..., Any],
            name: str | None = None, meta: Any = None) -> Route:
        """Add a route; ``name`` defaults to the template."""
        route = Route(template, methods, handler, name or template, meta)
        self.routes.append(route)
        return route

    def resolve(self, method: str, path: str) -> tuple[Match, Route | None, dict[str, str],
                                                       tuple[str, ...]]:
        """The first full match; else the allowed methods of every partial match."""
        allowed: list[str] = []
        partial: Route | None = None
        for route in self.routes:
            kind, params = route.match(method, path)
            if kind is Match.FULL:
                return kind, route, params, route.methods
            if kind is Match.PARTIAL:
                partial = partial or route
                allowed.extend(m for m in route.methods if m not in allowed)
        if partial is not None:
            return Match.PARTIAL, partial, {}, tuple(allowed)
        return Match.NONE, None, {}, ()
