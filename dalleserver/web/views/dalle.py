"""The ``/dalle`` views: picture or progress, trigger, remove, live events (CONTRACT §4.2)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dalleserver.httpd import Request, Response
from dalleserver.imaging.placeholder import placeholder_png
from dalleserver.jobs.manager import QueueFull, ShuttingDown
from dalleserver.storage import Key, StorageError
from dalleserver.web.callbacks import callback_arg, notify_when_done
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.names import SnapshotNames, named_snapshot, snapshot_names
from dalleserver.web.params import flag, resolve_key, resolve_target
from dalleserver.web.responses import SSE_TYPE, envelope, envelope_json, sse_event
from dalleserver.web.triggers import submit_trigger
from dalleserver.web.v1_records import book_of
from dalleserver.web.views.files import send_file
from dalleserver.web.views.variants import (
    IMMUTABLE,
    dalle_variant,
    names_variant,
    picture_version,
    variant_url,
)
from dalleserver.web.waiters import requested_wait

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.dalle")
SSE_MIN_INTERVAL = 0.25
SSE_HEARTBEAT = 15.0
SSE_MAX_SECONDS = 3600.0


def dalle_missing(app: App, request: Request) -> Response:
    """``/dalle`` or ``/dalle/<series>`` alone: MISSING_PARAMETER names what is missing."""
    resolve_key(app, request)
    raise AssertionError("unreachable")  # resolve_key raises MISSING_PARAMETER


def dalle(app: App, request: Request) -> Response:
    """The PNG when it exists, else the progress JSON; ``?generate=1`` / ``?remove=1``.
    The address may be an ENS name: the same key, the name shown in the snapshot."""
    if names_variant(request.params.get("address", "")):  # sizes and formats
        return dalle_variant(app, request, dalle)
    key, name = resolve_target(app, request)
    head = request.method == "HEAD"
    generate = flag(request, "generate") and not head
    remove = flag(request, "remove") and not head
    callback = callback_arg(request, generate)
    if request.has("wait"):
        requested_wait(request)  # a bad ?wait= is refused with or without generate
    if remove:  # with generate as well: remove, then a new run (a regeneration)
        removed = _remove(app, request, key)
        if not generate:
            return removed
    if not generate:
        return _current(app, request, key, name)
    with notify_when_done(app, key, callback, name=name):  # webhook when the run ends
        return _generate(app, request, key, name)


def _current(app: App, request: Request, key: Key, name: str, status: int = 200,
             picture: bool = True) -> Response:
    """What a plain GET answers now: the PNG (unless ``picture`` is off and the client did
    not ask for an image), else a placeholder picture for a client that asks for an image,
    else the progress JSON (``status`` while the run is not done)."""
    png = app.data_dir.annotated(*key)
    if (picture or wants_image(request)) and png.is_file():
        return send_file(request, png, cache_control=_picture_cache_control(request, png),
                         inside=app.data_dir.real(app.data_dir.output))  # no symlink out
    if wants_image(request):
        return placeholder_response(request, key)
    body = app.board.snapshot_json(key) or b"{}"
    response = envelope_json(with_urls(app, key, named_snapshot(app, key[1], name, body)),
                             request.request_id, status=status)
    if status == 202:
        response.headers["Location"] = poll_url(key)
    return response


def _unrecord(app: App, key: Key) -> None:
    """The picture's record (``/v1/images``) stops listing the removed PNG."""
    try:
        book_of(app).drop_artifact(*key, "annotated")
    except StorageError as exc:  # the picture is gone all the same; the path stays here
        log.error("cannot update the record of %s/%s: %s", *key, exc)


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
    if removed:
        _unrecord(app, key)
    app.board.forget(key)
    app.pictures.remove(key)
    app.runtime.variants.remove(key)  # what was made from the picture goes with it
    return envelope({"removed": removed, "series": key[0], "address": key[1]},
                    request.request_id)


def _generate(app: App, request: Request, key: Key, name: str) -> Response:
    wait = requested_wait(request)
    submission = submit_trigger(app, request, key, name=name)
    rate = app.limiter.headers(request.client_ip)
    if wait and submission.state in ("queued", "active"):
        def answer() -> Response:
            return _after_wait(app, request, key, name, wait, rate)

        return app.waiters.respond(key, wait, answer)
    if wants_image(request) and not app.data_dir.annotated(*key).is_file():
        response = placeholder_response(request, key)
    else:
        body = named_snapshot(app, key[1], name, submission.snapshot_json())
        response = envelope_json(with_urls(app, key, body), request.request_id,
                                 status=202 if submission.created else 200)
        if submission.created:
            response.headers["Location"] = poll_url(key)
    response.headers.update(rate)
    return response


def _after_wait(app: App, request: Request, key: Key, name: str, wait: float,
                rate: dict[str, str]) -> Response:
    """The answer to a trigger that waited: the picture (or final snapshot) when the run is
    done, else 202 with the progress so far."""
    running = app.board.get(key) is not None
    # a JSON client that waited gets the final snapshot (with the picture's URLs)
    response = _current(app, request, key, name, status=202 if running else 200,
                        picture=False)
    response.headers["Preference-Applied"] = f"wait={wait:.0f}"
    response.headers.update(rate)
    return response


def poll_url(key: Key) -> str:
    """Where a client follows a run: the picture's own URL."""
    return f"/dalle/{key[0]}/{key[1]}"


def _picture_cache_control(request: Request, png: Path) -> str:
    """A URL that names the picture's version (``?v=<ETag>``) may be cached for a year:
    a new picture has a new version; the plain URL only for a minute."""
    version = request.arg("v")
    try:
        current = picture_version(png) if version else ""
    except OSError:
        current = ""
    return IMMUTABLE if version and version == current else "public, max-age=60"


def with_urls(app: App, key: Key, body: bytes) -> bytes:
    """A finished snapshot gains ``urls``: where its picture, a small WebP variant, its
    thumbnail and its files are (the picture's URLs name its version)."""
    png = app.data_dir.annotated(*key)
    if not body.endswith(b"}") or body == b"{}" or not png.is_file():
        return body
    series, address = key
    try:
        version = picture_version(png)
    except OSError:
        return body
    urls = {
        "image": f"/dalle/{series}/{address}?v={version}",
        "webp256": variant_url(key, "webp", 256, version=version),
        "thumbnail": f"/thumbs/{series}/{address}?v={version}",
        "annotated": f"/files/{series}/annotated/{address}.png",
        "generated": f"/files/{series}/generated/{address}.png",
        "selector": f"/files/{series}/selector/{address}.json",
    }
    return body[:-1] + b',"urls":' + json.dumps(urls, separators=(",", ":")).encode() + b"}"


def wants_image(request: Request) -> bool:
    """An ``<img>`` asks for an image and not for JSON; ``?fallback=placeholder`` says so."""
    fallback = request.arg("fallback")
    if fallback is not None:
        if fallback.strip().lower() != "placeholder":
            raise ApiError(ErrorCode.INVALID_REQUEST, "?fallback= takes placeholder")
        return True
    accept = (request.headers.get("Accept") or "").lower()
    return "image/" in accept and "application/json" not in accept


def placeholder_response(request: Request, key: Key) -> Response:
    """The stand-in picture: never stored by caches, so the browser asks again and gets the
    real picture once it exists."""
    return Response(200, placeholder_png(key[1]), "image/png",
                    {"Cache-Control": "no-store", "Dalle-Placeholder": "true"})


def cancel_job(app: App, request: Request) -> Response:
    """``DELETE /dalle/<series>/<address>/job``: a queued generation ends at once, a running
    one at its next phase boundary (admin rule)."""
    key, name = resolve_target(app, request)
    require_admin(request, app.config.admin_token)
    result = app.jobs.cancel(key)
    if result == "none":
        raise ApiError(ErrorCode.NOT_FOUND, "no generation of this picture is queued or running")
    body = named_snapshot(app, key[1], name, app.board.snapshot_json(key) or b"{}")
    return envelope_json(body, request.request_id, status=200 if result == "cancelled" else 202)


def dalle_events(app: App, request: Request) -> Response:
    """Progress as Server-Sent Events until the run is done (or an hour passes)."""
    key, name = resolve_target(app, request)
    names = snapshot_names(app, key[1], name)
    if app.board.get(key) is None and app.data_dir.annotated(*key).is_file():
        try:
            app.jobs.submit_key(key)  # records the cache hit so the stream has a final snapshot
        except (QueueFull, ShuttingDown):
            pass
    return progress_events(app, key, names)


def progress_events(app: App, key: Key, names: SnapshotNames | None = None) -> Response:
    """The progress of ``key``'s run as Server-Sent Events until it is done (or an hour
    passes); ``/dalle`` and the v1 jobs stream alike."""
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
