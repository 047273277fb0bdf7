"""The error codes of CONTRACT §4.1 and of the v1 API, one enum, and the exception views
raise to answer one."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    """Every error code the API answers with, its HTTP status and its code on the wire
    (the member's name unless it says otherwise: the v1 routes answer the original's
    lower-case codes, and one wire code may come with two statuses)."""

    INVALID_REQUEST = 400
    INVALID_SERIES = 400
    INVALID_ADDRESS = 400
    MISSING_PARAMETER = 400
    UNAUTHORIZED = 401
    NOT_FOUND = 404
    NAME_NOT_FOUND = 404  # an ENS name without an address
    METHOD_NOT_ALLOWED = 405
    PAYLOAD_TOO_LARGE = 413
    URI_TOO_LONG = 414
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431
    RATE_LIMITED = 429
    BUDGET_EXHAUSTED = 429  # the spending budget (TB_DALLE_BUDGET) is used up for now
    INTERNAL_SERVER_ERROR = 500
    NOT_IMPLEMENTED = 501
    SERVICE_UNAVAILABLE = 503
    HTTP_VERSION_NOT_SUPPORTED = 505
    UNSUPPORTED_MEDIA_TYPE = 415  # a request body that is not JSON where JSON is taken
    # the v1 API: the original's codes and statuses (reference upstream-v1.md)
    INVALID_INPUT = 400, "invalid_input"
    INVALID_INPUT_METHOD = 405, "invalid_input"  # the original's 405 code, with Allow
    SERIES_INVALID = 400, "series_invalid"
    SERIES_READ_ONLY = 409, "series_invalid"  # a built-in series cannot be written
    SERIES_CONFLICT = 409, "series_invalid"  # hiding would merge two output folders
    SERIES_NOT_FOUND = 404, "series_not_found"
    ARTIFACT_MISSING = 404, "artifact_missing"
    DATABASE_VERSION_UNAVAILABLE = 404, "database_version_unavailable"
    REGENERATION_REFUSED = 409, "regeneration_refused"
    IMAGE_BUSY = 409, "invalid_input"  # DELETE while the picture's job is queued or running
    OTHER_OPTIONS_RUNNING = 409, "invalid_input"  # the key's job makes something else
    AMBIGUOUS_ID = 409, "invalid_input"  # DELETE or restore by a seed several series share
    DATABASE_MANIFEST_INVALID = 500, "database_manifest_invalid"
    METADATA_INVALID = 500, "metadata_invalid"
    PROVIDER_UNAVAILABLE = 503, "provider_unavailable"
    PROVIDER_FAILED = 502, "provider_failed"

    def __new__(cls, status: int, wire: str = "") -> ErrorCode:
        # several codes share a status: each member still needs a value of its own
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1
        member.status = status
        member.wire_code = wire
        return member

    status: int
    wire_code: str

    @property
    def wire(self) -> str:
        """The code clients see in ``error.code``."""
        return self.wire_code or self.name


# Seconds a client waits before asking again when the picture or series it names is busy
# with generations (a 409 that says when it would go through).
BUSY_RETRY_AFTER = 5

# What the engine's refusals (by status) are called in the envelope.
PROTOCOL_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    414: ErrorCode.URI_TOO_LONG,
    431: ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
    500: ErrorCode.INTERNAL_SERVER_ERROR,
    501: ErrorCode.NOT_IMPLEMENTED,
    503: ErrorCode.SERVICE_UNAVAILABLE,
    505: ErrorCode.HTTP_VERSION_NOT_SUPPORTED,
}


class ApiError(Exception):
    """An error answered with the envelope: code, message, optional details and headers."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return self.code.status
