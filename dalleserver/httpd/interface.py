"""The one interface between the engine and the application it serves.

The engine parses, schedules and writes; everything about *what* to answer is the
application's. It is passed to the server as one object with five methods, so the engine
never reaches into application attributes, and a test can serve a five-line application.
Metrics the engine feeds are plain callbacks in ``EngineHooks``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dalleserver.httpd.messages import Exchange, Headers, ProtocolError, Request, Response


class Application(Protocol):
    def handle(self, request: Request) -> Response:
        """Answer one request; must not raise (the engine answers 500 if it does)."""
        ...

    def refuse(self, error: ProtocolError, request_id: str) -> Response:
        """The body of an answer to a request the engine refused before parsing it."""
        ...

    def record(self, exchange: Exchange, seconds: float) -> None:
        """One answered request, for the access log and metrics."""
        ...

    def client_ip(self, peer: str, headers: Headers) -> str:
        """Who is asking: the peer, or the client behind a trusted proxy."""
        ...

    def draining(self) -> bool:
        """True once the application is shutting down: keep-alive ends after each answer."""
        ...


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class EngineHooks:
    """Counters the engine bumps; the application decides where they go."""

    connection_refused: Callable[[], None] = _nothing  # the connection cap was reached
    worker_stalled: Callable[[], None] = _nothing  # the watchdog woke another worker
