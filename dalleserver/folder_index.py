"""Files named ``<root>/<series>/<folder>/<name><suffix>``, held in memory in one or more
sort orders and kept up to date as they are made and removed, so a listing costs the page
it shows, not the size of the collection. The picture index of ``/preview`` and the record
index of ``/v1/images`` are both one of these.

This process tells the index about its own files (``add``, ``remove``). Another process
sharing the data dir, or a person deleting files, changes a folder's mtime; each series
folder is checked at most every ``check_interval`` seconds and rescanned only when it
changed, and a rescan loads again only the files whose size or mtime changed.

What an entry is, is the caller's: ``load(series, name, path, stat)`` makes one (or None to
leave the file out), ``orders`` give each order's sort key (unique per entry, so it includes
the series and the name), ``lookups`` give the values an entry can be found by.
"""

from __future__ import annotations

import bisect
import heapq
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, TypeVar

E = TypeVar("E")
CHECK_INTERVAL = 5.0
FileKey = tuple[str, str]  # (series, name)
Loader = Callable[[str, str, Path, os.stat_result], "E | None"]
_sort_key = itemgetter(0)


class _Order(Generic[E]):
    """One order: every entry, and each series' entries, as sorted (key, entry) pairs."""

    def __init__(self, key: Callable[[E], tuple]) -> None:
        self.key = key
        self.everything: list[tuple[tuple, E]] = []
        self.by_series: dict[str, list[tuple[tuple, E]]] = {}

    def insert(self, series: str, entry: E) -> None:
        item = (self.key(entry), entry)
        bisect.insort(self.everything, item, key=_sort_key)
        bisect.insort(self.by_series.setdefault(series, []), item, key=_sort_key)

    def remove(self, series: str, entry: E) -> None:
        key = self.key(entry)
        _drop(self.everything, key)
        group = self.by_series.get(series)
        if group is not None:
            _drop(group, key)
            if not group:
                del self.by_series[series]


def _drop(items: list[tuple[tuple, Any]], key: tuple) -> None:
    at = bisect.bisect_left(items, key, key=_sort_key)
    if at < len(items) and items[at][0] == key:
        del items[at]


class FolderIndex(Generic[E]):
    def __init__(self, root: Path, folder: str, suffix: str, load: Loader,
                 orders: Mapping[str, Callable[[E], tuple]],
                 lookups: Mapping[str, Callable[[E], str]] | None = None,
                 check_interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.folder = folder
        self.suffix = suffix
        self.check_interval = check_interval
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[FileKey, E] = {}
        self._signatures: dict[FileKey, tuple[int, int]] = {}  # (mtime_ns, size) loaded
        self._orders = {name: _Order(key) for name, key in orders.items()}
        self._lookups = dict(lookups or {})
        self._found: dict[str, dict[str, set[FileKey]]] = {n: {} for n in self._lookups}
        self._per_series: Counter[str] = Counter()
        self._stamps: dict[str, int] = {}  # folder mtime (ns) when last read or written
        self._checked = -1.0e18

    def path(self, series: str, name: str) -> Path:
        return self.root / series / self.folder / f"{name}{self.suffix}"

    # -- changes this process makes -----------------------------------------------------
    def add(self, series: str, name: str) -> E | None:
        """A file was written (or rewritten) by this process; its entry, or None."""
        entry, signature = self._read(series, name, self.path(series, name))
        with self._lock:
            self._discard((series, name))
            if entry is not None:
                self._insert((series, name), entry, signature)
            self._stamp(series)
        return entry

    def put(self, series: str, name: str, entry: E, signature: tuple[int, int]) -> None:
        """Like ``add``, for an entry the caller already made."""
        with self._lock:
            self._discard((series, name))
            self._insert((series, name), entry, signature)
            self._stamp(series)

    def remove(self, series: str, name: str) -> None:
        """A file was deleted (or moved away) by this process."""
        with self._lock:
            self._discard((series, name))
            self._stamp(series)

    # -- reading ------------------------------------------------------------------------
    def get(self, series: str, name: str) -> E | None:
        self.refresh()
        with self._lock:
            return self._entries.get((series, name))

    def find(self, lookup: str, value: str) -> list[E]:
        """The entries whose ``lookup`` value is ``value``, in no particular order."""
        self.refresh()
        with self._lock:
            return [self._entries[k] for k in self._found[lookup].get(value, ())]

    def count(self, series: Collection[str] | None = None) -> int:
        """Entries of the given series (of all series when None)."""
        self.refresh()
        with self._lock:
            if series is None:
                return len(self._entries)
            return sum(n for name, n in self._per_series.items() if name in series)

    def series_names(self) -> set[str]:
        self.refresh()
        with self._lock:
            return set(self._per_series)

    def slice(self, order: str, offset: int, limit: int, descending: bool = False,
              series: str | None = None) -> list[E]:
        """``limit`` entries after skipping ``offset``, all series or one: costs the page."""
        self.refresh()
        with self._lock:
            ordered = self._orders[order]
            items = ordered.everything if series is None else ordered.by_series.get(series, [])
            if descending:
                end = len(items) - offset
                chosen = items[max(end - limit, 0):max(end, 0)][::-1]
            else:
                chosen = items[offset:offset + limit]
            return [entry for _, entry in chosen]

    def collect(self, order: str, limit: int, *, descending: bool = False,
                series: Collection[str] | None = None, after: tuple | None = None,
                where: Callable[[E], bool] | None = None, skip: int = 0,
                stop: Callable[[E], bool] | None = None) -> list[E]:
        """Up to ``limit`` entries in ``order`` (sort keys past ``after``, when given) of the
        given series that pass ``where``, after skipping ``skip`` of them, ending early at
        the first entry ``stop`` accepts. Costs the page (merged from each series' list)
        plus the entries ``where`` or ``skip`` pass over."""
        self.refresh()
        with self._lock:
            ordered = self._orders[order]
            if series is None:
                lists = [ordered.everything]
            else:
                lists = [ordered.by_series[s] for s in series if s in ordered.by_series]
            merged = heapq.merge(*(_from(items, after, descending) for items in lists),
                                 key=_sort_key, reverse=descending)
            chosen: list[E] = []
            for _, entry in merged:
                if len(chosen) == limit or (stop is not None and stop(entry)):
                    break
                if where is not None and not where(entry):
                    continue
                if skip:
                    skip -= 1
                    continue
                chosen.append(entry)
            return chosen

    # -- keeping in step with the disk --------------------------------------------------
    def refresh(self) -> None:
        """Rescan the series folders that changed since they were last read (at most every
        ``check_interval`` seconds)."""
        now = self._clock()
        if now - self._checked < self.check_interval:
            return
        self._checked = now
        try:
            folders = [e.name for e in os.scandir(self.root) if e.is_dir()]
        except OSError:
            folders = []
        for series in folders:
            stamp = _folder_stamp(self.root / series / self.folder)
            with self._lock:
                known = self._stamps.get(series)
            if stamp is not None and stamp != known:
                self._rescan(series, stamp)
        with self._lock:
            gone = [s for s in self._per_series if s not in folders]
        for series in gone:
            self._rescan(series, None)

    def _rescan(self, series: str, stamp: int | None) -> None:
        """Replace what is known of one series with what its folder holds; files whose
        size and mtime did not change keep their entries."""
        folder = self.root / series / self.folder
        try:
            files = list(os.scandir(folder)) if stamp is not None else []
        except OSError:
            files = []
        with self._lock:
            known = {k: s for k, s in self._signatures.items() if k[0] == series}
        found: dict[FileKey, tuple[E | None, tuple[int, int]]] = {}
        for item in files:
            name = item.name
            if not name.endswith(self.suffix) or name.startswith("."):
                continue
            key = (series, name[:-len(self.suffix)])
            try:
                stat = item.stat()
            except OSError:
                continue
            signature = (stat.st_mtime_ns, stat.st_size)
            if known.get(key) == signature:
                found[key] = (None, signature)  # unchanged: keep the entry we have
            else:
                found[key] = (self._load(series, key[1], Path(item.path), stat), signature)
        with self._lock:
            for key in [k for k in self._entries if k[0] == series and k not in found]:
                self._discard(key)
            for key, (entry, signature) in found.items():
                if entry is None:
                    if known.get(key) != signature:
                        self._discard(key)  # changed and no longer loadable
                    continue
                self._discard(key)
                self._insert(key, entry, signature)
            if stamp is None:
                self._stamps.pop(series, None)
            else:
                self._stamps[series] = stamp

    def _read(self, series: str, name: str, path: Path
              ) -> tuple[E | None, tuple[int, int]]:
        try:
            stat = path.stat()
        except OSError:
            return None, (0, 0)
        return self._load(series, name, path, stat), (stat.st_mtime_ns, stat.st_size)

    def _insert(self, key: FileKey, entry: E, signature: tuple[int, int]) -> None:
        """With the lock held."""
        self._entries[key] = entry
        self._signatures[key] = signature
        for order in self._orders.values():
            order.insert(key[0], entry)
        for name, value_of in self._lookups.items():
            self._found[name].setdefault(value_of(entry), set()).add(key)
        self._per_series[key[0]] += 1

    def _discard(self, key: FileKey) -> None:
        """With the lock held."""
        entry = self._entries.pop(key, None)
        self._signatures.pop(key, None)
        if entry is None:
            return
        for order in self._orders.values():
            order.remove(key[0], entry)
        for name, value_of in self._lookups.items():
            keys = self._found[name].get(value_of(entry))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._found[name][value_of(entry)]
        self._per_series[key[0]] -= 1
        if self._per_series[key[0]] <= 0:
            del self._per_series[key[0]]

    def _stamp(self, series: str) -> None:
        """With the lock held: our own change is not a reason to rescan the folder."""
        stamp = _folder_stamp(self.root / series / self.folder)
        if stamp is not None:
            self._stamps[series] = stamp


def _from(items: list[tuple[tuple, E]], after: tuple | None, descending: bool
          ) -> Iterator[tuple[tuple, E]]:
    """The items of a sorted list whose keys come after ``after`` in the given direction."""
    if descending:
        start = len(items) if after is None else bisect.bisect_left(items, after, key=_sort_key)
        return (items[at] for at in range(start - 1, -1, -1))
    start = 0 if after is None else bisect.bisect_right(items, after, key=_sort_key)
    return (items[at] for at in range(start, len(items)))


def _folder_stamp(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None
