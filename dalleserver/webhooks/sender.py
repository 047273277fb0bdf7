"""One delivery attempt: a POST to the callback URL, and what came of it. Redirects are not
followed (a 3xx is a failure, as the Standard Webhooks guidance says)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from dalleserver import __version__
from dalleserver.resilience.retry import parse_retry_after
from dalleserver.webhooks.targets import CallbackTarget

USER_AGENT = f"dalleserver/{__version__} (webhooks)"
MAX_ANSWER_BYTES = 64 * 1024  # read (and drop) at most this much of the receiver's answer

SUCCESS = "success"
HTTP_ERROR = "http_error"
TIMEOUT = "timeout"
CONNECTION = "connection"
ATTEMPT_OUTCOMES = (SUCCESS, HTTP_ERROR, TIMEOUT, CONNECTION)


@dataclass(frozen=True)
class AttemptResult:
    """How one POST went: its outcome, the receiver's status and ``Retry-After``."""

    outcome: str
    status: int = 0
    retry_after: float | None = None

    @property
    def says_receiver_is_down(self) -> bool:
        """Failures that count against the host's breaker: no answer, 5xx, 429. Another
        4xx is an answer from a live receiver."""
        return self.outcome in (TIMEOUT, CONNECTION) or self.status >= 500 or self.status == 429


class AttemptFailed(Exception):
    """An attempt that did not succeed (raised so the breaker sees it)."""

    def __init__(self, result: AttemptResult) -> None:
        super().__init__(result.outcome, result.status)
        self.result = result


def post(target: CallbackTarget, body: bytes, headers: dict[str, str],
         timeout: float) -> AttemptResult:
    """POST ``body`` to ``target``; AttemptFailed unless the answer is a 2xx."""
    connection_type = (http.client.HTTPSConnection if target.scheme == "https"
                       else http.client.HTTPConnection)
    connection = connection_type(target.host, target.port, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        status = response.status
        retry_after = parse_retry_after(response.headers)
    except TimeoutError:
        raise AttemptFailed(AttemptResult(TIMEOUT)) from None
    except (OSError, http.client.HTTPException):
        raise AttemptFailed(AttemptResult(CONNECTION)) from None
    finally:
        connection.close()
    if 200 <= status < 300:
        return AttemptResult(SUCCESS, status)
    raise AttemptFailed(AttemptResult(HTTP_ERROR, status, retry_after))


def is_breaker_failure(exc: BaseException) -> bool:
    """The breaker's judge: only a receiver that looks down opens it."""
    return isinstance(exc, AttemptFailed) and exc.result.says_receiver_is_down
