"""What the v1 views share about records: finding one by imageId or seed, the shapes of
the answers (an image item, a generation result), and the check that a record was made
with the databases and the series definition this server has now."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dalleserver.dress.builder import SeedError, normalize_seed
from dalleserver.records import Identity, RecordBook, RecordEntry, RecordError
from dalleserver.web.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from dalleserver.web.app import App

log = logging.getLogger("dalleserver.v1")
MAX_ID = 200


def book_of(app: App) -> RecordBook:
    book = app.runtime.records
    assert book is not None, "the runtime always builds the record book"
    return book


ACTIVE_FIRST = (False, True)
ACTIVE_ONLY = (False,)
ARCHIVED_ONLY = (True,)


def find_record(app: App, ident: str, places: tuple[bool, ...] = ACTIVE_FIRST,
                unique: bool = False) -> tuple[RecordEntry, dict[str, Any]]:
    """The record whose imageId is ``ident``, else the first whose seed is, looked for in
    ``places`` (False: active, True: archived) in order; 404 artifact_missing when there
    is none. A corrupt record file is logged and passed over. With ``unique`` (the routes
    that move files), a seed that names records in several series is a 409 listing their
    imageIds: deleting "the first" of them would leave the seed still answering."""
    ident = ident.strip()
    wanted = [ident[:MAX_ID]]
    try:
        wanted.append(normalize_seed(ident))  # an address in any case is its seed
    except SeedError:
        pass
    for archived in places:
        for value in wanted:
            found = _usable(book_of(app), value, archived)
            first = next(found, None)
            if first is None:
                continue
            if unique:
                _refuse_if_ambiguous(first, list(found))
            return first
    raise ApiError(ErrorCode.ARTIFACT_MISSING, "no image record has this imageId or seed")


def _usable(book: RecordBook, value: str, archived: bool
            ) -> Iterator[tuple[RecordEntry, dict[str, Any]]]:
    """The readable records the index finds for ``value``, in its order."""
    for entry in book.index.find(value, archived):
        try:
            record = book.read(entry.folder, entry.seed, archived)
        except RecordError as exc:
            log.warning("skipping a record that cannot be used: %s", exc)
            continue
        if record is not None:
            yield entry, record


def _refuse_if_ambiguous(first: tuple[RecordEntry, dict[str, Any]],
                         others: list[tuple[RecordEntry, dict[str, Any]]]) -> None:
    if not others:
        return
    named = [first, *others]
    raise ApiError(ErrorCode.AMBIGUOUS_ID,
                   f"{len(named)} records have this seed (one per series); name one by its "
                   "imageId", details={"imageIds": [r.get("imageId", "") for _, r in named],
                                       "series": [e.folder for e, _ in named]})


def image_item(entry: RecordEntry, record: dict[str, Any]) -> dict[str, Any]:
    """The original's ImageMetadataRecord: the record, where it is, archived or not."""
    return {"path": entry.relative_path, "metadata": record, "archived": entry.archived}


def generate_result(record: dict[str, Any], path: str = "",
                    cache_hit: bool = False) -> dict[str, Any]:
    """The original's GenerateResult; paths are relative to the data dir (the original
    gave absolute paths), and files under ``output/`` are served at ``/files/``."""
    metadata = dict(record)
    if cache_hit:
        metadata["status"] = {**record.get("status", {}), "cacheHit": True}
    result: dict[str, Any] = {"input": record["input"], "seed": record["seed"],
                              "series": record["series"]["name"],
                              "recipe": record["recipe"]["name"]}
    if path:
        result["metadataPath"] = path
    artifacts = record.get("artifacts") or {}
    for name, field in (("generated", "generatedPath"), ("annotated", "annotatedPath")):
        if artifacts.get(name):
            result[field] = artifacts[name]
    result["metadata"] = metadata
    return result


def changes_since(record: dict[str, Any], identity: Identity) -> list[str]:
    """What differs between the record's making and now: "databases", "series"."""
    database = record.get("database") or {}
    series = record.get("series") or {}
    changed = []
    if (database.get("version") not in ("", None, identity.database_version)
            or database.get("archiveHash") not in ("", None, identity.archive_hash)):
        changed.append("databases")
    if series.get("hash") not in ("", None, identity.series_hash):
        changed.append("series")
    return changed


def refuse_if_changed(record: dict[str, Any], identity: Identity) -> None:
    """409 regeneration_refused when the record was made with other databases or another
    definition of its series (``force`` skips this check)."""
    changed = changes_since(record, identity)
    if not changed:
        return
    database = record.get("database") or {}
    raise ApiError(
        ErrorCode.REGENERATION_REFUSED,
        f"the picture was made with other {' and another '.join(changed)}; send "
        "\"force\": true to make it again with the current ones",
        details={"changed": changed,
                 "recorded": {"databaseVersion": database.get("version"),
                              "archiveHash": database.get("archiveHash"),
                              "seriesHash": (record.get("series") or {}).get("hash")},
                 "current": {"databaseVersion": identity.database_version,
                             "archiveHash": identity.archive_hash,
                             "seriesHash": identity.series_hash}})
