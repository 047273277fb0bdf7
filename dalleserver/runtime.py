"""Builds the objects a process needs from a Config: catalog, storage, jobs, progress,
metrics and, with an API key, the OpenAI provider behind its breakers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dalleserver.config import Config
from dalleserver.dress import Catalog
from dalleserver.imaging.backends import ImageBackend, backend_for
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.manager import JobManager
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.pipeline import Pipeline
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.observability.instruments import Instruments
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
    instruments: Instruments
    breakers: dict[str, Any] = field(default_factory=dict)


def build_provider(config: Config, instruments: Instruments,
                   breaker_options: dict[str, Any] | None = None, **guard_options: Any):
    """(enhancer or None, openai image backend or None, breakers) for this configuration."""
    if not config.has_api_key:
        return None, None, {}
    from dalleserver.provider.enhance import Enhancer
    from dalleserver.provider.guard import GuardedEndpoint
    from dalleserver.provider.http import OpenAIClient, is_breaker_failure
    from dalleserver.provider.images import OpenAIImageBackend
    from dalleserver.resilience.breaker import CircuitBreaker

    client = OpenAIClient(config.openai_api_key)
    options: dict[str, Any] = {"failure_threshold": config.breaker_failures,
                               "reset_timeout": config.breaker_reset,
                               "success_threshold": config.breaker_successes,
                               "is_failure": is_breaker_failure}
    options.update(breaker_options or {})
    breakers = {name: CircuitBreaker(name, **options) for name in ("chat", "images")}
    chat = GuardedEndpoint("chat", breakers["chat"], instruments, **guard_options)
    images = GuardedEndpoint("images", breakers["images"], instruments, **guard_options)
    enhancer = Enhancer(config, client, chat) if config.enhance_enabled else None
    backend = OpenAIImageBackend(config, client, images)
    return enhancer, backend, breakers


def build_runtime(
    config: Config,
    *,
    workers: int | None = None,
    backend: ImageBackend | None = None,
    catalog: Catalog | None = None,
    guard_options: dict[str, Any] | None = None,
    breaker_options: dict[str, Any] | None = None,
) -> Runtime:
    """Wire everything together; nothing is started (call ``runtime.jobs.start()``).

    ``backend`` replaces the one the configuration names (tests, benchmarks)."""
    data_dir = DataDir(config.data_dir)
    data_dir.ensure()
    catalog = catalog or Catalog(config.data_dir)
    board = ProgressBoard(PhaseStats(data_dir.phase_stats))
    locks = LockTable(data_dir.locks, ttl=config.lock_ttl)
    instruments = Instruments()
    enhancer, openai_backend, breakers = build_provider(config, instruments, breaker_options,
                                                        **(guard_options or {}))
    if backend is None:
        backend = (openai_backend if config.image_backend == "openai"
                   else backend_for(config.image_backend))
    pipeline = Pipeline(catalog, data_dir, backend, board, locks, enhancer)
    jobs = JobManager(pipeline, board, workers or config.workers, config.queue_size)
    instruments.watch(queue_depth=lambda: jobs.queue_depth, in_flight=lambda: jobs.in_flight,
                      breaker_states=lambda: {n: b.state for n, b in breakers.items()})
    return Runtime(config, catalog, data_dir, board, locks, pipeline, jobs, instruments,
                   breakers)
