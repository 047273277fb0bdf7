"""A batch of 2,000 addresses across three instances on one Redis (the ``none`` backend,
so the queue and the feeding are what is measured): every item accounted for; with every
instance killed mid-batch and new ones started, the batch resumes from Redis and no item
finished before the kill is made again."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.support.cluster import Instance, wait_for

pytestmark = pytest.mark.cluster

SERIES = "empty"
TOKEN = "cluster-batch"
COUNT = 2000
ADDRESSES = [f"0x{n:040x}" for n in range(1, COUNT + 1)]


def _env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {"TB_DALLE_REDIS_URL": redis_url, "TB_DALLE_RECLAIM_AFTER": "2s",
            "TB_DALLE_IMAGE_BACKEND": "none", "TB_DALLE_WORKERS": "2",
            "TB_DALLE_QUEUE_SIZE": "1000", "TB_DALLE_ADMIN_TOKEN": TOKEN,
            "TB_DALLE_LOG_LEVEL": "warning", "HOME": str(tmp_path)}


def _fleet(tmp_path: Path, env: dict[str, str], generation: int) -> list[Instance]:
    instances = [Instance(f"node-{generation}-{n}", tmp_path / "data", env) for n in range(3)]
    for instance in instances:
        instance.wait_ready()
    return instances


def _create(instance: Instance) -> str:
    body = json.dumps({"series": SERIES, "addresses": ADDRESSES}).encode()
    request = urllib.request.Request(
        instance.url("/v1/batches"), data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return response.headers["Location"]


def _batch(instance: Instance, location: str, query: str = "?limit=1") -> dict:
    status, _, body = instance.get(location + query)
    assert status == 200, body
    return json.loads(body)["data"]


def _completed(instance: Instance, location: str) -> list[str]:
    """The addresses of the items completed so far, every page read."""
    done, cursor = [], "0"
    while cursor is not None:
        page = _batch(instance, location, f"?limit=500&cursor={cursor}")
        done += [item["address"] for item in page["items"] if item["state"] == "completed"]
        cursor = page["nextCursor"]
    return done


def _ended(instance: Instance, location: str) -> dict | None:
    batch = _batch(instance, location)
    return batch if batch["state"] == "completed" else None


def _made_at(tmp_path: Path, address: str) -> int:
    return (tmp_path / "data/output" / SERIES / "selector" / f"{address}.json").stat().st_mtime_ns


def test_a_batch_across_three_instances_survives_their_deaths(tmp_path, redis_server):
    env = _env(tmp_path, redis_server.url)
    first = _fleet(tmp_path, env, 0)
    try:
        location = _create(first[0])
        # any instance answers for the batch
        wait_for(lambda: _batch(first[2], location)["counts"]["completed"] >= 300,
                 timeout=120, what="a part of the batch done")
        done_before = _completed(first[1], location)
        stamps = {address: _made_at(tmp_path, address) for address in done_before}
    finally:
        for instance in first:
            instance.kill()
    assert len(done_before) >= 300
    second = _fleet(tmp_path, env, 1)
    try:
        batch = wait_for(lambda: _ended(second[1], location), timeout=240,
                         what="the batch to end")
        counts = batch["counts"]
        assert counts["completed"] + counts["skipped"] == COUNT, counts
        assert counts["failed"] == counts["cancelled"] == 0
        assert sum(counts.values()) == COUNT
        assert len(_completed(second[2], location)) == counts["completed"]
        # what was finished before the kill was not made again
        assert {a: _made_at(tmp_path, a) for a in done_before} == stamps
        made = sum(i.metric("dalleserver_generations_total", 'outcome="success"')
                   for i in second)
        assert 0 < made <= COUNT - len(done_before), made
    finally:
        for instance in second:
            instance.stop()
