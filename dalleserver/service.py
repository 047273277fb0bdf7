"""The composition root and the service's life: ``create_server`` wires a configuration
into a runtime, the application and the HTTP engine (``serve``, the tests and the
benchmarks all use it); ``run_server`` is ``dalleserver serve``: start, report, serve, and
stop gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from dalleserver import __version__
from dalleserver.config import Config
from dalleserver.dress.databases import ALL_DATABASES
from dalleserver.httpd import EngineHooks, HTTPServer, Timeouts
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.observability.logs import setup_logging
from dalleserver.observability.systemd import Notifier
from dalleserver.runtime import Runtime, build_runtime
from dalleserver.storage import DataDir, StorageError, TempSweeper
from dalleserver.web.app import App

log = logging.getLogger("dalleserver")
STATUS_INTERVAL = 5.0
SHUTDOWN_GRACE = 10.0
HOUSEKEEPING_INTERVAL = 60.0


class StartupError(Exception):
    """Cannot start: printed as one line, exit 2."""


@dataclass
class Service:
    """Everything one server process runs: the jobs, the application and the engine."""

    runtime: Runtime
    app: App
    server: HTTPServer
    sweeper: TempSweeper  # a crash's temp files go at start and every ten minutes

    def start(self, poll_interval: float = 0.2) -> threading.Thread:
        """Start the generation workers, the ENS display-name lookups and the accept loop
        (in a thread of its own)."""
        self.runtime.jobs.start()
        if self.runtime.batches is not None:
            self.runtime.batches.start()
        self.sweeper.start()
        if self.runtime.webhooks is not None:
            self.runtime.webhooks.start()
        if self.runtime.display_names is not None:
            self.runtime.display_names.start()
        thread = threading.Thread(target=self.server.serve_forever,
                                  kwargs={"poll_interval": poll_interval},
                                  name="http-accept", daemon=True)
        thread.start()
        return thread

    def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Refuse new work, finish requests and generations within ``grace`` seconds."""
        self.app.shutting_down = True
        self.app.waiters.stop()  # parked answers go out now, with what there is
        if self.app.lookups is not None:
            self.app.lookups.stop()
        self.server.shutdown()
        self.server.server_close()
        self.server.drain(grace)
        self.app.access.close()  # every answered request's line is written
        self.sweeper.stop()
        if self.runtime.batches is not None:  # before the jobs: no feeding into a closed queue
            self.runtime.batches.stop()
        self.runtime.jobs.stop(grace)
        if self.runtime.webhooks is not None:  # after the runs: their webhooks are queued
            self.runtime.webhooks.stop()
        if self.runtime.display_names is not None:
            self.runtime.display_names.stop()


def create_server(config: Config, *, engine: str = "auto", timeouts: Timeouts | None = None,
                  **runtime_options: Any) -> Service:
    """Wire ``config`` into a service listening on ``config.host:config.port`` (not yet
    serving). ``runtime_options`` go to ``build_runtime`` (workers, backend, ...);
    ``engine`` and ``timeouts`` to the HTTP engine. Raises OSError when it cannot listen,
    StorageError when the data dir is unusable."""
    runtime = build_runtime(config, **runtime_options)
    app = App(config, runtime)
    instruments = runtime.instruments
    hooks = EngineHooks(connection_refused=instruments.connections_rejected.inc,
                        worker_stalled=instruments.http_worker_stalls.inc)
    server = HTTPServer((config.host, config.port), app, name=f"dalleserver/{__version__}",
                        max_connections=config.max_connections, workers=config.http_threads,
                        engine=engine, timeouts=timeouts, hooks=hooks,
                        max_per_client=config.max_connections_per_client,
                        cap_exempt=app.clients.trusts)
    instruments.watch(http_in_flight=lambda: server.busy,
                      http_connections=lambda: server.connection_count)
    if runtime.cluster is not None:  # this instance's name, known once it listens
        instruments.label_instance(runtime.cluster.identify(server.server_address[1]))
    return Service(runtime, app, server, TempSweeper(runtime.data_dir.output))


def status_lines(board: ProgressBoard, queue_depth: int) -> list[str]:
    """One line per running generation, like the original's status printer, and one for
    the queue: a deep queue must not print a line per waiting job every few seconds."""
    lines = []
    now_ns = time.time_ns()
    for key in board.running_keys():
        snap = board.snapshot(key)
        if not snap:
            continue
        address = snap["address"]
        short = f"{address[:6]}…{address[-4:]}"
        elapsed = (now_ns - snap["startedNs"]) / 1e9
        lines.append(f"generating {short} {snap['currentPhase']:<15} {snap['percent']:5.1f}% "
                     f"eta {snap['etaSeconds']:.1f}s elapsed {elapsed:.1f}s "
                     f"series {snap['series']}")
    if queue_depth:
        lines.append(f"queued: {queue_depth} generation(s) waiting")
    return lines


def _housekeeping(runtime: Runtime, stop: threading.Event) -> None:
    """Every minute: stale locks of crashed runs go, asked for again or not, counted
    cache hits reach the statistics file, and the image variant cache is cut to its size."""
    while not stop.wait(HOUSEKEEPING_INTERVAL):
        try:
            removed = runtime.locks.sweep()
            runtime.board.stats.save_if_pending()
            if runtime.variants is not None:
                runtime.variants.sweep()
        except Exception:  # housekeeping must never take the server down
            log.exception("housekeeping failed")
            continue
        if removed:
            log.info("removed %d stale lock(s)", removed)


def _status_printer(runtime: Runtime, stop: threading.Event, interval: float) -> None:
    status = logging.getLogger("dalleserver.status")
    while not stop.wait(interval):
        for line in status_lines(runtime.board, runtime.jobs.queue_depth):
            status.info(line)


def run_server(config: Config) -> int:
    setup_logging(config.log_level, config.log_format)
    # The handler only flips a flag: taking a lock there (Event.set does) deadlocks when a
    # second signal lands while the first handler holds it, as happens when both a parent
    # (make, a shell) and the service manager forward SIGTERM.
    requested: list[int] = []

    def on_signal(signum, _frame) -> None:
        requested.append(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    problem = DataDir(config.data_dir).check_writable()
    if problem:
        raise StartupError(f"data dir {config.data_dir} is not writable: {problem}")
    service = _create_or_explain(config)
    if service.runtime.cluster is not None:  # every line names the instance
        setup_logging(config.log_level, config.log_format, service.runtime.cluster.instance)
    _report_startup(service)
    serving = service.start()
    stop = threading.Event()
    threading.Thread(target=_housekeeping, args=(service.runtime, stop),
                     name="housekeeping", daemon=True).start()
    threading.Thread(target=_status_printer, args=(service.runtime, stop, STATUS_INTERVAL),
                     name="status-printer", daemon=True).start()
    server = service.server
    host, port = _shown_address(server)
    notifier = Notifier()
    notifier.ready(f"listening on {host}:{port}")
    notifier.start_watchdog(healthy=lambda: serving.is_alive() and server.workers_alive())
    try:
        while not requested:
            time.sleep(0.2)
    finally:
        stop.set()
        log.info("shutting down: finishing requests and generations (up to %.0fs)",
                 SHUTDOWN_GRACE)
        notifier.stopping()
        service.stop(SHUTDOWN_GRACE)
        # the handlers stay installed: more signals during the exit must not kill it
        log.info("stopped")
    return 0


def _create_or_explain(config: Config) -> Service:
    """The service, or a StartupError that says in one line why it cannot start."""
    try:
        return create_server(config)
    except StorageError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {config.port} on {config.host} is already in use "
                               "(choose another with --port)") from None
        raise StartupError(f"cannot listen on {config.host}:{config.port}: "
                           f"{exc.strerror or exc}") from None


def _shown_address(server: HTTPServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return (f"[{host}]" if ":" in host else host), port


def _report_startup(service: Service) -> None:
    config, catalog = service.app.config, service.runtime.catalog
    log.info("dalleserver %s", __version__)
    log.info("data dir: %s", config.data_dir)
    log.info("image backend: %s%s", config.image_backend,
             "" if config.image_backend != "openai" else f" ({config.image_model}, quality "
                                                         f"{config.image_quality or 'none'})")
    spending = service.runtime.spending
    if spending is not None and spending.budget is not None:
        budget = spending.budget
        log.info("spending budget: %s, %g left until %s UTC", budget.spec.describe(),
                 budget.remaining(), f"{budget.current().ends:%Y-%m-%d %H:%M}")
    log.info("databases: %s", ", ".join(
        f"{n} {len(catalog.databases[n].records)}" for n in ALL_DATABASES))
    log.info("series: %d", len(catalog.series.names(include_hidden=True)))
    resolver = service.runtime.resolver
    log.info("ENS names: %s", f"through the Ethereum node {resolver.node}" if resolver
             else "off (no TB_DALLE_RPC_URL)")
    cluster = service.runtime.cluster
    if cluster is not None:
        log.info("cluster mode: instance %s, Redis at %s", cluster.instance, cluster.link.url)
    for path, reason in catalog.series.errors:
        log.warning("skipped series file %s: %s", path, reason)
    host, port = _shown_address(service.server)
    # the one line a user of --port 0 needs: shown whatever the log level
    log.log(max(logging.INFO, log.getEffectiveLevel()), "listening on http://%s:%d", host, port)
