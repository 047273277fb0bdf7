"""Who is asking: client IPs behind trusted proxies, admin checks, a per-client rate limit."""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from dalleserver.httpd import Request
from dalleserver.web.errors import ApiError, ErrorCode


class ClientResolver:
    """The socket peer, or the right-most untrusted X-Forwarded-For hop behind a trusted proxy."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in trusted]

    def _trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        if not forwarded_for or not self.networks or not self._trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer
            if not self._trusted(hop):
                return hop
        return peer


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def require_admin(request: Request, token: str) -> None:
    """With a token: ``Authorization: Bearer <token>``. Without: loopback clients only."""
    if token:
        header = request.headers.get("Authorization") or ""
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                               token.encode()):
            return
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "this request needs the admin token (Authorization: Bearer <token>)")
    if not is_loopback(request.client_ip):
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "destructive requests are accepted from this machine only unless an "
                       "admin token is configured")
    if from_another_site(request):
        # a page open in a browser on this machine is not its owner asking
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "destructive requests from a web page on another origin need the "
                       "admin token")


def from_another_site(request: Request) -> bool:
    """A browser says so (``Sec-Fetch-Site``), or sent an ``Origin`` that is not this
    server's own (scheme and ``Host`` of the request)."""
    site = (request.headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site in ("cross-site", "same-site"):
        return True
    origin = (request.headers.get("Origin") or "").strip().lower()
    if not origin:
        return False
    host = (request.headers.get("Host") or "").strip().lower()
    return origin not in (f"http://{host}", f"https://{host}")


class RateLimiter:
    """A token bucket per client: ``per_minute`` triggers, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = 10_000,
                 clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def _level(self, client: str, now: float) -> float:
        tokens, stamp = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - stamp) * self.rate)

    def retry_after(self, client: str) -> int:
        """0 when ``client`` may trigger now, else whole seconds until a token is back."""
        if not self.enabled:
            return 0
        with self._lock:
            level = self._level(client, self._clock())
        if level >= 1.0:
            return 0
        return max(1, int((1.0 - level) / self.rate + 0.999))

    def headers(self, client: str) -> dict[str, str]:
        """``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (seconds until the bucket is
        full again) for ``client``, as in the IETF RateLimit header fields draft; none when
        the limit is off."""
        if not self.enabled:
            return {}
        with self._lock:
            level = self._level(client, self._clock())
        reset = max(0, int((self.capacity - level) / self.rate + 0.999))
        return {"RateLimit-Limit": str(int(self.capacity)),
                "RateLimit-Remaining": str(int(level)), "RateLimit-Reset": str(reset)}

    def consume(self, client: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            level = self._level(client, now)
            self._buckets[client] = (max(level - 1.0, 0.0), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
