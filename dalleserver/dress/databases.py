"""Attribute databases: CSV parsing, noun enrichment and series filtering (reference §3.2, §4)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "data" / "databases"

# (attribute name, database) in selection order; the order is the contract.
ATTRIBUTE_SLOTS: tuple[tuple[str, str], ...] = (
    ("adverb", "adverbs"),
    ("adjective", "adjectives"),
    ("noun", "nouns"),
    ("emotion", "emotions"),
    ("occupation", "occupations"),
    ("action", "actions"),
    ("artStyle1", "artstyles"),
    ("artStyle2", "artstyles"),
    ("litStyle", "litstyles"),
    ("color1", "colors"),
    ("color2", "colors"),
    ("color3", "colors"),
    ("viewpoint", "viewpoints"),
    ("gaze", "gazes"),
    ("composition", "compositions"),
    ("place", "places"),
    ("trope", "tropes"),
)
ATTRIBUTE_DATABASES: tuple[str, ...] = tuple(dict.fromkeys(db for _, db in ATTRIBUTE_SLOTS))
TAXONOMY_DATABASES: tuple[str, ...] = ("families", "orders", "classes", "phyla")
ALL_DATABASES: tuple[str, ...] = ATTRIBUTE_DATABASES + ("backstyles",) + TAXONOMY_DATABASES
SENSITIVE_FILTERED = ("artstyles", "litstyles")
SENSITIVE_MARK = ",sensitive,"
NONE_ROWS: tuple[str, ...] = ("none",)
DEFAULT_VERSION = "v0.1.0"

_VERSION_FIELD = re.compile(r"^v\d+(?:\.\d+)*$")
MAX_DATABASE_BYTES = 5 * 1024 * 1024


class DatabaseError(Exception):
    """A database file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Database:
    """One parsed CSV: its header, the version-stripped value lists, and where it came from."""

    name: str
    header: tuple[str, ...]
    records: tuple[tuple[str, ...], ...]
    version: str
    source: str  # "bundled" or the override's path

    @property
    def rows(self) -> tuple[str, ...]:
        """Row strings: the values after the version column, joined with commas."""
        return tuple(",".join(values) for values in self.records)


def parse_database_text(name: str, text: str, source: str) -> Database:
    """Parse CSV text the way the original does: naive comma split, version column dropped."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header: tuple[str, ...] = ()
    if lines and not _VERSION_FIELD.match(lines[0].split(",", 1)[0].strip()):
        header = tuple(lines[0].split(","))
        lines = lines[1:]
    version = ""
    records: list[tuple[str, ...]] = []
    for line in lines:
        first, sep, rest = line.partition(",")
        if _VERSION_FIELD.match(first.strip()):
            version = version or first.strip()
            if not sep:
                continue
            line = rest
        values = tuple(line.split(","))
        if not values[0].strip():
            continue
        records.append(values)
    return Database(name, header, tuple(records), version or DEFAULT_VERSION, source)


@functools.lru_cache(maxsize=128)
def _read_cached(path: str, mtime_ns: int, size: int) -> str:
    del mtime_ns, size  # part of the cache key only: a changed file is read again
    with open(path, "rb") as handle:
        data = handle.read(MAX_DATABASE_BYTES + 1)
    if len(data) > MAX_DATABASE_BYTES:
        raise DatabaseError(f"{path}: larger than {MAX_DATABASE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatabaseError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_database(name: str, override_dir: Path | None = None) -> Database:
    """Load one database, preferring ``<override_dir>/<name>.csv`` over the bundled file."""
    candidates: list[tuple[Path, str]] = []
    if override_dir is not None:
        override = override_dir / f"{name}.csv"
        candidates.append((override, str(override)))
    candidates.append((BUNDLED_DIR / f"{name}.csv", "bundled"))
    for path, source in candidates:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DatabaseError(f"{path}: {exc.strerror}") from None
        try:
            text = _read_cached(str(path), stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            raise DatabaseError(f"{path}: {exc.strerror}") from None
        database = parse_database_text(name, text, source)
        if not database.records and name in ATTRIBUTE_DATABASES:
            raise DatabaseError(f"{path}: no data rows")
        return database
    raise DatabaseError(f"database {name!r} not found (looked for {name}.csv)")


def _lookup(database: Database, min_fields: int) -> dict[str, tuple[str, ...]]:
    """Key (trimmed first column) -> values, for records with enough fields; later rows win."""
    table: dict[str, tuple[str, ...]] = {}
    for values in database.records:
        if len(values) >= min_fields:
            table[values[0].strip()] = values
    return table


def enrich_nouns(
    nouns: Database, families: Database, orders: Database, classes: Database, phyla: Database
) -> tuple[str, ...]:
    """Noun rows ``name,family`` -> ``name,familyCommon,orderCommon,classCommon,phylumCommon``.

    Each link walks one taxonomy table by its Latin key; a missing link leaves "" from there on.
    """
    family_of = _lookup(families, 3)
    order_of = _lookup(orders, 3)
    class_of = _lookup(classes, 3)
    phylum_of = _lookup(phyla, 2)
    rows = []
    for values in nouns.records:
        family_common = order_common = class_common = phylum_common = ""
        family = family_of.get(values[1].strip()) if len(values) > 1 else None
        if family:
            family_common = family[2]
            order = order_of.get(family[1].strip())
            if order:
                order_common = order[2]
                klass = class_of.get(order[1].strip())
                if klass:
                    class_common = klass[2]
                    phylum = phylum_of.get(klass[1].strip())
                    if phylum:
                        phylum_common = phylum[1]
        rows.append(
            ",".join((values[0], family_common, order_common, class_common, phylum_common))
        )
    return tuple(rows)


def filter_rows(
    database: str, rows: Sequence[str], filters: Iterable[str] | None
) -> tuple[str, ...]:
    """Apply a series filter: keep rows containing any filter value (case-sensitive substring).

    Without a filter, rows flagged ``sensitive`` are removed from artstyles and litstyles.
    An empty result becomes ``("none",)`` so selection always has a row to pick.
    """
    wanted = [f for f in (filters or ()) if isinstance(f, str)]
    if wanted:
        kept = tuple(row for row in rows if any(f in row for f in wanted))
    elif database in SENSITIVE_FILTERED:
        kept = tuple(row for row in rows if SENSITIVE_MARK not in row)
    else:
        kept = tuple(rows)
    return kept or NONE_ROWS
