"""A JSON-RPC 2.0 client for an Ethereum node, with a total deadline per call, behind a breaker.

Why not urllib: its timeout bounds each socket operation, so a node that sends one byte a
second holds the calling thread for as long as it likes. Here the connect, the TLS handshake
and every read and write get only the time left before the call's deadline, so a call ends
by its deadline whatever the node does. (The one step outside our control is the system's
host-name lookup; a node addressed by IP or in /etc/hosts avoids even that.)

The URL may carry an API key in its path, query or user info. It is used to connect and for
nothing else: logs name the node as ``scheme://host[:port]`` (:func:`redact_url`), error
messages say "the Ethereum node", and text taken from the node's answers is scrubbed of the
URL's parts before it is repeated. Environment proxies are not used.
"""

from __future__ import annotations

import base64
import http.client
import io
import itertools
import json
import logging
import math
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from dalleserver.ens.abi import decode_hex
from dalleserver.ens.errors import (
    BAD_RESPONSE,
    CONNECTION,
    HTTP,
    NODE_ERROR_KINDS,
    RPC,
    TIMEOUT,
    UNAVAILABLE,
    AbiError,
    CallReverted,
    EnsError,
    NodeError,
)
from dalleserver.provider.http import USER_AGENT
from dalleserver.resilience.breaker import CircuitBreaker, CircuitOpenError

__all__ = ["DEFAULT_TIMEOUT", "RpcClient", "is_node_failure", "redact_url"]

DEFAULT_TIMEOUT = 5.0
# ENS answers are a few hundred bytes; a node sending more is broken or hostile.
MAX_RESPONSE_BYTES = 1 << 20
# How much of a node's own error message is repeated.
MAX_MESSAGE = 200
# EIP-1474 / geth: the code of "execution reverted".
REVERT_CODE = 3

log = logging.getLogger(__name__)


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what logs may say about the node."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "unknown-host"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def is_node_failure(exc: BaseException) -> bool:
    """For the breaker: a reverted call is the contract's answer, not a sign of a sick node."""
    return not isinstance(exc, CallReverted)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline has passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """Socket reads for http.client, each allowed only the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """A connected socket as http.client uses it (sendall, makefile, close), every operation
    bounded by the same deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        # sendall's timeout bounds the whole send (Python 3.5+), not each chunk.
        self._sock.settimeout(_remaining(self._deadline))
        self._sock.sendall(data)

    def makefile(self, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        # http.client closes the connection as soon as it sees "Connection: close", before
        # the body is read; _Connection.discard() closes the socket once the exchange is over.
        pass


class _Connection(http.client.HTTPConnection):
    """One HTTP or HTTPS exchange whose every step shares one deadline."""

    def __init__(self, host: str, port: int, deadline: float,
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port)
        self._deadline = deadline
        self._tls = tls
        self._socket: socket.socket | None = None

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), _remaining(self._deadline))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                # The handshake's timeout is its total duration (Python 3.5+).
                sock.settimeout(_remaining(self._deadline))
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self.sock = _DeadlineSocket(sock, self._deadline)  # type: ignore[assignment]

    def discard(self) -> None:
        """Close the socket for good: the exchange is over, answered or not."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _split_url(url: str) -> urllib.parse.SplitResult:
    """The parts of a usable node URL; ValueError (never repeating the URL) otherwise."""
    # http.client would repeat such a URL, key and all, in its exception: refuse it here.
    if not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("the Ethereum node URL must not hold spaces, control or "
                         "non-ASCII characters")
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a number from 0 to 65535
        port = 0
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError("the Ethereum node URL must be an http:// or https:// URL with a "
                         "host and a valid port")
    return parts


def _secrets(parts: urllib.parse.SplitResult) -> list[str]:
    """The parts of the URL that may be a key, longest first (so a part inside another
    is not replaced first)."""
    candidates = [parts.username or "", parts.password or "", parts.query]
    if parts.path not in ("", "/"):
        candidates.append(parts.path)
        candidates += parts.path.split("/")
    candidates += [value for _, value in urllib.parse.parse_qsl(parts.query)]
    # Short pieces ("v3", "rpc") are not keys, and replacing them would garble messages.
    return sorted({c for c in candidates if len(c) >= 6}, key=len, reverse=True)


class RpcClient:
    """JSON-RPC calls to one Ethereum node; thread-safe, one connection per call.

    Each call ends by ``timeout`` seconds (or an earlier ``deadline`` the caller gives),
    runs through ``breaker`` when one is given, and raises :class:`NodeError` for anything
    but an answer, or :class:`CallReverted` when the contract reverted.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 breaker: CircuitBreaker | None = None) -> None:
        parts = _split_url(url)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.node = redact_url(url)
        self.timeout = float(timeout)
        self.breaker = breaker
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = self._build_headers(parts)
        self._secret_parts = _secrets(parts)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = dict.fromkeys(NODE_ERROR_KINDS, 0)
        self._last_error: str | None = None

    @staticmethod
    def _build_headers(parts: urllib.parse.SplitResult) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": USER_AGENT, "Connection": "close"}
        if parts.username is not None:
            pair = f"{urllib.parse.unquote(parts.username)}:" \
                   f"{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return headers

    # -- public API ----------------------------------------------------------------------------

    def call(self, method: str, params: list[Any], *, deadline: float | None = None,
             parse: Callable[[Any], Any] | None = None) -> Any:
        """The ``result`` of one JSON-RPC call, passed through ``parse`` when given.

        ``deadline`` is a ``time.monotonic()`` value; the call ends by it or by ``timeout``
        seconds from now, whichever comes first. ``parse`` runs inside the breaker, so an
        answer it rejects (with :class:`AbiError`) counts as a node failure.
        """
        own = time.monotonic() + self.timeout
        deadline = own if deadline is None else min(deadline, own)
        try:
            if self.breaker is None:
                result = self._call_once(method, params, deadline, parse)
            else:
                result = self.breaker.call(self._call_once, method, params, deadline, parse)
        except CircuitOpenError as exc:
            error = NodeError(UNAVAILABLE, "the Ethereum node is not being called after "
                                           "repeated failures; retry after "
                                           f"{math.ceil(exc.retry_after)}s",
                              retry_after=exc.retry_after)
            self._record(error)
            raise error from None
        except NodeError as exc:
            self._record(exc)
            log.warning("Ethereum node %s: %s failed: %s", self.node, method, exc)
            raise
        except CallReverted:
            self._record(None)
            raise
        self._record(None)
        return result

    def eth_call(self, to: str, data: str, *, deadline: float | None = None,
                 decode: Callable[[bytes], Any] | None = None) -> Any:
        """The return data (bytes) of a read-only contract call at the latest block, or
        ``decode(data)``: decoding inside the call makes garbage count as a node failure."""
        if decode is None:
            parse: Callable[[Any], Any] = decode_hex
        else:
            def parse(result: Any) -> Any:
                return decode(decode_hex(result))
        return self.call("eth_call", [{"to": to, "data": data}, "latest"], deadline=deadline,
                         parse=parse)

    def chain_id(self, *, deadline: float | None = None) -> int:
        """The node's chain ID (1 for Ethereum mainnet)."""
        return self.call("eth_chainId", [], deadline=deadline, parse=_parse_quantity)

    def stats(self) -> dict[str, Any]:
        """Calls made, failures by kind, and the last failure's message (None after a success)."""
        with self._lock:
            return {"calls": self._calls, "errors": dict(self._errors),
                    "last_error": self._last_error}

    # -- one call ------------------------------------------------------------------------------

    def _call_once(self, method: str, params: list[Any], deadline: float,
                   parse: Callable[[Any], Any] | None) -> Any:
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                           "params": params}, separators=(",", ":")).encode("utf-8")
        budget = max(0.0, deadline - time.monotonic())
        try:
            raw = self._exchange(body, deadline)
        except TimeoutError:
            raise NodeError(TIMEOUT, "the Ethereum node did not answer within "
                                     f"{budget:.3g}s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise NodeError(CONNECTION, "cannot reach the Ethereum node "
                                        f"({self._reason(exc)})") from None
        result = self._result(raw, request_id)
        if parse is None:
            return result
        try:
            return parse(result)
        except AbiError as exc:
            raise NodeError(BAD_RESPONSE, f"the Ethereum node's answer to {method} makes no "
                                          f"sense: {exc}") from None

    def _exchange(self, body: bytes, deadline: float) -> bytes:
        connection = _Connection(self._host, self._port, deadline, self._tls)
        try:
            connection.request("POST", self._target, body=body, headers=self._headers)
            response = connection.getresponse()
            if response.status != 200:
                raise NodeError(HTTP, f"the Ethereum node answered HTTP {response.status}",
                                status=response.status)
            declared = response.getheader("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise self._too_large()
            raw = response.read(MAX_RESPONSE_BYTES + 1)
            if len(raw) > MAX_RESPONSE_BYTES:
                raise self._too_large()
            return raw
        finally:
            connection.discard()

    @staticmethod
    def _too_large() -> NodeError:
        return NodeError(BAD_RESPONSE, "the Ethereum node's answer is larger than "
                                       f"{MAX_RESPONSE_BYTES} bytes")

    def _result(self, raw: bytes, request_id: int) -> Any:
        try:
            doc = json.loads(raw)
        except ValueError:
            raise NodeError(BAD_RESPONSE, "the Ethereum node's answer is not JSON") from None
        if not isinstance(doc, dict) or doc.get("id") != request_id:
            raise NodeError(BAD_RESPONSE, "the Ethereum node's answer is not a JSON-RPC "
                                          "answer to the request")
        if doc.get("error") is not None:
            raise self._rpc_error(doc["error"])
        if "result" not in doc:
            raise NodeError(BAD_RESPONSE, "the Ethereum node's answer has no result")
        return doc["result"]

    def _rpc_error(self, error: Any) -> EnsError:
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = str(error.get("message") or "")
        # geth says code 3; other clients say -32000 with "execution reverted".
        if code == REVERT_CODE or "revert" in message.lower():
            return CallReverted("the contract reverted the call")
        return NodeError(RPC, f"the Ethereum node refused the call (JSON-RPC error {code}): "
                              f"{self._scrub(message)}", code=code)

    # -- safety and accounting -----------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Text from the node, safe to repeat: no part of the URL, no control characters."""
        for secret in self._secret_parts:
            text = text.replace(secret, "[redacted]")
        text = "".join(ch if ch.isprintable() else " " for ch in text)
        return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return "its TLS certificate was not accepted"
        strerror = getattr(exc, "strerror", None)
        return self._scrub(strerror) if isinstance(strerror, str) and strerror else (
            type(exc).__name__)

    def _record(self, error: NodeError | None) -> None:
        with self._lock:
            if error is None or error.kind != UNAVAILABLE:  # a rejected call never left
                self._calls += 1
            if error is None:
                self._last_error = None
                return
            self._errors[error.kind] += 1
            if error.kind != UNAVAILABLE:  # keep the cause, not the breaker's echo of it
                self._last_error = error.message



def _parse_quantity(value: Any) -> int:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) < 3:
        raise AbiError("a quantity must be a 0x-prefixed hex number")
    try:
        return int(value[2:], 16)
    except ValueError:
        raise AbiError("a quantity must be a 0x-prefixed hex number") from None
