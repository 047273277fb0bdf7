"""The catalog: databases and series of one data dir, with per-series filtered views cached."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from dalleserver.address import normalize_address
from dalleserver.dress.builder import build_dress
from dalleserver.dress.databases import (
    ALL_DATABASES,
    ATTRIBUTE_DATABASES,
    Database,
    DatabaseError,
    enrich_nouns,
    filter_rows,
    read_database,
)
from dalleserver.dress.manifest import DatabaseManifest, build_manifest
from dalleserver.dress.model import DalleDress
from dalleserver.dress.series import Series, SeriesRegistry

# Filtered views are kept for every series there is (a view holds only references to the
# shared rows, about 64 KB): at least this many, and a little over the series count, so
# more series than a fixed cap can never make every request rebuild a view.
MIN_CACHED_VIEWS = 256


@dataclass(frozen=True)
class FilteredView:
    """The rows of every attribute database after one series' filters."""

    series: Series
    rows: dict[str, tuple[str, ...]]
    backstyle: str

    def counts(self) -> dict[str, int]:
        return {db: len(rows) for db, rows in self.rows.items()}

    def dress(self, address: str, backstyle: str = "") -> DalleDress:
        """Dress a lower-cased, validated address or seed (see ``Catalog.dress`` for raw
        input); ``backstyle``, when given, replaces the default background treatment."""
        return build_dress(self.rows, backstyle.strip() or self.backstyle, self.series.suffix,
                           address, self.series.color_limit)


class Catalog:
    """Loads databases once (bundled, or ``<data-dir>/databases/<name>.csv`` overrides)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        override_dir = data_dir / "databases" if data_dir is not None else None
        self._override_dir = override_dir
        self.databases: dict[str, Database] = {
            name: read_database(name, override_dir) for name in ALL_DATABASES
        }
        base: dict[str, tuple[str, ...]] = {}
        for name in ATTRIBUTE_DATABASES:
            base[name] = self.databases[name].rows
        base["nouns"] = enrich_nouns(*(self.databases[n] for n in (
            "nouns", "families", "orders", "classes", "phyla")))
        self.base_rows = base
        self.manifest: DatabaseManifest = build_manifest(self.databases)
        backstyles = self.databases["backstyles"].rows
        self.backstyle = backstyles[0] if backstyles else "none"
        self.series = SeriesRegistry(data_dir / "series" if data_dir is not None else None)
        self._views: OrderedDict[Series, FilteredView] = OrderedDict()
        self._lock = threading.Lock()

    def manifest_on_disk(self) -> DatabaseManifest:
        """The manifest the databases would have if loaded now: overrides added, changed
        or removed since the start count (DatabaseError when a file cannot be read)."""
        return build_manifest({name: read_database(name, self._override_dir)
                               for name in ALL_DATABASES})

    def unresolved_nouns(self) -> list[str]:
        """Nouns whose taxonomy chain does not resolve to a phylum."""
        return [row.split(",", 1)[0] for row in self.base_rows["nouns"] if row.endswith(",")]

    def view(self, series_name: str) -> FilteredView:
        """The filtered databases of a series, computed once per series definition."""
        series = self.series.get(series_name)
        with self._lock:
            view = self._views.get(series)
            if view is not None:
                self._views.move_to_end(series)
                return view
        rows = {
            db: filter_rows(db, self.base_rows[db], series.filter_for(db))
            for db in ATTRIBUTE_DATABASES
        }
        view = FilteredView(series, rows, self.backstyle)
        with self._lock:
            self._views[series] = view
            while len(self._views) > self._view_capacity():
                self._views.popitem(last=False)
        return view

    def _view_capacity(self) -> int:
        return max(MIN_CACHED_VIEWS, len(self.series.names(include_hidden=True)) + 16)

    def dress(self, series_name: str, address: str) -> DalleDress:
        """Validate the address and series and build the dress (pure, writes nothing)."""
        normalized = normalize_address(address)
        return self.view(series_name).dress(normalized)


__all__ = ["Catalog", "DatabaseError", "FilteredView"]
