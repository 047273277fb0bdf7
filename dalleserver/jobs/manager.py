"""The job manager: a bounded queue, N worker threads, single flight per (series, address)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dalleserver.jobs.pipeline import Outcome, Pipeline
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.jobs")

DROPPED = "cancelled: the server shut down before this generation started"


class QueueFull(Exception):
    """The queue holds ``queue_size`` generations already; try again later."""


class ShuttingDown(Exception):
    """The manager no longer accepts work."""


@dataclass
class Job:
    key: Key
    force: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


class Submission:
    """What ``submit`` did: ``queued`` a new run, found it ``active`` (queued or running),
    found it ``done`` (a finished prompts-only run), or found the image (``cache_hit``).

    The snapshot is rendered only when asked for: a poll usually wants the cached JSON."""

    def __init__(self, state: str, board: ProgressBoard, key: Key) -> None:
        self.state = state
        self._board = board
        self._key = key

    @property
    def created(self) -> bool:
        return self.state == "queued"

    @property
    def snapshot(self) -> dict[str, Any]:
        return self._board.snapshot(self._key) or {}

    def snapshot_json(self) -> bytes:
        return self._board.snapshot_json(self._key) or b"{}"


class JobManager:
    def __init__(
        self, pipeline: Pipeline, board: ProgressBoard, workers: int = 2, queue_size: int = 64
    ) -> None:
        self.pipeline = pipeline
        self.board = board
        self.workers = workers
        self.queue_size = queue_size
        self._queue: deque[Job] = deque()
        self._active: dict[Key, Job] = {}
        self._running: dict[Key, Job] = {}
        self._cond = threading.Condition()
        self._accepting = True
        self._threads: list[threading.Thread] = []
        # called as observer(outcome, seconds) when a generation ends: success, failure,
        # cache_hit (metrics hook)
        self.observer: Callable[[str, float], None] | None = None

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"generation-worker-{i}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float = 10.0) -> None:
        """Stop: drop queued jobs (recorded as cancelled), let running ones finish within
        ``grace`` seconds, then cancel them at their next phase boundary."""
        with self._cond:
            self._accepting = False
            dropped = list(self._queue)
            self._queue.clear()
            for job in dropped:
                self._active.pop(job.key, None)
            self._cond.notify_all()
        if dropped:
            log.warning("shutting down: %d queued generation(s) dropped before they started: %s",
                        len(dropped), ", ".join(f"{s}/{a}" for s, a in
                                                (job.key for job in dropped[:20])))
        for job in dropped:
            self.board.fail(job.key, DROPPED)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            running = list(self._running.values())
        for job in running:
            job.cancel.set()
        for thread in self._threads:
            thread.join(5.0)

    @property
    def queue_depth(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return len(self._running)

    # -- work ---------------------------------------------------------------------------
    def submit(self, series: str, address: str, force: bool = False) -> Submission:
        """Validate series and address (SeriesError/AddressError), then ``submit_key``."""
        return self.submit_key(self.pipeline.key(series, address), force)

    def submit_key(self, key: Key, force: bool = False,
                   admit: Callable[[], None] | None = None) -> Submission:
        """Start (or join) the generation of a validated key. ``admit`` is called just
        before a new run is queued and may raise to refuse it (the rate limit); joining a
        run or reading a finished one never calls it. Raises QueueFull when the queue is
        full and ShuttingDown after ``stop``."""
        with self._cond:
            if not self._accepting:
                raise ShuttingDown
            if key in self._active:
                return Submission("active", self.board, key)
        if not force and self.pipeline.backend is not None and self.pipeline.image_exists(key):
            # Outside the lock: polls of finished images must not queue behind each other.
            # A cache hit is recorded once; later polls read that run while it is retained.
            run = self.board.get(key)
            if run is None or not run.done or not run.cache_hit or run.error:
                self._record_cache_hit(key)
            return Submission("cache_hit", self.board, key)
        with self._cond:
            if not self._accepting:
                raise ShuttingDown
            if key in self._active:
                return Submission("active", self.board, key)
            run = self.board.get(key)
            if (self.pipeline.backend is None and not force and run is not None and run.done
                    and not run.error):
                return Submission("done", self.board, key)  # prompts only: nothing to redo
            if len(self._queue) >= self.queue_size:
                raise QueueFull
            if admit is not None:
                admit()
            job = Job(key, force)
            self.board.start(key, self.pipeline.dress(key), queue_position=len(self._queue) + 1)
            self._queue.append(job)
            self._active[key] = job
            self._cond.notify()
        return Submission("queued", self.board, key)

    def _record_cache_hit(self, key: Key) -> None:
        pipeline = self.pipeline
        path = pipeline.relative(pipeline.data_dir.annotated(*key))
        if self.board.record_cache_hit(key, pipeline.dress(key), path):
            self._observe(Outcome("cache_hit"), 0.0)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and self._accepting:
                    self._cond.wait()
                if not self._queue:
                    return
                job = self._queue.popleft()
                self._running[job.key] = job
                for position, waiting in enumerate(self._queue, start=1):
                    self.board.set_queue_position(waiting.key, position)
            started = time.monotonic()
            try:
                outcome = self.pipeline.run(job.key, job.force, job.cancel)
            except Exception:  # pipeline.run reports failures itself; this is a last guard
                log.exception("worker crashed on %s/%s", *job.key)
                outcome = Outcome("failure", "generation failed: internal error")
            self._finish(job.key, outcome)
            self._observe(outcome, time.monotonic() - started)

    def _finish(self, key: Key, outcome: Outcome) -> None:
        """Release the key, then show the run done, both under the manager's lock: whoever
        sees ``done`` and asks again finds the key free and starts a new run."""
        if not outcome.failed:
            self.board.settle(key, cache_hit=outcome.kind == "cache_hit")  # saves statistics
        with self._cond:
            self._running.pop(key, None)
            self._active.pop(key, None)
            if outcome.failed:
                self.board.fail(key, outcome.error)
            else:
                self.board.complete(key)

    def _observe(self, outcome: Outcome, seconds: float) -> None:
        if self.observer is None:
            return
        kind = "failure" if outcome.failed else outcome.kind
        try:
            self.observer(kind, seconds)
        except Exception:
            log.exception("generation observer failed")

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (tests, the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._active:
                    return True
            time.sleep(0.01)
        return False
