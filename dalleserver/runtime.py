"""Builds the objects a process needs from a Config: catalog, storage, jobs, progress."""

from __future__ import annotations

from dataclasses import dataclass

from dalleserver.config import Config
from dalleserver.dress import Catalog
from dalleserver.imaging.backends import ImageBackend, backend_for
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.manager import JobManager
from dalleserver.jobs.pipeline import Pipeline
from dalleserver.jobs.progress import PhaseStats, ProgressBoard
from dalleserver.storage import DataDir


@dataclass
class Runtime:
    config: Config
    catalog: Catalog
    data_dir: DataDir
    board: ProgressBoard
    locks: LockTable
    pipeline: Pipeline
    jobs: JobManager


def build_runtime(
    config: Config,
    *,
    workers: int | None = None,
    backend: ImageBackend | None | str = "from-config",
    catalog: Catalog | None = None,
) -> Runtime:
    """Wire everything together; nothing is started (call ``runtime.jobs.start()``)."""
    data_dir = DataDir(config.data_dir)
    data_dir.ensure()
    catalog = catalog or Catalog(config.data_dir)
    board = ProgressBoard(PhaseStats(data_dir.phase_stats))
    locks = LockTable(data_dir.locks, ttl=config.lock_ttl)
    chosen = backend_for(config.image_backend) if backend == "from-config" else backend
    pipeline = Pipeline(catalog, data_dir, chosen, board, locks)  # type: ignore[arg-type]
    jobs = JobManager(pipeline, board, workers or config.workers, config.queue_size)
    return Runtime(config, catalog, data_dir, board, locks, pipeline, jobs)
