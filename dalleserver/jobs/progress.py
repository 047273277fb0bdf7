"""The progress board: every run of the process, live or recently finished, by key.

Live runs (queued or running) are full ``Run`` objects that the pipeline moves through its
phases. When a run ends it becomes a small ``Finished`` record (see finished_runs.py) that
stays readable for the retention time (``TB_DALLE_PROGRESS_RETENTION``, at least ten minutes
by the contract) instead of vanishing on first read as in the original. Every operation
costs the same whatever the number of runs kept, running or queued.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from dalleserver.dress.model import DalleDress
from dalleserver.jobs.finished_runs import Finished, FinishedRuns, pack, unpack
from dalleserver.jobs.listeners import Listeners
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.run_state import ACTIONABLE, Run, now_ns, render_run
from dalleserver.storage import Key

DEFAULT_RETENTION = 600.0
DEFAULT_MEMORY_BUDGET = 64 << 20  # bytes of finished records


def _no_dress(key: Key) -> DalleDress | None:
    return None


def _ticket_is_position(ticket: int) -> int:
    return ticket


class ProgressBoard:
    """Thread-safe registry of runs keyed by (series, address).

    Every method holds the lock only briefly; a snapshot never waits on a generation.
    ``queue_position(ticket)`` and ``cache_hit_dress(key)`` are set by the job manager,
    which knows the queue and how to dress a finished picture.
    """

    def __init__(self, stats: PhaseStats, retention: float = DEFAULT_RETENTION,
                 clock: Callable[[], float] = time.monotonic,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET) -> None:
        self.stats = stats
        self._clock = clock
        self._live: dict[Key, Run] = {}
        self._finished = FinishedRuns(retention, memory_budget)
        self._lock = threading.RLock()
        self._listeners = Listeners()
        self.queue_position: Callable[[int], int] = _ticket_is_position
        self.cache_hit_dress: Callable[[Key], DalleDress | None] = _no_dress

    @property
    def retention(self) -> float:
        return self._finished.retention

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, key: Key, dress: DalleDress | None, queue_ticket: int = 0) -> Run:
        """Begin a new run for ``key``, replacing any finished one."""
        with self._lock:
            run = Run(key[0], key[1], dress, self.stats.snapshot(), queue_ticket=queue_ticket)
            self._live[key] = run
            self._finished.pop(key)
        self._notify(key)
        return run

    def begin(self, key: Key) -> None:
        """A worker picked the run up: the setup phase starts now."""
        with self._lock:
            run = self._live.get(key)
            if run is None:
                return
            run.queue_ticket = 0
            run.phases["setup"].started_ns = now_ns()
            run.current = "setup"
        self._notify(key)

    def transition(self, key: Key, phase: str) -> None:
        """End the current phase (feeding its EMA) and start ``phase``."""
        with self._lock:
            run = self._live.get(key)
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
            run = self._live.get(key)
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
            run = self._live.get(key)
            if run is not None:
                run.notes.append(message)
        self._notify(key)

    def update_dress(self, key: Key, change: Callable[[DalleDress], None]) -> None:
        with self._lock:
            run = self._live.get(key)
            if run is not None and run.dress is not None:
                change(run.dress)
        self._notify(key)

    def settle(self, key: Key, cache_hit: bool = False) -> None:
        """End a successful run's last phase and save the statistics, without showing it
        done yet; whoever later sees it done also finds the statistics file up to date.
        Settling twice is harmless."""
        with self._lock:
            run = self._live.get(key)
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
            run = self._live.get(key)
            if run is None:
                return
            if run.dress is not None:
                run.dress.completed = True
                run.dress.cache_hit = run.cache_hit
            self._retire(key, run)
        self._notify(key)

    def fail(self, key: Key, message: str, cancelled: bool = False) -> None:
        """Show a run done with ``message`` as its error (``cancelled``: on request)."""
        with self._lock:
            run = self._live.get(key)
            if run is None:
                return
            run.cancelled = cancelled
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
            self._retire(key, run)
        self._notify(key)

    def record_cache_hit(self, key: Key) -> bool:
        """A finished run for a picture that already exists, unless a run of ``key`` is
        going (then nothing changes and the answer is False). Only a few fields are kept;
        the snapshot is rendered from the picture's dress when someone reads it."""
        with self._lock:
            if key in self._live:
                return False
            record = Finished(self._clock(), now_ns(), True, "", None)
            self._finished.put(key, record, self._clock())
        self.stats.count_run(True)  # saved with the next generation or at stop
        self._notify(key)
        return True

    def _retire(self, key: Key, run: Run) -> None:
        """With the lock held: the live run becomes a finished record."""
        run.done = True
        body = _dumps(render_run(run, 0))
        del self._live[key]
        now = self._clock()
        self._finished.put(key, Finished(now, now_ns(), run.cache_hit, run.error, pack(body)),
                           now)
        self._finished.keep_hot(key, body)

    def _end_current(self, run: Run, stamp: int) -> None:
        state = run.phases[run.current]
        if state.started_ns and not state.ended_ns:
            state.ended_ns = stamp
            if run.current in ACTIONABLE and not state.skipped:
                self.stats.record(run.current, stamp - state.started_ns)

    # -- reading ------------------------------------------------------------------------
    def get(self, key: Key) -> Run | None:
        """The live (queued or running) run of ``key``, or None."""
        with self._lock:
            return self._live.get(key)

    def finished(self, key: Key) -> Finished | None:
        """The finished record of ``key`` while it is retained, or None."""
        with self._lock:
            return self._finished.get(key, self._clock())

    def snapshot(self, key: Key) -> dict[str, Any] | None:
        """The progress JSON of a run (CONTRACT §4.2), or None when no run is known."""
        body = self.snapshot_json(key)
        return None if body is None else json.loads(body)

    def snapshot_json(self, key: Key) -> bytes | None:
        """The snapshot as compact JSON bytes."""
        with self._lock:
            run = self._live.get(key)
            if run is not None:
                return _dumps(render_run(run, self.queue_position(run.queue_ticket)))
            record = self._finished.get(key, self._clock())
            if record is None:
                return None
            body = self._finished.hot(key)
            if body is None:
                body = (unpack(record.packed) if record.packed is not None
                        else self._render_cache_hit(key, record))
                self._finished.keep_hot(key, body)
            return body

    def _render_cache_hit(self, key: Key, record: Finished) -> bytes:
        dress = self.cache_hit_dress(key)
        run = Run(key[0], key[1], dress, self.stats.snapshot(), started_ns=record.stamp_ns,
                  current="completed", done=True, cache_hit=True)
        for phase in ("setup", "base_prompts", "completed"):
            state = run.phases[phase]
            state.started_ns = state.ended_ns = record.stamp_ns
        if dress is not None:
            dress.completed = dress.cache_hit = True
        return _dumps(render_run(run, 0))

    def active_keys(self) -> list[Key]:
        """The keys of the live runs, queued or running."""
        with self._lock:
            return list(self._live)

    def running_keys(self) -> list[Key]:
        """The keys of the runs a worker has taken (not those waiting in the queue)."""
        with self._lock:
            return [k for k, r in self._live.items() if not r.queue_ticket]

    def forget(self, key: Key) -> None:
        """Drop a finished run (after its image was removed); live runs stay."""
        with self._lock:
            self._finished.pop(key)

    def memory(self) -> dict[str, int]:
        """Finished records kept, their bytes, and how many went early to stay in budget."""
        with self._lock:
            finished = self._finished
            return {"finished": len(finished), "bytes": finished.bytes,
                    "evicted_early": finished.evicted_early, "live": len(self._live)}

    def add_listener(self, listener: Callable[[Key], None]) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Callable[[Key], None]) -> None:
        self._listeners.remove(listener)

    def _notify(self, key: Key) -> None:
        self._listeners.notify(key)


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
