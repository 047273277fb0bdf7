"""A stand-in Ethereum node with ENS: a real JSON-RPC server on 127.0.0.1, for tests.

It answers ``eth_chainId`` and ``eth_call`` on the ENS registry, a public resolver and a
reverse resolver, from small tables the test fills::

    with RpcDouble() as node:
        node.add_name("vitalik.eth", VITALIK)
        node.set_reverse(VITALIK, "vitalik.eth")
        ...  # point the client at node.url
        assert node.eth_calls() == [...]

Call data is decoded and answers are ABI-encoded here, by code written apart from
``dalleserver.ens.abi``, so a mistake in one shows up against the other. ``fault`` makes
every request misbehave (see :data:`FAULTS`); every request is recorded first.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dalleserver.address import keccak256

REGISTRY = "0x00000000000c2e074ec69a0bfb2997ba6c7d2e1e"
PUBLIC_RESOLVER = "0x231b0ee14048e9dccd1d247744d114a4eb5e8e63"
REVERSE_RESOLVER = "0xa2c122be93b0074270ebee7f6b7292c7deb45047"
ZERO = "0x" + "0" * 40

SELECTOR_RESOLVER = "0178b8bf"
SELECTOR_ADDR = "3b3b57de"
SELECTOR_NAME = "691f3431"

FAULTS = (
    "slow",  # the answer trickles out a byte at a time, far slower than any deadline
    "hang",  # the request is read, and no answer ever comes
    "rpc_error",  # a JSON-RPC error object (an internal error of the node)
    "http_500",  # HTTP 500 with an HTML body
    "revert",  # every eth_call reverts
    "garbage",  # eth_call answers a few bytes that are no ABI encoding
    "not_json",  # HTTP 200 whose body is not JSON
)
TRICKLE_INTERVAL = 0.05


def namehash(name: str) -> bytes:
    """EIP-137, written out again so the double does not trust the code under test."""
    node = b"\0" * 32
    for label in reversed(name.split(".") if name else []):
        node = keccak256(node + keccak256(label.encode()))
    return node


def word(value: int) -> bytes:
    """One 32-byte big-endian ABI word."""
    return value.to_bytes(32, "big")


def abi_address(address: str) -> bytes:
    """An ``address`` return value: 12 zero bytes, then the 20 of the address."""
    return b"\0" * 12 + bytes.fromhex(address[2:])


def abi_string(text: str) -> bytes:
    """A lone dynamic ``string`` return value: offset, length, bytes padded to a word."""
    raw = text.encode("utf-8")
    return word(32) + word(len(raw)) + raw + b"\0" * (-len(raw) % 32)


def decode_call(data: str) -> tuple[str, bytes]:
    """(selector hex, node) of ``selector(bytes32)`` call data; ValueError for anything else."""
    raw = bytes.fromhex(data[2:]) if data.startswith("0x") else b""
    if len(raw) != 36:
        raise ValueError("not a call with one bytes32 argument")
    return raw[:4].hex(), raw[4:]


class _Revert(Exception):
    pass


class RpcDouble:
    """The node; use as a context manager (or call start()/close())."""

    def __init__(self, chain_id: int = 1) -> None:
        self.chain_id = chain_id
        self.fault: str | None = None
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._requests: list[dict[str, Any]] = []
        self._resolver_of: dict[bytes, str] = {}  # the registry: node -> resolver
        self._records: dict[tuple[str, bytes], str] = {}  # (resolver, node) -> address or name
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> RpcDouble:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.02},
                                            name="rpc-double", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self.closing.set()  # lets "hang" and "slow" handlers end
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RpcDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the tables ----------------------------------------------------------------------------

    def add_name(self, name: str, address: str, resolver: str = PUBLIC_RESOLVER) -> None:
        """Register ``name`` with ``resolver``, whose ``addr`` answers ``address``."""
        node = namehash(name)
        with self._lock:
            self._resolver_of[node] = resolver
            self._records[(resolver, node)] = address.lower()

    def set_reverse(self, address: str, name: str) -> None:
        """The reverse record of ``address``: ``name(<address>.addr.reverse)`` answers
        ``name``, whether or not ``name`` resolves back."""
        node = namehash(address.lower()[2:] + ".addr.reverse")
        with self._lock:
            self._resolver_of[node] = REVERSE_RESOLVER
            self._records[(REVERSE_RESOLVER, node)] = name

    # -- inspection ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received, oldest first: path, headers, method, params."""
        with self._lock:
            return list(self._requests)

    def eth_calls(self) -> list[tuple[str, str]]:
        """(contract, selector) of each eth_call received, oldest first."""
        return [(r["params"][0]["to"].lower(), r["params"][0]["data"][2:10])
                for r in self.requests if r["method"] == "eth_call"]

    def clear(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    # -- answering -----------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        """Remember one request (the handler calls this before any fault applies)."""
        with self._lock:
            self._requests.append(entry)

    def answer(self, method: str, params: Any) -> Any:
        """The JSON-RPC result for a request; raises _Revert or LookupError."""
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method != "eth_call":
            raise LookupError(method)
        if self.fault == "revert":
            raise _Revert()
        if self.fault == "garbage":
            return "0x1234"
        call = params[0]
        return "0x" + self._contract_call(call["to"].lower(), call.get("data", "")).hex()

    def _contract_call(self, to: str, data: str) -> bytes:
        try:
            selector, node = decode_call(data)
        except ValueError:
            raise _Revert() from None
        with self._lock:
            if to == REGISTRY and selector == SELECTOR_RESOLVER:
                return abi_address(self._resolver_of.get(node, ZERO))
            if to == PUBLIC_RESOLVER and selector == SELECTOR_ADDR:
                return abi_address(self._records.get((to, node), ZERO))
            if to == REVERSE_RESOLVER and selector == SELECTOR_NAME:
                return abi_string(self._records.get((to, node), ""))
        if to in (REGISTRY, PUBLIC_RESOLVER, REVERSE_RESOLVER):
            raise _Revert()  # a contract without that function
        return b""  # no contract at that address: an empty answer, as a real node gives


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test's output is no place for an access log

    def do_POST(self) -> None:
        double = self.server.double
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        double.record({"path": self.path, "headers": dict(self.headers),
                       "method": request.get("method"), "params": request.get("params")})
        fault = double.fault
        if fault == "hang":
            double.closing.wait(30)
            return
        if fault == "http_500":
            self._send(500, b"<html>internal error</html>", "text/html")
            return
        if fault == "not_json":
            self._send(200, b"this is not json", "application/json")
            return
        payload = json.dumps(self._reply(double, request)).encode()
        if fault == "slow":
            self._trickle(double, payload)
            return
        self._send(200, payload, "application/json")

    def _reply(self, double: RpcDouble, request: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        if double.fault == "rpc_error":
            reply["error"] = {"code": -32603, "message": "internal error: header not found"}
            return reply
        try:
            reply["result"] = double.answer(request.get("method", ""), request.get("params"))
        except _Revert:
            reply["error"] = {"code": 3, "message": "execution reverted", "data": "0x"}
        except LookupError:
            # echoing the method, as geth does, lets tests check what the client repeats
            reply["error"] = {"code": -32601, "message": f"the method {request.get('method')} "
                                                        "does not exist/is not available"}
        return reply

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _trickle(self, double: RpcDouble, payload: bytes) -> None:
        """The whole answer, status line included, one byte at a time: each byte comes soon
        enough for any per-read timeout, the answer never within a total deadline."""
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        for byte in head + payload:
            if double.closing.wait(TRICKLE_INTERVAL):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return  # the client gave up, as it should
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a "hang" or "slow" handler must not hold up close()

    def __init__(self, double: RpcDouble) -> None:
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is what some tests are about
