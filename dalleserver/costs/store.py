"""Where the budget's spending is kept. ``SpendStore`` is the whole interface: a cluster can
share one budget by implementing its two methods on Redis (a Lua script or WATCH/MULTI
around INCRBYFLOAT on the window's key, with an expiry after the window ends).

``FileSpendStore`` is the one-server store: a small JSON file in the data dir, read and
rewritten (atomically) under an exclusive lock, so the server and a ``generate`` command
sharing the data dir count into the same budget, and a restart starts where it stopped.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from dalleserver.storage import StorageError, atomic_write

KEEP_WINDOWS = 16  # windows kept in the file, most recently charged last


class SpendStore(Protocol):
    def charge(self, window: str, amount: float, limit: float | None) -> bool:
        """Add ``amount`` (negative: give back) to the window's spending, as one atomic
        step; with a ``limit``, only when the total stays within it. True when added."""
        ...

    def spent(self, window: str) -> float:
        """What the window has spent so far (0 for a window never charged)."""
        ...


class FileSpendStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()

    @contextmanager
    def _locked(self):
        """This process's threads, then other processes, one at a time."""
        with self._thread_lock:
            try:
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StorageError(f"cannot open {self._lock_path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, float]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            windows = json.loads(text)["windows"]
            return {str(k): float(v) for k, v in windows.items() if math.isfinite(float(v))}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StorageError(f"{self.path} is not a spending ledger; move it away to "
                               "start counting from zero") from None

    def charge(self, window: str, amount: float, limit: float | None) -> bool:
        with self._locked():
            windows = self._read()
            total = windows.pop(window, 0.0) + amount
            # a small tolerance: dollar amounts are sums of floats
            if limit is not None and amount > 0 and total > limit + 1e-9:
                return False
            windows[window] = max(total, 0.0)
            kept = dict(list(windows.items())[-KEEP_WINDOWS:])
            atomic_write(self.path, json.dumps({"windows": kept}, indent=1) + "\n")
            return True

    def spent(self, window: str) -> float:
        with self._locked():
            return self._read().get(window, 0.0)
