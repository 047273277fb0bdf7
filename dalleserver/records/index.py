"""Every metadata record in the data dir, active (``output/``) and archived (``archives/``),
kept up to date as records are written and moved (two ``FolderIndex``es), so ``/v1/images``
pages, filters and sorts 30,000 records at the cost of the page it shows.

An entry holds what listing needs (input, seed, imageId, time); the record itself is read
from its file when shown. A file that is not a record (a symbolic link or a file reached
through a linked folder out of the data dir are not) is reported (``corrupt``) and left
out, never failing a listing."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from dalleserver.folder_index import CHECK_INTERVAL, FolderIndex
from dalleserver.records.store import (
    ACTIVE,
    ARCHIVES,
    METADATA,
    RecordError,
    read_record,
)
from dalleserver.storage import real_folder

log = logging.getLogger("dalleserver.records")

SORTS = ("input", "-input", "newest", "oldest")
ARCHIVED_CHOICES = ("exclude", "include", "only")
HIDDEN_SUFFIX = ".deleted"  # a hidden series' output folder
# an input prefix matching at most this many records is sorted by time from its range
PREFIX_RANGE_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One record file: ``folder`` is its series folder (``<series>.deleted`` when the
    series is hidden)."""

    folder: str
    seed: str
    image_id: str
    input: str
    mtime: float
    archived: bool

    @property
    def relative_path(self) -> str:
        root = ARCHIVES if self.archived else ACTIVE
        return f"{root}/{self.folder}/{METADATA}/{self.seed}.json"


def _input_key(e: RecordEntry) -> tuple:
    return (e.input, e.folder, e.seed, int(e.archived))


def _time_key(e: RecordEntry) -> tuple:
    return (e.mtime, e.folder, e.seed, int(e.archived))


ORDERS = {"input": _input_key, "time": _time_key}


class BadCursor(ValueError):
    """A cursor this server did not give out."""


@dataclass(frozen=True)
class RecordQuery:
    """One page: sort, filters (exact series, archived or not, an input prefix), a cursor
    (the sort key of the last entry of the previous page) and a size."""

    sort: str = "input"
    series: str = ""
    archived: str = "exclude"
    prefix: str = ""
    cursor: tuple | None = None
    limit: int = 100

    @property
    def order(self) -> str:
        return "input" if self.sort.endswith("input") else "time"

    @property
    def descending(self) -> bool:
        return self.sort in ("-input", "newest")


def encode_cursor(key: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(text: str, order: str) -> tuple:
    """The sort key a cursor stands for; BadCursor when it is not one for ``order``."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        key = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("the cursor is not one this server gave out") from None
    first = str if order == "input" else (int, float)
    if (not isinstance(key, list) or len(key) != 4 or not isinstance(key[0], first)
            or isinstance(key[0], bool) or not all(isinstance(k, str) for k in key[1:3])
            or key[3] not in (0, 1)):
        raise BadCursor("the cursor does not belong to this sort order")
    return tuple(key)


def _ordered_after(entries: list[RecordEntry], query: RecordQuery) -> list[RecordEntry]:
    """``entries`` in the query's order, those past its cursor."""
    key = ORDERS[query.order]
    ordered = sorted(entries, key=key, reverse=query.descending)
    if query.cursor is None:
        return ordered
    if query.descending:
        return [e for e in ordered if key(e) < query.cursor]
    return [e for e in ordered if key(e) > query.cursor]


def _successor(prefix: str) -> str:
    """The smallest text greater than every text that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else prefix


class RecordIndex:
    def __init__(self, root: Path, check_interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self._inside = real_folder(root)  # a record file must really be in here
        self._corrupt: dict[Path, str] = {}
        self._lock = threading.Lock()
        self._parts = {
            archived: FolderIndex(root / (ARCHIVES if archived else ACTIVE), METADATA, ".json",
                                  partial(self._load, archived), ORDERS,
                                  lookups={"id": lambda e: e.image_id, "seed": lambda e: e.seed},
                                  check_interval=check_interval, clock=clock)
            for archived in (False, True)
        }

    # -- changes this process makes -----------------------------------------------------
    def add(self, folder: str, seed: str, archived: bool = False) -> RecordEntry | None:
        return self._parts[archived].add(folder, seed)

    def remove(self, folder: str, seed: str, archived: bool = False) -> None:
        self._parts[archived].remove(folder, seed)

    # -- reading ------------------------------------------------------------------------
    def count(self, archived: bool = False) -> int:
        return self._parts[archived].count()

    def find(self, ident: str, archived: bool = False) -> list[RecordEntry]:
        """Entries whose imageId is ``ident``, else those whose seed is (the original's
        order), in a stable order (series folder); hidden series' records come last."""
        part = self._parts[archived]
        found = part.find("id", ident) or part.find("seed", ident)
        return sorted(found, key=lambda e: (e.folder.endswith(HIDDEN_SUFFIX), e.folder))

    def page(self, query: RecordQuery) -> tuple[list[RecordEntry], str]:
        """One page of entries and the cursor of the next page ("" after the last)."""
        parts = {"exclude": [False], "include": [False, True], "only": [True]}[query.archived]
        series = {query.series, query.series + HIDDEN_SUFFIX} if query.series else None
        key = ORDERS[query.order]
        found: list[RecordEntry] = []
        for archived in parts:
            found += self._collect(self._parts[archived], query, series)
        found.sort(key=key, reverse=query.descending)
        page = found[:query.limit]
        more = len(found) > query.limit
        return page, encode_cursor(key(page[-1])) if more and page else ""

    def _collect(self, part: FolderIndex[RecordEntry], query: RecordQuery,
                 series: set[str] | None) -> list[RecordEntry]:
        """``limit + 1`` entries of one part. An input prefix in time order is answered
        from the prefix's range in input order when that range is small (a selective
        prefix), else by walking the time order (a broad one fills a page quickly)."""
        if query.prefix and query.order == "time":
            wanted = replace(query, sort="input", cursor=None, limit=PREFIX_RANGE_LIMIT)
            after, where, stop = self._prefix_bounds(wanted)
            matches = part.collect("input", PREFIX_RANGE_LIMIT + 1, series=series, after=after,
                                   where=where, stop=stop)
            if len(matches) <= PREFIX_RANGE_LIMIT:
                return _ordered_after(matches, query)[:query.limit + 1]
        after, where, stop = self._prefix_bounds(query)
        return part.collect(query.order, query.limit + 1, descending=query.descending,
                            series=series, after=after, where=where, stop=stop)

    def _prefix_bounds(self, query: RecordQuery):
        """(start after, filter, stop at) for a query: an input prefix in input order is a
        range of the sorted list, in time order a filter."""
        prefix, after = query.prefix, query.cursor
        if not prefix:
            return after, None, None

        def matches(e: RecordEntry) -> bool:
            return e.input.startswith(prefix)

        def before(e: RecordEntry) -> bool:
            return e.input < prefix

        def beyond(e: RecordEntry) -> bool:
            return e.input > prefix and not matches(e)

        if query.order == "time":
            return after, matches, None
        if query.descending:
            start = (_successor(prefix),)
            return (min(after, start) if after else start), matches, before
        start = (prefix,)
        return (max(after, start) if after else start), matches, beyond

    def corrupt(self) -> list[tuple[str, str]]:
        """(data-dir-relative path, reason) of every file that is not a record."""
        with self._lock:
            items = list(self._corrupt.items())
        still = [(p, reason) for p, reason in items if p.exists()]
        return sorted((p.relative_to(self.root).as_posix(), reason) for p, reason in still)

    def _load(self, archived: bool, folder: str, seed: str, path: Path,
              stat: os.stat_result) -> RecordEntry | None:
        shown = path.relative_to(self.root).as_posix()
        try:
            doc = read_record(path, shown, self._inside)
        except RecordError as exc:
            with self._lock:
                known = self._corrupt.get(path)
                self._corrupt[path] = str(exc)
            if known is None:
                log.warning("skipping a record that cannot be used: %s", exc)
            return None
        with self._lock:
            self._corrupt.pop(path, None)
        return RecordEntry(folder, seed, doc["imageId"], doc["input"], stat.st_mtime, archived)
