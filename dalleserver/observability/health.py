"""Health: data dir writable, disk space, memory, queue saturation, OpenAI breakers, and
the Ethereum node when one is configured.

Never calls OpenAI or the node. The write check is a real write in the data dir, done at most every
``write_interval`` seconds so frequent probes stay cheap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dalleserver import __version__
from dalleserver.observability import process
from dalleserver.storage import DataDir

RANK = {"healthy": 0, "degraded": 1, "unhealthy": 2}


@dataclass(frozen=True)
class Thresholds:
    disk_degraded_free: float = 0.10  # share of the space this process may use
    disk_unhealthy_free: float = 0.02
    disk_degraded_bytes: int = 1 << 30
    disk_unhealthy_bytes: int = 100 << 20
    memory_degraded_bytes: int = 512 << 20
    memory_unhealthy_bytes: int = 2 << 30
    queue_degraded_share: float = 0.8


def _component(status: str, message: str, **details: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **details}


class HealthChecker:
    def __init__(
        self,
        data_dir: DataDir,
        queue_depth: Callable[[], int],
        queue_size: int,
        breaker_states: Callable[[], dict[str, str]] = dict,
        openai_in_use: bool = False,
        thresholds: Thresholds = Thresholds(),
        write_interval: float = 5.0,
        ethereum_node: Callable[[], dict[str, Any]] | None = None,
        coordination: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.queue_depth = queue_depth
        self.queue_size = queue_size
        self.breaker_states = breaker_states
        self.openai_in_use = openai_in_use
        self.thresholds = thresholds
        self.write_interval = write_interval
        # with TB_DALLE_RPC_URL: the ENS resolver's state (healthy or degraded, never worse)
        self.ethereum_node = ethereum_node
        # cluster mode: the Redis the instances share, and this instance's name
        self.coordination = coordination
        self.started = time.monotonic()
        self._write_checked = 0.0
        self._write_error: str | None = None
        self._lock = threading.Lock()

    def writable_error(self) -> str | None:
        """None when a real write in the data dir worked recently, else the reason.

        One caller at a time does the write; the others meanwhile get the last result
        instead of waiting for its fsync.
        """
        now = time.monotonic()
        if self._write_checked and now - self._write_checked < self.write_interval:
            return self._write_error
        if not self._lock.acquire(blocking=not self._write_checked):
            return self._write_error
        try:
            if not self._write_checked or time.monotonic() - self._write_checked >= (
                    self.write_interval):
                self._write_error = self.data_dir.check_writable()
                self._write_checked = time.monotonic()
            return self._write_error
        finally:
            self._lock.release()

    def filesystem(self) -> dict[str, Any]:
        error = self.writable_error()
        if error:
            return _component("unhealthy", f"data dir not writable: {error}")
        return _component("healthy", "data dir writable")

    def disk_space(self) -> dict[str, Any]:
        t = self.thresholds
        try:
            st = os.statvfs(self.data_dir.root)
        except OSError as exc:
            return _component("unhealthy", f"cannot read disk usage: {exc.strerror}")
        free = st.f_bavail * st.f_frsize
        usable = (st.f_blocks - st.f_bfree + st.f_bavail) * st.f_frsize
        if usable <= 0:
            return _component("healthy", "disk size unknown", free_bytes=free)
        share = free / usable
        details = {"free_bytes": free, "free_percent": round(share * 100, 2)}
        if share < t.disk_unhealthy_free or free < t.disk_unhealthy_bytes:
            return _component("unhealthy", "disk almost full", **details)
        if share < t.disk_degraded_free or free < t.disk_degraded_bytes:
            return _component("degraded", "disk space low", **details)
        return _component("healthy", "enough disk space", **details)

    def memory(self) -> dict[str, Any]:
        t = self.thresholds
        rss = process.resident_memory_bytes()
        details = {"rss_bytes": int(rss)}
        if rss >= t.memory_unhealthy_bytes:
            return _component("unhealthy", "memory use very high", **details)
        if rss >= t.memory_degraded_bytes:
            return _component("degraded", "memory use high", **details)
        return _component("healthy", "memory use normal", **details)

    def queue(self) -> dict[str, Any]:
        depth = self.queue_depth()
        details = {"depth": depth, "capacity": self.queue_size}
        if depth >= self.queue_size:
            return _component("degraded", "generation queue full", **details)
        if depth >= self.thresholds.queue_degraded_share * self.queue_size:
            return _component("degraded", "generation queue nearly full", **details)
        return _component("healthy", "generation queue has room", **details)

    def openai(self) -> dict[str, Any]:
        states = self.breaker_states()
        if not self.openai_in_use or not states:
            return _component("healthy", "not in use (local or offline mode)")
        if any(s == "open" for s in states.values()):
            # finished pictures are still served: a load balancer must keep the instance
            status, message = "degraded", "circuit breaker open: provider unavailable"
        elif any(s == "half_open" for s in states.values()):
            status, message = "degraded", "circuit breaker half-open: probing the provider"
        else:
            status, message = "healthy", "circuit breakers closed"
        return _component(status, message, breakers=states)

    def report(self) -> dict[str, Any]:
        components = {
            "filesystem": self.filesystem(),
            "disk_space": self.disk_space(),
            "memory": self.memory(),
            "openai": self.openai(),
            "queue": self.queue(),
        }
        if self.ethereum_node is not None:
            components["ethereum_node"] = self.ethereum_node()
        if self.coordination is not None:
            components["coordination"] = self.coordination()
        worst = max(components.values(), key=lambda c: RANK[c["status"]])["status"]
        report = {
            "status": worst,
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
            "components": components,
        }
        if self.coordination is not None:
            report["instance"] = components["coordination"].get("instance", "")
        return report
