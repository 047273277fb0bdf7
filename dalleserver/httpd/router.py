"""A path router that matches segments of the raw path: a match is NONE, PARTIAL (path
matched, method not: 405 with Allow) or FULL. Routes carry whatever the application
attaches (``meta``); the router only matches.

The path is split at its real slashes first and each segment is percent-decoded after, so
an encoded slash is data: ``/dalle/empty%2F0xab`` is one segment ``empty/0xab``, never the
two segments of ``/dalle/empty/0xab`` (RFC 3986 §2.2).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([^}]+))?\}")


class Match(enum.Enum):
    NONE = 0
    PARTIAL = 1
    FULL = 2


@dataclass(frozen=True)
class _Part:
    """One template segment: a literal, or a parameter with an optional pattern."""

    literal: str | None
    name: str = ""
    pattern: re.Pattern[str] | None = None


def compile_template(template: str) -> tuple[tuple[_Part, ...], str]:
    """``/dalle/{series}/{address}`` -> its segments, and the name of a last ``{rest:.*}``
    parameter that takes the rest of the path ("" when there is none).

    A parameter is a whole segment. ``{name:pattern}`` matches the decoded segment against
    ``pattern``; as the last segment with a pattern that can span slashes (``.*``), it
    takes the rest of the path, still percent-encoded, for the view to resolve."""
    segments = template.split("/")[1:]
    parts: list[_Part] = []
    rest = ""
    for index, segment in enumerate(segments):
        found = _PARAM.fullmatch(segment)
        if found is None:
            if "{" in segment:
                raise ValueError(f"a parameter must be a whole segment: {template}")
            parts.append(_Part(segment))
            continue
        name, pattern = found.group(1), found.group(2)
        if pattern and index == len(segments) - 1 and re.fullmatch(pattern, "a/b"):
            rest = name
            break
        parts.append(_Part(None, name, re.compile(pattern) if pattern else None))
    return tuple(parts), rest


def split_path(raw_path: str) -> tuple[list[str], list[str]] | None:
    """(raw segments, decoded segments) of a raw path; None when a segment's percent
    escapes are not UTF-8."""
    raw = raw_path.split("/")[1:]
    if "%" not in raw_path:
        return raw, raw
    try:
        return raw, [unquote(s, errors="strict") if "%" in s else s for s in raw]
    except UnicodeDecodeError:
        return None


@dataclass
class Route:
    template: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    name: str
    meta: Any = None
    parts: tuple[_Part, ...] = field(init=False)
    rest: str = field(init=False)

    def __post_init__(self) -> None:
        self.parts, self.rest = compile_template(self.template)
        if "GET" in self.methods and "HEAD" not in self.methods:
            self.methods = (*self.methods, "HEAD")

    def match(self, method: str, raw: list[str], decoded: list[str]
              ) -> tuple[Match, dict[str, str]]:
        """Match split segments (see ``split_path``)."""
        parts = self.parts
        count = len(parts)
        if len(decoded) <= count if self.rest else len(decoded) != count:
            return Match.NONE, {}
        params: dict[str, str] = {}
        for part, segment in zip(parts, decoded, strict=False):  # decoded may be longer
            if part.literal is not None:
                if part.literal != segment:
                    return Match.NONE, {}
            elif part.pattern is None or part.pattern.fullmatch(segment):
                params[part.name] = segment
            else:
                return Match.NONE, {}
        if method not in self.methods:
            return Match.PARTIAL, {}
        if self.rest:
            params[self.rest] = "/".join(raw[count:])
        return Match.FULL, params


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, template: str, methods: tuple[str, ...], handler: Callable[..., Any],
            name: str | None = None, meta: Any = None) -> Route:
        """Add a route; ``name`` defaults to the template."""
        route = Route(template, methods, handler, name or template, meta)
        self.routes.append(route)
        return route

    def resolve(self, method: str, raw_path: str) -> tuple[Match, Route | None,
                                                           dict[str, str], tuple[str, ...]]:
        """The first full match for a raw (still percent-encoded) path; else the allowed
        methods of the partial matches with the most literal segments (``/v1/images/generate``
        allows what that route takes, not what ``/v1/images/{id}`` does)."""
        split = split_path(raw_path)
        if split is None:
            return Match.NONE, None, {}, ()
        raw, decoded = split
        allowed: list[str] = []
        partial: Route | None = None
        best = -1
        for route in self.routes:
            kind, params = route.match(method, raw, decoded)
            if kind is Match.FULL:
                return kind, route, params, route.methods
            if kind is Match.PARTIAL:
                literals = sum(1 for part in route.parts if part.literal is not None)
                if literals > best:
                    best, partial, allowed = literals, route, []
                if literals == best:
                    allowed.extend(m for m in route.methods if m not in allowed)
        if partial is not None:
            return Match.PARTIAL, partial, {}, tuple(allowed)
        return Match.NONE, None, {}, ()
