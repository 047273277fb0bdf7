"""EnsResolver against the node double: forward and reverse, the cache and its TTLs (on a
fake clock), node failures, the breaker, stats and the health state."""

from __future__ import annotations

import json
import logging
import time

import pytest

from dalleserver.address import AddressError
from dalleserver.config import load_config
from dalleserver.ens import (
    CachePolicy,
    EnsResolver,
    InvalidName,
    NameNotFound,
    NodeError,
    build_resolver,
)
from dalleserver.ens.errors import BAD_RESPONSE, CONNECTION, TIMEOUT, UNAVAILABLE
from tests.ens.conftest import OTHER, VITALIK, MakeResolver
from tests.support.clock import ManualClock
from tests.support.rpc_double import (
    PUBLIC_RESOLVER,
    REGISTRY,
    REVERSE_RESOLVER,
    SELECTOR_ADDR,
    SELECTOR_NAME,
    SELECTOR_RESOLVER,
    ZERO,
    RpcDouble,
)

FORWARD_CALLS = [(REGISTRY, SELECTOR_RESOLVER), (PUBLIC_RESOLVER, SELECTOR_ADDR)]
SLACK = 1.5  # absorbs a busy machine; the deadlines under test are far shorter than a hang


# -- forward -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vitalik.eth", "Vitalik.ETH", " VITALIK.eth "])
def test_resolve_through_registry_and_resolver(node: RpcDouble, make_resolver: MakeResolver,
                                               name: str) -> None:
    assert make_resolver().resolve(name) == VITALIK
    assert node.eth_calls() == FORWARD_CALLS


def test_second_resolution_is_a_cache_hit_without_a_call(node: RpcDouble,
                                                         make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver.resolve("vitalik.eth")
    node.clear()
    assert resolver.resolve("VITALIK.ETH") == VITALIK
    assert node.requests == []
    stats = resolver.stats()
    assert stats["cache_hits"]["forward"] == 1
    assert stats["resolutions"]["forward"]["found"] == 2
    assert stats["node_calls"] == 2


@pytest.mark.parametrize("setup", ["unregistered", "zero address", "resolver not a contract",
                                   "reverted"])
def test_no_address_is_name_not_found(node: RpcDouble, make_resolver: MakeResolver,
                                      setup: str) -> None:
    if setup == "zero address":
        node.add_name("nobody.eth", ZERO)
    elif setup == "resolver not a contract":
        node.add_name("nobody.eth", VITALIK, resolver=OTHER)
    elif setup == "reverted":
        node.fault = "revert"
    resolver = make_resolver()
    with pytest.raises(NameNotFound) as caught:
        resolver.resolve("Nobody.eth")
    assert str(caught.value) == "the ENS name 'nobody.eth' does not resolve to an address"
    assert caught.value.name == "nobody.eth"
    assert resolver.stats()["resolutions"]["forward"]["not_found"] == 1


def test_an_invalid_name_never_reaches_the_node(node: RpcDouble,
                                                make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    with pytest.raises(InvalidName, match="Unicode"):
        resolver.resolve("vitalík.eth")
    assert node.requests == []
    assert resolver.stats()["resolutions"]["forward"]["invalid"] == 1


# -- the cache's lifetimes ---------------------------------------------------------------------


def test_a_negative_answer_is_cached_shorter(node: RpcDouble, make_resolver: MakeResolver,
                                             clock: ManualClock) -> None:
    resolver = make_resolver(cache=CachePolicy(positive_ttl=300, negative_ttl=30))
    resolver.resolve("vitalik.eth")
    with pytest.raises(NameNotFound):
        resolver.resolve("later.eth")
    node.add_name("later.eth", OTHER)  # registered meanwhile
    node.clear()
    clock.advance(29)
    with pytest.raises(NameNotFound):
        resolver.resolve("later.eth")  # still the cached "no"
    assert node.requests == []
    clock.advance(1)
    assert resolver.resolve("later.eth") == OTHER  # the "no" expired at 30 s
    assert resolver.resolve("vitalik.eth") == VITALIK  # the "yes" lives on
    assert node.eth_calls() == FORWARD_CALLS


def test_a_positive_answer_expires(node: RpcDouble, make_resolver: MakeResolver,
                                   clock: ManualClock) -> None:
    resolver = make_resolver(cache=CachePolicy(positive_ttl=300, negative_ttl=30))
    resolver.resolve("vitalik.eth")
    node.add_name("vitalik.eth", OTHER)  # the owner points the name elsewhere
    clock.advance(299)
    assert resolver.resolve("vitalik.eth") == VITALIK
    clock.advance(1)
    assert resolver.resolve("vitalik.eth") == OTHER


def test_the_cache_is_bounded(node: RpcDouble, make_resolver: MakeResolver) -> None:
    resolver = make_resolver(cache=CachePolicy(size=2))
    for name in ("a.eth", "b.eth", "c.eth"):
        with pytest.raises(NameNotFound):
            resolver.resolve(name)
    assert resolver.stats()["cache_entries"]["forward"] == 2
    node.clear()
    with pytest.raises(NameNotFound):
        resolver.resolve("a.eth")  # the oldest was dropped
    assert len(node.eth_calls()) == 1


# -- node failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "kind"), [("garbage", BAD_RESPONSE), ("http_500", "http_error"),
                                             ("rpc_error", "rpc_error")])
def test_node_failures_are_errors_and_never_cached(node: RpcDouble, make_resolver: MakeResolver,
                                                   fault: str, kind: str) -> None:
    resolver = make_resolver()
    node.fault = fault
    with pytest.raises(NodeError) as caught:
        resolver.resolve("vitalik.eth")
    assert caught.value.kind == kind
    node.fault = None
    assert resolver.resolve("vitalik.eth") == VITALIK
    stats = resolver.stats()
    assert stats["resolutions"]["forward"]["error"] == 1
    assert stats["node_errors"][kind] == 1


def test_a_chain_without_the_registry_says_so(make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver.registry = OTHER  # as on a chain where nothing lives at the registry's address
    with pytest.raises(NodeError, match="no ENS registry; TB_DALLE_RPC_URL"):
        resolver.resolve("vitalik.eth")


def test_a_dead_node_opens_the_breaker(make_resolver: MakeResolver, refused_url: str) -> None:
    resolver = make_resolver(url=refused_url, failures=2)
    kinds = []
    for _ in range(3):
        with pytest.raises(NodeError) as caught:
            resolver.resolve("vitalik.eth")
        kinds.append(caught.value.kind)
    assert kinds == [CONNECTION, CONNECTION, UNAVAILABLE]
    assert caught.value.retry_after == pytest.approx(30.0)


def test_a_slow_node_is_cut_off_at_the_deadline_then_left_alone(
        node: RpcDouble, make_resolver: MakeResolver) -> None:
    node.fault = "slow"
    resolver = make_resolver(timeout=0.3, failures=2)
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(NodeError) as caught:
            resolver.resolve("vitalik.eth")
        assert caught.value.kind == TIMEOUT
    assert time.monotonic() - started < 2 * 0.3 + SLACK
    with pytest.raises(NodeError) as caught:
        resolver.resolve("vitalik.eth")
    assert caught.value.kind == UNAVAILABLE
    assert len(node.requests) == 2  # the open breaker made no call


def test_one_resolution_shares_one_deadline(node: RpcDouble, make_resolver: MakeResolver) -> None:
    node.fault = "slow"
    resolver = make_resolver(timeout=30.0)
    resolver.resolution_timeout = 0.3
    started = time.monotonic()
    with pytest.raises(NodeError):
        resolver.reverse(VITALIK)
    assert time.monotonic() - started < 0.3 + SLACK


def test_cached_names_still_resolve_while_the_node_is_down(
        node: RpcDouble, make_resolver: MakeResolver) -> None:
    resolver = make_resolver(failures=1)
    resolver.resolve("vitalik.eth")
    node.fault = "http_500"
    with pytest.raises(NodeError):
        resolver.resolve("other.eth")
    assert resolver.resolve("vitalik.eth") == VITALIK


# -- reverse -----------------------------------------------------------------------------------


def test_reverse_checks_the_name_resolves_back(node: RpcDouble,
                                               make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    assert resolver.reverse(VITALIK.upper().replace("0X", "0x")) == "vitalik.eth"
    assert node.eth_calls() == [(REGISTRY, SELECTOR_RESOLVER),
                                (REVERSE_RESOLVER, SELECTOR_NAME), *FORWARD_CALLS]
    node.clear()
    assert resolver.reverse(VITALIK) == "vitalik.eth"
    assert resolver.resolve("vitalik.eth") == VITALIK  # the forward check filled that cache
    assert node.requests == []
    assert resolver.stats()["cache_hits"] == {"forward": 1, "reverse": 1}


@pytest.mark.parametrize(("claimed", "outcome"), [
    (None, "none"),  # no reverse record
    ("", "none"),  # a record cleared to the empty name
    ("vitalik.eth", "mismatch"),  # claims a name that points at someone else
    ("unregistered.eth", "mismatch"),
    ("Vitalik.eth", "mismatch"),  # not in normal form: not what a wallet would show
    ("vitalík.eth", "mismatch"),  # a name we cannot normalise, so cannot check
])
def test_reverse_without_a_verified_name_is_none(node: RpcDouble, make_resolver: MakeResolver,
                                                 claimed: str | None, outcome: str) -> None:
    if claimed is not None:
        node.set_reverse(OTHER, claimed)
    resolver = make_resolver()
    assert resolver.reverse(OTHER) is None
    assert resolver.stats()["resolutions"]["reverse"][outcome] == 1
    node.clear()
    assert resolver.reverse(OTHER) is None  # cached, outcome and all
    assert node.requests == []
    assert resolver.stats()["resolutions"]["reverse"][outcome] == 2


def test_reverse_refuses_a_malformed_address(node: RpcDouble,
                                             make_resolver: MakeResolver) -> None:
    with pytest.raises(AddressError):
        make_resolver().reverse("0x1234")
    assert node.requests == []


def test_reverse_reports_node_failures(node: RpcDouble, make_resolver: MakeResolver) -> None:
    node.fault = "rpc_error"
    resolver = make_resolver()
    with pytest.raises(NodeError):
        resolver.reverse(VITALIK)
    assert resolver.stats()["resolutions"]["reverse"]["error"] == 1


# -- stats, health and configuration -----------------------------------------------------------


def test_stats_are_plain_json(node: RpcDouble, make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    resolver.resolve("vitalik.eth")
    stats = json.loads(json.dumps(resolver.stats()))
    assert stats["resolutions"]["forward"] == {"found": 1, "not_found": 0, "invalid": 0,
                                               "error": 0, "busy": 0}
    assert set(stats["resolutions"]["reverse"]) == {"found", "none", "mismatch", "invalid",
                                                    "error"}
    assert stats["node_errors"] == {"timeout": 0, "connection": 0, "http_error": 0,
                                    "rpc_error": 0, "bad_response": 0, "breaker_open": 0}
    assert stats["breaker"] == "closed"


def test_state_is_healthy_then_degraded_never_unhealthy(
        node: RpcDouble, make_resolver: MakeResolver, clock: ManualClock) -> None:
    resolver = make_resolver(failures=2)
    assert resolver.state()["status"] == "healthy"
    node.fault = "http_500"
    with pytest.raises(NodeError):
        resolver.resolve("a.eth")
    state = resolver.state()
    assert (state["status"], state["breaker"]) == ("degraded", "closed")
    assert "HTTP 500" in state["message"]
    with pytest.raises(NodeError):
        resolver.resolve("b.eth")
    state = resolver.state()
    assert (state["status"], state["breaker"]) == ("degraded", "open")
    assert state["message"].startswith("Ethereum node unavailable")
    assert state["retry_after"] == 30.0
    clock.advance(30)
    assert resolver.state()["breaker"] == "half_open"
    assert resolver.state()["status"] == "degraded"
    node.fault = None
    assert resolver.resolve("vitalik.eth") == VITALIK  # two calls: two successful probes
    assert resolver.state()["status"] == "healthy"
    assert resolver.state()["node"] == node.url.rstrip("/")


def test_build_resolver_needs_the_setting() -> None:
    assert build_resolver(load_config(environ={})) is None


def test_build_resolver_from_config(node: RpcDouble, caplog: pytest.LogCaptureFixture) -> None:
    node.fault = "http_500"
    url = node.url + "v3/SECRETKEY1234567"
    config = load_config(environ={"TB_DALLE_RPC_URL": url, "TB_DALLE_BREAKER_FAILURES": "1"})
    resolver = build_resolver(config)
    assert isinstance(resolver, EnsResolver)
    with caplog.at_level(logging.WARNING), pytest.raises(NodeError):
        resolver.resolve("vitalik.eth")
    assert resolver.stats()["breaker"] == "open"
    assert "circuit breaker closed -> open" in caplog.text
    assert "SECRETKEY" not in caplog.text + json.dumps(resolver.state())
