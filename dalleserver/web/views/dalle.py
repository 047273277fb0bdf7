"""The ``/dalle`` views: picture or progress, trigger, remove, live events (CONTRACT §4.2)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from dalleserver.httpd import Request, Response
from dalleserver.jobs.manager import QueueFull, ShuttingDown
from dalleserver.storage import Key
from dalleserver.web.budget import admit_spending
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.names import SnapshotNames, named_snapshot, snapshot_names
from dalleserver.web.params import flag, resolve_key, resolve_target
from dalleserver.web.responses import SSE_TYPE, envelope, envelope_json, sse_event
from dalleserver.web.views.files import send_file

if TYPE_CHECKING:
    from dalleserver.web.app import App

SSE_MIN_INTERVAL = 0.25
SSE_HEARTBEAT = 15.0
SSE_MAX_SECONDS = 3600.0
QUEUE_FULL_RETRY_AFTER = 5


def dalle_missing(app: App, request: Request) -> Response:
    """``/dalle`` or ``/dalle/<series>`` alone: MISSING_PARAMETER names what is missing."""
    resolve_key(app, request)
    raise AssertionError("unreachable")  # resolve_key raises MISSING_PARAMETER


def dalle(app: App, request: Request) -> Response:
    """The PNG when it exists, else the progress JSON; ``?generate=1`` / ``?remove=1``.
    The address may be an ENS name: the same key, the name shown in the snapshot."""
    key, name = resolve_target(app, request)
    head = request.method == "HEAD"
    generate = flag(request, "generate") and not head
    remove = flag(request, "remove") and not head
    if generate and remove:
        raise ApiError(ErrorCode.INVALID_REQUEST, "use either ?generate=1 or ?remove=1, not both")
    if remove:
        return _remove(app, request, key)
    if not generate:
        png = app.data_dir.annotated(*key)
        if png.is_file():
            return send_file(request, png, cache_control="public, max-age=60")
        snapshot = app.board.snapshot_json(key) or b"{}"
        return envelope_json(named_snapshot(app, key[1], name, snapshot), request.request_id)
    return _generate(app, request, key, name)


def _remove(app: App, request: Request, key: Key) -> Response:
    require_admin(request, app.config.admin_token)
    png = app.data_dir.annotated(*key)
    try:
        png.unlink()
        removed = True
    except FileNotFoundError:
        removed = False
    except OSError as exc:
        raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR,
                       f"could not remove the image: {exc.strerror}") from None
    app.board.forget(key)
    app.pictures.remove(key)
    # what was made from the picture goes with it
    with contextlib.suppress(OSError):
        app.data_dir.thumbnail(*key).unlink(missing_ok=True)
    return envelope({"removed": removed, "series": key[0], "address": key[1]},
                    request.request_id)


def _generate(app: App, request: Request, key: Key, name: str) -> Response:
    def admit() -> None:
        wait = app.limiter.retry_after(request.client_ip)
        if wait:
            raise ApiError(ErrorCode.RATE_LIMITED, "too many generation requests from this client",
                           details={"retry_after_seconds": wait},
                           headers={"Retry-After": str(wait)})
        admit_spending(app, request, key)
        app.limiter.consume(request.client_ip)

    try:
        submission = app.jobs.submit_key(key, admit=admit, name=name)
    except QueueFull:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the generation queue is full; retry shortly",
                       headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER)}) from None
    except ShuttingDown:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, "the server is shutting down",
                       headers={"Retry-After": "10"}) from None
    return envelope_json(named_snapshot(app, key[1], name, submission.snapshot_json()),
                         request.request_id, status=202 if submission.created else 200)


def dalle_events(app: App, request: Request) -> Response:
    """Progress as Server-Sent Events until the run is done (or an hour passes)."""
    key, name = resolve_target(app, request)
    names = snapshot_names(app, key[1], name)
    if app.board.get(key) is None and app.data_dir.annotated(*key).is_file():
        try:
            app.jobs.submit_key(key)  # records the cache hit so the stream has a final snapshot
        except (QueueFull, ShuttingDown):
            pass

    def stream(write) -> None:
        changed = threading.Event()

        def listener(changed_key: Key) -> None:
            if changed_key == key:
                changed.set()

        app.board.add_listener(listener)
        try:
            _pump(app, key, write, changed, names)
        finally:
            app.board.remove_listener(listener)

    return Response(200, b"", SSE_TYPE, stream=stream)


def _pump(app: App, key: Key, write, changed: threading.Event,
          names: SnapshotNames | None) -> None:
    write(b"retry: 2000\n\n")
    last_body = None
    last_sent = 0.0
    last_beat = time.monotonic()
    ends = time.monotonic() + SSE_MAX_SECONDS
    while not app.shutting_down and time.monotonic() < ends:
        snapshot: dict[str, Any] = app.board.snapshot(key) or {}
        if names is not None:
            snapshot = names.label(snapshot)
        body = json.dumps(snapshot, sort_keys=True)
        now = time.monotonic()
        if body != last_body and now - last_sent >= SSE_MIN_INTERVAL:
            write(sse_event("progress", snapshot))
            last_body, last_sent, last_beat = body, now, now
            if not snapshot or snapshot.get("done"):
                return
        elif now - last_beat >= SSE_HEARTBEAT:
            write(b": keep-alive\n\n")
            last_beat = now
        changed.wait(max(SSE_MIN_INTERVAL - (time.monotonic() - last_sent), 0.05)
                     if body != last_body else 1.0)
        changed.clear()
