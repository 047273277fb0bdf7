"""The disk cache of image variants: each made once (concurrent first requests wait for one
encode), written atomically, kept within a size bound by evicting the least recently used.

Layout: ``<root>/<series>/<address>/<source>-<width>.<ext>``, so removing a picture removes
its variants with one folder."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dalleserver.imaging.variants import FORMATS, VariantSpec, encode_variant
from dalleserver.storage import (
    TEMP_SUFFIX,
    Key,
    StorageError,
    atomic_write,
    sweep_temp_files,
)

log = logging.getLogger("dalleserver.variants")

# A request waiting for another's encode gives up after this long (a bound, never reached
# by a healthy encode, which takes well under a second).
FLIGHT_WAIT = 120.0
# Temp files of a crashed writer older than this are removed by the sweep.
STALE_TEMP_SECONDS = 3600.0
MAX_REMEMBERED_PATHS = 4096


class VariantError(Exception):
    """A variant could not be made (the message names no path)."""


@dataclass
class _Flight:
    """One encode in progress; others asking for the same variant wait for it."""

    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    waiters: int = 0


class VariantCache:
    """Variants of pictures under ``root``, at most ``max_bytes`` after each ``sweep``.
    ``clock`` orders uses for eviction; ``encode`` makes a variant's bytes (injectable so
    tests can hold an encode at a gate)."""

    def __init__(self, root: Path, max_bytes: int,
                 clock: Callable[[], float] = time.time,
                 encode: Callable[[Path, VariantSpec], bytes] = encode_variant) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._clock = clock
        self._encode = encode
        self._lock = threading.Lock()
        self._flights: dict[Path, _Flight] = {}
        self._paths: dict[tuple[Key, VariantSpec], Path] = {}
        self._used: dict[Path, float] = {}  # last made or served (the clock's time)
        self._made: Counter[str] = Counter(dict.fromkeys(FORMATS, 0))
        self._evicted = 0
        self._bytes = 0

    # -- paths ----------------------------------------------------------------------------
    def folder(self, key: Key) -> Path:
        """Where the variants of one picture live."""
        return self.root / key[0] / key[1]

    def path(self, key: Key, spec: VariantSpec) -> Path:
        # asked on every request; joining paths with pathlib costs ~5 µs each time
        path = self._paths.get((key, spec))
        if path is None:
            if len(self._paths) >= MAX_REMEMBERED_PATHS:
                self._paths.clear()
            path = self._paths[(key, spec)] = self.folder(key) / spec.file_name
        return path

    # -- making and serving ---------------------------------------------------------------
    def get(self, key: Key, source: Path, spec: VariantSpec) -> Path:
        """The path of an up-to-date variant of ``source``, made now if needed (once, however
        many ask at the same time). Raises FileNotFoundError when the source is missing,
        VariantError when the variant cannot be made."""
        target = self.path(key, spec)
        if self._fresh(target, source):
            self._touch(target)
            return target
        with self._lock:
            flight = self._flights.get(target)
            owner = flight is None
            if owner:
                flight = self._flights[target] = _Flight()
            else:
                flight.waiters += 1
        assert flight is not None
        if owner:
            self._make(target, source, spec, flight)
        else:
            self._wait(flight)
        if flight.error is not None:
            raise flight.error
        return target

    def _wait(self, flight: _Flight) -> None:
        try:
            if not flight.done.wait(FLIGHT_WAIT):
                raise VariantError("timed out waiting for the image variant")
        finally:
            with self._lock:
                flight.waiters -= 1

    def waiting(self) -> int:
        """Requests waiting now for an encode another request is doing."""
        with self._lock:
            return sum(flight.waiters for flight in self._flights.values())

    def _make(self, target: Path, source: Path, spec: VariantSpec, flight: _Flight) -> None:
        try:
            # the previous flight may have finished between our freshness check and now
            if not self._fresh(target, source):
                atomic_write(target, self._encode(source, spec))
                with self._lock:
                    self._made[spec.extension] += 1
            self._touch(target)
        except FileNotFoundError as exc:
            flight.error = exc
        except (OSError, ValueError, StorageError) as exc:
            log.warning("cannot make %s of %s: %s", spec.file_name, source, exc)
            flight.error = VariantError("the image variant could not be made")
        finally:
            with self._lock:
                del self._flights[target]
            flight.done.set()

    def _touch(self, target: Path) -> None:
        with self._lock:
            self._used[target] = self._clock()

    @staticmethod
    def _fresh(target: Path, source: Path) -> bool:
        """True when ``target`` exists and is not older than ``source`` (FileNotFoundError
        when the source is missing)."""
        source_ns = source.stat().st_mtime_ns
        try:
            return target.stat().st_mtime_ns >= source_ns
        except OSError:
            return False

    # -- removal and eviction -------------------------------------------------------------
    def remove(self, key: Key) -> None:
        """Remove every variant of one picture (with the picture)."""
        folder = self.folder(key)
        shutil.rmtree(folder, ignore_errors=True)
        with self._lock:
            for path in [p for p in self._used if p.parent == folder]:
                self._used.pop(path, None)

    def sweep(self) -> int:
        """Evict the least recently used variants until the cache fits ``max_bytes``;
        returns how many went. Crashed writers' temp files go too."""
        sweep_temp_files(self.root, STALE_TEMP_SECONDS)
        entries = self._entries()
        total = sum(size for _, size, _ in entries)
        evicted = 0
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= self.max_bytes:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            total -= size
            evicted += 1
            self._forget(path)
        with self._lock:
            self._evicted += evicted
            self._bytes = total
        return evicted

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last use, size, path) of every variant on disk; known uses prune the rest."""
        entries = []
        now = self._clock()
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(folder) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                    continue  # being written (or left by a crash: sweep_temp_files)
                entries.append((self._used.get(path, min(stat.st_mtime, now)), stat.st_size,
                                path))
        known = {path for _, _, path in entries}
        with self._lock:
            for path in [p for p in self._used if p not in known]:
                del self._used[path]
        return entries

    def _forget(self, path: Path) -> None:
        with self._lock:
            self._used.pop(path, None)

    def stats(self) -> dict[str, object]:
        """Variants made (by format), evicted, and the cache's bytes at the last sweep."""
        with self._lock:
            return {"made": dict(self._made), "evicted": self._evicted, "bytes": self._bytes}
