"""Job manager and pipeline: single flight, bounded queue, files, failures, graceful stop."""

import json
import threading

import pytest
from PIL import Image

from dalleserver.config import load_config
from dalleserver.jobs.manager import QueueFull, ShuttingDown
from dalleserver.jobs.pipeline import CANCELLED
from dalleserver.runtime import build_runtime
from tests.support.backends import GatedBackend
from tests.support.server import wait_done

ADDRESSES = ["0x" + f"{i:02x}" * 20 for i in range(1, 40)]
A = ADDRESSES[0]


def make(tmp_path, backend, workers=2, queue_size=64, backend_name="local"):
    config = load_config({"data_dir": str(tmp_path / "data"), "workers": str(workers),
                          "queue_size": str(queue_size), "image_backend": backend_name},
                         {"HOME": str(tmp_path)}, cwd=tmp_path)
    runtime = build_runtime(config, backend=backend)
    runtime.jobs.start()
    return runtime


def test_generation_writes_every_file(tmp_path):
    backend = GatedBackend()
    rt = make(tmp_path, backend)
    sub = rt.jobs.submit("Nocturne", A.upper().replace("0X", "0x"))
    assert sub.state == "queued"
    key = ("nocturne", A)
    snap = wait_done(rt, key)
    assert snap["error"] == "" and snap["percent"] == 100 and not snap["cacheHit"]
    out = tmp_path / "data" / "output" / "nocturne"
    for kind in ("data", "title", "terse", "prompt", "enhanced", "technical"):
        assert (out / kind / f"{A}.txt").read_text().strip(), kind
    assert (out / "technical" / f"{A}.txt").read_text().endswith(
        (out / "enhanced" / f"{A}.txt").read_text())
    generated = Image.open(out / "generated" / f"{A}.png")
    annotated = Image.open(out / "annotated" / f"{A}.png")
    assert generated.size == (256, 256) and annotated.height > 256
    selector = json.loads((out / "selector" / f"{A}.json").read_text())
    assert selector["annotatedPath"] == f"output/nocturne/annotated/{A}.png"
    assert selector["completed"] is True and selector["series"] == "nocturne"
    assert snap["dalleDress"]["annotatedPath"] == selector["annotatedPath"]
    assert [p["name"] for p in snap["phases"] if p["skipped"]] == [
        "enhance_prompt", "image_download"]
    stats = json.loads((tmp_path / "data/metrics/progress_phase_stats.json").read_text())
    assert stats["generationRuns"] == 1
    # asking again is a cache hit: nothing is rendered
    again = rt.jobs.submit("nocturne", A)
    assert again.state == "cache_hit" and again.snapshot["cacheHit"] and again.snapshot["done"]
    assert backend.renders == 1
    rt.jobs.stop()


def test_fifty_threads_one_key_one_render(tmp_path):
    backend = GatedBackend(open_gate=False)
    rt = make(tmp_path, backend, workers=4)
    barrier = threading.Barrier(50)
    states = []

    def trigger():
        barrier.wait()
        states.append(rt.jobs.submit("empty", A).state)

    threads = [threading.Thread(target=trigger) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert states.count("queued") == 1 and states.count("active") == 49
    backend.gate.set()
    wait_done(rt, ("empty", A))
    assert backend.renders == 1
    rt.jobs.stop()


def test_full_queue_is_refused(tmp_path):
    backend = GatedBackend(open_gate=False)
    rt = make(tmp_path, backend, workers=1, queue_size=2)
    rt.jobs.submit("empty", ADDRESSES[0])
    assert backend.started.wait(10)  # the worker holds the first job
    first = rt.jobs.submit("empty", ADDRESSES[1]).snapshot
    second = rt.jobs.submit("empty", ADDRESSES[2]).snapshot
    assert (first["queuePosition"], second["queuePosition"]) == (1, 2)
    with pytest.raises(QueueFull):
        rt.jobs.submit("empty", ADDRESSES[3])
    assert rt.jobs.queue_depth == 2 and rt.jobs.in_flight == 1
    backend.gate.set()
    assert rt.jobs.wait_idle(20)
    assert backend.renders == 3
    rt.jobs.stop()


def test_failure_is_kept_and_a_new_trigger_retries(tmp_path):
    backend = GatedBackend(fail="the model refused")
    rt = make(tmp_path, backend)
    rt.jobs.submit("empty", A)
    snap = wait_done(rt, ("empty", A))
    assert "the model refused" in snap["error"] and snap["currentPhase"] == "failed"
    assert rt.board.snapshot(("empty", A))["error"] == snap["error"]  # still readable
    backend.fail = None
    assert rt.jobs.submit("empty", A).state == "queued"
    assert wait_done(rt, ("empty", A))["error"] == ""
    rt.jobs.stop()


def test_none_backend_writes_prompts_only_and_is_not_redone(tmp_path):
    rt = make(tmp_path, None, backend_name="none")
    rt.jobs.submit("empty", A)
    snap = wait_done(rt, ("empty", A))
    assert snap["error"] == "" and snap["percent"] == 100
    out = tmp_path / "data/output/empty"
    assert (out / "prompt" / f"{A}.txt").is_file() and not (out / "annotated").exists()
    assert {p["name"] for p in snap["phases"] if p["skipped"]} >= {
        "image_prep", "image_wait", "image_download", "annotate"}
    assert rt.jobs.submit("empty", A).state == "done"
    rt.jobs.stop()


def test_write_failure_fails_the_run_cleanly(tmp_path):
    rt = make(tmp_path, GatedBackend())
    blocker = tmp_path / "data/output/empty"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where a folder should be")
    rt.jobs.submit("empty", A)
    snap = wait_done(rt, ("empty", A))
    assert snap["error"].startswith("could not save the result: cannot")
    assert rt.jobs.submit("empty", ADDRESSES[1]).state == "queued"  # the manager carries on
    rt.jobs.stop()


def test_stop_drops_queued_and_finishes_running(tmp_path):
    backend = GatedBackend(open_gate=False)
    rt = make(tmp_path, backend, workers=1)
    rt.jobs.submit("empty", ADDRESSES[0])
    assert backend.started.wait(10)
    rt.jobs.submit("empty", ADDRESSES[1])
    threading.Timer(0.3, backend.gate.set).start()
    rt.jobs.stop(grace=10)
    assert rt.board.snapshot(("empty", ADDRESSES[0]))["error"] == ""
    dropped = rt.board.snapshot(("empty", ADDRESSES[1]))
    assert dropped["done"] and "shut down" in dropped["error"]
    with pytest.raises(ShuttingDown):
        rt.jobs.submit("empty", ADDRESSES[2])


def test_stop_cancels_running_after_grace(tmp_path):
    backend = GatedBackend(open_gate=False)
    rt = make(tmp_path, backend, workers=1)
    rt.jobs.submit("empty", A)
    assert backend.started.wait(10)
    threading.Timer(0.5, backend.gate.set).start()  # the render returns after the grace
    rt.jobs.stop(grace=0.1)
    snap = rt.board.snapshot(("empty", A))
    assert snap["error"] == CANCELLED
    assert not (tmp_path / "data/output/empty/annotated" / f"{A}.png").exists()
