"""A total time limit on one HTTP exchange with the provider, and the opener that keeps it.

urllib's ``timeout`` bounds each socket operation, not the exchange: a provider (or a proxy)
that sends a byte a second holds the call for as long as it likes. A ``Deadline`` shuts the
exchange's socket down when its time is up, which ends a read waiting for the next trickle
at once. Each connect is bounded by what is left, too.

The opener speaks http and https only (no ``file:``, ``ftp:`` or ``data:`` handler at all),
and follows redirects only to the schemes the caller allows.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable


class Deadline:
    """``with Deadline(seconds) as deadline:`` bounds everything in the block that uses an
    opener made with it; ``expired`` says afterwards whether time ran out."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(self.ends - time.monotonic(), 0.001)

    def adopt(self, sock: socket.socket) -> None:
        """Bound ``sock`` (a connection just made) by this deadline."""
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _bounded(base: type[http.client.HTTPConnection], deadline: Deadline):
    """``base`` whose connections connect within what is left and obey ``deadline``."""

    class Bounded(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            if self.timeout is not None:
                self.timeout = min(self.timeout, deadline.remaining())
            super().connect()
            deadline.adopt(self.sock)

    return Bounded


class _Bounding:
    """A urllib handler whose connections obey a deadline (mixed into HTTP and HTTPS)."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class, req, **kwargs):
        return super().do_open(_bounded(http_class, self._deadline), req,  # type: ignore[misc]
                               **kwargs)


class _HTTP(_Bounding, urllib.request.HTTPHandler):
    pass


class _HTTPS(_Bounding, urllib.request.HTTPSHandler):
    pass


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, schemes: Iterable[str]) -> None:
        super().__init__()
        self._schemes = frozenset(schemes)

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        if urllib.parse.urlsplit(newurl).scheme.lower() not in self._schemes:
            return None  # not followed: the 3xx is the answer
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def is_local(url: str) -> bool:
    """A server on this machine (reached directly, never through a proxy)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def opener(url: str, deadline: Deadline,
           schemes: Iterable[str] = ("http", "https")) -> urllib.request.OpenerDirector:
    """An opener bounded by ``deadline`` that follows redirects to ``schemes`` only.
    Environment proxies apply to real hosts; a server on this machine is reached directly
    (a corporate proxy cannot reach our loopback, and must not see the key)."""
    director = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler({} if is_local(url) else None),
                    urllib.request.UnknownHandler(), _HTTP(deadline), _HTTPS(deadline),
                    urllib.request.HTTPDefaultErrorHandler(), _Redirects(schemes),
                    urllib.request.HTTPErrorProcessor()):
        director.add_handler(handler)
    return director
