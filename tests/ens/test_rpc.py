"""The JSON-RPC client against the double over real loopback sockets: answers, typed errors,
the total deadline, the breaker, and the URL (which may hold a key) kept out of every message.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from dalleserver.ens import CallReverted, NodeError, RpcClient, redact_url
from dalleserver.ens.abi import decode_address
from dalleserver.ens.errors import BAD_RESPONSE, CONNECTION, HTTP, RPC, TIMEOUT, UNAVAILABLE
from dalleserver.ens.rpc import is_node_failure
from dalleserver.resilience.breaker import OPEN, CircuitBreaker
from tests.support.clock import ManualClock
from tests.support.rpc_double import REGISTRY, RpcDouble

# generous: the deadline is the point, the margin only absorbs a busy test machine
SLACK = 1.5


def breaker(clock: ManualClock, failures: int = 2) -> CircuitBreaker:
    return CircuitBreaker("ens", failure_threshold=failures, reset_timeout=30.0,
                          is_failure=is_node_failure, clock=clock)


def test_chain_id(node: RpcDouble) -> None:
    assert RpcClient(node.url).chain_id() == 1


def test_eth_call_returns_the_bytes_and_posts_to_the_urls_path(node: RpcDouble) -> None:
    client = RpcClient(node.url + "v3/project")
    data = client.eth_call(REGISTRY, "0x0178b8bf" + "00" * 32)
    assert len(data) == 32
    assert node.requests[0]["path"] == "/v3/project"


def test_user_info_becomes_basic_auth(node: RpcDouble) -> None:
    client = RpcClient(node.url.replace("http://", "http://user:p%40ss@"))
    client.chain_id()
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert node.requests[0]["headers"]["Authorization"] == expected


@pytest.mark.parametrize(("fault", "kind"), [
    ("rpc_error", RPC),
    ("http_500", HTTP),
    ("not_json", BAD_RESPONSE),
    ("garbage", BAD_RESPONSE),
])
def test_faults_become_typed_node_errors(node: RpcDouble, fault: str, kind: str) -> None:
    node.fault = fault
    client = RpcClient(node.url)
    with pytest.raises(NodeError) as caught:
        client.eth_call(REGISTRY, "0x0178b8bf" + "00" * 32, decode=decode_address)
    assert caught.value.kind == kind
    assert client.stats()["errors"][kind] == 1
    assert client.stats()["last_error"] == str(caught.value)


def test_json_rpc_error_keeps_its_code(node: RpcDouble) -> None:
    with pytest.raises(NodeError) as caught:
        RpcClient(node.url).call("eth_nonsense", [])
    assert (caught.value.kind, caught.value.code) == (RPC, -32601)
    assert "JSON-RPC error -32601" in str(caught.value)


def test_a_revert_is_an_answer_not_a_node_failure(node: RpcDouble, clock: ManualClock) -> None:
    node.fault = "revert"
    client = RpcClient(node.url, breaker=breaker(clock, failures=1))
    for _ in range(3):
        with pytest.raises(CallReverted):
            client.eth_call(REGISTRY, "0x0178b8bf" + "00" * 32)
    assert client.breaker is not None and client.breaker.state == "closed"
    assert client.stats()["last_error"] is None


def test_a_refused_connection_is_a_connection_error(refused_url: str) -> None:
    with pytest.raises(NodeError) as caught:
        RpcClient(refused_url).chain_id()
    assert caught.value.kind == CONNECTION
    assert "cannot reach the Ethereum node" in str(caught.value)


@pytest.mark.parametrize("fault", ["slow", "hang"])
def test_a_slow_node_meets_the_total_deadline(node: RpcDouble, fault: str) -> None:
    # "slow" sends a byte every 50 ms: a per-read timeout of 0.3 s would never fire
    node.fault = fault
    client = RpcClient(node.url, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        client.chain_id()
    assert time.monotonic() - started < 0.3 + SLACK
    assert caught.value.kind == TIMEOUT
    assert "did not answer within 0.3s" in str(caught.value)


def test_the_callers_deadline_wins_when_sooner(node: RpcDouble) -> None:
    node.fault = "slow"
    client = RpcClient(node.url, timeout=30.0)
    started = time.monotonic()
    with pytest.raises(NodeError):
        client.chain_id(deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 0.3 + SLACK


def test_a_slow_node_opens_the_breaker_and_is_then_left_alone(node: RpcDouble,
                                                             clock: ManualClock) -> None:
    node.fault = "slow"
    client = RpcClient(node.url, timeout=0.2, breaker=breaker(clock, failures=2))
    for _ in range(2):
        with pytest.raises(NodeError):
            client.chain_id()
    assert client.breaker is not None and client.breaker.state == OPEN
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        client.chain_id()
    assert time.monotonic() - started < 0.1  # failed fast, no connection
    assert caught.value.kind == UNAVAILABLE
    assert caught.value.retry_after == pytest.approx(30.0)
    assert "retry after 30s" in str(caught.value)
    assert len(node.requests) == 2
    stats = client.stats()
    assert stats["errors"][TIMEOUT] == 2 and stats["errors"][UNAVAILABLE] == 1
    assert stats["calls"] == 2  # the rejected call never left
    assert "did not answer" in stats["last_error"]  # the cause, not the breaker's echo


def test_the_breaker_closes_again_when_the_node_recovers(node: RpcDouble,
                                                         clock: ManualClock) -> None:
    node.fault = "http_500"
    client = RpcClient(node.url, breaker=breaker(clock, failures=1))
    with pytest.raises(NodeError):
        client.chain_id()
    node.fault = None
    clock.advance(30)
    assert client.chain_id() == 1 and client.chain_id() == 1
    assert client.breaker is not None and client.breaker.state == "closed"


@pytest.mark.parametrize(("url", "redacted"), [
    ("https://mainnet.infura.io/v3/0123456789abcdef", "https://mainnet.infura.io"),
    ("http://user:secret@node.lan:8545/?key=abc", "http://node.lan:8545"),
    ("http://[::1]:8545/rpc", "http://[::1]:8545"),
    ("http://localhost:99999/", "http://localhost"),
])
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize("url", [
    "ftp://node.lan/KEY123456",
    "http:///KEY123456",
    "http://node.lan:99999/KEY123456",
    "http://node.lan/KEY123456 x",
    "http://node.lan/KEY123456\n",
    "http://node.lan/KEY123456é",
])
def test_a_bad_url_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        RpcClient(url)
    assert "KEY123456" not in str(caught.value)


SECRETS = ("userSECRET", "passSECRET", "pathSECRET0123456789", "querySECRET42")


def secret_url(base: str) -> str:
    host = base.removeprefix("http://").rstrip("/")
    return (f"http://userSECRET:passSECRET@{host}/v3/pathSECRET0123456789"
            "?apikey=querySECRET42")


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("fault", ["rpc_error", "http_500", "not_json", "garbage", "slow"])
def test_the_url_never_appears_in_messages_or_logs(node: RpcDouble, clock: ManualClock,
                                                   caplog: pytest.LogCaptureFixture,
                                                   fault: str) -> None:
    caplog.set_level(logging.DEBUG)
    node.fault = fault
    client = RpcClient(secret_url(node.url), timeout=0.3, breaker=breaker(clock, failures=1))
    messages = []
    for _ in range(2):  # the second is the breaker's rejection
        with pytest.raises(NodeError) as caught:
            client.eth_call(REGISTRY, "0x0178b8bf" + "00" * 32, decode=decode_address)
        messages += [str(caught.value), repr(caught.value)]
    assert node.requests[0]["path"] == "/v3/pathSECRET0123456789?apikey=querySECRET42"
    assert_no_secret(" ".join(messages) + caplog.text + repr(client.stats()) + repr(client))
    assert client.node in caplog.text


def test_a_node_repeating_the_key_is_scrubbed(node: RpcDouble) -> None:
    client = RpcClient(secret_url(node.url))
    with pytest.raises(NodeError) as caught:
        client.call("bad\nmethod pathSECRET0123456789 querySECRET42", [])
    message = str(caught.value)
    assert "bad method [redacted] [redacted]" in message  # the node echoed it; no line break
    assert_no_secret(message)


def test_a_refused_connection_names_no_secret(refused_url: str) -> None:
    with pytest.raises(NodeError) as caught:
        RpcClient(secret_url(refused_url)).chain_id()
    assert_no_secret(str(caught.value))


@pytest.fixture
def trickling_tls_server() -> Iterator[str]:
    """A loopback server that answers a TLS ClientHello with the start of a 16 KiB record
    and then one byte every 50 ms: a handshake that would take 15 minutes."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)  # a test that never connects must not leave this thread behind

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"\x16\x03\x03\x40\x00")
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"\x00")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_a_trickling_tls_handshake_meets_the_deadline(trickling_tls_server: str) -> None:
    client = RpcClient(trickling_tls_server, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        client.chain_id()
    assert time.monotonic() - started < 0.3 + SLACK
    assert caught.value.kind == TIMEOUT
