"""The recorded pictures of the v1 API: ``GET /v1/images`` (pages, filters, sorts over the
record index), ``GET|DELETE /v1/images/{id}`` (an archived record is 404 there), ``POST
/v1/images/{id}/restore`` (undoes a DELETE) and ``POST /v1/images/{id}/export``. Reads
are open; writes follow the admin rule. ``/dalle`` pictures are here too: their seed and
input are the address."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from dalleserver.httpd import Request, Response
from dalleserver.records import RecordError, RecordQuery
from dalleserver.records.archive import move_picture
from dalleserver.records.export import (
    DEFAULT_ITEMS,
    ITEMS,
    ExportError,
    export_folder,
    write_export,
)
from dalleserver.records.index import ARCHIVED_CHOICES, SORTS, BadCursor, decode_cursor
from dalleserver.series_store import safe_series_name
from dalleserver.storage import StorageError
from dalleserver.web.errors import BUSY_RETRY_AFTER, ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.json_body import read_json_body
from dalleserver.web.responses import envelope
from dalleserver.web.v1_records import (
    ACTIVE_ONLY,
    ARCHIVED_ONLY,
    book_of,
    find_record,
    image_item,
)
from dalleserver.web.v1_schemas import EXPORT_BODY, NO_BODY

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.v1")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
HIDDEN_SUFFIX = ".deleted"
VERBS = ("generate", "preview")  # /v1/images/<verb> routes of their own


def list_images(app: App, request: Request) -> Response:
    """One page of records. The next page's cursor is in ``Link`` (rel=next) and
    ``Next-Cursor``; files that are not records are left out and counted in
    ``Skipped-Records``."""
    query = _query(request)
    book = book_of(app)
    entries, following = book.index.page(query)
    items = []
    for entry in entries:
        try:
            record = book.read(entry.folder, entry.seed, entry.archived)
        except RecordError as exc:
            log.warning("skipping a record that cannot be used: %s", exc)
            continue
        if record is not None:
            items.append(image_item(entry, record))
    response = envelope(items, request.request_id)
    if following:
        response.headers["Next-Cursor"] = following
        response.headers["Link"] = f'<{_next_url(request, following)}>; rel="next"'
    corrupt = book.index.corrupt()
    if corrupt:
        response.headers["Skipped-Records"] = str(len(corrupt))
    return response


def get_image(app: App, request: Request) -> Response:
    """One active record by imageId or seed: a deleted (archived) one is 404, as its speech
    is, until it is restored (archived records are listed by ``?archived=``)."""
    _refuse_verbs(request)
    entry, record = find_record(app, request.params.get("id", ""), ACTIVE_ONLY)
    return envelope(image_item(entry, record), request.request_id)


def delete_image(app: App, request: Request) -> Response:
    """Archive a picture: its PNGs and record move to ``archives/`` (undo: restore)."""
    _refuse_verbs(request)
    require_admin(request, app.config.admin_token)
    read_json_body(request, NO_BODY, required=False)
    entry, _ = find_record(app, request.params.get("id", ""), ACTIVE_ONLY, unique=True)
    if app.board.get((entry.folder, entry.seed)) is not None:  # it would write it back
        raise ApiError(ErrorCode.IMAGE_BUSY, "this picture is being made; delete it once "
                       "its job is done", headers={"Retry-After": str(BUSY_RETRY_AFTER)})
    moved = _move(app, entry.folder, entry.seed, to_archive=True)
    return envelope({"deleted": True, "archived": moved}, request.request_id)


def restore_image(app: App, request: Request) -> Response:
    """Bring an archived picture back (a newer one of the same seed swaps places with it)."""
    require_admin(request, app.config.admin_token)
    read_json_body(request, NO_BODY, required=False)
    entry, _ = find_record(app, request.params.get("id", ""), ARCHIVED_ONLY, unique=True)
    moved = _move(app, entry.folder, entry.seed, to_archive=False)
    return envelope({"restored": True, "moved": moved}, request.request_id)


def export_image(app: App, request: Request) -> Response:
    """Write a picture's texts into a folder of the data dir (never outside it)."""
    require_admin(request, app.config.admin_token)
    body = read_json_body(request, EXPORT_BODY, required=False)
    entry, record = find_record(app, request.params.get("id", ""))
    wanted = tuple(name for name in ITEMS if body.get(f"include{name.capitalize()}"))
    default = f"output/{entry.folder}/exports/{entry.seed}"
    root = app.data_dir.root
    try:
        folder = export_folder(root, body.get("dir") or "", default)
        files = write_export(root, folder, record, wanted or DEFAULT_ITEMS)
    except ExportError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, str(exc)) from None
    except (OSError, StorageError) as exc:  # the path stays in the log
        log.error("export of %s/%s failed: %s", entry.folder, entry.seed, exc)
        raise ApiError(ErrorCode.METADATA_INVALID, "the export could not be written") from None
    shown = folder.relative_to(root.resolve()).as_posix() if folder != root.resolve() else "."
    return envelope({"dir": shown, "files": files}, request.request_id)


def _refuse_verbs(request: Request) -> None:
    """``/v1/images/generate`` and ``/preview`` take POST only: another method there is a
    405 with Allow, not the lookup of a record named ``generate``."""
    if request.params.get("id") in VERBS:
        raise ApiError(ErrorCode.INVALID_INPUT_METHOD,
                       f"{request.method} is not allowed on /v1/images/{request.params['id']}",
                       details={"allowed": ["POST"]}, headers={"Allow": "POST"})


def _move(app: App, folder: str, seed: str, to_archive: bool) -> list[str]:
    """Move a picture in or out of the archive and tell every index and cache."""
    book = book_of(app)
    try:
        moved = move_picture(app.data_dir.root, folder, seed, to_archive)
    except StorageError as exc:  # the path stays in the log
        log.error("cannot move %s/%s: %s", folder, seed, exc)
        raise ApiError(ErrorCode.METADATA_INVALID, "the picture's files could not be moved") \
            from None
    for archived in (False, True):
        book.index.add(folder, seed, archived)  # present or gone, the index learns which
    if not folder.endswith(HIDDEN_SUFFIX):
        key = (folder, seed)
        app.board.forget(key)
        app.pictures.add(key)
        app.runtime.variants.remove(key)  # what was made from the picture goes with it
    return moved


def _query(request: Request) -> RecordQuery:
    sort = request.arg("sort") or "input"
    archived = request.arg("archived") or "exclude"
    if sort not in SORTS:
        raise ApiError(ErrorCode.INVALID_INPUT, f"?sort= takes {', '.join(SORTS)}")
    archived = {"0": "exclude", "1": "include"}.get(archived, archived)
    if archived not in ARCHIVED_CHOICES:
        raise ApiError(ErrorCode.INVALID_INPUT, "?archived= takes 0, 1 or only")
    limit_text = request.arg("limit")
    try:
        limit = int(limit_text) if limit_text else DEFAULT_LIMIT
    except ValueError:
        raise ApiError(ErrorCode.INVALID_INPUT, "invalid limit: ?limit= takes a whole number")\
            from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(ErrorCode.INVALID_INPUT, f"?limit= takes 1 to {MAX_LIMIT}")
    cursor = None
    if request.arg("cursor"):
        try:
            cursor = decode_cursor(request.arg("cursor") or "",
                                   "input" if sort.endswith("input") else "time")
        except BadCursor as exc:
            raise ApiError(ErrorCode.INVALID_INPUT, str(exc)) from None
    series = (request.arg("series") or "").strip()
    return RecordQuery(sort=sort, series=safe_series_name(series) if series else "",
                       archived=archived, prefix=request.arg("inputPrefix") or "",
                       cursor=cursor, limit=limit)


def _next_url(request: Request, cursor: str) -> str:
    query = {k: v[0] for k, v in request.query.items() if k != "cursor" and v}
    query["cursor"] = cursor
    return f"/v1/images?{urlencode(query)}"
