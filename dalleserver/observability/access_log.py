"""The access log, cheap enough to be on by default.

A request costs one ``deque.append`` of a tuple: no record, no formatting, no lock, no
write. A writer thread wakes every ``interval`` (or sooner when many lines wait), formats
the batch and writes it in one call per handler. To the handler ``setup_logging`` installs
the lines are formatted here, as its formatter would, with a per-second time stamp; any
other handler (a test's, a custom one) gets ordinary records. ``close`` writes what is left:
the service calls it after the last request, so a SIGTERM loses no line.

Logging each line through ``logging`` on the request's own thread cost about 7 µs of the
GIL per request and the handler's lock; at 15,000 requests a second that is a tenth of the
server's throughput (see docs/benchmarks.md).
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Iterator

from dalleserver.observability.logs import InstanceField, JsonFormatter, TextFormatter, printable

INTERVAL = 0.2  # seconds between writes
BATCH = 1024  # lines that wake the writer before its interval is over
MESSAGE = '%s "%s %s" %d %d %.1fms id=%s'

# (time.time(), client, method, target, status, bytes sent, seconds, request id)
Entry = tuple[float, str, str, str, int, int, float, str]


class AccessLog:
    def __init__(self, name: str = "dalleserver.access", interval: float = INTERVAL,
                 batch: int = BATCH) -> None:
        self.logger = logging.getLogger(name)
        self.interval = interval
        self.batch = batch
        self._pending: collections.deque[Entry] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one batch at a time, in order
        self._thread: threading.Thread | None = None
        self._stamps: tuple[int, str] = (-1, "")

    def wanted(self) -> bool:
        """Is the access log on (INFO enabled)? Cached by logging, cheap to ask."""
        return self.logger.isEnabledFor(logging.INFO)

    def add(self, entry: Entry) -> None:
        """Queue one line; returns at once."""
        self._pending.append(entry)
        if self._thread is None:
            self._start()
        elif len(self._pending) >= self.batch:
            self._wake.set()
        if self._stop.is_set():  # a stream that ended after close: written at once
            self.flush()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="access-log",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write every queued line now; returns how many."""
        with self._write_lock:
            entries = list(self._drain())
            if entries:
                self._emit(entries)
            return len(entries)

    def close(self) -> None:
        """Stop the writer and write what is left (the service calls it at shutdown)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()

    def _drain(self) -> Iterator[Entry]:
        pending = self._pending
        while True:
            try:
                yield pending.popleft()
            except IndexError:
                return

    # -- writing ------------------------------------------------------------------------
    def _emit(self, entries: list[Entry]) -> None:
        for handler in _handlers(self.logger):
            if handler.level > logging.INFO:
                continue
            form = _fast_form(handler) if not self.logger.filters else None
            if form is None:
                for entry in entries:
                    handler.handle(self._record(entry))
                continue
            instance = _instance(handler)
            lines = (self._json_lines(entries, instance) if form == "json"
                     else self._text_lines(entries, instance))
            try:
                with handler.lock:  # type: ignore[union-attr]
                    stream = handler.stream  # type: ignore[attr-defined]
                    stream.write(lines)
                    stream.flush()
            except (OSError, ValueError):  # stderr gone: nothing to write to
                pass

    def _stamp(self, created: float) -> str:
        second = int(created)
        cached, text = self._stamps
        if second != cached:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._stamps = (second, text)
        return text

    def _text_lines(self, entries: list[Entry], instance: str) -> str:
        where = f"[{instance}] " if instance else ""
        return "".join(
            f'{self._stamp(e[0])}Z INFO    {where}{e[1]} "{e[2]} {printable(e[3][:2048])}" '
            f"{e[4]} {e[5]} {e[6] * 1000:.1f}ms id={e[7] or '-'}\n" for e in entries)

    def _json_lines(self, entries: list[Entry], instance: str) -> str:
        lines = []
        for e in entries:
            doc = {"ts": f"{self._stamp(e[0])}.{int(e[0] % 1 * 1000):03d}Z", "level": "info",
                   "logger": self.logger.name, "msg": _message(e), **_fields(e)}
            if instance:
                doc["instance"] = instance
            lines.append(json.dumps(doc, default=str))
        return "\n".join(lines) + "\n"

    def _record(self, entry: Entry) -> logging.LogRecord:
        created, client, method, target, status, sent, seconds, rid = entry
        record = self.logger.makeRecord(
            self.logger.name, logging.INFO, __file__, 0, MESSAGE,
            (client, method, target[:2048], status, sent, seconds * 1000, rid or "-"), None,
            extra=_fields(entry))
        record.created = created
        record.msecs = created % 1 * 1000
        return record


def _message(e: Entry) -> str:
    return MESSAGE % (e[1], e[2], e[3][:2048], e[4], e[5], e[6] * 1000, e[7] or "-")


def _fields(e: Entry) -> dict[str, object]:
    return {"request_id": e[7], "client": e[1], "method": e[2], "path": e[3],
            "status": e[4], "bytes": e[5], "duration_ms": round(e[6] * 1000, 3)}


def _handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of ``logger`` reaches, as ``Logger.callHandlers`` walks them."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found.extend(current.handlers)
        if not current.propagate:
            break
        current = current.parent
    return found


def _fast_form(handler: logging.Handler) -> str | None:
    """"text" or "json" for the stream handler ``setup_logging`` installs (lines formatted
    here, as its formatter would); None for any other handler (it gets records)."""
    if type(handler) is not logging.StreamHandler:
        return None
    if any(not isinstance(f, InstanceField) for f in handler.filters):
        return None
    formatter = type(handler.formatter)
    if formatter is TextFormatter:
        return "text"
    if formatter is JsonFormatter:
        return "json"
    return None


def _instance(handler: logging.Handler) -> str:
    return next((f.instance for f in handler.filters if isinstance(f, InstanceField)), "")
