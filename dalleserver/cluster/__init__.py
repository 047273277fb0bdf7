"""Cluster mode (``TB_DALLE_REDIS_URL``): several instances on one shared data dir,
coordinated through Redis or Valkey with the ``redis`` client library (an optional
dependency, imported only in this mode).

``connect`` builds what the runtime swaps in: the generation locks, the board facade the
web layer reads, then (``Cluster.job_manager``) the job manager, and the shared rate limit.
Without the setting none of this is imported and the process runs exactly as one host.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from dalleserver.cluster.batch_store import RedisBatchStore
from dalleserver.cluster.board import ClusterBoard
from dalleserver.cluster.link import RedisLink
from dalleserver.cluster.locks import RedisLockTable
from dalleserver.cluster.manager import ClusterJobManager
from dalleserver.cluster.rate_limit import SharedRateLimiter
from dalleserver.cluster.spend_store import RedisSpendStore
from dalleserver.config import Config
from dalleserver.jobs.pipeline import Pipeline
from dalleserver.jobs.progress import ProgressBoard


@dataclass
class Cluster:
    config: Config
    link: RedisLink
    locks: RedisLockTable
    view: ClusterBoard
    jobs: ClusterJobManager | None = None
    instance: str = field(default="")

    def job_manager(self, pipeline: Pipeline, board: ProgressBoard, workers: int,
                    queue_size: int) -> ClusterJobManager:
        self.jobs = ClusterJobManager(pipeline, board, self.view, self.link, self.locks,
                                      workers, queue_size, self.config.reclaim_after)
        return self.jobs

    def batch_store(self) -> RedisBatchStore:
        return RedisBatchStore(self.link)

    def spend_store(self) -> RedisSpendStore:
        """The spending budget, shared by every instance."""
        return RedisSpendStore(self.link)

    def rate_limiter(self, per_minute: int) -> SharedRateLimiter:
        return SharedRateLimiter(self.link, per_minute)

    def identify(self, port: int) -> str:
        """This instance's name: the setting, else host:port (the port it listens on)."""
        self.instance = self.config.instance or f"{socket.gethostname()}:{port}"
        if self.jobs is not None:
            self.jobs.instance = self.instance
        return self.instance

    def readiness(self) -> tuple[bool, str]:
        return self.link.readiness()

    def health(self) -> dict[str, Any]:
        """The ``coordination`` component of /health."""
        ready, reason = self.link.readiness()
        details: dict[str, Any] = {"store": self.link.url, "instance": self.instance}
        if self.jobs is not None:
            details["reclaimed"] = self.jobs.reclaimed
        if ready:
            return {"status": "healthy", "message": "Redis reachable", **details}
        # degraded, not unhealthy: finished pictures are still served (readiness fails)
        return {"status": "degraded", "message": reason, **details}

    def stats(self) -> dict[str, Any]:
        """What the metrics read: the store's state and the jobs taken over."""
        return {"up": 1.0 if self.link.up else 0.0,
                "reclaimed": float(self.jobs.reclaimed if self.jobs is not None else 0)}


def connect(config: Config, board: ProgressBoard) -> Cluster:
    """The cluster's pieces for ``config`` (nothing connects before ``jobs.start()``)."""
    link = RedisLink(config.redis_url, config.redis_prefix)
    locks = RedisLockTable(link, config.reclaim_after)
    return Cluster(config, link, locks, ClusterBoard(board, link))
