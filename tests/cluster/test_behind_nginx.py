"""Three server processes on one data dir and one Redis, behind nginx (round robin, the
shipped site file), generating through an OpenAI double that takes a fixed time per
image: every key generated once whatever instance is asked, runs followed live through
nginx, a killed instance's jobs finished by the others, and a Redis outage survived
without a restart."""

from __future__ import annotations

import http.client
import io
import json
import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from dalleserver.dress import Catalog
from tests.support.cluster import Instance, Nginx, wait_for
from tests.support.openai_double import OpenAIDouble, slow

pytestmark = pytest.mark.cluster

SERIES = "empty"
KEYS = [f"0x{random.Random(n).getrandbits(160):040x}" for n in range(50)]


class Fleet:
    def __init__(self, tmp_path: Path, redis_url: str, api: OpenAIDouble, count: int,
                 reclaim: str) -> None:
        self.data_dir = tmp_path / "data"
        self.api = api
        env = {"TB_DALLE_REDIS_URL": redis_url, "TB_DALLE_RECLAIM_AFTER": reclaim,
               "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": api.base_url,
               "TB_DALLE_NO_ENHANCE": "1", "TB_DALLE_IMAGE_BACKEND": "openai",
               "TB_DALLE_RATE_LIMIT": "0", "TB_DALLE_WORKERS": "2",
               "TB_DALLE_QUEUE_SIZE": "1000", "TB_DALLE_TRUSTED_PROXIES": "127.0.0.1",
               "TB_DALLE_LOG_LEVEL": "warning", "HOME": str(tmp_path)}
        self.instances = [Instance(f"node-{n}", self.data_dir, env) for n in range(count)]
        for instance in self.instances:
            instance.wait_ready()
        self.nginx = Nginx([instance.port for instance in self.instances])

    def close(self) -> None:
        self.nginx.stop()
        for instance in self.instances:
            instance.stop()

    def picture(self, address: str) -> bytes | None:
        """The PNG through nginx (checked whole), or None while there is none."""
        status, headers, body = self.nginx.get(f"/dalle/{SERIES}/{address}")
        if status != 200 or headers.get("Content-Type") != "image/png":
            return None
        Image.open(io.BytesIO(body)).verify()  # never a partial file
        return body

    def trigger(self, address: str) -> int:
        return self.nginx.get(f"/dalle/{SERIES}/{address}?generate=1")[0]

    def successes(self) -> dict[str, float]:
        return {i.name: i.metric("dalleserver_generations_total", 'outcome="success"')
                for i in self.instances if i.proc.poll() is None}

    def image_calls(self, addresses: list[str]) -> dict[str, int]:
        """How many image requests reached the double for each address."""
        view = Catalog(self.data_dir).view(SERIES)
        prompts = {address: view.dress(address).prompt for address in addresses}
        assert len(set(prompts.values())) == len(prompts)  # each prompt names one key
        calls = dict.fromkeys(addresses, 0)
        for request in self.api.requests_to("images"):
            sent = request["json"]["prompt"]
            owners = [address for address, prompt in prompts.items() if prompt in sent]
            assert len(owners) == 1, sent[:80]
            calls[owners[0]] += 1
        return calls

    def check_files(self) -> None:
        """Every picture on disk is complete."""
        for path in (self.data_dir / "output").rglob("*.png"):
            with Image.open(path) as image:
                image.verify()


@contextmanager
def fleet(tmp_path, redis_server, seconds_per_image: float, count: int = 3,
          reclaim: str = "30s"):
    with OpenAIDouble() as api:
        api.script("images", *[slow(seconds_per_image)] * 400)
        group = Fleet(tmp_path, redis_server.url, api, count, reclaim)
        try:
            yield group
        finally:
            group.close()


def follow_events(port: int, address: str, limit: float = 60.0) -> list[dict]:
    """The progress events of one run, through nginx, until the run is done."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
    conn.request("GET", f"/dalle/{SERIES}/{address}/events")
    response = conn.getresponse()
    assert response.status == 200
    events, ends = [], time.monotonic() + limit
    while time.monotonic() < ends:
        line = response.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
            if not events[-1] or events[-1].get("done"):
                break
    conn.close()
    return events


def test_many_clients_through_nginx_make_each_picture_once(tmp_path, redis_server):
    with fleet(tmp_path, redis_server, seconds_per_image=0.4) as group:
        followed = KEYS[:3]
        for address in followed:
            assert group.trigger(address) == 202
        streams: dict[str, list[dict]] = {}
        followers = [threading.Thread(target=lambda a=a: streams.__setitem__(
            a, follow_events(group.nginx.port, a))) for a in followed]
        for thread in followers:
            thread.start()
        statuses: list[int] = []

        def client(n: int) -> None:  # 20 clients x 10 triggers = 200 over the 50 keys
            for i in range(10):
                statuses.append(group.trigger(KEYS[(n * 10 + i) % len(KEYS)]))

        clients = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for thread in clients:
            thread.start()
        for thread in clients + followers:
            thread.join(60)
        assert len(statuses) == 200 and set(statuses) <= {200, 202}
        for address in KEYS:
            wait_for(lambda address=address: group.picture(address), 60, f"{address}")
        done = wait_for(lambda: sum(group.successes().values()) == len(KEYS) and (
            group.successes()), 20, "every run counted")
        assert sum(1 for n in done.values() if n) > 1, done  # shared out
        assert set(group.image_calls(KEYS).values()) == {1}
        for address in followed:  # followed live, whichever instance answered
            events = streams[address]
            states = [event["state"] for event in events]
            assert states[-1] == "completed" and events[-1]["percent"] == 100, states
            assert "running" in states and len(events) >= 3, states
        group.check_files()


def test_a_killed_instance_s_jobs_finish_on_the_others(tmp_path, redis_server, store):
    with fleet(tmp_path, redis_server, seconds_per_image=1.5, reclaim="3s") as group:
        addresses = KEYS[:12]
        for address in addresses:
            assert group.trigger(address) in (200, 202)
        victim = group.instances[0]

        def victim_runs() -> list[str]:
            return [a for a in addresses if store.hmget(
                f"dalle:run:{SERIES}/{a}", "state", "instance") == [b"running",
                                                                  victim.name.encode()]]

        taken = wait_for(victim_runs, 20, "a run on the victim")
        victim.kill()
        killed = time.monotonic()
        for address in taken:  # taken over after the reclaim time, then run (1.5 s)
            wait_for(lambda address=address: group.picture(address), 3 + 15, address)
        assert time.monotonic() - killed >= 3  # not before the reclaim time
        for address in addresses:
            wait_for(lambda address=address: group.picture(address), 30, address)
        calls = group.image_calls(addresses)
        assert all(calls[a] == 1 for a in addresses if a not in taken), calls
        # the killed run's call (unless it was killed before it made it), then the rerun's
        assert all(calls[a] in (1, 2) for a in taken), calls
        survivors = group.instances[1:]
        assert sum(i.metric("dalleserver_cluster_jobs_reclaimed_total")
                   for i in survivors) >= len(taken)
        group.check_files()


def test_redis_stops_and_starts_again_without_restarting_an_instance(tmp_path,
                                                                     redis_server):
    with fleet(tmp_path, redis_server, seconds_per_image=0.5) as group:
        addresses = KEYS[:20]
        first = addresses[0]
        group.trigger(first)
        wait_for(lambda: group.picture(first), 20, "a first picture")
        for address in addresses[1:]:
            group.trigger(address)
        redis_server.stop()
        for instance in group.instances:
            wait_for(lambda instance=instance: instance.get("/readyz")[0] == 503, 10,
                     "not ready while Redis is away")
        status, _, body = group.instances[1].get("/readyz")
        assert "Redis" in json.loads(body)["error"]["message"]
        assert group.picture(first)  # finished pictures are still served
        status, headers, _ = group.nginx.get(f"/dalle/{SERIES}/{KEYS[40]}?generate=1")
        assert status == 503 and int(headers["Retry-After"]) > 0
        time.sleep(1.0)  # away for a while
        redis_server.start()
        for instance in group.instances:
            wait_for(lambda instance=instance: instance.get("/readyz")[0] == 200, 15,
                     "ready again, no restart")
        # clients poll with ?generate=1 (as the API allows): what Redis lost is queued again
        pending = set(addresses)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for address in sorted(pending):
                if group.picture(address):
                    pending.discard(address)
                else:
                    assert group.trigger(address) in (200, 202)
            time.sleep(0.2)
        assert not pending
        assert set(group.image_calls(addresses).values()) == {1}
        assert all(i.proc.poll() is None for i in group.instances)
        group.check_files()
