"""``/preview/events``: one Server-Sent Events stream with every generation's progress, so
a page shows all running generations (its own and those started elsewhere) with one
connection instead of one per row."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from dalleserver.httpd import Request, Response
from dalleserver.jobs.run_state import ACTIONABLE
from dalleserver.storage import Key
from dalleserver.web.responses import SSE_TYPE, sse_event
from dalleserver.web.views.dalle import SSE_HEARTBEAT, SSE_MAX_SECONDS, SSE_MIN_INTERVAL

if TYPE_CHECKING:
    from dalleserver.web.app import App


class _Changes:
    """Keys whose runs changed since the stream last looked, filled by a board listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[Key] = set()
        self.event = threading.Event()

    def __call__(self, key: Key) -> None:
        with self._lock:
            self._keys.add(key)
        self.event.set()

    def take(self) -> set[Key]:
        with self._lock:
            keys, self._keys = self._keys, set()
        self.event.clear()
        return keys


def preview_events(app: App, request: Request) -> Response:
    """``progress`` events for running and finished generations, ``queue`` events with the
    number waiting; queued runs are counted, not streamed one by one."""

    def stream(write) -> None:
        changes = _Changes()
        app.board.add_listener(changes)
        try:
            _pump(app, write, changes)
        finally:
            app.board.remove_listener(changes)

    return Response(200, b"", SSE_TYPE, stream=stream)


def _pump(app: App, write, changes: _Changes) -> None:
    write(b"retry: 2000\n\n")
    for key in app.board.running_keys():
        changes(key)
    last_queue = -1
    last_sent = time.monotonic()
    ends = last_sent + SSE_MAX_SECONDS
    while not app.shutting_down and time.monotonic() < ends:
        sent = False
        for key in changes.take():
            summary = run_summary(app, key)
            if summary is not None:
                write(sse_event("progress", summary))
                sent = True
        queued = app.jobs.queue_depth
        if queued != last_queue:
            write(sse_event("queue", {"queued": queued}))
            last_queue, sent = queued, True
        now = time.monotonic()
        if sent:
            last_sent = now
        elif now - last_sent >= SSE_HEARTBEAT:
            write(b": keep-alive\n\n")
            last_sent = now
        changes.event.wait(1.0)
        time.sleep(SSE_MIN_INTERVAL)  # at most four updates a second, however busy


def run_summary(app: App, key: Key) -> dict[str, Any] | None:
    """What the page shows of one run; None for queued runs and cache hits. A run is
    ``estimated`` when its phases have timings to estimate from (else the page shows the
    time so far and "estimating…")."""
    run = app.board.get(key)
    if run is not None:
        if run.queue_ticket:
            return None
        snap = app.board.snapshot(key)
        if snap is None:
            return None
        return {"series": key[0], "address": key[1], "currentPhase": snap["currentPhase"],
                "percent": snap["percent"], "etaSeconds": snap["etaSeconds"],
                "elapsedSeconds": round(_elapsed(snap), 1),
                "estimated": any(snap["phaseAverages"].get(p) for p in ACTIONABLE),
                "done": False, "error": ""}
    record = app.board.finished(key)
    if record is None or record.cache_hit:
        return None
    return {"series": key[0], "address": key[1], "currentPhase":
            "failed" if record.error else "completed", "percent": 100.0,
            "etaSeconds": 0.0, "done": True, "error": record.error}


def _elapsed(snapshot: dict[str, Any]) -> float:
    """Seconds since a worker began the run (since it was queued, if no worker has)."""
    started = next((p["startedNs"] for p in snapshot["phases"] if p["name"] == "setup"), 0)
    return max(time.time_ns() - (started or snapshot["startedNs"]), 0) / 1e9
