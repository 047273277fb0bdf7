"""Every annotated picture of an address in the data dir, newest first, kept up to date as
pictures are made and removed (a ``FolderIndex`` of ``<series>/annotated/<address>.png``),
so a ``/preview`` page costs the page it shows, not the size of the collection. Pictures
named by another seed (a v1 text input's sha256) are listed by ``/v1/images`` instead.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from dalleserver.address import to_checksum_address
from dalleserver.folder_index import CHECK_INTERVAL, FolderIndex
from dalleserver.picture_search import ADDRESS, Found, PictureQuery, TitleWords, find_pictures
from dalleserver.storage import Key

_ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
NEWEST = "newest"


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
        self._titles = TitleWords(output)  # read when words are first searched
        self._files: FolderIndex[Picture] = FolderIndex(
            output, "annotated", ".png", self._load_picture,
            orders={NEWEST: lambda p: (p.mtime, p.series, p.address),
                    ADDRESS: lambda p: (p.address, p.series)},
            check_interval=check_interval, clock=clock)

    # -- changes this process makes -----------------------------------------------------
    def add(self, key: Key, mtime: float | None = None) -> None:
        """A picture was written (or rewritten) by this process."""
        series, address = key
        if mtime is None:
            self._files.add(series, address)
        elif _ADDRESS.match(address):
            made = picture(series, address, mtime)
            self._titles.note(made)
            self._files.put(series, address, made, (int(mtime * 1e9), 0))

    def remove(self, key: Key) -> None:
        """A picture was deleted by this process."""
        self._files.remove(*key)

    # -- reading ------------------------------------------------------------------------
    def count(self, visible: set[str]) -> int:
        """Pictures of the ``visible`` series."""
        return self._files.count(visible)

    def page(self, visible: set[str], offset: int, limit: int) -> list[Picture]:
        """``limit`` pictures of the ``visible`` series after skipping ``offset``, newest
        first. Costs the page (plus any hidden pictures skipped), not the collection."""
        if self._files.series_names() <= visible:
            return self._files.slice(NEWEST, offset, limit, descending=True)
        return self._files.collect(NEWEST, limit, descending=True, series=visible,
                                   skip=offset)

    def find(self, visible: set[str], query: PictureQuery) -> Found:
        """The pictures of the ``visible`` series that ``query`` finds (search words,
        series, order, page) and how many there are; costs what it finds, see
        ``picture_search``."""
        return find_pictures(self._files, self._titles, visible, query)

    def get(self, key: Key) -> Picture | None:
        return self._files.get(*key)

    def _load_picture(self, series: str, name: str, path: Path, stat: os.stat_result
                      ) -> Picture | None:
        if not _ADDRESS.match(name):
            return None
        loaded = picture(series, name, stat.st_mtime)
        self._titles.note(loaded)
        return loaded
