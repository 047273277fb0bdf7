"""Builds the objects a process needs from a Config: catalog, storage, jobs, progress,
metrics, with an API key the OpenAI provider behind its breakers, and with an Ethereum node
the ENS resolver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dalleserver.batches import BatchService
from dalleserver.batches.store import FileBatchStore
from dalleserver.config import Config
from dalleserver.costs.budget import Budget
from dalleserver.costs.spending import Spending
from dalleserver.costs.store import FileSpendStore, SpendStore
from dalleserver.dress import Catalog
from dalleserver.ens import DisplayNames, EnsResolver, build_resolver
from dalleserver.imaging.backends import ImageBackend, backend_for
from dalleserver.imaging.variant_cache import VariantCache
from dalleserver.jobs.interface import BoardView, JobQueue
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.manager import JobManager
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.pipeline import Pipeline
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.observability.instruments import Instruments
from dalleserver.picture_index import PictureIndex
from dalleserver.records import RecordBook
from dalleserver.speech import SpeechMaker
from dalleserver.storage import DataDir
from dalleserver.webhooks import Webhooks, build_webhooks

if TYPE_CHECKING:
    from dalleserver.cluster import Cluster


@dataclass
class Runtime:
    config: Config
    catalog: Catalog
    data_dir: DataDir
    board: BoardView  # what readers see: this process's board, or the cluster's facade
    locks: Any  # LockTable, or the Redis locks in cluster mode
    pipeline: Pipeline
    jobs: JobQueue  # JobManager, or ClusterJobManager in cluster mode
    instruments: Instruments
    pictures: PictureIndex
    breakers: dict[str, Any] = field(default_factory=dict)
    # with TB_DALLE_RPC_URL: names to addresses, and addresses' names for display
    resolver: EnsResolver | None = None
    display_names: DisplayNames | None = None
    # with an API key: what runs may spend (TB_DALLE_BUDGET) and what they spent
    spending: Spending | None = None
    # every generation's metadata record, and the index /v1/images lists
    records: RecordBook | None = None
    # the spoken prompts of pictures (text to speech needs an API key)
    speech: SpeechMaker | None = None
    # sizes and formats of pictures, thumbnails among them (TB_DALLE_VARIANT_CACHE_MB)
    variants: VariantCache | None = None
    # with TB_DALLE_WEBHOOK_HOSTS: callbacks POSTed when runs end
    webhooks: Webhooks | None = None
    # with TB_DALLE_REDIS_URL: the instances' shared queue, locks, progress and rate limit
    cluster: Cluster | None = None
    # POST /v1/batches and dalleserver batch: many pictures fed in behind interactive ones
    batches: BatchService | None = None


def ens_lookup_limit(http_threads: int) -> int:
    """How many ENS names may wait on the node at once: a quarter of the HTTP threads (at
    least one), so a slow node never holds every thread that serves pictures."""
    return max(1, http_threads // 4)


def build_spending(config: Config, data_dir: DataDir, instruments: Instruments,
                   clock: Callable[[], float] | None = None,
                   store: SpendStore | None = None) -> Spending | None:
    """Cost control when calls are paid (an API key): the price table, the configured
    image options, the budget kept in the data dir (or ``store``: the cluster's), the
    local renderer as its fallback. Reads the ledger once, so an unreadable one stops the
    start (StorageError)."""
    if not config.has_api_key:
        return None
    budget = None
    if config.budget is not None:
        ledger = store or FileSpendStore(data_dir.metrics / "spending.json")
        budget = Budget(config.budget, ledger, **({"clock": clock} if clock else {}))
        if store is None:
            budget.spent()  # the file is read now: a garbled one stops the start
    image = config.image_options if config.image_backend == "openai" else None
    chat = config.enhancement_model if config.enhance_enabled else None
    fallback = backend_for("local") if config.budget_fallback == "local" else None
    spending = Spending(config.prices, image, chat, budget, fallback, instruments)
    instruments.watch(budget=spending.budget_reading)
    return spending


def build_provider(config: Config, instruments: Instruments,
                   breaker_options: dict[str, Any] | None = None,
                   spending: Spending | None = None, **guard_options: Any):
    """(enhancer or None, openai image backend or None, breakers) for this configuration."""
    if not config.has_api_key:
        return None, None, {}
    from dalleserver.provider.enhance import Enhancer
    from dalleserver.provider.guard import GuardedEndpoint
    from dalleserver.provider.http import OpenAIClient
    from dalleserver.provider.images import OpenAIImageBackend
    from dalleserver.resilience.breaker import CircuitBreaker

    client = OpenAIClient(config.openai_api_key)
    options = _breaker_options(config, breaker_options)
    breakers = {name: CircuitBreaker(name, **options) for name in ("chat", "images")}
    chat = GuardedEndpoint("chat", breakers["chat"], instruments, **guard_options)
    images = GuardedEndpoint("images", breakers["images"], instruments, **guard_options)
    enhancer = Enhancer(config, client, chat, spending) if config.enhance_enabled else None
    backend = OpenAIImageBackend(config, client, images, spending)
    return enhancer, backend, breakers


def _breaker_options(config: Config, overrides: dict[str, Any] | None) -> dict[str, Any]:
    from dalleserver.provider.http import is_breaker_failure

    options: dict[str, Any] = {"failure_threshold": config.breaker_failures,
                               "reset_timeout": config.breaker_reset,
                               "success_threshold": config.breaker_successes,
                               "is_failure": is_breaker_failure}
    options.update(overrides or {})
    return options


def build_speech(config: Config, data_dir: DataDir, locks: LockTable,
                 instruments: Instruments, breaker_options: dict[str, Any] | None = None,
                 **guard_options: Any):
    """(speech maker, its breaker or None). The speech endpoint has a breaker of its own,
    shown in the breaker metric but not in /health: speech failing is no reason to call
    the server unhealthy."""
    if not config.has_api_key:
        return SpeechMaker(data_dir, locks, None), None
    from dalleserver.provider.guard import GuardedEndpoint
    from dalleserver.provider.http import OpenAIClient
    from dalleserver.provider.speech import Speaker
    from dalleserver.resilience.breaker import CircuitBreaker

    breaker = CircuitBreaker("speech", **_breaker_options(config, breaker_options))
    endpoint = GuardedEndpoint("speech", breaker, instruments, **guard_options)
    speaker = Speaker(config, OpenAIClient(config.openai_api_key), endpoint)
    return SpeechMaker(data_dir, locks, speaker), breaker


def build_records(config: Config, data_dir: DataDir, catalog: Catalog) -> RecordBook:
    """The metadata records of the data dir; they name the image model when it is used."""
    image_model = config.image_model if config.image_backend == "openai" else ""
    return RecordBook(data_dir.root, catalog, image_model, config.enhancement_model)


def build_runtime(
    config: Config,
    *,
    workers: int | None = None,
    backend: ImageBackend | None = None,
    catalog: Catalog | None = None,
    guard_options: dict[str, Any] | None = None,
    breaker_options: dict[str, Any] | None = None,
    resolver: EnsResolver | None = None,
    budget_clock: Callable[[], float] | None = None,
    webhook_options: dict[str, Any] | None = None,
) -> Runtime:
    """Wire everything together; nothing is started (call ``runtime.jobs.start()``).

    ``backend`` replaces the one the configuration names, ``resolver`` the ENS resolver
    built from TB_DALLE_RPC_URL, ``budget_clock`` the budget's clock (tests, benchmarks),
    ``webhook_options`` go to the webhook dispatcher (timing, clocks)."""
    data_dir = DataDir(config.data_dir)
    data_dir.ensure()
    catalog = catalog or Catalog(config.data_dir)
    board = ProgressBoard(PhaseStats(data_dir.phase_stats), config.progress_retention,
                          memory_budget=config.progress_memory_mb << 20)
    cluster = None
    if config.redis_url:  # cluster mode; the redis library is imported only then
        from dalleserver.cluster import connect

        cluster = connect(config, board)
    locks = cluster.locks if cluster else LockTable(data_dir.locks, ttl=config.lock_ttl)
    view = cluster.view if cluster else board
    instruments = Instruments()
    spending = build_spending(config, data_dir, instruments, budget_clock,
                              cluster.spend_store() if cluster else None)
    enhancer, openai_backend, breakers = build_provider(config, instruments, breaker_options,
                                                        spending, **(guard_options or {}))
    if backend is None:
        backend = (openai_backend if config.image_backend == "openai"
                   else backend_for(config.image_backend))
    board.stats.seed_for(backend.name if backend is not None else "none")
    pictures = PictureIndex(data_dir.output)
    variants = VariantCache(data_dir.variants, config.variant_cache_mb << 20)
    instruments.watch(variants=variants.stats)
    records = build_records(config, data_dir, catalog)
    pipeline = Pipeline(catalog, data_dir, backend, board, locks, enhancer, pictures,
                        spending, variants, records=records)
    webhooks = build_webhooks(config, view, instruments, **(webhook_options or {}))
    if webhooks is not None:
        instruments.watch(webhooks_pending=lambda: webhooks.dispatcher.pending)
    jobs = (cluster.job_manager(pipeline, board, workers or config.workers, config.queue_size)
            if cluster else JobManager(pipeline, board, workers or config.workers,
                                       config.queue_size))
    resolver = resolver or build_resolver(config, max_cold=ens_lookup_limit(config.http_threads))
    display_names = DisplayNames(resolver) if resolver is not None else None
    speech, speech_breaker = build_speech(config, data_dir, locks, instruments,
                                          breaker_options, **(guard_options or {}))
    # the node's and the speech breakers show in the breaker metric, not in /health
    all_breakers = dict(breakers)
    if speech_breaker is not None:
        all_breakers["speech"] = speech_breaker
    if resolver is not None:
        instruments.watch(ens=resolver.stats)
        if resolver.rpc.breaker is not None:
            all_breakers["ens"] = resolver.rpc.breaker
    instruments.watch(progress=board.memory, queue_capacity=lambda: jobs.queue_size)
    if cluster:
        instruments.watch(cluster=cluster.stats)
    instruments.watch(queue_depth=lambda: jobs.queue_depth, in_flight=lambda: jobs.in_flight,
                      breaker_states=lambda: {n: b.state for n, b in all_breakers.items()})
    batch_store = cluster.batch_store() if cluster else FileBatchStore(data_dir.root / "batches")
    batches = BatchService(batch_store, jobs, view, pipeline.image_exists, config.batch_max,
                           webhooks, takeover=config.reclaim_after,
                           draws=pipeline.backend is not None)
    return Runtime(config, catalog, data_dir, view, locks, pipeline, jobs, instruments,
                   pictures, breakers, resolver=resolver, display_names=display_names,
                   spending=spending, variants=variants, webhooks=webhooks, records=records,
                   speech=speech, cluster=cluster, batches=batches)
