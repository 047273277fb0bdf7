"""The jobs of the v1 API: ``GET /v1/jobs/{series}/{seed}`` (where a 202 points) answers
the job's state, its progress (the ``/dalle`` progress JSON) and, once it completed, the
generation result; ``.../events`` streams the progress as ``/dalle/.../events`` does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dalleserver.dress import SeriesError
from dalleserver.dress.builder import SeedError, normalize_seed
from dalleserver.httpd import Request, Response
from dalleserver.records import RecordError
from dalleserver.storage import Key
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.responses import envelope, error_response
from dalleserver.web.v1_records import book_of, generate_result
from dalleserver.web.views.dalle import progress_events

if TYPE_CHECKING:
    from dalleserver.web.app import App


def job(app: App, request: Request) -> Response:
    """The job of a series and seed: state, progress and, when completed, the result."""
    return job_answer(app, request, _key(app, request))


def job_events(app: App, request: Request) -> Response:
    """The job's progress as Server-Sent Events until it is done."""
    key = _key(app, request)
    if _view(app, key) is None:
        raise ApiError(ErrorCode.ARTIFACT_MISSING, "no job or record for this series and seed")
    return progress_events(app, key)


def job_answer(app: App, request: Request, key: Key, status: int = 200) -> Response:
    """The job as JSON; a 202 also says in ``Location`` where to poll."""
    view = _view(app, key)
    if view is None:
        raise ApiError(ErrorCode.ARTIFACT_MISSING, "no job or record for this series and seed")
    response = envelope(view, request.request_id, status=status)
    if status == 202:
        response.headers["Location"] = view["location"]
    return response


def job_result_answer(app: App, request: Request, key: Key, wait: float) -> Response:
    """The answer after ``Prefer: wait``: the result once the job completed, 502
    provider_failed when it failed, else (still running, or cancelled) the job."""
    view = _view(app, key)
    if view is not None and view["result"] is not None:
        response = envelope(view["result"], request.request_id)
    elif view is not None and view["state"] == "failed":
        error = ApiError(ErrorCode.PROVIDER_FAILED,
                         view["progress"].get("error") or "the generation failed",
                         details={"job": view["location"]})
        response = error_response(error, request.request_id)
    else:
        running = view is not None and view["state"] in ("queued", "running")
        response = job_answer(app, request, key, status=202 if running else 200)
    response.headers["Preference-Applied"] = f"wait={wait:.0f}"
    return response


def job_path(key: Key) -> str:
    return f"/v1/jobs/{key[0]}/{key[1]}"


def _view(app: App, key: Key) -> dict[str, Any] | None:
    snapshot = app.board.snapshot(key)
    book = book_of(app)
    try:
        record = book.read(*key)
    except RecordError:
        record = None
    if snapshot is None and record is None:
        return None
    progress = snapshot or {}
    if snapshot:
        state = snapshot.get("state", "completed")
    else:  # no run in memory (forgotten, or before a restart): the record says how it ended
        error = _recorded_failure(record or {})
        state, progress = ("failed", {"error": error}) if error else ("completed", {})
    result = None
    if state == "completed" and record is not None:
        result = generate_result(record, book.relative(book.path(*key)))
    return {"series": key[0], "seed": key[1], "state": state, "progress": progress,
            "location": job_path(key), "events": job_path(key) + "/events", "result": result}


def _recorded_failure(record: dict[str, Any]) -> str:
    """The error of a record whose run failed (``completed: false``), else ""."""
    if (record.get("status") or {}).get("completed") is not False:
        return ""
    for stage in (record.get("stages") or {}).values():
        if isinstance(stage, dict) and stage.get("status") == "failed":
            return str(stage.get("error") or "the generation failed")
    return "the generation did not complete"


def _key(app: App, request: Request) -> Key:
    name = request.params.get("series", "")
    try:
        series = app.catalog.series.get(name).suffix
    except SeriesError:
        raise ApiError(ErrorCode.SERIES_NOT_FOUND, f"unknown series {name[:100]!r}") from None
    try:
        return series, normalize_seed(request.params.get("seed", ""))
    except SeedError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, str(exc)) from None
