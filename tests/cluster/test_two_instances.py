"""Two instances in this process on one data dir and one Redis: single flight across them,
runs followed from either, cancel, the shared rate limit, identity, and a Redis outage."""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack, contextmanager

import pytest

from tests.support.backends import GatedBackend
from tests.support.cluster import wait_for
from tests.support.server import running_server

pytestmark = pytest.mark.cluster

ADDRESSES = [f"0x{i:040x}" for i in range(1, 11)]


@contextmanager
def instances(tmp_path, redis_server, count=2, backend=None, env=None):
    """``count`` servers sharing a data dir and Redis, each ready; yields [(client, app)]."""
    shared = {"TB_DALLE_REDIS_URL": redis_server.url, "TB_DALLE_RECLAIM_AFTER": "3s",
              **(env or {})}
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server(
            tmp_path / f"i{n}", backend=backend, workers=1, env=shared,
            flags={"data_dir": str(tmp_path / "data")})) for n in range(count)]
        for _, app in servers:
            assert app.runtime.cluster.link.wait_up(10)
        yield servers


def data(client, path):
    response, body = client.json("GET", path)
    return response, body.get("data", body)


def successes(servers) -> float:
    return sum(app.instruments.generations.value(outcome="success") for _, app in servers)


def test_a_run_started_on_one_instance_is_followed_on_the_other(tmp_path, redis_server):
    backend = GatedBackend(open_gate=False)
    with instances(tmp_path, redis_server, backend=backend) as servers:
        (a, _), (b, _) = servers
        path = f"/dalle/empty/{ADDRESSES[0]}"
        response, snap = data(a, path + "?generate=1")
        assert response.status == 202 and response.getheader("Location") == path
        assert backend.started.wait(10)
        # the other instance sees it run, live (changes reach Redis a moment later)
        wait_for(lambda: data(b, path)[1].get("currentPhase") == "image_wait",
                 what="the phase mirrored")
        response, snap = data(b, path)
        assert snap["state"] == "running" and snap["currentPhase"] == "image_wait"
        response, again = data(b, path + "?generate=1")  # joins: no second run
        assert response.status == 200 and again["state"] == "running"
        backend.gate.set()
        wait_for(lambda: b.get(path)[0].getheader("Content-Type") == "image/png",
                 what="picture")
        response, snap = data(b, path + "?generate=1")
        assert snap["done"] and snap["cacheHit"]
        wait_for(lambda: successes(servers) == 1, what="the run counted")
        assert backend.renders == 1


def test_triggers_on_both_instances_make_one_run_per_key(tmp_path, redis_server):
    backend = GatedBackend()
    with instances(tmp_path, redis_server, backend=backend) as servers:
        def trigger(client, address):
            for _ in range(3):
                client.get(f"/dalle/empty/{address}?generate=1")

        threads = [threading.Thread(target=trigger, args=(client, address))
                   for client, _ in servers for address in ADDRESSES]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        a = servers[0][0]
        for address in ADDRESSES:
            wait_for(lambda address=address: a.get(f"/dalle/empty/{address}")[0].getheader(
                "Content-Type") == "image/png", what=address)
        assert all(app.runtime.jobs.wait_idle(10) for _, app in servers)
        wait_for(lambda: successes(servers) == len(ADDRESSES), what="every run counted")
        assert backend.renders == len(ADDRESSES)


def test_queue_positions_and_cancel_from_the_other_instance(tmp_path, redis_server):
    backend = GatedBackend(open_gate=False)
    with instances(tmp_path, redis_server, backend=backend) as servers:
        (a, _), (b, _) = servers
        for address in ADDRESSES[:4]:
            assert a.get(f"/dalle/empty/{address}?generate=1")[0].status == 202
        # two run (a worker on each instance), two wait: positions 1 and 2 seen from b
        wait_for(lambda: sorted(data(b, f"/dalle/empty/{x}")[1]["queuePosition"]
                                for x in ADDRESSES[:4]) == [0, 0, 1, 2], what="positions")
        waiting = [x for x in ADDRESSES[:4]
                   if data(b, f"/dalle/empty/{x}")[1]["state"] == "queued"]
        running = [x for x in ADDRESSES[:4] if x not in waiting]
        response, _ = b.json("DELETE", f"/dalle/empty/{waiting[0]}/job")
        assert response.status == 200
        snap = data(a, f"/dalle/empty/{waiting[0]}")[1]
        assert snap["state"] == "cancelled" and snap["done"]
        assert data(a, f"/dalle/empty/{waiting[1]}")[1]["queuePosition"] == 1
        response, _ = b.json("DELETE", f"/dalle/empty/{running[0]}/job")
        assert response.status == 202  # it stops at its next phase boundary
        backend.gate.set()
        wait_for(lambda: data(a, f"/dalle/empty/{running[0]}")[1].get("state") == "cancelled",
                 what="the running one cancelled")
        for address in (running[1], waiting[1]):
            wait_for(lambda address=address: a.get(f"/dalle/empty/{address}")[0].getheader(
                "Content-Type") == "image/png", what=address)
        assert data(b, f"/dalle/empty/{running[0]}")[1]["state"] == "cancelled"  # no picture


def test_the_rate_limit_is_shared(tmp_path, redis_server):
    with instances(tmp_path, redis_server, env={"TB_DALLE_RATE_LIMIT": "3"}) as servers:
        (a, _), (b, _) = servers
        statuses = [client.get(f"/dalle/empty/{address}?generate=1")[0].status
                    for client, address in zip([a, b, a, b], ADDRESSES, strict=False)]
        assert statuses[:3] == [202, 202, 202] and statuses[3] == 429


def test_instances_name_themselves(tmp_path, redis_server):
    with instances(tmp_path, redis_server,
                   env={"TB_DALLE_INSTANCE": "blue-1"}) as servers:
        client, _ = servers[0]
        health = data(client, "/health")[1]
        assert health["instance"] == "blue-1"
        assert health["components"]["coordination"]["status"] == "healthy"
        metrics = client.get("/metrics")[1].decode()
        assert 'dalleserver_up{instance="blue-1"} 1' in metrics
        assert 'dalleserver_cluster_store_up{instance="blue-1"} 1' in metrics


def test_redis_away_and_back(tmp_path, redis_server):
    backend = GatedBackend()
    with instances(tmp_path, redis_server, backend=backend) as servers:
        (a, app_a), (b, app_b) = servers
        done = f"/dalle/empty/{ADDRESSES[0]}"
        a.get(done + "?generate=1")
        wait_for(lambda: b.get(done)[0].getheader("Content-Type") == "image/png", what="png")
        redis_server.stop()
        wait_for(lambda: not app_a.runtime.cluster.link.up
                 and not app_b.runtime.cluster.link.up, what="both see Redis down")
        response, body = b.get(done)  # finished pictures are still served
        assert response.status == 200 and response.getheader("Content-Type") == "image/png"
        response, body = b.get(done + "?generate=1")  # a cache hit needs no Redis
        assert response.status == 200 and json.loads(body)["data"]["cacheHit"]
        response, body = a.get(f"/dalle/empty/{ADDRESSES[1]}?generate=1")
        assert response.status == 503 and response.getheader("Retry-After")
        assert json.loads(body)["error"]["code"] == "SERVICE_UNAVAILABLE"
        response, body = a.get("/readyz")
        assert response.status == 503 and "Redis" in json.loads(body)["error"]["message"]
        assert data(a, "/health")[1]["components"]["coordination"]["status"] == "degraded"
        redis_server.start()  # empty: it had no persistence
        wait_for(lambda: a.get("/readyz")[0].status == 200 and b.get("/readyz")[0].status
                 == 200, what="ready again without a restart")
        path = f"/dalle/empty/{ADDRESSES[1]}"
        assert a.get(path + "?generate=1")[0].status == 202
        wait_for(lambda: b.get(path)[0].getheader("Content-Type") == "image/png",
                 what="a run after the outage")
        assert backend.renders == 2


def test_generate_on_the_command_line_with_redis_away_is_one_line(tmp_path):
    from tests.conftest import clean_env, run_cli
    from tests.support.redis_server import free_port

    result = run_cli("generate", "empty", ADDRESSES[0], "--data-dir", str(tmp_path / "d"),
                     env=clean_env(HOME=str(tmp_path),
                                   TB_DALLE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    assert result.returncode == 2 and "Redis" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_spending_budget_is_shared(tmp_path, redis_server):
    from tests.support import openai_double as od

    with od.OpenAIDouble() as api:
        env = {"OPENAI_API_KEY": "sk-test-" + "c" * 40, "OPENAI_BASE_URL": api.base_url,
               "TB_DALLE_BUDGET": "3/day", "TB_DALLE_NO_ENHANCE": "1",
               "TB_DALLE_ADMIN_TOKEN": "not-given"}  # so loopback clients are no admins
        shared = {"TB_DALLE_REDIS_URL": redis_server.url, **env}
        with ExitStack() as stack:
            servers = [stack.enter_context(running_server(
                tmp_path / f"i{n}", workers=1, env=shared,
                flags={"data_dir": str(tmp_path / "data"), "image_backend": "openai"}))
                for n in range(2)]
            for _, app in servers:
                assert app.runtime.cluster.link.wait_up(10)
            statuses = []
            for i, address in enumerate(ADDRESSES[:8]):
                client = servers[i % 2][0]
                statuses.append(client.get(f"/dalle/empty/{address}?generate=1")[0].status)
            assert statuses.count(202) == 3 and statuses.count(429) == 5
            wait_for(lambda: api.calls("images") == 3, what="three paid pictures")
