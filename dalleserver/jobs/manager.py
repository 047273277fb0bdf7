"""The job manager: a bounded queue, N worker threads, single flight per (series, address).

It is the one owner of "is this key running": a key is active from the moment it is queued
until its run shows done, and it is released under the same lock that shows it done.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from dalleserver.dress.model import DalleDress
from dalleserver.jobs.pipeline import Outcome, Pipeline
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.records import GenerationOptions
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.jobs")

DROPPED = "cancelled: the server shut down before this generation started"
CANCELLED_BY_REQUEST = "cancelled: by request"
LOCK_RETRY = 0.25  # seconds between tries for a key another process is generating


class QueueFull(Exception):
    """The queue holds ``queue_size`` generations already; try again later."""


class ShuttingDown(Exception):
    """The manager no longer accepts work."""


class OtherOptionsRunning(Exception):
    """A v1 request found the key's run going with options that do not give what it asked
    (another input or background, or a stage it lacks): joining it would answer without
    them, so the request is refused until that run is done."""


def covers(running: GenerationOptions | None, asked: GenerationOptions, key: Key) -> bool:
    """Whether a run made with ``running`` (None: a ``/dalle`` run, everything) gives what
    ``asked`` wants: the same picture (input, recipe, background) and every stage asked."""
    made = running or GenerationOptions.for_address(key[1])
    return (made.input == asked.input and made.recipe == asked.recipe
            and made.backstyle == asked.backstyle and made.image >= asked.image
            and made.annotate >= asked.annotate and made.enhance >= asked.enhance)


def join_or_refuse(job: QueuedJob, asked: GenerationOptions | None) -> None:
    """Joining ``job`` is right unless a v1 request asks for what it will not make."""
    if asked is not None and not covers(job.options, asked, job.key):
        raise OtherOptionsRunning


@dataclass
class Job:
    key: Key
    force: bool = False
    ticket: int = 0  # its place in the order of the queue
    cancel: threading.Event = field(default_factory=threading.Event)
    options: GenerationOptions | None = None  # a v1 request's; None: everything
    cancel_reason: str = ""
    request_id: str = ""  # of the request that started it, for the logs


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


def serve_cache_hit(pipeline: Pipeline, board: ProgressBoard, key: Key, force: bool,
                    observe: Callable[[Outcome, float], None]) -> Submission | None:
    """The answer when the picture of ``key`` already exists (never with ``force``, never
    without a backend): a cache hit, recorded once while kept, counted every time."""
    if force or pipeline.backend is None or not pipeline.image_exists(key):
        return None
    record = board.finished(key)
    if record is None or not record.cache_hit or record.error:
        board.record_cache_hit(key)
    observe(Outcome("cache_hit"), 0.0)
    return Submission("cache_hit", board, key)


class QueuedJob(Protocol):
    """What the managers' shared steps read of a job (``Job`` here, cluster mode's own)."""

    key: Key
    force: bool
    cancel: threading.Event
    options: GenerationOptions | None
    request_id: str


class ManagerBase:
    """What both job managers (this one and cluster mode's) share: ``submit``, the head of
    ``submit_key``, a run of the pipeline, the failure line, the observer hook and the
    dress of a cache hit."""

    _log: ClassVar[logging.Logger] = log  # the subclass's logger, for the lines below
    pipeline: Pipeline
    board: ProgressBoard
    observer: Callable[[str, float], None] | None
    _cond: threading.Condition
    _accepting: bool
    submit_key: Callable[..., Submission]  # each manager's own

    def submit(self, series: str, address: str, force: bool = False) -> Submission:
        """Validate series and address (SeriesError/AddressError), then ``submit_key``."""
        return self.submit_key(self.pipeline.key(series, address), force)

    def _join_or_serve(self, key: Key, force: bool, active: Mapping[Key, QueuedJob],
                       view: Any, options: GenerationOptions | None = None
                       ) -> Submission | None:
        """The head of ``submit_key``: ShuttingDown after ``stop``; the run of ``key``
        when ``active`` (read under the lock) holds it, read through ``view`` (a v1
        request's ``options`` it does not cover: OtherOptionsRunning); a cache hit when
        its picture exists. None: a new run is to be queued (the caller checks again
        under its lock, or atomically in the store)."""
        with self._cond:
            if not self._accepting:
                raise ShuttingDown
            if key in active:
                join_or_refuse(active[key], options)
                return Submission("active", view, key)
        # outside the lock: polls of finished images must not queue behind each other
        return serve_cache_hit(self.pipeline, self.board, key, force, self._observe)

    def _run(self, job: QueuedJob) -> Outcome:
        """One run of the pipeline for ``job``; a crash is a failure."""
        try:
            return self.pipeline.run(job.key, job.force, job.cancel, job.options)
        except Exception:  # pipeline.run reports failures itself; this is a last guard
            self._log.exception("worker crashed on %s/%s", *job.key)
            return Outcome("failure", "generation failed: internal error")

    def _log_failure(self, job: QueuedJob, outcome: Outcome) -> None:
        """One line with the fields an operator filters on (in the JSON log format)."""
        series, address = job.key
        backend = getattr(self.pipeline.backend, "name", "none")
        self._log.warning("generation %s/%s failed: %s", series, address, outcome.error,
                          extra={"series": series, "address": address,
                                 "request_id": job.request_id,
                                 "error_kind": outcome.error_kind,
                                 "backend": backend, "attempts": outcome.attempts})

    def _cache_hit_dress(self, key: Key) -> DalleDress:
        pipeline = self.pipeline
        dress = pipeline.dress(key)
        dress.annotated_path = pipeline.relative(pipeline.data_dir.annotated(*key))
        return dress

    def _observe(self, outcome: Outcome, seconds: float) -> None:
        if self.observer is None:
            return
        kind = "failure" if outcome.failed else outcome.kind
        try:
            self.observer(kind, seconds)
        except Exception:
            self._log.exception("generation observer failed")


class JobManager(ManagerBase):
    def __init__(self, pipeline: Pipeline, board: ProgressBoard, workers: int = 2,
                 queue_size: int = 64, lock_retry: float = LOCK_RETRY) -> None:
        self.pipeline = pipeline
        self.board = board
        self.workers = workers
        self.queue_size = queue_size
        self.lock_retry = lock_retry
        self._queue: deque[Job] = deque()
        # jobs whose key another process holds: (when to try again, ticket, job); they
        # wait here, not in a worker
        self._deferred: list[tuple[float, int, Job]] = []
        self._active: dict[Key, Job] = {}
        self._running: dict[Key, Job] = {}
        self._tickets = itertools.count(1)
        self._taken = 0  # the ticket of the last job a worker took from the queue
        self._withdrawn: list[int] = []  # sorted tickets of jobs cancelled while waiting
        self._cond = threading.Condition()
        self._accepting = True
        self._threads: list[threading.Thread] = []
        # called as observer(outcome, seconds) when a generation ends: success, failure,
        # cache_hit (metrics hook)
        self.observer: Callable[[str, float], None] | None = None
        board.queue_position = self.queue_position
        board.cache_hit_dress = self._cache_hit_dress

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
            dropped = list(self._queue) + [job for _, _, job in self._deferred]
            self._queue.clear()
            self._deferred.clear()
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
        self.board.stats.save_if_pending()  # cache hits are counted without a write each

    @property
    def queue_depth(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._deferred)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return len(self._running)

    def queue_position(self, ticket: int) -> int:
        """1 for the next job a worker takes; 0 for a job that is not waiting in the queue.
        Computed from the ticket, so taking a job rewrites nothing (cancelled jobs ahead
        are counted out by a binary search)."""
        if not ticket:
            return 0
        taken = self._taken
        ahead = bisect.bisect_left(self._withdrawn, ticket) - bisect.bisect_right(
            self._withdrawn, taken)
        return max(ticket - taken - max(ahead, 0), 0)

    def cancel(self, key: Key) -> str:
        """Cancel the generation of ``key``: "cancelled" when it was waiting (done now),
        "cancelling" when it runs (it stops at its next phase boundary, a provider call
        in flight is abandoned), "none" when nothing of it is queued or running."""
        with self._cond:
            job = self._active.get(key)
            if job is None:
                return "none"
            if key in self._running:
                job.cancel_reason = CANCELLED_BY_REQUEST
                job.cancel.set()
                return "cancelling"
            self._withdraw(job)
            self._active.pop(key, None)
            self.board.fail(key, CANCELLED_BY_REQUEST, cancelled=True)
        self._observe(Outcome("cancelled", CANCELLED_BY_REQUEST), 0.0)
        return "cancelled"

    def _withdraw(self, job: Job) -> None:
        """With the lock held: take a waiting job out of the queue or the deferred set."""
        try:
            self._queue.remove(job)
            bisect.insort(self._withdrawn, job.ticket)
        except ValueError:
            self._deferred = [entry for entry in self._deferred if entry[2] is not job]
            heapq.heapify(self._deferred)

    # -- work ---------------------------------------------------------------------------
    def submit_key(self, key: Key, force: bool = False,
                   admit: Callable[[], None] | None = None, name: str = "",
                   options: GenerationOptions | None = None,
                   request_id: str = "") -> Submission:
        """Start (or join) the generation of a validated key. ``admit`` is called just
        before a new run is queued and may raise to refuse it (the rate limit); joining a
        run or reading a finished one never calls it. ``name``, the ENS name the request
        used, is kept in a new run's dress (``originalName``); ``options`` (a v1 request's)
        go to a new run. Raises QueueFull when the queue is full and ShuttingDown after
        ``stop``."""
        joined = self._join_or_serve(key, force, self._active, self.board, options)
        if joined is not None:
            return joined
        with self._cond:
            return self._enqueue(key, force, admit, name, options, request_id)

    def _enqueue(self, key: Key, force: bool, admit: Callable[[], None] | None,
                 name: str = "", options: GenerationOptions | None = None,
                 request_id: str = "") -> Submission:
        """With the lock held: queue a new run unless one is active or nothing is to do."""
        if not self._accepting:
            raise ShuttingDown
        if key in self._active:
            join_or_refuse(self._active[key], options)
            return Submission("active", self.board, key)
        record = self.board.finished(key)
        if (self.pipeline.backend is None and not force and record is not None
                and not record.error):
            return Submission("done", self.board, key)  # prompts only: nothing to redo
        if len(self._queue) + len(self._deferred) >= self.queue_size:
            raise QueueFull
        if admit is not None:
            admit()
        job = Job(key, force, next(self._tickets), options=options, request_id=request_id)
        self.board.start(key, self.pipeline.dress(key, name, options), queue_ticket=job.ticket)
        self._queue.append(job)
        self._active[key] = job
        self._cond.notify()
        return Submission("queued", self.board, key)

    def _take(self) -> Job | None:
        """The next job for a worker (None: stop); waits while there is nothing to do."""
        with self._cond:
            while True:
                self._release_due()
                if self._queue:
                    job = self._queue.popleft()
                    self._taken = max(self._taken, job.ticket)
                    while self._withdrawn and self._withdrawn[0] <= self._taken:
                        self._withdrawn.pop(0)  # behind us now: no longer counted
                    self._running[job.key] = job
                    return job
                if not self._accepting:
                    return None
                due = self._deferred[0][0] - time.monotonic() if self._deferred else None
                self._cond.wait(due)

    def _release_due(self) -> None:
        """With the lock held: deferred jobs whose retry time came go first in the queue."""
        now = time.monotonic()
        while self._deferred and self._deferred[0][0] <= now:
            _, _, job = heapq.heappop(self._deferred)
            self._queue.appendleft(job)

    def _work(self) -> None:
        while (job := self._take()) is not None:
            started = time.monotonic()
            outcome = self._run(job)
            if outcome.kind == "locked" and not job.cancel.is_set():
                self._defer(job)
                continue
            if outcome.kind == "locked":  # cancelled while it waited for the lock
                outcome = Outcome("cancelled", CANCELLED_BY_REQUEST)
            if outcome.kind == "cancelled" and job.cancel_reason:
                outcome = Outcome("cancelled", job.cancel_reason)
            if outcome.kind == "failure":
                self._log_failure(job, outcome)
            self._finish(job.key, outcome)
            self._observe(outcome, time.monotonic() - started)

    def _defer(self, job: Job) -> None:
        """Another process holds the key's lock: try again later, without a worker."""
        with self._cond:
            self._running.pop(job.key, None)
            if not self._accepting:
                self._active.pop(job.key, None)
                self.board.fail(job.key, DROPPED)
                return
            heapq.heappush(self._deferred, (time.monotonic() + self.lock_retry, job.ticket,
                                            job))
            self._cond.notify()

    def _finish(self, key: Key, outcome: Outcome) -> None:
        """Release the key, then show the run done, both under the manager's lock: whoever
        sees ``done`` and asks again finds the key free and starts a new run."""
        if not outcome.failed:
            self.board.settle(key, cache_hit=outcome.kind == "cache_hit")  # saves statistics
        with self._cond:
            self._running.pop(key, None)
            self._active.pop(key, None)
            if outcome.failed:
                self.board.fail(key, outcome.error, cancelled=outcome.kind == "cancelled")
            else:
                self.board.complete(key)

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running (tests, the CLI); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._active:
                    return True
            time.sleep(0.01)
        return False
