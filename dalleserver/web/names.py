"""ENS names on the site: the address segment of a path resolved to an address (or a clear
error), and the names a progress snapshot shows.

A cached name costs no call. An uncached one is never looked up on an HTTP thread: the
request is parked (a deferred answer, no thread held), a small pool of lookup threads asks
the node, and the request is answered when the name is known. The pool is as large as the
resolver's limit of lookups at once, and a bounded number of requests may wait for it;
more get a quick 503. A snapshot shows the name the request used
(``dalleDress.originalName``) and the address's primary name (``ensName``), the latter only
from the cache: a page never waits for a reverse lookup.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalleserver.ens import (
    EnsResolver,
    NameNotFound,
    NodeError,
    ResolverBusy,
    address_or_name,
    looks_like_name,
)
from dalleserver.httpd import Response
from dalleserver.web.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from dalleserver.web.app import App

# Retry-After for a node failure whose end nobody knows (the breaker knows when it is open).
NODE_RETRY_AFTER = 5
# In compact snapshot JSON the key appears once, in dalleDress; inside a string its quotes
# would be escaped, so this cannot match text in a note or an error.
_ORIGINAL_NAME = re.compile(rb'"originalName":"(?:[^"\\]|\\.)*"')


MAX_WAITING_LOOKUPS = 256  # requests parked for a name at once; more get a quick 503
_inline = threading.local()  # set on lookup threads, where a name may ask the node


class NameLookupNeeded(Exception):
    """The path names an uncached ENS name: park the request and look it up elsewhere."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class NameLookups:
    """Looks names up off the HTTP threads and answers the parked requests afterwards."""

    def __init__(self, resolver: EnsResolver, workers: int,
                 max_waiting: int = MAX_WAITING_LOOKUPS) -> None:
        self.resolver = resolver
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="ens-lookup")
        self._waiting = threading.BoundedSemaphore(max_waiting)
        self.max_waiting = max_waiting
        self._count_lock = threading.Lock()
        self._parked = 0

    def answer_after(self, name: str, answer: Callable[[], Response]) -> Response:
        """A deferred response: ``answer()`` runs on a lookup thread, where the name may
        be resolved through the node; SERVICE_UNAVAILABLE when too many already wait."""
        if not self._waiting.acquire(blocking=False):
            raise ApiError(ErrorCode.SERVICE_UNAVAILABLE,
                           "too many ENS names are being looked up; retry shortly",
                           headers={"Retry-After": "1"})

        def run(resume: Callable[[Response], None]) -> None:
            _inline.allowed = True
            try:
                resume(answer())
            finally:
                _inline.allowed = False
                self._count(-1)
                self._waiting.release()

        def defer(resume: Callable[[Response], None]) -> None:
            self._count(1)
            try:
                self._pool.submit(run, resume)
            except RuntimeError:  # shut down: the request still gets its answer
                self._count(-1)
                self._waiting.release()
                resume(answer())

        return Response(defer=defer)

    @property
    def waiting(self) -> int:
        """Requests parked for a lookup now."""
        with self._count_lock:
            return self._parked

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._parked += change

    def stop(self) -> None:
        self._pool.shutdown(wait=False)  # lookups under way finish and answer


def address_of(app: App, segment: str) -> tuple[str, str]:
    """(lower-case address, normalised ENS name or "") for the address segment of a path.

    Raises ApiError: INVALID_ADDRESS for a bad address or name (or any name while no node
    is configured), NAME_NOT_FOUND, or SERVICE_UNAVAILABLE with Retry-After when the node
    cannot answer now.
    """
    resolver = app.runtime.resolver
    if (resolver is not None and looks_like_name(segment) and not resolver.is_cached(segment)
            and not getattr(_inline, "allowed", False)):
        raise NameLookupNeeded(segment)
    try:
        return address_or_name(segment, resolver)
    except ValueError as exc:  # a bad address or name, or a name without a node
        raise ApiError(ErrorCode.INVALID_ADDRESS, str(exc)) from None
    except NameNotFound as exc:
        raise ApiError(ErrorCode.NAME_NOT_FOUND, str(exc), details={"name": exc.name}) from None
    except (ResolverBusy, NodeError) as exc:
        wait = math.ceil(exc.retry_after or NODE_RETRY_AFTER)
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, f"cannot resolve the ENS name now: {exc}",
                       details={"retry_after_seconds": wait},
                       headers={"Retry-After": str(wait)}) from None


@dataclass(frozen=True, slots=True)
class SnapshotNames:
    """The names one answer shows: the ENS name its request used ("" for an address) and
    the address's verified primary name ("" when it has none or it is not known yet)."""

    requested: str
    primary: str

    def label_json(self, snapshot: bytes) -> bytes:
        """Compact snapshot JSON with the names set; an empty snapshot (``{}``) stays so."""
        if not snapshot.startswith(b'{"') or not snapshot.endswith(b"}"):
            return snapshot
        if self.requested:
            shown = b'"originalName":' + json.dumps(self.requested).encode()
            snapshot = _ORIGINAL_NAME.sub(lambda _: shown, snapshot, count=1)
        return snapshot[:-1] + b',"ensName":' + json.dumps(self.primary).encode() + b"}"

    def label(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """A snapshot dict with the names set; an empty snapshot stays empty."""
        if not snapshot:
            return snapshot
        labelled = {**snapshot, "ensName": self.primary}
        dress = snapshot.get("dalleDress")
        if self.requested and dress:
            labelled["dalleDress"] = {**dress, "originalName": self.requested}
        return labelled


def snapshot_names(app: App, address: str, requested: str) -> SnapshotNames | None:
    """The names for a snapshot of ``address``, or None when no node is configured (then
    snapshots are left exactly as they were)."""
    display = app.runtime.display_names
    if display is None:
        return None
    return SnapshotNames(requested, display.name_of(address) or "")


def named_snapshot(app: App, address: str, requested: str, snapshot: bytes) -> bytes:
    """Snapshot JSON of ``address`` with its names (unchanged when no node is configured,
    and for an empty snapshot: no run, nothing to name)."""
    if snapshot == b"{}":
        return snapshot
    names = snapshot_names(app, address, requested)
    return snapshot if names is None else names.label_json(snapshot)


def display_name(app: App, address: str) -> str:
    """The primary name to show next to ``address``: from the cache only, "" if unknown."""
    display = app.runtime.display_names
    return (display.name_of(address) or "") if display is not None else ""
