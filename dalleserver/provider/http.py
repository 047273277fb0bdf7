"""A minimal OpenAI-compatible HTTP client (urllib, no SDK) with readable, classified errors.

The API key goes into the Authorization header and nowhere else: error messages are built
from the provider's error code and message, which never echo the header, and the key is
scrubbed from any text taken from a response just in case.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from dalleserver import __version__
from dalleserver.provider.deadline import Deadline, opener
from dalleserver.resilience.retry import RetryDecision, parse_retry_after

USER_AGENT = f"dalleserver/{__version__}"
MAX_ERROR_BODY = 4096

# kinds of failure, used for messages, retry decisions and breaker accounting
TIMEOUT = "timeout"
CONNECTION = "connection"
RATE_LIMITED = "rate_limited"
QUOTA = "insufficient_quota"
CONTENT_POLICY = "content_policy"
AUTH = "invalid_key"
SERVER = "server_error"
CLIENT = "client_error"
BAD_RESPONSE = "bad_response"


@dataclass
class ProviderError(Exception):
    """A failed provider call. ``message`` is safe to show to users and to log."""

    kind: str
    message: str
    status: int = 0
    code: str = ""
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def retryable(self) -> bool:
        if self.kind in (TIMEOUT, CONNECTION, SERVER):
            return True
        if self.kind == RATE_LIMITED:
            return True
        return self.kind == CLIENT and self.status in (408, 409)

    @property
    def counts_against_breaker(self) -> bool:
        """Client errors (bad request, refused prompt, bad key, quota) say nothing about the
        provider's health, except 408/409/429."""
        if self.kind in (CONTENT_POLICY, AUTH, BAD_RESPONSE):
            return False
        if self.kind in (CLIENT, QUOTA):
            return self.status in (408, 409, 429)
        return True


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, TimeoutError))


def classify_for_retry(exc: BaseException) -> RetryDecision:
    if isinstance(exc, ProviderError) and exc.retryable:
        return RetryDecision(True, exc.retry_after)
    return RetryDecision(False)


def is_breaker_failure(exc: BaseException) -> bool:
    if isinstance(exc, ProviderError):
        return exc.counts_against_breaker
    return True


class OpenAIClient:
    def __init__(self, api_key: str, label: str = "OpenAI") -> None:
        self._api_key = api_key
        self.label = label

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def post_json(self, url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        raw = self.post(url, payload, timeout)
        try:
            doc = json.loads(raw)
        except ValueError:
            raise ProviderError(BAD_RESPONSE, f"{self.label} sent an answer that is not "
                                              "JSON") from None
        if not isinstance(doc, dict):
            raise ProviderError(BAD_RESPONSE, f"{self.label} sent an unexpected answer")
        return doc

    def post(self, url: str, payload: dict[str, Any], timeout: float) -> bytes:
        """POST JSON and return the answer's bytes (speech answers with audio)."""
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": USER_AGENT,
        })
        # ``timeout`` is the whole exchange's, however slowly the answer trickles in
        with Deadline(timeout) as deadline:
            try:
                with opener(request.full_url, deadline).open(request, timeout=timeout) as answer:
                    return answer.read()
            except urllib.error.HTTPError as exc:
                raise self._http_error(exc) from None  # its body is read within the deadline
            except (OSError, http.client.HTTPException) as exc:
                raise self._failure(exc, deadline) from None

    def _failure(self, exc: BaseException, deadline: Deadline) -> ProviderError:
        """A call that got no answer: out of time, or the connection failed."""
        if deadline.expired or _timed_out(exc):
            return ProviderError(TIMEOUT, f"{self.label} did not answer within "
                                          f"{deadline.seconds:g}s")
        if isinstance(exc, urllib.error.URLError):
            return ProviderError(CONNECTION, f"cannot reach {self.label}: "
                                             f"{self._scrub(str(exc.reason))}")
        return ProviderError(CONNECTION, f"the connection to {self.label} failed: "
                                         f"{type(exc).__name__}")

    def _http_error(self, exc: urllib.error.HTTPError) -> ProviderError:
        status = exc.code
        try:
            raw = exc.read(MAX_ERROR_BODY)
        except (OSError, http.client.HTTPException):
            raw = b""
        message, code = "", ""
        try:
            error = json.loads(raw).get("error") or {}
            if isinstance(error, dict):
                message = str(error.get("message") or "")
                code = str(error.get("code") or error.get("type") or "")
        except (ValueError, AttributeError):
            pass
        detail = self._scrub(message)[:300]
        retry_after = parse_retry_after(exc.headers)
        name = self.label
        if code == "content_policy_violation" or "safety system" in message:
            return ProviderError(CONTENT_POLICY, f"{name} refused the prompt (content policy): "
                                                 f"{detail}", status, code)
        if code == "insufficient_quota":
            return ProviderError(QUOTA, f"{name} quota exhausted (insufficient_quota); check "
                                        "the account's plan and billing", status, code)
        if status == 401 or code == "invalid_api_key":
            return ProviderError(AUTH, f"{name} rejected the API key (HTTP {status})",
                                 status, code)
        if status == 429:
            return ProviderError(RATE_LIMITED, f"{name} rate limit reached (HTTP 429)",
                                 status, code or "rate_limit_exceeded", retry_after)
        if status >= 500:
            return ProviderError(SERVER, f"{name} is unavailable (HTTP {status})", status,
                                 code, retry_after)
        return ProviderError(CLIENT, f"{name} refused the request (HTTP {status}"
                                     f"{', ' + code if code else ''}): {detail}", status, code,
                             retry_after)

    def download(self, url: str, timeout: float, max_bytes: int,
                 schemes: tuple[str, ...] = ("https",)) -> bytes:
        """GET an image answer's URL, if its scheme is one of ``schemes`` (never ``file:``),
        within ``timeout`` for the whole download, up to ``max_bytes``."""
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in schemes:
            raise ProviderError(BAD_RESPONSE, f"the image URL's scheme {scheme or '(none)'} "
                                              f"is not accepted ({', '.join(schemes)} only)")
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with Deadline(timeout) as deadline:
            try:
                with opener(url, deadline, schemes).open(request, timeout=timeout) as answer:
                    data = self._read_image(answer, max_bytes)
                if deadline.expired:  # a read cut short by the deadline returns what came
                    raise TimeoutError
            except urllib.error.HTTPError as exc:
                raise ProviderError(SERVER if exc.code >= 500 else BAD_RESPONSE,
                                    f"downloading the image failed (HTTP {exc.code})",
                                    exc.code) from None
            except (OSError, http.client.HTTPException) as exc:
                if deadline.expired or _timed_out(exc):
                    raise ProviderError(TIMEOUT, f"downloading the image took longer than "
                                                 f"{timeout:g}s") from None
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else (
                    type(exc).__name__)
                raise ProviderError(CONNECTION,
                                    f"downloading the image failed: {reason}") from None
        return data

    def _read_image(self, answer: http.client.HTTPResponse, max_bytes: int) -> bytes:
        too_large = ProviderError(BAD_RESPONSE, f"the image at the {self.label} URL is "
                                                f"larger than {max_bytes} bytes")
        declared = answer.headers.get("Content-Length") or ""
        if (declared.isascii() and declared.isdigit() and len(declared) < 16
                and int(declared) > max_bytes):
            raise too_large
        data = answer.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise too_large
        return data
