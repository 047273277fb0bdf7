"""The connection to Redis (or Valkey) and whether it works now.

Every instance asks the same questions of it; when it stops answering, the instance knows
at once (``up`` turns false on the first failed call) and refuses new runs quickly instead
of waiting on a dead socket per request. A probe every half second sees it come back, and
notices when it came back empty (restarted without persistence): the ``boot`` key it set
is gone. Then the owners of live state put theirs back (``on_recover``): the runs they
perform, their locks, the idle times of their jobs. Only after a grace longer than the
probe interval does the instance take work again, so that by then every live instance has
put its state back: no instance takes over a job, or starts a run, that another still
performs.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dalleserver.cluster.ticker import Ticker
from dalleserver.storage import Key

log = logging.getLogger("dalleserver.cluster")

PROBE_INTERVAL = 0.5
RECOVERY_GRACE = 3 * PROBE_INTERVAL
CONNECT_TIMEOUT = 1.0
SOCKET_TIMEOUT = 5.0  # more than the longest blocking read (BLOCK_MS)
BLOCK_MS = 500
# what a lost or refused connection raises; anything else is a bug or a Redis refusal
DOWN_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


@dataclass(frozen=True)
class Keys:
    """The names of everything this deployment keeps in Redis, under one prefix."""

    prefix: str

    @staticmethod
    def member(key: Key) -> str:
        return f"{key[0]}/{key[1]}"

    @staticmethod
    def key_of(member: str | bytes) -> Key:
        text = member.decode() if isinstance(member, bytes) else member
        series, _, address = text.partition("/")
        return (series, address)

    def marker(self, key: Key) -> str:
        """Set while a run of the key is queued or running: the cluster's single flight."""
        return f"{self.prefix}:active:{self.member(key)}"

    def run(self, key: Key) -> str:
        """A hash: the run's id, state (queued, running, done), progress JSON, instance."""
        return f"{self.prefix}:run:{self.member(key)}"

    def lock(self, key: Key) -> str:
        return f"{self.prefix}:lock:{self.member(key)}"

    def rate(self, client: str) -> str:
        return f"{self.prefix}:rate:{client}"

    @property
    def stream(self) -> str:
        return f"{self.prefix}:queue"

    @property
    def queued(self) -> str:
        """A sorted set of the queued keys by ticket: depth and positions."""
        return f"{self.prefix}:queued"

    @property
    def running(self) -> str:
        return f"{self.prefix}:running"

    @property
    def tickets(self) -> str:
        return f"{self.prefix}:tickets"

    @property
    def boot(self) -> str:
        return f"{self.prefix}:boot"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:events"

    group = "workers"


def shown_url(url: str) -> str:
    """The URL without its password, for logs and readiness."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


class RedisLink:
    """One client (a thread-safe connection pool) and the state of the store."""

    def __init__(self, url: str, prefix: str, client: redis.Redis | None = None) -> None:
        self.url = shown_url(url)
        self.keys = Keys(prefix)
        # one quick retry on a broken connection (a Redis restart); never a backoff that
        # would hold a request while the store is away
        self.client = client or redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1), health_check_interval=10)
        self.up = False
        self.error = "not connected yet"
        self._boot = b""
        self._back_since: float | None = None  # answering again, within the grace
        self._lock = threading.Lock()
        self._prober = Ticker("redis-probe", PROBE_INTERVAL, self.probe)
        self.on_recover: list[Callable[[bool], None]] = []  # called with "it lost its data"

    # -- calls --------------------------------------------------------------------------
    def call(self, operation: Callable[[redis.Redis], Any]) -> Any:
        """``operation(client)``; a lost connection marks the store down and is raised as
        it is (callers turn it into their own answer)."""
        try:
            return operation(self.client)
        except DOWN_ERRORS as exc:
            self.mark_down(exc)
            raise

    def readiness(self) -> tuple[bool, str]:
        if self.up:
            return True, "ready"
        return False, (f"the coordination store (Redis at {self.url}) is unreachable: "
                       f"{self.error}; finished pictures are still served")

    # -- the probe ----------------------------------------------------------------------
    def start(self) -> None:
        self.probe()
        self._prober.start()

    def stop(self) -> None:
        self._prober.stop()

    def probe(self) -> None:
        """Is the store there, and is it the one we knew? Runs the recovery hooks when it
        comes back or came back empty."""
        mark = secrets.token_hex(8).encode()
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.boot, mark, nx=True)
                pipe.get(self.keys.boot)
                _, boot = pipe.execute()
        except DOWN_ERRORS as exc:
            self.mark_down(exc)
            return
        except redis.RedisError as exc:  # a refusal (auth, read-only replica): not usable
            self.mark_down(exc)
            return
        first = not self._boot
        lost = not first and boot != self._boot
        self._boot = boot
        if lost:
            with self._lock:
                self.up = False
                self.error = "Redis lost its data; putting this instance's runs back"
            self._back_since = None
        if self.up:
            return
        if self._back_since is None:
            if not self._recover(lost):
                return
            self._back_since = time.monotonic()
            if not first:
                return  # the grace: the other instances put their state back meanwhile
        if first or time.monotonic() - self._back_since >= RECOVERY_GRACE:
            self._mark_up(lost)

    def mark_down(self, exc: BaseException) -> None:
        with self._lock:
            was_up, self.up = self.up, False
            self.error = str(exc) or type(exc).__name__
            self._back_since = None
        if was_up:
            log.warning("Redis at %s unreachable: %s; new runs are refused until it is back",
                        self.url, self.error)

    def _recover(self, lost: bool) -> bool:
        """Run the recovery hooks; False (still down) when one could not finish."""
        for hook in list(self.on_recover):
            try:
                hook(lost)
            except DOWN_ERRORS as exc:
                self.mark_down(exc)
                return False
            except Exception:
                log.exception("recovering cluster state failed")
                return False
        return True

    def _mark_up(self, lost: bool) -> None:
        with self._lock:
            self.up = True
            self.error = ""
        log.info("Redis at %s reachable%s", self.url,
                 " (it had lost its data: live runs were put back)" if lost else "")

    def wait_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.up:
                return True
            time.sleep(0.02)
        return self.up
