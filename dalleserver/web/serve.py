"""``dalleserver serve``: start, report, serve, and stop gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time

from dalleserver import __version__
from dalleserver.config import Config
from dalleserver.dress.databases import ALL_DATABASES
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.observability.logs import setup_logging
from dalleserver.observability.systemd import Notifier
from dalleserver.runtime import build_runtime
from dalleserver.storage import DataDir, StorageError, sweep_temp_files
from dalleserver.web.app import App
from dalleserver.web.server import DalleHTTPServer

log = logging.getLogger("dalleserver")
STATUS_INTERVAL = 5.0
SHUTDOWN_GRACE = 10.0


class StartupError(Exception):
    """Cannot start: printed as one line, exit 2."""


def status_lines(board: ProgressBoard) -> list[str]:
    """One line per running generation, like the original's status printer."""
    lines = []
    now_ns = time.time_ns()
    for key in board.active_keys():
        snap = board.snapshot(key)
        if not snap:
            continue
        address = snap["address"]
        short = f"{address[:6]}…{address[-4:]}"
        elapsed = (now_ns - snap["startedNs"]) / 1e9
        where = (f"queued #{snap['queuePosition']}" if snap["queuePosition"]
                 else snap["currentPhase"])
        lines.append(f"generating {short} {where:<15} {snap['percent']:5.1f}% "
                     f"eta {snap['etaSeconds']:.1f}s elapsed {elapsed:.1f}s "
                     f"series {snap['series']}")
    return lines


def _status_printer(app: App, stop: threading.Event, interval: float) -> None:
    status = logging.getLogger("dalleserver.status")
    while not stop.wait(interval):
        for line in status_lines(app.board):
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
    try:
        runtime = build_runtime(config)
    except StorageError as exc:
        raise StartupError(str(exc)) from None
    app = App(config, runtime)
    try:
        server = DalleHTTPServer((config.host, config.port), app, config.max_connections,
                                 workers=config.http_threads)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {config.port} on {config.host} is already in use "
                               "(choose another with --port)") from None
        raise StartupError(f"cannot listen on {config.host}:{config.port}: "
                           f"{exc.strerror or exc}") from None

    catalog = runtime.catalog
    log.info("dalleserver %s", __version__)
    log.info("data dir: %s", config.data_dir)
    log.info("image backend: %s%s", config.image_backend,
             "" if config.image_backend != "openai" else f" ({config.image_model})")
    log.info("databases: %s", ", ".join(
        f"{n} {len(catalog.databases[n].records)}" for n in ALL_DATABASES))
    log.info("series: %d", len(catalog.series.names(include_hidden=True)))
    for path, reason in catalog.series.errors:
        log.warning("skipped series file %s: %s", path, reason)
    host, port = server.server_address[:2]
    shown_host = f"[{host}]" if ":" in host else host
    log.info("listening on http://%s:%d", shown_host, port)

    runtime.jobs.start()
    stop = threading.Event()
    threading.Thread(target=sweep_temp_files, args=(runtime.data_dir.output,),
                     name="sweep-temp", daemon=True).start()
    threading.Thread(target=_status_printer, args=(app, stop, STATUS_INTERVAL),
                     name="status-printer", daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="http-accept", daemon=True)
    serving.start()
    notifier = Notifier()
    notifier.ready(f"listening on {shown_host}:{port}")
    notifier.start_watchdog(healthy=lambda: serving.is_alive() and server.workers_alive())

    try:
        while not requested:
            time.sleep(0.2)
    finally:
        stop.set()
        log.info("shutting down: finishing requests and generations (up to %.0fs)",
                 SHUTDOWN_GRACE)
        app.shutting_down = True
        notifier.stopping()
        server.shutdown()
        server.server_close()
        server.drain(SHUTDOWN_GRACE)
        runtime.jobs.stop(SHUTDOWN_GRACE)
        # the handlers stay installed: more signals during the exit must not kill it
        log.info("stopped")
    return 0
