"""The error codes of CONTRACT §4.1, one enum, and the exception views raise to answer one."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.Enum):
    """Every error code the API answers with, and its HTTP status."""

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
    SERVICE_UNAVAILABLE = 503

    def __new__(cls, status: int) -> ErrorCode:
        # several codes share a status: each member still needs a value of its own
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1
        member.status = status
        return member

    status: int


# What the engine's refusals (by status) are called in the envelope.
PROTOCOL_CODES = {
    400: ErrorCode.INVALID_REQUEST,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    414: ErrorCode.URI_TOO_LONG,
    431: ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
    500: ErrorCode.INTERNAL_SERVER_ERROR,
    503: ErrorCode.SERVICE_UNAVAILABLE,
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
