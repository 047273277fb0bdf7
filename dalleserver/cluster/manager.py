"""The job manager of cluster mode: the same interface as ``jobs.manager.JobManager``, with
the queue a Redis stream read by a consumer group, so any instance's free worker takes the
next job, and "is this key queued or running" a marker in Redis set by one atomic script.

A worker takes an entry (XREADGROUP), marks it begun (BEGIN), runs the unchanged pipeline
on this process's board (mirrored to Redis by ``RunMirror``) under a Redis lock, then shows
it done and frees the key in one step (FINISH), which also acknowledges and deletes the
entry. While it runs, the entry's idle time is reset every third of the reclaim time; an
entry idle longer than that belonged to an instance that stopped, and a free worker anywhere
claims it (XAUTOCLAIM). An instance that shuts down hands its unfinished entries over at
once (their idle time set past the reclaim time).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from dalleserver.cluster.board import ClusterBoard
from dalleserver.cluster.link import BLOCK_MS, DOWN_ERRORS, RedisLink
from dalleserver.cluster.locks import RedisLockTable
from dalleserver.cluster.mirror import RunMirror
from dalleserver.cluster.render import SnapshotRenderer
from dalleserver.cluster.scripts import BEGIN, CANCEL, ENQUEUE, FINISH, REASSERT
from dalleserver.jobs.interface import CoordinationUnavailable
from dalleserver.jobs.manager import (
    CANCELLED_BY_REQUEST,
    LOCK_RETRY,
    ManagerBase,
    QueueFull,
    Submission,
)
from dalleserver.jobs.pipeline import Outcome, Pipeline
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.records import GenerationOptions
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.cluster")

HANDED_OVER = "stopped here before it ended: another instance takes it over"
DEPTH_CACHE = 0.5  # seconds a read of the shared queue's depth is reused
UNREACHABLE = "the shared queue (Redis) is unreachable; retry shortly"


@dataclass
class ClusterJob:
    key: Key
    run_id: str
    entry: str  # the stream entry's id ("" when the store lost it)
    force: bool = False
    name: str = ""
    options: GenerationOptions | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""
    begun: bool = False
    request_id: str = ""  # of the request that queued it, for the logs


def job_from_entry(entry_id: bytes | str, fields: Any) -> ClusterJob | None:
    """A job from a stream entry (None for an entry that is not one of ours)."""
    pairs = fields.items() if isinstance(fields, dict) else zip(fields[::2], fields[1::2],
                                                                strict=False)
    doc = {_text(k): _text(v) for k, v in pairs}
    try:
        options = (GenerationOptions(**json.loads(doc["options"])) if doc.get("options")
                   else None)
        return ClusterJob((doc["series"], doc["address"]), doc["run"], _text(entry_id),
                          doc.get("force") == "1", doc.get("name", ""), options,
                          request_id=doc.get("request", ""))
    except (KeyError, TypeError, ValueError):
        return None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class ClusterJobManager(ManagerBase):
    _log = log

    def __init__(self, pipeline: Pipeline, board: ProgressBoard, view: ClusterBoard,
                 link: RedisLink, locks: RedisLockTable, workers: int = 2,
                 queue_size: int = 64, reclaim_after: float = 30.0,
                 lock_retry: float = LOCK_RETRY) -> None:
        self.pipeline = pipeline
        self.board = board  # this process's: the pipeline reports here
        self.view = view  # what readers see: here first, then the cluster
        self.link = link
        self.keys = link.keys
        self.locks = locks
        self.workers = workers
        self.queue_size = queue_size
        self.reclaim_ms = max(int(reclaim_after * 1000), 100)
        self.lock_retry = lock_retry
        self.instance = "instance"  # set by Cluster.identify before start
        self.observer: Callable[[str, float], None] | None = None
        self.renderer = SnapshotRenderer(board.stats)
        client = link.client
        self._scripts = {name: client.register_script(text) for name, text in (
            ("enqueue", ENQUEUE), ("begin", BEGIN), ("finish", FINISH), ("cancel", CANCEL),
            ("reassert", REASSERT))}
        self._jobs: dict[Key, ClusterJob] = {}  # taken here: running or waiting for a lock
        self._running: dict[Key, ClusterJob] = {}
        self._ready: deque[ClusterJob] = deque()
        self._deferred: list[tuple[float, int, ClusterJob]] = []
        # finishes the store missed: (job, final JSON, picture made)
        self._unsettled: list[tuple[ClusterJob, bytes, bool]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._accepting = True
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._keeper: threading.Thread | None = None
        self._next_reclaim = 0.0
        self._depth = (0.0, 0)  # (when read, value)
        self.reclaimed = 0
        self.mirror = RunMirror(board, link, self._run_id_of)
        view.on_cancel = self._cancel_requested
        link.on_recover.append(self._recover)
        board.cache_hit_dress = self._cache_hit_dress

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        self.link.start()
        self.locks.start()
        self.mirror.start()
        self.view.start()
        for i in range(self.workers):
            self._workers.append(self._spawn(self._work, f"generation-worker-{i}"))
        self._keeper = self._spawn(self._keep_alive, "cluster-keepalive")

    @staticmethod
    def _spawn(target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking jobs, let running ones finish within ``grace`` seconds, then stop
        them; whatever did not end here is handed over to the other instances."""
        with self._cond:
            self._accepting = False
            waiting = list(self._ready) + [job for _, _, job in self._deferred]
            self._ready.clear()
            self._deferred.clear()
            self._cond.notify_all()
        for job in waiting:
            self._hand_over(job)
        deadline = time.monotonic() + grace
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()  # before the cancel: a run stopped now is handed over
        with self._cond:
            running = list(self._running.values())
        for job in running:
            job.cancel.set()
        for thread in [*self._workers, self._keeper]:
            if thread is not None:
                thread.join(5.0)
        self.mirror.stop()
        self.view.stop()
        self.locks.stop()
        self.link.stop()
        self.board.stats.save_if_pending()

    @property
    def queue_depth(self) -> int:
        """Jobs waiting in the shared queue (the same number on every instance)."""
        read_at, depth = self._depth
        now = time.monotonic()
        if now - read_at >= DEPTH_CACHE and self.link.up:
            try:
                depth = int(self.link.call(lambda client: client.zcard(self.keys.queued)))
                self._depth = (now, depth)
            except redis.RedisError:
                pass
        return depth

    @property
    def in_flight(self) -> int:
        with self._cond:
            return len(self._running)

    def queue_position(self, ticket: int) -> int:
        """Positions come from the shared queue when a snapshot is read (ClusterBoard)."""
        return ticket

    # -- submitting ---------------------------------------------------------------------
    def submit_key(self, key: Key, force: bool = False,
                   admit: Callable[[], None] | None = None, name: str = "",
                   options: GenerationOptions | None = None,
                   request_id: str = "") -> Submission:
        """As ``JobManager.submit_key``, cluster-wide: a key is queued once whichever
        instance is asked. Raises CoordinationUnavailable when Redis cannot be reached."""
        joined = self._join_or_serve(key, force, self._jobs, self.view, options)
        if joined is not None:
            return joined
        if self.pipeline.backend is None and not force:
            record = self.view.finished(key)
            if record is not None and not record.error:
                return Submission("done", self.view, key)
        if not self.link.up:
            raise CoordinationUnavailable(UNREACHABLE)
        try:
            if self.link.call(lambda client: client.exists(self.keys.marker(key))):
                return Submission("active", self.view, key)
            if admit is not None:
                admit()
            state = self._enqueue(key, force, name, options, request_id)
        except redis.RedisError:
            raise CoordinationUnavailable(UNREACHABLE) from None
        if state == "full":
            raise QueueFull
        if state == "done":  # made elsewhere, not yet seen here on the shared disk
            return Submission("done", self.view, key)
        return Submission("queued" if state == "queued" else "active", self.view, key)

    def _enqueue(self, key: Key, force: bool, name: str, options: GenerationOptions | None,
                 request_id: str) -> str:
        body = self.renderer.queued(key, self.pipeline.dress(key, name, options))
        options_json = json.dumps(dataclasses.asdict(options)) if options is not None else ""
        keys = self.keys
        reply = self.link.call(lambda client: self._scripts["enqueue"](
            keys=[keys.marker(key), keys.run(key), keys.queued, keys.stream, keys.tickets],
            args=[secrets.token_hex(8), keys.member(key), body, self.queue_size,
                  self.instance, keys.channel, key[0], key[1], "1" if force else "0", name,
                  options_json, request_id], client=client))
        return _text(reply[0])

    def cancel(self, key: Key) -> str:
        """"cancelling" for a run taken here or on another instance (it stops at its next
        phase boundary), "cancelled" for one still queued, "none" otherwise."""
        with self._cond:
            job = self._jobs.get(key)
            if job is not None:
                job.cancel_reason = CANCELLED_BY_REQUEST
                job.cancel.set()
                return "cancelling"
        if not self.link.up:
            raise CoordinationUnavailable(UNREACHABLE)
        body = self.renderer.failed(key, self.pipeline.dress(key), CANCELLED_BY_REQUEST,
                                    cancelled=True)
        keys = self.keys
        try:
            reply = self.link.call(lambda client: self._scripts["cancel"](
                keys=[keys.marker(key), keys.run(key), keys.queued, keys.stream],
                args=[keys.member(key), body, self._retention_ms(), keys.channel],
                client=client))
            state = _text(reply[0])
            if state == "running":
                message = f"cancel {keys.member(key)} {_text(reply[1])}"
                self.link.call(lambda client: client.publish(keys.channel, message))
                return "cancelling"
        except redis.RedisError:
            raise CoordinationUnavailable(UNREACHABLE) from None
        if state == "cancelled":
            self._observe(Outcome("cancelled", CANCELLED_BY_REQUEST), 0.0)
        return state

    def _cancel_requested(self, key: Key, run_id: str) -> None:
        """Another instance asks to cancel a run of ours."""
        with self._cond:
            job = self._jobs.get(key)
            if job is not None and job.run_id == run_id:
                job.cancel_reason = CANCELLED_BY_REQUEST
                job.cancel.set()

    # -- taking jobs --------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._take()) is not None:
            self._perform(job)

    def _take(self) -> ClusterJob | None:
        """The next job for a worker (None: stop): a deferred one that is due, else one
        from the shared queue."""
        while True:
            with self._cond:
                self._release_due()
                while self._ready:
                    job = self._ready.popleft()
                    if self._jobs.setdefault(job.key, job) is not job:
                        self._push_deferred(job)  # a second entry of a key running here
                        continue
                    self._running[job.key] = job
                    return job
                if not self._accepting:
                    return None
            job = self._fetch()
            if job is None:
                continue
            with self._cond:
                if not self._accepting:
                    self._hand_over(job)
                    return None
                if job.key in self._jobs:  # a second entry of a key running here
                    self._push_deferred(job)
                    continue
                self._jobs[job.key] = job
                self._running[job.key] = job
                return job

    def _release_due(self) -> None:
        now = time.monotonic()
        while self._deferred and self._deferred[0][0] <= now:
            self._ready.append(heapq.heappop(self._deferred)[2])

    def _fetch(self) -> ClusterJob | None:
        """One entry from the shared queue: a stopped instance's first, else a new one
        (waiting up to BLOCK_MS); None when there is none or the store is away."""
        if not self.link.up:
            self._stopping.wait(0.2)
            return None
        try:
            entry = self._reclaim()
            if entry is None:
                reply = self.link.call(lambda client: client.xreadgroup(
                    self.keys.group, self.instance, {self.keys.stream: ">"}, count=1,
                    block=BLOCK_MS))
                entry = reply[0][1][0] if reply and reply[0][1] else None
        except DOWN_ERRORS:
            return None
        except redis.ResponseError as exc:
            if "NOGROUP" in str(exc):
                self.link.mark_down(exc)  # the probe makes the group again
            else:
                log.warning("reading the shared queue failed: %s", exc)
                self._stopping.wait(0.5)
            return None
        if entry is None:
            return None
        return job_from_entry(entry[0], entry[1])

    def _reclaim(self) -> tuple[Any, Any] | None:
        """An entry a stopped instance had taken (idle for the reclaim time), checked
        for at most every quarter of the reclaim time by one worker."""
        with self._cond:
            now = time.monotonic()
            if now < self._next_reclaim:
                return None
            self._next_reclaim = now + max(self.reclaim_ms / 4000.0, 0.25)
        reply = self.link.call(lambda client: client.xautoclaim(
            self.keys.stream, self.keys.group, self.instance, self.reclaim_ms, "0-0",
            count=1))
        claimed = reply[1] if len(reply) > 1 else []
        for entry_id, fields in claimed:
            if fields:
                self.reclaimed += 1
                log.info("took over job %s of a stopped instance", _text(entry_id))
                return entry_id, fields
        return None

    # -- running ------------------------------------------------------------------------
    def _perform(self, job: ClusterJob) -> None:
        if not job.begun and not self._begin(job):
            return
        started = time.monotonic()
        outcome = self._run(job)
        if outcome.kind == "locked":
            self._defer(job)
            return
        if outcome.kind == "cancelled" and not job.cancel_reason and self._stopping.is_set():
            self._hand_over(job)
            return
        if outcome.kind == "cancelled" and job.cancel_reason:
            outcome = Outcome("cancelled", job.cancel_reason)
        if outcome.kind == "failure":
            self._log_failure(job, outcome)
        self._finish(job, outcome)
        self._observe(outcome, time.monotonic() - started)

    def _begin(self, job: ClusterJob) -> bool:
        """Mark the run begun in Redis and start it on this board; False when it was
        cancelled or replaced meanwhile (or the store is away: it is tried again)."""
        key, keys = job.key, self.keys
        try:
            dress = self.pipeline.dress(key, job.name, job.options)
        except Exception as exc:  # a series removed since it was queued: the run fails
            self._settle_shared(job, self.renderer.failed(key, None, f"cannot start: {exc}"))
            self._release(job)
            return False
        body = self.renderer.running(key, dress)
        try:
            ok = self.link.call(lambda client: self._scripts["begin"](
                keys=[keys.marker(key), keys.run(key), keys.queued, keys.running,
                      keys.stream],
                args=[job.run_id, keys.member(key), body, self.instance, job.entry,
                      keys.group, keys.channel], client=client))
        except redis.RedisError:
            self._defer(job, delay=1.0)
            return False
        if not ok:
            self._release(job)
            return False
        self.board.start(key, dress)
        job.begun = True
        return True

    def _defer(self, job: ClusterJob, delay: float | None = None) -> None:
        """Another holder has the key's lock: try again later, without a worker."""
        with self._cond:
            self._running.pop(job.key, None)
            if not self._accepting:
                self._hand_over(job)
                return
            self._push_deferred(job, delay)

    def _push_deferred(self, job: ClusterJob, delay: float | None = None) -> None:
        """With the lock held."""
        due = time.monotonic() + (self.lock_retry if delay is None else delay)
        heapq.heappush(self._deferred, (due, next(self._seq), job))
        self._cond.notify()

    def _finish(self, job: ClusterJob, outcome: Outcome) -> None:
        """Show the run done here, then in Redis with the key freed and the entry
        acknowledged, in one step."""
        key = job.key
        if not outcome.failed:
            self.board.settle(key, cache_hit=outcome.kind == "cache_hit")
        if outcome.failed:
            self.board.fail(key, outcome.error, cancelled=outcome.kind == "cancelled")
        else:
            self.board.complete(key)
        body = self.board.snapshot_json(key) or b"{}"
        made = not outcome.failed and self.pipeline.image_exists(key)
        self._settle_shared(job, body, made)
        self._release(job)

    def _release(self, job: ClusterJob) -> None:
        with self._cond:
            self._running.pop(job.key, None)
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]

    def _settle_shared(self, job: ClusterJob, body: bytes, made: bool = False) -> None:
        """FINISH in Redis (``made``: the picture exists now); kept and retried when the
        store comes back if it is away."""
        keys, key = self.keys, job.key
        try:
            self.link.call(lambda client: self._scripts["finish"](
                keys=[keys.marker(key), keys.run(key), keys.running, keys.stream],
                args=[job.run_id, keys.member(key), body, self._retention_ms(), keys.group,
                      job.entry, self.instance, keys.channel, "1" if made else "0"],
                client=client))
        except redis.RedisError:
            with self._cond:
                self._unsettled.append((job, body, made))

    def _hand_over(self, job: ClusterJob) -> None:
        """Leave a job for the other instances: its entry's idle time is set past the
        reclaim time, so the next free worker anywhere claims it."""
        if job.begun and self.board.get(job.key) is not None:
            self.board.fail(job.key, HANDED_OVER)
        self._release(job)
        if not job.entry:
            return
        try:
            self.link.call(lambda client: client.xclaim(
                self.keys.stream, self.keys.group, self.instance, 0, [job.entry],
                idle=self.reclaim_ms + 1000, justid=True))
        except redis.RedisError:
            pass  # reclaimed after the reclaim time anyway

    def _retention_ms(self) -> int:
        return max(int(self.board.retention * 1000), 1000)

    def _run_id_of(self, key: Key) -> str | None:
        job = self._jobs.get(key)
        return job.run_id if job is not None and job.begun else None

    # -- keeping shared state alive -----------------------------------------------------
    def _keep_alive(self) -> None:
        """Every third of the reclaim time: the entries taken here look busy, and
        finishes the store missed are settled."""
        interval = max(self.reclaim_ms / 3000.0, 0.1)
        while not self._stopping.wait(interval):
            if not self.link.up:
                continue
            try:
                self._touch_entries()
                self._settle_missed()
            except redis.RedisError as exc:
                log.debug("keeping jobs alive failed: %s", exc)

    def _touch_entries(self) -> None:
        """Reset the idle time of the entries taken here, so nobody reclaims a job that
        still runs here."""
        with self._cond:
            entries = [job.entry for job in self._jobs.values() if job.entry]
            entries += [job.entry for _, _, job in self._deferred if job.entry]
        if entries:
            self.link.call(lambda client: client.xclaim(
                self.keys.stream, self.keys.group, self.instance, 0, entries, justid=True))

    def _settle_missed(self) -> None:
        with self._cond:
            missed, self._unsettled = self._unsettled, []
        for job, body, made in missed:
            self._settle_shared(job, body, made)

    def _recover(self, lost: bool) -> None:
        """The store answers again (``lost``: it came back empty): the consumer group
        exists, the locks and entries of the runs performed here are fresh (an outage
        longer than the reclaim time let them age), the runs are put back if the store
        lost them, and missed finishes are settled. Runs before this instance, or any
        other, takes work again (RedisLink's grace)."""
        try:
            self.link.client.xgroup_create(self.keys.stream, self.keys.group, id="0",
                                           mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.locks.renew_all()
        self._touch_entries()
        if lost:
            self._reassert()
        self._settle_missed()

    def _reassert(self) -> None:
        keys = self.keys
        with self._cond:
            jobs = [job for job in self._jobs.values() if job.begun]
        for job in jobs:
            body = self.board.snapshot_json(job.key)
            if body is None:
                continue
            self._scripts["reassert"](
                keys=[keys.marker(job.key), keys.run(job.key), keys.running],
                args=[job.run_id, keys.member(job.key), body, self.instance, job.entry])

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or running in the cluster (tests, the CLI);
        False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                local = bool(self._jobs or self._ready or self._deferred)
            if not local and self._cluster_idle():
                return True
            time.sleep(0.02)
        return False

    def _cluster_idle(self) -> bool:
        try:
            with self.link.client.pipeline(transaction=False) as pipe:
                pipe.zcard(self.keys.queued)
                pipe.scard(self.keys.running)
                queued, running = self.link.call(lambda _client: pipe.execute())
        except redis.RedisError:
            return False
        return not queued and not running
