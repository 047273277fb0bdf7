"""The pictures the gallery lists: annotated images per visible series, newest first."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from dalleserver.address import to_checksum_address


@dataclass(frozen=True)
class Picture:
    series: str
    address: str
    mtime: float

    @property
    def checksum(self) -> str:
        try:
            return to_checksum_address(self.address)
        except (ValueError, IndexError):
            return self.address


class GalleryIndex:
    """Annotated images per series folder, re-scanned only when a folder changed."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, list[Picture]]] = {}

    def pictures(self, visible: set[str]) -> list[Picture]:
        """Every annotated picture of the ``visible`` series, newest first."""
        out: list[Picture] = []
        try:
            folders = sorted(e.name for e in os.scandir(self.output) if e.is_dir())
        except OSError:
            return out
        for series in folders:
            if series in visible:
                out.extend(self._folder(series))
        out.sort(key=lambda p: (-p.mtime, p.series, p.address))
        return out

    def _folder(self, series: str) -> list[Picture]:
        folder = self.output / series / "annotated"
        try:
            stamp = os.stat(folder).st_mtime_ns
        except OSError:
            return []
        with self._lock:
            cached = self._cache.get(series)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = []
        for entry in os.scandir(folder):
            if entry.name.endswith(".png") and not entry.name.startswith("."):
                try:
                    found.append(Picture(series, entry.name[:-4], entry.stat().st_mtime))
                except OSError:
                    continue
        with self._lock:
            self._cache[series] = (stamp, found)
        return found
