"""The spoken prompt of a picture: ``GET /dalle/<series>/<address>/speech`` and
``GET /v1/images/{id}/speech``, an MP3 made once through OpenAI's speech endpoint (the
enhanced prompt, else the base prompt) and then served as a file. Without an API key the
answer is a clear 503; making one counts against the client's rate limit like a trigger."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.jobs.pipeline import PROVIDER_FAILURES
from dalleserver.records import RecordError
from dalleserver.resilience.breaker import CircuitOpenError
from dalleserver.speech import SpeechBusy, SpeechUnavailable
from dalleserver.storage import Key, StorageError
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.params import resolve_target
from dalleserver.web.triggers import refuse_if_limited, spend_trigger
from dalleserver.web.v1_records import ACTIVE_ONLY, book_of, find_record
from dalleserver.web.views.files import send_file

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.speech")
AUDIO = "audio/mpeg"
BUSY_RETRY_AFTER = 2


class _Codes:
    """The error codes one route answers with: ``/dalle``'s or the v1 API's."""

    def __init__(self, unavailable: ErrorCode, failed: ErrorCode, missing: ErrorCode):
        self.unavailable, self.failed, self.missing = unavailable, failed, missing


DALLE_CODES = _Codes(ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE,
                     ErrorCode.NOT_FOUND)
V1_CODES = _Codes(ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_FAILED,
                  ErrorCode.ARTIFACT_MISSING)


def dalle_speech(app: App, request: Request) -> Response:
    """The spoken prompt of ``/dalle/<series>/<address>``."""
    key, _ = resolve_target(app, request)
    return _speak(app, request, key, lambda: _prompt_of(app, key), DALLE_CODES)


def image_speech(app: App, request: Request) -> Response:
    """The spoken prompt of a recorded picture."""
    entry, record = find_record(app, request.params.get("id", ""), ACTIVE_ONLY)
    prompts = record.get("prompts") or {}
    return _speak(app, request, (entry.folder, entry.seed),
                  lambda: prompts.get("enhancedPrompt") or prompts.get("prompt") or "",
                  V1_CODES)


def _prompt_of(app: App, key: Key) -> str:
    """The picture's enhanced prompt (its record, else its file), else its base prompt."""
    try:
        record = book_of(app).read(*key)
    except RecordError:
        record = None
    prompts = (record or {}).get("prompts") or {}
    if prompts.get("enhancedPrompt"):
        return prompts["enhancedPrompt"]
    try:
        return app.data_dir.text(key[0], "enhanced", key[1]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return app.runtime.pipeline.dress(key).prompt


def _speak(app: App, request: Request, key: Key, text: Callable[[], str],
           codes: _Codes) -> Response:
    def admit() -> None:
        refuse_if_limited(app, request)
        spend_trigger(app, request)

    speech = app.runtime.speech
    assert speech is not None, "the runtime always builds the speech maker"
    try:
        path = speech.get(key, text, admit)
    except SpeechUnavailable:
        raise ApiError(codes.unavailable, "text to speech needs an OpenAI API key "
                       "(OPENAI_API_KEY); none is configured") from None
    except SpeechBusy as exc:
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, str(exc),
                       headers={"Retry-After": str(BUSY_RETRY_AFTER)}) from None
    except ValueError as exc:
        raise ApiError(codes.missing, str(exc)) from None
    except CircuitOpenError as exc:
        raise ApiError(codes.unavailable, f"text to speech is unavailable: {exc}",
                       headers={"Retry-After": str(max(1, round(exc.retry_after)))}) \
            from None
    except PROVIDER_FAILURES as exc:
        raise ApiError(codes.failed, f"text to speech failed: {exc}") from None
    except StorageError as exc:  # the path stays in the log
        log.error("cannot save the speech of %s/%s: %s", *key, exc)
        raise ApiError(ErrorCode.INTERNAL_SERVER_ERROR, "the speech could not be saved") \
            from None
    return send_file(request, path, cache_control="public, max-age=3600", content_type=AUDIO)
