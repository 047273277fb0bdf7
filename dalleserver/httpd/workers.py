"""The threads that run ready connections: one at a time, more only when it is stuck.

All connections sit in one epoll set with ``EPOLLONESHOT``, so an event goes to one thread
and a connection is never run by two at once. Under the GIL, two threads running Python
are slower than one: every syscall hands the GIL over and costs a context switch (measured:
``/readyz`` at 16,500 req/s with one thread, 10,200 with four). So one worker runs, and a
watchdog, like Go's sysmon retaking a processor from a goroutine stuck in a syscall, adds a
worker from a standby set when the running one has spent more than ``STALL`` on one
connection (a slow disk, a big thumbnail). When the stuck worker comes back it finds
another running and stands by itself.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dalleserver.httpd.connection import DONE, PARKED, READ

if TYPE_CHECKING:
    from dalleserver.httpd.connection import Connection

log = logging.getLogger("dalleserver.server")

STALL = 0.010  # a worker on one connection this long is taken to be blocked
TICK_BUSY = 0.005  # watchdog period while requests arrive
TICK_IDLE = 0.1  # and while nothing happens


class _Worker:
    __slots__ = ("thread", "since", "stalled")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.since = 0.0  # when it took its current connection; 0 while it waits
        self.stalled = False


class EpollWorkers:
    def __init__(self, connections: dict[int, Connection], max_workers: int,
                 activity: Callable[[], int],
                 on_stall: Callable[[], None] = lambda: None) -> None:
        """``activity`` returns a number that changes whenever requests are served;
        ``on_stall`` is called each time the watchdog wakes another worker."""
        self.connections = connections
        self.max_workers = max(1, max_workers)
        self._activity = activity
        self._on_stall = on_stall
        self.epoll = select.epoll()
        self._read = select.EPOLLIN | select.EPOLLONESHOT
        self._write = select.EPOLLOUT | select.EPOLLONESHOT
        self._stopping = False
        # written once at stop; level-triggered, so it wakes every waiting worker in turn
        self._wake_r, self._wake_w = os.pipe()
        self.epoll.register(self._wake_r, select.EPOLLIN)
        self._lock = threading.Lock()
        self._standby = threading.Condition(self._lock)
        self._workers: list[_Worker] = []
        self._running = 0  # workers in the loop and not stalled
        self.stalls = 0  # how often the watchdog had to add a worker
        with self._lock:
            self._start_worker()
        self._watchdog = threading.Thread(target=self._watch, name="http-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def add(self, conn: Connection) -> None:
        self.epoll.register(conn.fd, self._read)

    def rearm(self, conn: Connection) -> None:
        """Wake a worker for a parked connection whose answer is ready (writable at once)."""
        self.epoll.modify(conn.fd, self._write)

    @property
    def threads(self) -> int:
        return len(self._workers)

    def alive(self) -> bool:
        """The watchdog and at least one worker are running (for the service watchdog)."""
        return self._watchdog.is_alive() and any(
            w.thread is not None and w.thread.is_alive() for w in self._workers)

    # -- workers ------------------------------------------------------------------------
    def _start_worker(self) -> None:
        """With the lock held: one more running worker."""
        worker = _Worker()
        worker.thread = threading.Thread(target=self._work, args=(worker,),
                                         name=f"http-worker-{len(self._workers)}",
                                         daemon=True)
        self._workers.append(worker)
        self._running += 1
        worker.thread.start()

    def _work(self, me: _Worker) -> None:
        poll = self.epoll.poll
        modify = self.epoll.modify
        connections = self.connections
        read, write = self._read, self._write
        clock = time.monotonic
        while not self._stopping:
            try:
                events = poll(1.0, 1)
            except (OSError, ValueError):  # closed under us at stop
                return
            for fd, _mask in events:
                conn = connections.get(fd)
                if conn is None:
                    continue
                me.since = clock()
                try:
                    waiting = conn.on_ready()
                    if waiting == PARKED:
                        pass  # no interest until the application resumes it (rearm)
                    elif waiting != DONE:
                        modify(fd, read if waiting == READ else write)
                except Exception:
                    log.exception("connection from %s failed", conn.peer)
                    conn.close()
                me.since = 0.0
            if me.stalled:
                self._come_back(me)

    def _come_back(self, me: _Worker) -> None:
        """A stalled worker is free again: stand by while another one runs."""
        with self._lock:
            me.stalled = False
            while self._running > 0 and not self._stopping:
                self._standby.wait()
            self._running += 1

    # -- the watchdog -------------------------------------------------------------------
    def _watch(self) -> None:
        last = self._activity()
        tick = TICK_IDLE
        while not self._stopping:
            time.sleep(tick)
            now = time.monotonic()
            with self._lock:
                for worker in self._workers:
                    since = worker.since
                    if since and not worker.stalled and now - since > STALL:
                        worker.stalled = True
                        self._running -= 1
                woken = False
                if self._running == 0 and not self._stopping:
                    if self._standing_by():
                        self._standby.notify()
                        woken = True
                    elif len(self._workers) < self.max_workers:
                        self._start_worker()
                        woken = True
            if woken:
                self.stalls += 1
                self._on_stall()
            current = self._activity()
            tick = TICK_BUSY if current != last else TICK_IDLE
            last = current

    def _standing_by(self) -> bool:
        """With the lock held: is any worker waiting to run?"""
        busy = sum(1 for w in self._workers if w.stalled)
        return len(self._workers) - busy - self._running > 0

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._standby.notify_all()
        os.write(self._wake_w, b"x")
        for worker in self._workers:
            assert worker.thread is not None
            worker.thread.join(timeout=2.0)
        self._watchdog.join(timeout=1.0)
        self.epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
