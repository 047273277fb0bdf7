"""Progress snapshots: phases, percent/ETA from EMA averages, retention, persistence."""

import json
import time

from dalleserver.jobs.phase_stats import PHASES, PhaseStats
from dalleserver.jobs.progress import ProgressBoard
from tests.support.clock import ManualClock

KEY = ("empty", "0x" + "ef" * 20)




def test_ema_and_persistence(tmp_path):
    path = tmp_path / "metrics" / "progress_phase_stats.json"
    stats = PhaseStats(path)
    stats.record("image_wait", 1_000)
    stats.record("image_wait", 2_000)
    assert stats.averages["image_wait"].avg_ns == int(2_000 * 0.2 + 1_000 * 0.8)
    stats.count_run(cache_hit=False)
    stats.count_run(cache_hit=True)
    stats.save()
    doc = json.loads(path.read_text())
    assert doc == {"version": "v1",
                   "phaseAverages": {"image_wait": {"count": 2, "avgNs": 1200}},
                   "generationRuns": 1, "cacheHits": 1}
    again = PhaseStats(path)
    assert again.averages["image_wait"].avg_ns == 1200 and again.cache_hits == 1


def test_wrong_version_or_garbage_is_ignored(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text('{"version": "v0", "phaseAverages": {"setup": {"count": 3, "avgNs": 9}}}')
    assert PhaseStats(path).averages["setup"].count == 0
    path.write_text("not json")
    assert PhaseStats(path).generation_runs == 0


def _run_phases(board, key, pause=0.0):
    board.begin(key)
    seen = [board.snapshot(key)["percent"]]
    for phase in ("base_prompts", "enhance_prompt", "image_prep", "image_wait", "annotate"):
        board.transition(key, phase)
        time.sleep(pause)
        seen.append(board.snapshot(key)["percent"])
    board.skip(key, "image_download")
    board.complete(key)
    seen.append(board.snapshot(key)["percent"])
    return seen


def test_percent_is_monotonic_and_reaches_100(tmp_path):
    stats = PhaseStats(None)
    board = ProgressBoard(stats)
    board.start(KEY, None)
    _run_phases(board, KEY)  # first run teaches the averages
    board.start(KEY, None)
    seen = _run_phases(board, KEY, pause=0.01)
    assert seen == sorted(seen)
    assert seen[-1] == 100.0
    assert 0 < seen[3] < 100
    snap = board.snapshot(KEY)
    assert snap["done"] and snap["currentPhase"] == "completed" and snap["phaseIndex"] == 0
    assert [p["name"] for p in snap["phases"]] == list(PHASES)
    assert snap["phases"][5]["skipped"] is True
    assert set(snap["phaseAverages"]) >= {"setup", "base_prompts", "image_wait"}
    assert snap["phaseCount"] == 7


def test_snapshot_fields_follow_the_contract():
    board = ProgressBoard(PhaseStats(None))
    board.start(KEY, None, queue_ticket=3)
    snap = board.snapshot(KEY)
    assert list(snap)[:16] == [
        "series", "address", "currentPhase", "startedNs", "percent", "etaSeconds",
        "phasePercent", "phaseETASeconds", "phaseIndex", "phaseCount", "done", "error",
        "cacheHit", "phases", "dalleDress", "phaseAverages"]
    assert snap["queuePosition"] == 3 and snap["currentPhase"] == "setup"
    board.begin(KEY)
    assert board.snapshot(KEY)["queuePosition"] == 0
    assert board.snapshot(KEY)["phaseIndex"] == 1


def test_failure_is_retained_then_expires():
    clock = ManualClock()
    board = ProgressBoard(PhaseStats(None), retention=600, clock=clock)
    board.start(KEY, None)
    board.begin(KEY)
    board.transition(KEY, "image_wait")
    board.fail(KEY, "provider unavailable")
    for _ in range(3):  # reading does not consume it
        snap = board.snapshot(KEY)
        assert snap["done"] and snap["error"] == "provider unavailable"
        assert snap["currentPhase"] == "failed"
        assert snap["phases"][4]["error"] == "provider unavailable"
    clock.now += 599
    assert board.snapshot(KEY) is not None
    clock.now += 2
    assert board.snapshot(KEY) is None


def test_cache_hit_counts(tmp_path):
    stats = PhaseStats(tmp_path / "s.json")
    board = ProgressBoard(stats)
    board.start(KEY, None)
    board.begin(KEY)
    board.transition(KEY, "base_prompts")
    board.complete(KEY, cache_hit=True)
    snap = board.snapshot(KEY)
    assert snap["cacheHit"] and snap["percent"] == 100
    assert json.loads((tmp_path / "s.json").read_text())["cacheHits"] == 1


def test_two_writers_merge_instead_of_overwriting(tmp_path):
    path = tmp_path / "stats.json"
    one, two = PhaseStats(path), PhaseStats(path)
    one.record("image_wait", 1_000)
    one.count_run(cache_hit=False)
    two.record("image_wait", 3_000)
    two.count_run(cache_hit=True)
    one.save()
    two.save()
    doc = json.loads(path.read_text())
    assert doc["generationRuns"] == 1 and doc["cacheHits"] == 1
    assert doc["phaseAverages"]["image_wait"] == {"count": 2,
                                                   "avgNs": int(3_000 * 0.2 + 1_000 * 0.8)}
    one.save()  # nothing pending: nothing counted twice
    assert json.loads(path.read_text())["generationRuns"] == 1


def test_unsaveable_statistics_are_reported_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    stats = PhaseStats(blocker / "metrics" / "stats.json")
    stats.count_run(cache_hit=False)
    with caplog.at_level("WARNING", logger="dalleserver.stats"):
        stats.save()  # must not raise: a generation never fails over statistics
    assert "could not save phase statistics" in caplog.text
