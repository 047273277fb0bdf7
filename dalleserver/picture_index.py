"""Every annotated picture in the data dir, newest first, kept up to date as pictures are
made and removed, so a listing costs the page it shows, not the size of the collection.

This process tells the index about its own pictures (``add``, ``remove``). Another process
sharing the data dir, or a person deleting files, changes a folder's mtime; each series
folder is checked at most every ``check_interval`` seconds and rescanned only when changed.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from dalleserver.address import to_checksum_address
from dalleserver.storage import Key

CHECK_INTERVAL = 5.0


class Picture:
    """One annotated picture; ordered oldest first (mtime, then series and address)."""

    __slots__ = ("mtime", "series", "address", "_checksum")

    def __init__(self, mtime: float, series: str, address: str) -> None:
        self.mtime = mtime
        self.series = series
        self.address = address
        self._checksum = ""

    def __lt__(self, other: Picture) -> bool:
        return (self.mtime, self.series, self.address) < (other.mtime, other.series,
                                                           other.address)

    @property
    def key(self) -> Key:
        return (self.series, self.address)

    @property
    def checksum(self) -> str:
        """The EIP-55 form, computed when first shown and kept (a scan of 30,000 pictures
        must not hash every address)."""
        if not self._checksum:
            try:
                self._checksum = to_checksum_address(self.address)
            except (ValueError, IndexError):
                self._checksum = self.address
        return self._checksum


def picture(series: str, address: str, mtime: float) -> Picture:
    return Picture(mtime, series, address)


class PictureIndex:
    def __init__(self, output: Path, check_interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.output = output
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._by_key: dict[Key, Picture] = {}
        self._order: list[Picture] = []  # oldest first: new pictures go at the end
        self._per_series: Counter[str] = Counter()
        self._stamps: dict[str, int] = {}  # folder mtime (ns) when last read or written
        self._checked = -1.0e18

    # -- changes this process makes -----------------------------------------------------
    def add(self, key: Key, mtime: float | None = None) -> None:
        """A picture was written (or rewritten) by this process."""
        series, address = key
        path = self.output / series / "annotated" / f"{address}.png"
        try:
            mtime = path.stat().st_mtime if mtime is None else mtime
        except OSError:
            return
        with self._lock:
            self._remove(key)
            self._insert(picture(series, address, mtime))
            self._stamp(series)

    def remove(self, key: Key) -> None:
        """A picture was deleted by this process."""
        with self._lock:
            self._remove(key)
            self._stamp(key[0])

    # -- reading ------------------------------------------------------------------------
    def count(self, visible: set[str]) -> int:
        """Pictures of the ``visible`` series."""
        self._refresh()
        with self._lock:
            return sum(n for series, n in self._per_series.items() if series in visible)

    def page(self, visible: set[str], offset: int, limit: int) -> list[Picture]:
        """``limit`` pictures of the ``visible`` series after skipping ``offset``, newest
        first. Costs the page (plus any hidden pictures skipped), not the collection."""
        self._refresh()
        with self._lock:
            if all(series in visible for series in self._per_series):
                end = len(self._order) - offset
                return self._order[max(end - limit, 0):max(end, 0)][::-1]
            shown: list[Picture] = []
            skipped = 0
            for item in reversed(self._order):
                if item.series not in visible:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                shown.append(item)
                if len(shown) == limit:
                    break
            return shown

    def get(self, key: Key) -> Picture | None:
        self._refresh()
        with self._lock:
            return self._by_key.get(key)

    # -- keeping in step with the disk --------------------------------------------------
    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self.check_interval:
            return
        self._checked = now
        try:
            folders = [e.name for e in os.scandir(self.output) if e.is_dir()]
        except OSError:
            folders = []
        for series in folders:
            stamp = _folder_stamp(self.output / series / "annotated")
            with self._lock:
                known = self._stamps.get(series)
            if stamp is not None and stamp != known:
                self._rescan(series, stamp)
        with self._lock:
            gone = [s for s in self._per_series if s not in folders]
        for series in gone:
            self._rescan(series, None)

    def _rescan(self, series: str, stamp: int | None) -> None:
        """Replace what is known of one series with what its folder holds."""
        found = []
        folder = self.output / series / "annotated"
        try:
            entries = list(os.scandir(folder)) if stamp is not None else []
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if name.endswith(".png") and not name.startswith("."):
                try:
                    found.append(picture(series, name[:-4], entry.stat().st_mtime))
                except OSError:
                    continue
        with self._lock:
            for key in [k for k in self._by_key if k[0] == series]:
                self._remove(key)
            for item in found:
                self._insert(item)
            if stamp is None:
                self._stamps.pop(series, None)
            else:
                self._stamps[series] = stamp

    def _insert(self, item: Picture) -> None:
        """With the lock held."""
        bisect.insort(self._order, item)
        self._by_key[item.key] = item
        self._per_series[item.series] += 1

    def _remove(self, key: Key) -> None:
        """With the lock held."""
        item = self._by_key.pop(key, None)
        if item is None:
            return
        at = bisect.bisect_left(self._order, item)
        if at < len(self._order) and self._order[at] is item:
            del self._order[at]
        self._per_series[item.series] -= 1
        if self._per_series[item.series] <= 0:
            del self._per_series[item.series]

    def _stamp(self, series: str) -> None:
        """With the lock held: our own change is not a reason to rescan the folder."""
        stamp = _folder_stamp(self.output / series / "annotated")
        if stamp is not None:
            self._stamps[series] = stamp


def _folder_stamp(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None
