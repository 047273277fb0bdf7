"""ENS names over HTTP: a running server whose TB_DALLE_RPC_URL is the node double.

A name gives the same picture and files as its address; answers are cached; a node that
fails makes names fail clearly and leaves addresses alone; /health and /metrics show the
node; the URL (with a key in it) never shows."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dalleserver.ens import NAMES_NEED_A_NODE
from dalleserver.ens.resolver import EnsResolver
from dalleserver.ens.rpc import RpcClient, is_node_failure
from dalleserver.resilience.breaker import CircuitBreaker
from tests.ens.conftest import VITALIK, wait_for
from tests.support.rpc_double import RpcDouble
from tests.support.server import running_server, wait_done

SERIES = "empty"
SECRET = "v3/SECRETKEY0123456789"
FORWARD_CALLS = 2  # registry.resolver(node), then resolver.addr(node)


@pytest.fixture
def named(tmp_path: Path, node: RpcDouble) -> Iterator[tuple]:
    """(client, app, node): a server resolving names through the double (the URL holds a
    key, which must never show)."""
    env = {"TB_DALLE_RPC_URL": node.url + SECRET, "TB_DALLE_BREAKER_FAILURES": "2"}
    with running_server(tmp_path, env=env) as (client, app):
        yield client, app, node


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _sample(metrics: str, series: str) -> float:
    """The value of one sample in Prometheus text."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.M)
    assert match, series
    return float(match.group(1))


def test_a_name_gives_the_same_picture_and_files_as_its_address(named) -> None:
    client, app, node = named
    response, doc = client.json("GET", f"/dalle/{SERIES}/vitalik.eth?generate=1")
    assert response.status == 202, doc
    data = doc["data"]
    assert data["address"] == VITALIK
    assert data["dalleDress"]["originalName"] == "vitalik.eth"
    assert data["dalleDress"]["original"] == VITALIK
    wait_done(app.runtime, (SERIES, VITALIK))
    by_name, png = client.get(f"/dalle/{SERIES}/vitalik.eth")
    by_address, same = client.get(f"/dalle/{SERIES}/{VITALIK}")
    assert by_name.status == by_address.status == 200
    assert by_name.getheader("Content-Type") == "image/png" and png == same
    output = app.data_dir.output
    files = _files(output)
    assert f"{SERIES}/annotated/{VITALIK}.png" in files
    assert not any("vitalik.eth" in f for f in _files(app.data_dir.root))
    selector = json.loads(app.data_dir.selector(SERIES, VITALIK).read_text())
    assert selector["originalName"] == "vitalik.eth" and selector["original"] == VITALIK
    # the address alone starts nothing new and changes nothing
    _, again = client.json("GET", f"/dalle/{SERIES}/{VITALIK}?generate=1")
    assert again["data"]["cacheHit"] and _files(output) == files


def test_a_name_takes_an_image_extension_for_its_variants(named) -> None:
    client, app, _node = named
    client.get(f"/dalle/{SERIES}/vitalik.eth?generate=1")
    wait_done(app.runtime, (SERIES, VITALIK))
    by_name, webp = client.get(f"/dalle/{SERIES}/vitalik.eth.webp?size=64")
    by_address, same = client.get(f"/dalle/{SERIES}/{VITALIK}.webp?size=64")
    assert by_name.status == by_address.status == 200 and webp == same
    assert by_name.getheader("Content-Type") == "image/webp"
    assert app.runtime.variants.stats()["made"]["webp"] == 1


def test_the_second_request_is_a_cache_hit_without_a_call(named) -> None:
    client, app, node = named
    response, _ = client.json("GET", f"/dalle/{SERIES}/vitalik.eth")
    assert response.status == 200
    assert len(node.eth_calls()) == FORWARD_CALLS
    node.clear()
    response, doc = client.json("GET", f"/dalle/{SERIES}/Vitalik.ETH")  # mixed case
    assert response.status == 200 and doc["data"] == {}  # nothing generated: nothing known
    assert node.eth_calls() == []
    stats = app.runtime.resolver.stats()
    assert stats["cache_hits"]["forward"] == 1
    assert stats["resolutions"]["forward"]["found"] == 2


def test_a_name_without_an_address_is_404_and_starts_nothing(named) -> None:
    client, app, _ = named
    response, doc = client.json("GET", f"/dalle/{SERIES}/nobody.eth?generate=1")
    assert response.status == 404
    assert doc["error"]["code"] == "NAME_NOT_FOUND"
    assert "nobody.eth" in doc["error"]["message"]
    assert app.runtime.jobs.queue_depth == 0 and app.board.active_keys() == []


@pytest.mark.parametrize("segment", ["vital%C3%ADk.eth", "%F0%9F%A6%84.eth", "a..eth",
                                     "ab--c.eth"])
def test_names_outside_the_ascii_subset_are_refused_without_a_call(named, segment) -> None:
    client, _, node = named
    response, doc = client.json("GET", f"/dalle/{SERIES}/{segment}")
    assert response.status == 400
    assert doc["error"]["code"] == "INVALID_ADDRESS"
    assert "ENS name" in doc["error"]["message"]
    assert node.requests == []


def test_a_bad_series_is_refused_before_the_node_is_asked(named) -> None:
    client, _, node = named
    response, doc = client.json("GET", "/dalle/no-such-series/vitalik.eth")
    assert response.status == 400 and doc["error"]["code"] == "INVALID_SERIES"
    assert node.requests == []


def test_node_down_names_fail_clearly_addresses_still_work(named, caplog) -> None:
    client, app, node = named
    node.fault = "http_500"
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):  # two failures open the breaker; then it refuses at once
            response, doc = client.json("GET", f"/dalle/{SERIES}/vitalik.eth?generate=1")
            assert response.status == 503
            assert doc["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert "Ethereum node" in doc["error"]["message"]
            assert int(response.getheader("Retry-After")) >= 1
        assert app.runtime.resolver.stats()["breaker"] == "open"
        response, doc = client.json("GET", f"/dalle/{SERIES}/{VITALIK}?generate=1")
        assert response.status == 202
        wait_done(app.runtime, (SERIES, VITALIK))
        response, _ = client.get(f"/dalle/{SERIES}/{VITALIK}")
        assert response.status == 200
        health_response, health = client.json("GET", "/health")
        metrics = client.get("/metrics")[1].decode()
    assert health_response.status == 200  # degraded, never unhealthy
    component = health["data"]["components"]["ethereum_node"]
    assert component["status"] == "degraded" and component["breaker"] == "open"
    assert health["data"]["status"] in ("healthy", "degraded")
    assert 'dalleserver_circuit_breaker_state{breaker="ens",state="open"} 1' in metrics
    assert 'dalleserver_ens_node_errors_total{kind="http_error"} 2' in metrics
    # the third name, and perhaps the background lookup of the address's name
    assert _sample(metrics, 'dalleserver_ens_node_errors_total{kind="breaker_open"}') >= 1
    shown = caplog.text + json.dumps(health) + metrics + json.dumps(doc)
    assert "SECRETKEY" not in shown


def test_health_and_metrics_show_the_node(named) -> None:
    client, _, node = named
    metrics = client.get("/metrics")[1].decode()
    for outcome in ("found", "not_found", "invalid", "error", "busy"):  # all there at 0
        assert (f'dalleserver_ens_resolutions_total{{direction="forward",outcome="{outcome}"}}'
                " 0") in metrics
    assert 'dalleserver_ens_cache_hits_total{direction="forward"} 0' in metrics
    assert "dalleserver_ens_node_calls_total 0" in metrics
    client.get(f"/dalle/{SERIES}/vitalik.eth")
    client.get(f"/dalle/{SERIES}/vitalik.eth")
    metrics = client.get("/metrics")[1].decode()
    assert 'dalleserver_ens_resolutions_total{direction="forward",outcome="found"} 2' in metrics
    assert 'dalleserver_ens_cache_hits_total{direction="forward"} 1' in metrics
    assert 'dalleserver_ens_cache_entries{direction="forward"} 1' in metrics
    assert f"dalleserver_ens_node_calls_total {FORWARD_CALLS}" in metrics
    assert 'dalleserver_circuit_breaker_state{breaker="ens",state="closed"} 1' in metrics
    _, health = client.json("GET", "/health")
    component = health["data"]["components"]["ethereum_node"]
    assert component["status"] == "healthy"
    assert component["node"] == node.url.rstrip("/")  # scheme://host:port, no key
    assert "SECRETKEY" not in metrics + json.dumps(health)
    metrics_json = client.get("/metrics?format=json")[1].decode()
    assert "dalleserver_ens_resolutions_total" in metrics_json


def test_events_and_cards_take_names(named) -> None:
    client, app, _ = named
    client.json("GET", f"/dalle/{SERIES}/vitalik.eth?generate=1")
    wait_done(app.runtime, (SERIES, VITALIK))
    response, body = client.get(f"/dalle/{SERIES}/VITALIK.eth/events")
    assert response.status == 200
    events = [json.loads(line[6:]) for line in body.decode().splitlines()
              if line.startswith("data: ")]
    assert events[-1]["done"] and events[-1]["address"] == VITALIK
    assert events[-1]["dalleDress"]["originalName"] == "vitalik.eth"
    card_response, card = client.get(f"/preview/card/{SERIES}/vitalik.eth")
    assert card_response.status == 200 and VITALIK.encode() in card
    thumb_response, _ = client.get(f"/thumbs/{SERIES}/vitalik.eth")
    assert thumb_response.status == 200
    assert thumb_response.getheader("Content-Type") == "image/jpeg"


def test_snapshots_and_the_gallery_show_the_primary_name(named) -> None:
    client, app, node = named
    client.json("GET", f"/dalle/{SERIES}/{VITALIK}?generate=1")
    wait_done(app.runtime, (SERIES, VITALIK))
    response, page = client.get("/preview")
    assert response.status == 200 and VITALIK.encode() in page  # no name yet: not waited for
    resolver, display = app.runtime.resolver, app.runtime.display_names
    wait_for(lambda: resolver.cached_reverse(VITALIK)[0] and display.pending == 0,
              "the background lookup of the primary name")
    _, page = client.get("/preview")
    assert b'<span class="ens">vitalik.eth</span>' in page
    _, doc = client.json("GET", f"/dalle/{SERIES}/{VITALIK}?generate=1")
    assert doc["data"]["ensName"] == "vitalik.eth"
    assert doc["data"]["dalleDress"]["originalName"] == ""  # asked by address
    _, card = client.get(f"/preview/card/{SERIES}/{VITALIK}")
    assert b'data-name="vitalik.eth"' in card


def test_a_primary_name_that_does_not_resolve_back_is_not_shown(named) -> None:
    client, app, node = named
    other = "0x" + "ab" * 20
    node.set_reverse(other, "vitalik.eth")  # claims a name that points elsewhere
    client.json("GET", f"/dalle/{SERIES}/{other}?generate=1")
    wait_done(app.runtime, (SERIES, other))
    client.get("/preview")
    wait_for(lambda: app.runtime.resolver.cached_reverse(other)[0], "the reverse lookup")
    _, doc = client.json("GET", f"/dalle/{SERIES}/{other}?generate=1")
    assert doc["data"]["ensName"] == ""
    assert b'class="ens"' not in client.get("/preview")[1]


def test_the_form_takes_names_when_a_node_is_configured(named) -> None:
    client, _, _ = named
    page = client.get("/preview")[1].decode()
    assert "Address or ENS name" in page
    pattern = re.search(r'id="address"[^>]* pattern="([^"]+)"', page, re.S).group(1)
    for good in (VITALIK, "vitalik.eth", "sub.name-1.eth"):
        assert re.fullmatch(pattern, good), good
    for bad in ("vitalik", "0x12", "vitalík.eth", "a..eth"):
        assert not re.fullmatch(pattern, bad), bad


def test_cold_names_wait_off_the_http_threads_and_are_bounded(tmp_path, node) -> None:
    from dalleserver.web.names import NameLookups

    breaker = CircuitBreaker("ens", failure_threshold=5, reset_timeout=30.0,
                             is_failure=is_node_failure)
    resolver = EnsResolver(RpcClient(node.url, timeout=1.0, breaker=breaker), max_cold=1)
    with running_server(tmp_path, resolver=resolver) as (client, app):
        assert client.json("GET", f"/dalle/{SERIES}/vitalik.eth")[0].status == 200  # cached
        app.lookups = NameLookups(resolver, workers=1, max_waiting=2)
        node.fault = "hang"
        node.clear()
        slow: list = []
        holders = [threading.Thread(target=lambda n=n: slow.append(
            client.json("GET", f"/dalle/{SERIES}/{n}.eth"))) for n in ("first", "second")]
        for holder in holders:
            holder.start()
        wait_for(lambda: node.requests, "the first cold name reaching the node")
        wait_for(lambda: app.lookups.waiting == 2, "both parked")
        response, doc = client.json("GET", f"/dalle/{SERIES}/third.eth")
        assert response.status == 503 and response.getheader("Retry-After") == "1"
        assert "too many" in doc["error"]["message"]
        # parked names hold no HTTP thread: a cached name and an address answer at once
        assert client.json("GET", f"/dalle/{SERIES}/vitalik.eth")[0].status == 200
        assert client.json("GET", f"/dalle/{SERIES}/{VITALIK}")[0].status == 200
        assert client.server.pool.threads <= 2
        for holder in holders:
            holder.join(30)
        assert [r[0].status for r in slow] == [503, 503]  # each lookup ended by its deadline


def test_without_a_node_a_name_is_400_with_how_to_configure_one(tmp_path) -> None:
    with running_server(tmp_path) as (client, app):
        response, doc = client.json("GET", f"/dalle/{SERIES}/vitalik.eth?generate=1")
        assert response.status == 400
        assert doc["error"]["code"] == "INVALID_ADDRESS"
        assert doc["error"]["message"] == NAMES_NEED_A_NODE
        _, doc = client.json("GET", f"/dalle/{SERIES}/{VITALIK}?generate=1")
        assert "ensName" not in doc["data"]  # without a node snapshots are as they were
        _, health = client.json("GET", "/health")
        assert "ethereum_node" not in health["data"]["components"]
        metrics = client.get("/metrics")[1].decode()
        assert "# TYPE dalleserver_ens_resolutions_total counter" in metrics
        assert "dalleserver_ens_resolutions_total{" not in metrics
        page = client.get("/preview")[1].decode()
        assert "Address or ENS name" not in page
        assert app.runtime.resolver is None and app.runtime.display_names is None


def test_openapi_lists_the_new_error_code(named) -> None:
    client, _, _ = named
    _, doc = client.json("GET", "/openapi.json")
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"][
        "code"]["enum"]
    assert "NAME_NOT_FOUND" in codes
    assert "404" in doc["paths"]["/dalle/{series}/{address}"]["get"]["responses"]
