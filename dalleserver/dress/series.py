"""Series: named sets of database filters, in the original's JSON format (reference §3)."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BUNDLED_SERIES_DIR = Path(__file__).resolve().parent.parent / "data" / "series"

# The list fields a series may carry, in serialisation order (reference §3.1).
FILTER_FIELDS: tuple[str, ...] = (
    "adverbs",
    "adjectives",
    "nouns",
    "emotions",
    "occupations",
    "actions",
    "artstyles",
    "litstyles",
    "colors",
    "viewpoints",
    "gazes",
    "backstyles",
    "compositions",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MAX_SERIES_BYTES = 1024 * 1024


class SeriesError(Exception):
    """A series that cannot be loaded or found; the message says which and why."""


class SeriesHidden(SeriesError):
    """A hidden series asked to make pictures."""


def normalize_series_name(name: str) -> str:
    """Case-insensitive lookup key: trimmed, lower-cased, spaces as dashes, outer dashes cut."""
    return name.strip().replace(" ", "-").strip("-").lower()


def is_valid_series_name(name: str) -> bool:
    return bool(_NAME.match(name)) and ".." not in name


@dataclass(frozen=True)
class Series:
    """A series definition. ``filters`` maps a database to its filter values or None."""

    suffix: str
    filters: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    purpose: str = ""
    last: int = 0
    deleted: bool = False
    color_limit: str = ""
    version: str = ""
    source: str = "builtin"
    path: str = field(default="", compare=False)
    modified_at: str = field(default="", compare=False)

    def filter_for(self, database: str) -> tuple[str, ...] | None:
        for name, values in self.filters:
            if name == database:
                return values
        return None

    @property
    def active_filters(self) -> dict[str, list[str]]:
        """Only the databases this series actually filters."""
        return {name: list(values) for name, values in self.filters if values}

    def to_json_dict(self) -> dict[str, Any]:
        """The original's JSON shape: key order of reference §3.1, lists null when absent."""
        out: dict[str, Any] = {}
        if self.last:
            out["last"] = self.last
        out["suffix"] = self.suffix
        if self.purpose:
            out["purpose"] = self.purpose
        if self.deleted:
            out["deleted"] = True
        given = dict(self.filters)
        for name in FILTER_FIELDS:
            values = given.get(name)
            out[name] = None if values is None else list(values)
        if self.color_limit:
            out["colorLimit"] = self.color_limit
        if self.modified_at:
            out["modifiedAt"] = self.modified_at
        if self.version:
            out["version"] = self.version
        if self.source:
            out["source"] = self.source
        return out


def parse_series(data: Any, name: str, source: str, path: str = "") -> Series:
    """Validate a decoded JSON document and build a Series named ``name``."""
    if not isinstance(data, dict):
        raise SeriesError("the document is not a JSON object")
    filters: list[tuple[str, tuple[str, ...] | None]] = []
    for key in FILTER_FIELDS:
        value = data.get(key)
        if value is None:
            filters.append((key, None))
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SeriesError(f'"{key}" must be a list of strings')
        filters.append((key, tuple(value)))
    text_fields = {}
    for key in ("suffix", "purpose", "colorLimit", "version", "modifiedAt"):
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise SeriesError(f'"{key}" must be a string')
        text_fields[key] = value
    last = data.get("last", 0) or 0
    if isinstance(last, bool) or not isinstance(last, int):
        raise SeriesError('"last" must be an integer')
    deleted = data.get("deleted", False) or False
    if not isinstance(deleted, bool):
        raise SeriesError('"deleted" must be true or false')
    return Series(
        suffix=name,
        filters=tuple(filters),
        purpose=text_fields["purpose"],
        last=last,
        deleted=deleted,
        color_limit=text_fields["colorLimit"],
        version=text_fields["version"],
        source=source,
        path=path,
    )


def load_series_file(path: Path, source: str) -> Series:
    """Read one series file; its name is the file stem."""
    name = normalize_series_name(path.stem)
    if not is_valid_series_name(name):
        raise SeriesError(
            "the file name must be a series name of letters, digits, '.', '_' or '-'"
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SERIES_BYTES + 1)
    except OSError as exc:
        raise SeriesError(exc.strerror or str(exc)) from None
    if len(raw) > MAX_SERIES_BYTES:
        raise SeriesError(f"larger than {MAX_SERIES_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SeriesError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise SeriesError(f"invalid JSON at {where}: {exc.msg}") from None
    series = parse_series(data, name, source, str(path))
    if source == "user":
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        series = _with_modified(series, mtime.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return series


def _with_modified(series: Series, stamp: str) -> Series:
    return replace(series, modified_at=stamp)


def _scan(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap signature of a folder's JSON files: (name, mtime_ns, size) sorted."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return ()
    out = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.lower().endswith(".json"):
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        out.append((entry.name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(out))


class SeriesRegistry:
    """Built-in series plus ``<data-dir>/series/*.json``; user files override built-ins.

    The user folder is re-read when its files change (checked at most every ``recheck``
    seconds), so a series dropped into the folder is usable without a restart.
    """

    def __init__(
        self,
        user_dir: Path | None,
        bundled_dir: Path = BUNDLED_SERIES_DIR,
        recheck: float = 1.0,
    ) -> None:
        self._user_dir = user_dir
        self._recheck = recheck
        self._lock = threading.Lock()
        self._builtin, builtin_errors = self._load_dir(bundled_dir, "builtin")
        if builtin_errors:
            raise SeriesError("; ".join(f"{p}: {r}" for p, r in builtin_errors))
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked_at = 0.0
        self._merged: dict[str, Series] = dict(self._builtin)
        self._errors: list[tuple[str, str]] = []
        self.refresh(force=True)

    @staticmethod
    def _load_dir(directory: Path, source: str) -> tuple[dict[str, Series], list[tuple[str, str]]]:
        found: dict[str, Series] = {}
        errors: list[tuple[str, str]] = []
        for name, _mtime, _size in _scan(directory):
            path = directory / name
            try:
                series = load_series_file(path, source)
            except SeriesError as exc:
                errors.append((str(path), str(exc)))
                continue
            found[series.suffix] = series
        return found, errors

    def refresh(self, force: bool = False) -> None:
        """Re-read the user folder if it changed since the last look."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._recheck:
            return
        with self._lock:
            self._checked_at = now
            if self._user_dir is None:
                return
            signature = _scan(self._user_dir)
            if signature == self._signature and not force:
                return
            user, errors = self._load_dir(self._user_dir, "user")
            merged = dict(self._builtin)
            merged.update(user)
            self._merged = merged
            self._errors = errors
            self._signature = signature

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(path, reason) for every user series file that was skipped."""
        self.refresh()
        return list(self._errors)

    def get(self, name: str) -> Series:
        """Look a series up by name (case-insensitive); raise SeriesError when unknown."""
        self.refresh()
        key = normalize_series_name(name)
        series = self._merged.get(key)
        if series is None:
            raise SeriesError(f"unknown series {name!r}")
        return series

    def usable(self, name: str) -> Series:
        """``get``, for making pictures: a hidden series is refused (SeriesError), so that
        nothing is written into a series whose folder was put away."""
        series = self.get(name)
        if series.deleted:
            raise SeriesHidden(f"series {series.suffix!r} is hidden; show it again "
                              "(POST /v1/series/<name>/hidden) to make pictures in it")
        return series

    def is_builtin(self, name: str) -> bool:
        """Whether a built-in series has this name (a user file may shadow it)."""
        return normalize_series_name(name) in self._builtin

    def names(self, include_hidden: bool = False) -> list[str]:
        self.refresh()
        return sorted(
            name for name, series in self._merged.items() if include_hidden or not series.deleted
        )

    def all(self, include_hidden: bool = True) -> list[Series]:
        self.refresh()
        return [
            self._merged[name]
            for name in sorted(self._merged)
            if include_hidden or not self._merged[name].deleted
        ]
