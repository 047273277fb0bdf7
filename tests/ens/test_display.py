"""DisplayNames: cached names at once, the others looked up in the background, bounded."""

from __future__ import annotations

from dalleserver.ens import DisplayNames
from tests.ens.conftest import OTHER, VITALIK, MakeResolver, wait_for
from tests.support.rpc_double import RpcDouble


def test_a_miss_answers_none_at_once_and_is_looked_up_in_the_background(
        node: RpcDouble, make_resolver: MakeResolver) -> None:
    resolver = make_resolver()
    names = DisplayNames(resolver)
    assert names.name_of(VITALIK) is None
    assert node.requests == [] and names.pending == 1  # nothing runs before start()
    names.start()
    try:
        wait_for(lambda: resolver.cached_reverse(VITALIK)[0], "the lookup")
        node.clear()
        assert names.name_of(VITALIK) == "vitalik.eth"
        assert names.name_of(OTHER) is None  # no reverse record: queued, looked up, "none"
        wait_for(lambda: resolver.cached_reverse(OTHER)[0], "the second lookup")
        assert names.name_of(OTHER) is None and names.pending == 0
    finally:
        names.stop()


def test_the_queue_is_bounded_and_holds_no_repeats(make_resolver: MakeResolver) -> None:
    names = DisplayNames(make_resolver(), max_pending=2)
    for _ in range(3):
        names.name_of(VITALIK)
    assert names.pending == 1
    names.name_of(OTHER)
    names.name_of("0x" + "22" * 20)
    assert names.pending == 2
    names.stop()
    assert names.pending == 0
    names.name_of(VITALIK)  # after stop nothing is queued
    assert names.pending == 0


def test_a_failing_node_pauses_the_lookups_and_stop_ends_the_pause(
        node: RpcDouble, make_resolver: MakeResolver) -> None:
    node.fault = "http_500"
    resolver = make_resolver()
    names = DisplayNames(resolver, pause=60.0)
    names.name_of(VITALIK)
    names.name_of(OTHER)
    names.start()
    wait_for(lambda: resolver.stats()["resolutions"]["reverse"]["error"] == 1,
              "the first lookup failing")
    # then it rests instead of failing through the queue
    assert names.pending == 1 and len(node.requests) == 1
    names.stop(timeout=5)
    assert not names._thread.is_alive()
