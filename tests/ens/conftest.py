"""Fixtures for the ENS tests: the node double, a fake clock, resolvers wired to both."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from dalleserver.ens import CachePolicy, EnsResolver, RpcClient
from dalleserver.ens.resolver import DEFAULT_CACHE
from dalleserver.ens.rpc import is_node_failure
from dalleserver.resilience.breaker import CircuitBreaker
from tests.support.clock import ManualClock
from tests.support.rpc_double import RpcDouble

VITALIK = "0xd8da6bf26964af9d7eed9e03e53415d37aa96045"
OTHER = "0x1111111111111111111111111111111111111111"


def wait_for(condition: Callable[[], object], what: str) -> None:
    """Return once ``condition()`` is true; fail the test after ten seconds of trying."""
    for _ in range(1000):  # bounded: no test waits forever on a background thread
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when told to, so TTL tests need not sleep."""
    return ManualClock()


@pytest.fixture
def node() -> Iterator[RpcDouble]:
    with RpcDouble() as double:
        double.add_name("vitalik.eth", VITALIK)
        double.set_reverse(VITALIK, "vitalik.eth")
        yield double


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that refuses connections: bound (so no one else takes it), not
    listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


MakeResolver = Callable[..., EnsResolver]


@pytest.fixture
def make_resolver(node: RpcDouble, clock: ManualClock) -> MakeResolver:
    """A resolver on the double (or ``url``), its breaker and cache on the fake clock."""

    def make(*, url: str | None = None, timeout: float = 5.0, failures: int = 3,
             cache: CachePolicy = DEFAULT_CACHE) -> EnsResolver:
        breaker = CircuitBreaker("ens", failure_threshold=failures, reset_timeout=30.0,
                                 is_failure=is_node_failure, clock=clock)
        rpc = RpcClient(url or node.url, timeout=timeout, breaker=breaker)
        return EnsResolver(rpc, cache=cache, clock=clock)

    return make
