"""What keeps a poll's cost flat as runs, queues and pictures grow (issue 19): expiry by
time order, a memory budget, queue positions read from tickets, small cache-hit records,
statistics not written per cache hit, lock waits that hold no worker."""

import json
import os
import time

from dalleserver.config import load_config
from dalleserver.jobs.finished_runs import RECORD_OVERHEAD
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.pipeline import WAITING_FOR_LOCK
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.runtime import build_runtime
from tests.support.backends import GatedBackend
from tests.support.clock import ManualClock
from tests.support.server import wait_done

ADDRESSES = ["0x" + f"{i:040x}" for i in range(1, 20001)]




def _finish(board, key):
    board.start(key, None)
    board.begin(key)
    board.complete(key)


def test_retention_holds_whatever_the_number_of_runs():
    clock = ManualClock()
    board = ProgressBoard(PhaseStats(None), retention=600.0, clock=clock)
    keys = [("empty", a) for a in ADDRESSES[:15000]]  # past the old silent cap of 10,000
    for key in keys[:-1]:
        _finish(board, key)
    clock.now += 300.0
    _finish(board, keys[-1])
    clock.now += 299.0
    assert board.snapshot(keys[0])["done"]  # the oldest is still there at 9 min 59 s
    clock.now += 2.0
    assert board.snapshot(keys[0]) is None and board.finished(keys[-2]) is None
    assert board.finished(keys[-1]) is not None
    assert board.memory()["evicted_early"] == 0


def test_the_memory_budget_drops_the_oldest_early_and_counts_them():
    clock = ManualClock()
    board = ProgressBoard(PhaseStats(None), clock=clock, memory_budget=200 * RECORD_OVERHEAD)
    keys = [("empty", a) for a in ADDRESSES[:1000]]
    for key in keys:
        assert board.record_cache_hit(key)
    memory = board.memory()
    assert memory["bytes"] <= 200 * RECORD_OVERHEAD and memory["finished"] == 200
    assert memory["evicted_early"] == 800
    assert board.finished(keys[0]) is None and board.finished(keys[-1]) is not None


def test_a_cache_hit_keeps_a_small_record_and_renders_on_demand(tmp_path):
    rt = _runtime(tmp_path, GatedBackend())
    key = ("nocturne", ADDRESSES[0])
    rt.jobs.submit_key(key)
    wait_done(rt, key)
    rt.board.forget(key)
    assert rt.jobs.submit_key(key).state == "cache_hit"
    record = rt.board.finished(key)
    assert record.cache_hit and record.packed is None and record.size == RECORD_OVERHEAD
    snap = rt.board.snapshot(key)
    assert snap["cacheHit"] and snap["done"] and snap["percent"] == 100
    assert snap["dalleDress"]["annotatedPath"] == f"output/nocturne/annotated/{key[1]}.png"
    assert snap["dalleDress"]["series"] == "nocturne"
    rt.jobs.stop()


def test_cache_hits_do_not_write_statistics_each_time(tmp_path):
    rt = _runtime(tmp_path, GatedBackend())
    key = ("empty", ADDRESSES[1])
    rt.jobs.submit_key(key)
    wait_done(rt, key)
    stats = tmp_path / "data" / "metrics" / "progress_phase_stats.json"
    written = stats.stat().st_mtime_ns
    for _ in range(20):
        rt.board.forget(key)
        rt.jobs.submit_key(key)  # a cache hit each time
    assert stats.stat().st_mtime_ns == written
    rt.jobs.stop()  # counted hits are saved at stop
    assert json.loads(stats.read_text())["cacheHits"] == 20


def test_queue_positions_follow_the_queue_as_it_drains(tmp_path):
    backend = GatedBackend(open_gate=False)
    rt = _runtime(tmp_path, backend, workers=1)
    keys = [("empty", a) for a in ADDRESSES[:6]]
    for key in keys:
        rt.jobs.submit_key(key)
    assert backend.started.wait(10)
    positions = [rt.board.snapshot(k)["queuePosition"] for k in keys]
    assert positions == [0, 1, 2, 3, 4, 5]
    assert rt.jobs.queue_depth == 5
    backend.gate.set()
    wait_done(rt, keys[-1])
    assert [rt.board.snapshot(k)["queuePosition"] for k in keys] == [0] * 6
    rt.jobs.stop()


def test_a_key_another_process_holds_waits_without_a_worker(tmp_path):
    rt = _runtime(tmp_path, GatedBackend(), workers=1)
    held = ("empty", ADDRESSES[2])
    lease = rt.locks.try_acquire(*held)  # another process is generating this key
    assert lease is not None
    rt.jobs.submit_key(held)
    free = [("empty", a) for a in ADDRESSES[3:7]]
    for key in free:
        rt.jobs.submit_key(key)
    for key in free:  # one worker, yet the others are not stuck behind the held key
        assert wait_done(rt, key)["error"] == ""
    snap = rt.board.snapshot(held)
    assert not snap["done"] and WAITING_FOR_LOCK in snap["notes"]
    lease.release()
    assert wait_done(rt, held)["error"] == ""
    assert rt.board.snapshot(held)["notes"].count(WAITING_FOR_LOCK) == 1
    rt.jobs.stop()


def test_stale_locks_are_swept_without_being_asked_for(tmp_path):
    rt = _runtime(tmp_path, GatedBackend())
    locks = rt.locks
    path = locks.path_for("empty", ADDRESSES[4])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": 0, "host": "elsewhere", "token": "t", "ttl": 1.0}))
    old = time.time() - 10
    os.utime(path, (old, old))
    live = locks.try_acquire("empty", ADDRESSES[5])
    assert locks.sweep() == 1
    assert not path.exists() and locks.holder("empty", ADDRESSES[5]) is not None
    live.release()


def _runtime(tmp_path, backend, workers=2):
    config = load_config({"data_dir": str(tmp_path / "data"), "workers": str(workers),
                          "image_backend": "local"}, {"HOME": str(tmp_path)}, cwd=tmp_path)
    rt = build_runtime(config, backend=backend)
    rt.jobs.start()
    return rt


def test_cancel_a_job_waiting_for_another_process(tmp_path):
    rt = _runtime(tmp_path, GatedBackend(), workers=1)
    held = ("empty", ADDRESSES[8])
    lease = rt.locks.try_acquire(*held)
    rt.jobs.submit_key(held)
    deadline = time.monotonic() + 10
    while WAITING_FOR_LOCK not in (rt.board.snapshot(held) or {}).get("notes", []):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # waiting (or, for a moment, in a worker trying the lock again): either way it ends
    assert rt.jobs.cancel(held) in ("cancelled", "cancelling")
    snap = wait_done(rt, held)
    assert snap["state"] == "cancelled" and rt.jobs.queue_depth == 0
    assert rt.jobs.cancel(held) == "none"
    lease.release()
    rt.jobs.stop()
