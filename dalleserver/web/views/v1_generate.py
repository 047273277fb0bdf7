"""Making pictures through the v1 API: ``POST /v1/images/generate``, ``/preview`` and
``/v1/images/{id}/regenerate`` (reference upstream-v1.md), all writes under the admin rule.

Prompts alone are made in the request and answered at once (200). Anything that calls the
provider or draws (an image, or an enhancement by the chat model) runs as a job of the same
manager, queue, locks and progress board as ``/dalle``, keyed by (series, seed): the answer
is 202 with the job and a ``Location`` to poll, or, with ``Prefer: wait=N``, the result as
soon as the job is done if that comes first. Nothing waits while holding an HTTP worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalleserver.dress.builder import SeedError, normalize_seed, seed_from_input
from dalleserver.dress.model import DalleDress
from dalleserver.httpd import Request, Response
from dalleserver.jobs.manager import OtherOptionsRunning
from dalleserver.records import GenerationOptions, Identity, RecordError
from dalleserver.records.options import DEFAULT_RECIPE
from dalleserver.records.record import prompt_record
from dalleserver.storage import Key, StorageError
from dalleserver.web.errors import BUSY_RETRY_AFTER, ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.json_body import read_json_body
from dalleserver.web.params import usable_series
from dalleserver.web.responses import envelope
from dalleserver.web.triggers import submit_trigger
from dalleserver.web.v1_records import (
    ACTIVE_ONLY,
    book_of,
    find_record,
    generate_result,
    refuse_if_changed,
)
from dalleserver.web.v1_schemas import GENERATE_BODY, REGENERATE_BODY
from dalleserver.web.views.v1_jobs import job_answer, job_path, job_result_answer
from dalleserver.web.waiters import requested_wait

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.v1")
DEFAULT_SERIES = "empty"


@dataclass(frozen=True)
class Ask:
    """One generation asked for: its key (series, seed), options and ``force``."""

    key: Key
    options: GenerationOptions
    force: bool


def generate(app: App, request: Request) -> Response:
    """Make what the body asks for; a cached record that has it all is answered as is."""
    require_admin(request, app.config.admin_token)
    ask = _ask(app, read_json_body(request, GENERATE_BODY))
    identity = _identity(app, ask)
    if not ask.force:
        cached = _cached(app, ask.key)
        if cached is not None:
            refuse_if_changed(cached, identity)
            if _satisfies(app, cached, ask.options, identity):
                return envelope(generate_result(cached, _shown(app, ask.key), cache_hit=True),
                                request.request_id)
    dress = _dress(app, ask)
    if _needs_job(app, ask, dress):
        return _queue(app, request, ask)
    record = prompt_record(identity, dress, dress.prompt if ask.options.enhance else "")
    return envelope(generate_result(record, _write(app, record)), request.request_id)


def preview(app: App, request: Request) -> Response:
    """The prompts of what the body asks for, never a picture: a record already made is
    answered as it is (as the original, even when made with other databases: a preview
    changes nothing); else a prompts-only record is written (never over a record that
    lists pictures) and answered."""
    require_admin(request, app.config.admin_token)
    ask = _ask(app, read_json_body(request, GENERATE_BODY))
    cached = _cached(app, ask.key)
    if cached is not None and not ask.force:
        return envelope(generate_result(cached, _shown(app, ask.key)), request.request_id)
    record = prompt_record(_identity(app, ask), _dress(app, ask))
    path = "" if cached is not None and cached.get("artifacts") else _write(app, record)
    return envelope(generate_result(record, path), request.request_id)


def regenerate(app: App, request: Request) -> Response:
    """Make a recorded picture again with the options it was made with (a picture, the
    caption band and the enhancement when it had them); 409 when the databases or the
    series changed since, unless ``force``."""
    require_admin(request, app.config.admin_token)
    body = read_json_body(request, REGENERATE_BODY, required=False)
    _, record = find_record(app, request.params.get("id", ""), ACTIVE_ONLY)
    ask = _ask_again(app, record, bool(body.get("force")))
    if not ask.force:
        refuse_if_changed(record, _identity(app, ask))
    return _queue(app, request, Ask(ask.key, ask.options, force=True))


# -- reading a request ------------------------------------------------------------------
def _ask(app: App, body: dict[str, Any]) -> Ask:
    text = (body.get("input") or "").strip()
    given = (body.get("seed") or "").strip()
    if given:
        try:
            seed = normalize_seed(given)
        except SeedError as exc:
            raise ApiError(ErrorCode.INVALID_INPUT, str(exc)) from None
    elif text:
        seed = seed_from_input(text)
    else:
        raise ApiError(ErrorCode.INVALID_INPUT, "input is required (or a seed)")
    options = GenerationOptions(
        input=text or seed, recipe=(body.get("recipe") or "").strip() or DEFAULT_RECIPE,
        backstyle=(body.get("backstyle") or "").strip(), enhance=bool(body.get("enhance")),
        image=bool(body.get("image")), annotate=bool(body.get("annotate")))
    _check_backend(app, options)
    series = _series(app, (body.get("series") or "").strip() or DEFAULT_SERIES)
    return Ask((series, seed), options, bool(body.get("force")))


def _ask_again(app: App, record: dict[str, Any], force: bool) -> Ask:
    by_attribute = {r.get("attribute"): r.get("record", "")
                    for r in record.get("selectedRecords") or () if isinstance(r, dict)}
    stages = record.get("stages") or {}
    artifacts = record.get("artifacts") or {}
    options = GenerationOptions(
        input=record["input"], recipe=record["recipe"]["name"],
        backstyle=by_attribute.get("backStyle", ""),
        enhance=(stages.get("enhanced") or {}).get("status") == "complete",
        image=True, annotate=bool(artifacts.get("annotated"))  # or it was, then removed
        or (stages.get("annotated") or {}).get("status") == "complete")
    _check_backend(app, options)
    try:
        seed = normalize_seed(record["seed"])
    except SeedError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"the record's seed cannot be used: {exc}") \
            from None
    return Ask((_series(app, record["series"]["name"]), seed), options, force)


def _series(app: App, name: str) -> str:
    return usable_series(app, name, ErrorCode.SERIES_INVALID)


def _check_backend(app: App, options: GenerationOptions) -> None:
    if options.annotate and not options.image:
        raise ApiError(ErrorCode.INVALID_INPUT,  # never possible: the client's to change
                       "annotation requires image generation (\"image\": true)",
                       details={"fields": ["annotate", "image"]})
    if options.image and app.runtime.pipeline.backend is None:
        raise ApiError(ErrorCode.PROVIDER_UNAVAILABLE,
                       "this server makes prompts only (image backend none)")


# -- what is there already --------------------------------------------------------------
def _identity(app: App, ask: Ask) -> Identity:
    return book_of(app).identity(ask.key, ask.options)


def _dress(app: App, ask: Ask) -> DalleDress:
    return app.runtime.pipeline.dress(ask.key, options=ask.options)


def _cached(app: App, key: Key) -> dict[str, Any] | None:
    """The record of ``key``; a file that is not a record counts as none (it is logged,
    and the generation writes a good one)."""
    try:
        return book_of(app).read(*key)
    except RecordError as exc:
        log.warning("replacing a record that cannot be used: %s", exc)
        return None


def _shown(app: App, key: Key) -> str:
    book = book_of(app)
    return book.relative(book.path(*key))


def _satisfies(app: App, record: dict[str, Any], options: GenerationOptions,
               identity: Identity) -> bool:
    """Whether the record is this very picture and has everything asked for."""
    if record.get("imageId") != identity.image_id:
        return False
    stages = record.get("stages") or {}
    artifacts = record.get("artifacts") or {}
    root = app.data_dir.root
    if options.enhance and (stages.get("enhanced") or {}).get("status") != "complete":
        return False
    for wanted, name in ((options.image, "generated"), (options.annotate, "annotated")):
        if wanted and not (artifacts.get(name) and (root / artifacts[name]).is_file()):
            return False
    if options.backstyle:
        backstyle = [r.get("record") for r in record.get("selectedRecords") or ()
                     if isinstance(r, dict) and r.get("attribute") == "backStyle"]
        return backstyle == [options.backstyle]
    return True


def _needs_job(app: App, ask: Ask, dress: DalleDress) -> bool:
    """A picture, or an enhancement by the chat model, runs as a job."""
    if ask.options.image:
        return True
    enhancer = app.runtime.pipeline.enhancer
    return ask.options.enhance and enhancer is not None and enhancer.applies(dress)


def _write(app: App, record: dict[str, Any]) -> str:
    try:
        return book_of(app).write(record)
    except StorageError as exc:  # the path stays in the log
        log.error("cannot write a record: %s", exc)
        raise ApiError(ErrorCode.METADATA_INVALID, "the record could not be written") from None


# -- jobs -------------------------------------------------------------------------------
def _queue(app: App, request: Request, ask: Ask) -> Response:
    """Queue the job (or join the one running for the key) and answer 202 with it, or
    with ``Prefer: wait=N`` the result once the job is done if that comes first."""
    wait = requested_wait(request, ErrorCode.INVALID_INPUT)
    try:
        submit_trigger(app, request, ask.key, force=True, options=ask.options)
    except OtherOptionsRunning:
        raise ApiError(ErrorCode.OTHER_OPTIONS_RUNNING,
                       "this picture is being made with other options (input, background "
                       "or stages); ask again once its job is done",
                       details={"job": job_path(ask.key)},
                       headers={"Retry-After": str(BUSY_RETRY_AFTER)}) from None
    if wait:
        return app.waiters.respond(ask.key, wait,
                                   lambda: job_result_answer(app, request, ask.key, wait))
    return job_answer(app, request, ask.key, status=202)
