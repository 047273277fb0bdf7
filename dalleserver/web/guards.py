"""Who is asking: client IPs behind trusted proxies, admin checks, a per-client rate limit."""

from __future__ import annotations

import hmac
import ipaddress
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import urlsplit

from dalleserver.httpd import Request
from dalleserver.web.errors import ApiError, ErrorCode


class ClientResolver:
    """The socket peer, or the right-most untrusted X-Forwarded-For hop behind a trusted proxy."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in trusted]

    def trusts(self, ip: str) -> bool:
        """Is ``ip`` a trusted proxy (its connections carry many clients)?"""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        if not forwarded_for or not self.networks or not self.trusts(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer
            if not self.trusts(hop):
                return hop
        return peer


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


# Headers a proxy adds: a request that carries one came through a proxy, whoever the peer is.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def is_local(request: Request) -> bool:
    """Asked from this machine itself: a loopback peer, asking for itself. A forwarded
    request (a proxy on this machine, trusted or not) is never local, whatever address it
    forwards: a remote client could name 127.0.0.1 in X-Forwarded-For."""
    peer = request.peer or request.client_ip
    if not is_loopback(peer) or request.client_ip != peer:
        return False
    headers = request.headers
    return not any(name in headers for name in FORWARDING_HEADERS)


def has_admin_token(request: Request, token: str) -> bool:
    """The request carries ``Authorization: Bearer <token>`` (never true without a token)."""
    if not token:
        return False
    header = request.headers.get("Authorization") or ""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                               token.encode())


def require_admin(request: Request, token: str) -> None:
    """With a token: ``Authorization: Bearer <token>``. Without: local clients only, naming
    the host by a loopback name (``names_loopback``), and not a page of another site."""
    if token:
        if has_admin_token(request, token):
            return
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "this request needs the admin token (Authorization: Bearer <token>)")
    if not is_local(request):
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "destructive requests are accepted from this machine only unless an "
                       "admin token is configured")
    if not names_loopback(request_host(request)):
        # a page whose name was rebound to 127.0.0.1 (DNS rebinding) asks with its own name
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "a write from this machine without the admin token must name the host "
                       "as localhost, 127.0.0.1 or [::1] (or send the admin token)")
    if from_another_site(request):
        # a page open in a browser on this machine is not its owner asking
        raise ApiError(ErrorCode.UNAUTHORIZED,
                       "destructive requests from a web page on another origin need the "
                       "admin token")


def request_host(request: Request) -> str | None:
    """The host a request names: the authority of an absolute-form target, which wins over
    ``Host`` (RFC 9112 §3.2.2), else the ``Host`` header (None when there is none)."""
    if not request.target.startswith("/"):
        netloc = urlsplit(request.target).netloc
        return netloc.rpartition("@")[2]
    return request.headers.get("Host")


# host[:port] of a Host header: a bracketed IPv6 literal, or a name of DNS characters
_HOST_PORT = re.compile(
    r"(?:\[(?P<ip6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::(?P<port>[0-9]{0,5}))?",
    re.ASCII)
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")
MAX_PORT = 65535


def names_loopback(host: str | None) -> bool:
    """Does a ``Host`` header name this machine by a loopback name, whatever the port:
    ``localhost`` or ``*.localhost``, an IPv4 literal in 127.0.0.0/8 or ``[::1]``? No Host
    at all (HTTP/1.0) counts too. Any other name, even one whose DNS answer is 127.0.0.1,
    does not: that is how a page on another site reaches a loopback server once its
    name is rebound, and its own Origin then matches the Host it sends."""
    if host is None:
        return True
    match = _HOST_PORT.fullmatch(host.strip().lower())
    if match is None or int(match["port"] or 0) > MAX_PORT:
        return False
    if match["ip6"] is not None:
        try:
            return ipaddress.IPv6Address(match["ip6"]) == _LOOPBACK_V6
        except ValueError:
            return False
    name = match["name"].removesuffix(".")  # "localhost." is the same name, fully qualified
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.IPv4Address(name) in _LOOPBACK_V4
    except ValueError:
        return False


def from_another_site(request: Request) -> bool:
    """A browser says so (``Sec-Fetch-Site``), or sent an ``Origin`` that is not this
    server's own (scheme and ``Host`` of the request)."""
    site = (request.headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site in ("cross-site", "same-site"):
        return True
    origin = (request.headers.get("Origin") or "").strip().lower()
    if not origin:
        return False
    host = (request_host(request) or "").strip().lower()
    return origin not in (f"http://{host}", f"https://{host}")


def rate_key(client: str) -> str:
    """The bucket of a client address: IPv6 clients by their /64 (one subscriber usually
    gets a whole /64 and could rotate through it), IPv4-mapped ones as IPv4."""
    if ":" not in client:
        return client
    try:
        address = ipaddress.IPv6Address(client.partition("%")[0])
    except ValueError:
        return client
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


class RateLimiter:
    """A token bucket per client (IPv6 clients per /64, see ``rate_key``): ``per_minute``
    triggers, refilled continuously."""

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
        tokens, stamp = self._buckets.get(rate_key(client), (self.capacity, now))
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
            key = rate_key(client)
            self._buckets[key] = (max(level - 1.0, 0.0), now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
