"""Cross-origin reads for web pages on other origins (``TB_DALLE_CORS_ORIGINS``).

Off by default. Listed origins may read and, with the admin token, write (the admin rule
itself is ``guards.require_admin``); ``*`` lets any page read, never write. Preflights are
answered for the methods a path really has.
"""

from __future__ import annotations

from dalleserver.httpd import Request, Response

READS = ("GET", "HEAD")
ALLOWED_HEADERS = "Authorization, X-Request-ID, Content-Type, Prefer"
EXPOSED_HEADERS = ("X-Request-ID, ETag, Retry-After, Location, Preference-Applied, "
                   "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Content-Range")
PREFLIGHT_MAX_AGE = "600"


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.listed = frozenset(o for o in origins if o != "*")
        self.anyone_reads = "*" in origins

    @property
    def enabled(self) -> bool:
        return bool(self.listed) or self.anyone_reads

    def allow_origin(self, origin: str, method: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for ``origin`` doing ``method``."""
        if origin in self.listed:
            return origin
        if self.anyone_reads and method in READS:
            return "*"
        return None

    def decorate(self, request: Request, response: Response) -> None:
        """CORS fields on an answer (the answer depends on Origin: ``Vary``)."""
        if not self.enabled:
            return
        _vary_origin(response)
        origin = request.headers.get("Origin")
        allowed = self.allow_origin(origin, request.method) if origin else None
        if allowed is None:
            return
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS

    def preflight(self, request: Request, methods: tuple[str, ...]) -> Response | None:
        """The answer to an ``OPTIONS`` preflight, or None when it is not one."""
        origin = request.headers.get("Origin")
        wanted = (request.headers.get("Access-Control-Request-Method") or "").strip().upper()
        if not origin or not wanted:
            return None
        response = Response(204, b"", "", {"Allow": ", ".join(methods)})
        if self.enabled:
            _vary_origin(response)
        allowed = self.allow_origin(origin, wanted) if wanted in methods else None
        if allowed is None:
            return response  # no CORS fields: the browser refuses the request
        grantable = methods if allowed != "*" else tuple(m for m in methods if m in READS)
        response.headers.update({
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Methods": ", ".join(grantable),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        })
        return response


def _vary_origin(response: Response) -> None:
    vary = response.headers.get("Vary", "")
    if "origin" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
