"""Progress of generations: phases, EMA phase averages, snapshots (reference upstream §7).

Differences from the original, on purpose: a finished run stays readable for ``retention``
seconds instead of vanishing on first read; percent is 100 when a run completes; percent
never goes backwards (each run keeps the averages it started with); queued runs report their
``queuePosition``; skipped phases leave the estimate.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dalleserver.dress.model import DalleDress
from dalleserver.jobs.phase_stats import PHASES, PhaseStats
from dalleserver.storage import Key

ACTIONABLE = PHASES[:7]
DEFAULT_RETENTION = 600.0
MAX_RETAINED = 10_000

def now_ns() -> int:
    return time.time_ns()


@dataclass
class PhaseState:
    started_ns: int = 0
    ended_ns: int = 0
    skipped: bool = False
    error: str = ""


@dataclass
class Run:
    series: str
    address: str
    dress: DalleDress | None
    averages: dict[str, int]
    started_ns: int = field(default_factory=now_ns)
    current: str = "setup"
    phases: dict[str, PhaseState] = field(default_factory=lambda: {p: PhaseState() for p in PHASES})
    done: bool = False
    error: str = ""
    cache_hit: bool = False
    queue_position: int = 0
    finished_at: float = 0.0
    last_percent: float = 0.0
    notes: list[str] = field(default_factory=list)
    final_json: bytes | None = None  # a finished run never changes: rendered once


class ProgressBoard:
    """Thread-safe registry of runs keyed by (series, address).

    Every method holds the lock only briefly; a snapshot never waits on a generation.
    """

    def __init__(
        self,
        stats: PhaseStats,
        retention: float = DEFAULT_RETENTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.retention = retention
        self._clock = clock
        self._runs: dict[Key, Run] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[Key], None]] = []

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, key: Key, dress: DalleDress | None, queue_position: int = 0) -> Run:
        """Begin a new run for ``key``, replacing any finished one."""
        with self._lock:
            run = Run(key[0], key[1], dress, self.stats.snapshot(), queue_position=queue_position)
            self._runs[key] = run
            self._prune()
        self._notify(key)
        return run

    def _live(self, key: Key) -> Run | None:
        """The run of ``key`` if it is still going (caller holds the lock)."""
        run = self._runs.get(key)
        return None if run is None or run.done else run

    def set_queue_position(self, key: Key, position: int) -> None:
        with self._lock:
            run = self._live(key)
            if run is not None:
                run.queue_position = position

    def begin(self, key: Key) -> None:
        """A worker picked the run up: the setup phase starts now."""
        with self._lock:
            run = self._live(key)
            if run is None:
                return
            run.queue_position = 0
            run.phases["setup"].started_ns = now_ns()
            run.current = "setup"
        self._notify(key)

    def transition(self, key: Key, phase: str) -> None:
        """End the current phase (feeding its EMA) and start ``phase``."""
        with self._lock:
            run = self._live(key)
            if run is None:
                return
            stamp = now_ns()
            self._end_current(run, stamp)
            state = run.phases[phase]
            if not state.started_ns:
                state.started_ns = stamp
            run.current = phase
        self._notify(key)

    def skip(self, key: Key, *phases: str) -> None:
        with self._lock:
            run = self._live(key)
            if run is None:
                return
            stamp = now_ns()
            for phase in phases:
                state = run.phases[phase]
                state.skipped = True
                state.started_ns = state.started_ns or stamp
                state.ended_ns = state.ended_ns or stamp
        self._notify(key)

    def note(self, key: Key, message: str) -> None:
        """Attach a human-readable remark (e.g. 'enhancement unavailable, base prompt used')."""
        with self._lock:
            run = self._runs.get(key)
            if run is not None:
                run.notes.append(message)
                run.final_json = None
        self._notify(key)

    def settle(self, key: Key, cache_hit: bool = False) -> None:
        """End a successful run's last phase and save the statistics, without showing it
        done yet; whoever later sees it done also finds the statistics file up to date.
        Settling twice is harmless."""
        with self._lock:
            run = self._live(key)
            if run is None or run.current == "completed":
                return
            stamp = now_ns()
            self._end_current(run, stamp)
            run.current = "completed"
            state = run.phases["completed"]
            state.started_ns = state.ended_ns = stamp
            run.cache_hit = run.cache_hit or cache_hit
        self.stats.count_run(cache_hit)
        self.stats.save()

    def complete(self, key: Key, cache_hit: bool = False) -> None:
        """Show a run done and successful (settling it first if that was not done)."""
        self.settle(key, cache_hit)
        with self._lock:
            run = self._live(key)
            if run is None:
                return
            run.done = True
            run.finished_at = self._clock()
            if run.dress is not None:
                run.dress.completed = True
                run.dress.cache_hit = run.cache_hit
        self._notify(key)

    def record_cache_hit(self, key: Key, dress: DalleDress | None, annotated_path: str) -> bool:
        """A finished run for a picture that already exists, unless a run of ``key`` is
        going (then nothing changes and the answer is False)."""
        with self._lock:
            if self._live(key) is not None:
                return False
            run = Run(key[0], key[1], dress, self.stats.snapshot(), current="completed",
                      cache_hit=True)
            stamp = now_ns()
            for phase in ("setup", "base_prompts", "completed"):
                state = run.phases[phase]
                state.started_ns = state.ended_ns = stamp
            if dress is not None:
                dress.annotated_path = annotated_path
                dress.completed = dress.cache_hit = True
            run.done = True
            run.finished_at = self._clock()
            self._runs[key] = run
            self._prune()
        self.stats.count_run(True)
        self.stats.save()
        self._notify(key)
        return True

    def fail(self, key: Key, message: str) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                return
            stamp = now_ns()
            current = run.phases[run.current]
            if current.started_ns and not current.ended_ns:
                current.ended_ns = stamp
                current.error = message
            state = run.phases["failed"]
            state.started_ns = state.ended_ns = stamp
            state.error = message
            run.current = "failed"
            run.error = message
            run.final_json = None
            run.done = True
            run.finished_at = self._clock()
        self._notify(key)

    def update_dress(self, key: Key, change: Callable[[DalleDress], None]) -> None:
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.dress is not None:
                change(run.dress)
                run.final_json = None
        self._notify(key)

    def _end_current(self, run: Run, stamp: int) -> None:
        state = run.phases[run.current]
        if state.started_ns and not state.ended_ns:
            state.ended_ns = stamp
            if run.current in ACTIONABLE and not state.skipped:
                self.stats.record(run.current, stamp - state.started_ns)

    # -- reading ------------------------------------------------------------------------
    def get(self, key: Key) -> Run | None:
        with self._lock:
            self._prune()
            return self._runs.get(key)

    def snapshot(self, key: Key) -> dict[str, Any] | None:
        """The progress JSON of a run (CONTRACT §4.2), or None when no run is known."""
        with self._lock:
            self._prune()
            run = self._runs.get(key)
            if run is None:
                return None
            return self._render(run)

    def snapshot_json(self, key: Key) -> bytes | None:
        """The snapshot as compact JSON bytes; cached once the run is finished."""
        with self._lock:
            self._prune()
            run = self._runs.get(key)
            if run is None:
                return None
            if run.final_json is not None:
                return run.final_json
            rendered = json.dumps(self._render(run), ensure_ascii=False,
                                  separators=(",", ":")).encode("utf-8")
            if run.done:
                run.final_json = rendered
            return rendered

    def active_keys(self) -> list[Key]:
        with self._lock:
            return [k for k, r in self._runs.items() if not r.done]

    def forget(self, key: Key) -> None:
        """Drop a finished run (after its image was removed); running runs stay."""
        with self._lock:
            run = self._runs.get(key)
            if run is not None and run.done:
                del self._runs[key]

    def add_listener(self, listener: Callable[[Key], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Key], None]) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass

    def _notify(self, key: Key) -> None:
        for listener in list(self._listeners):
            try:
                listener(key)
            except Exception:  # a broken listener must not break a generation
                continue

    def _prune(self) -> None:
        now = self._clock()
        expired = [
            k for k, r in self._runs.items() if r.done and now - r.finished_at > self.retention
        ]
        for k in expired:
            del self._runs[k]
        if len(self._runs) > MAX_RETAINED:
            finished = sorted(
                (r.finished_at, k) for k, r in self._runs.items() if r.done
            )
            for _, k in finished[: len(self._runs) - MAX_RETAINED]:
                del self._runs[k]

    def _render(self, run: Run) -> dict[str, Any]:
        stamp = now_ns()
        averages = run.averages
        total = sum(
            averages.get(p, 0) for p in ACTIONABLE if not run.phases[p].skipped
        )
        done_ns = 0
        if run.current not in ("completed", "failed"):
            for phase in ACTIONABLE:
                state = run.phases[phase]
                if state.skipped:
                    continue
                avg = averages.get(phase, 0)
                if phase == run.current:
                    elapsed = stamp - state.started_ns if state.started_ns else 0
                    done_ns += min(elapsed, avg) if avg else 0
                    break
                if state.ended_ns:
                    done_ns += avg
        if run.done and not run.error:
            percent, eta = 100.0, 0.0
        elif run.done:
            percent, eta = run.last_percent, 0.0
        elif total:
            percent = min(done_ns / total * 100.0, 99.0)
            eta = max(total - done_ns, 0) / 1e9
        else:
            percent, eta = 0.0, 0.0
        percent = max(percent, run.last_percent)
        run.last_percent = percent
        phase_percent = phase_eta = 0.0
        current = run.phases[run.current]
        avg = averages.get(run.current, 0)
        if run.current not in ("completed", "failed") and avg and current.started_ns:
            elapsed = stamp - current.started_ns
            phase_percent = min(elapsed / avg * 100.0, 100.0)
            phase_eta = max(avg - elapsed, 0) / 1e9
        index = ACTIONABLE.index(run.current) + 1 if run.current in ACTIONABLE else 0
        return {
            "series": run.series,
            "address": run.address,
            "currentPhase": run.current,
            "startedNs": run.started_ns,
            "percent": round(percent, 2),
            "etaSeconds": round(eta, 3),
            "phasePercent": round(phase_percent, 2),
            "phaseETASeconds": round(phase_eta, 3),
            "phaseIndex": index,
            "phaseCount": len(ACTIONABLE),
            "done": run.done,
            "error": run.error,
            "cacheHit": run.cache_hit,
            "phases": [
                {
                    "name": p,
                    "startedNs": s.started_ns,
                    "endedNs": s.ended_ns,
                    "skipped": s.skipped,
                    "error": s.error,
                }
                for p, s in run.phases.items()
            ],
            "dalleDress": run.dress.to_json_dict() if run.dress is not None else {},
            "phaseAverages": dict(averages),
            "queuePosition": run.queue_position,
            "notes": list(run.notes),
        }
