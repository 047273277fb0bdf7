"""The database manifest: a sha256 for each CSV the catalog reads (bundled, or the user's
override in ``<data-dir>/databases/``) and one archive hash over all of them, in the
original's shape (reference upstream-library §4.2). A picture's record keeps the archive
hash, so a regeneration can tell that the databases changed since it was made.

The original hashes the bytes of its embedded tar.gz; there is no archive here, so the
archive hash is the sha256 of one line ``<path>\\0<file hash>\\n`` per file in path order:
it changes when any file's bytes change, and only then."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dalleserver.dress.databases import BUNDLED_DIR, Database, DatabaseError

MANIFEST_VERSION = "1.0.0"
HASH_PREFIX = "sha256:"


@dataclass(frozen=True)
class ManifestFile:
    """One CSV: its name, archive path, hash, data rows and header columns."""

    name: str
    path: str
    hash: str
    rows: int
    columns: tuple[str, ...]
    source: str  # "bundled" or "user"

    def to_json_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "hash": self.hash, "rows": self.rows,
                "columns": list(self.columns), "source": self.source}


@dataclass(frozen=True)
class DatabaseManifest:
    version: str
    archive_hash: str
    files: tuple[ManifestFile, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {"version": self.version, "archiveHash": self.archive_hash,
                "files": [f.to_json_dict() for f in self.files]}


def _file_bytes(database: Database) -> bytes:
    path = BUNDLED_DIR / f"{database.name}.csv" if database.source == "bundled" \
        else Path(database.source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DatabaseError(f"{database.name}.csv: {exc.strerror or exc}") from None


def build_manifest(databases: Mapping[str, Database]) -> DatabaseManifest:
    """The manifest of the databases a catalog loaded (DatabaseError when a file has gone)."""
    files = []
    for name in sorted(databases):
        database = databases[name]
        digest = hashlib.sha256(_file_bytes(database)).hexdigest()
        files.append(ManifestFile(
            name=name, path=f"databases/{name}.csv", hash=HASH_PREFIX + digest,
            rows=len(database.records), columns=database.header,
            source="bundled" if database.source == "bundled" else "user"))
    archive = hashlib.sha256()
    for entry in sorted(files, key=lambda f: f.path):
        archive.update(f"{entry.path}\0{entry.hash}\n".encode())
    return DatabaseManifest(MANIFEST_VERSION, HASH_PREFIX + archive.hexdigest(), tuple(files))


def manifest_problems(manifest: DatabaseManifest) -> list[str]:
    """What makes a manifest unusable (the original's rules), empty when it is valid."""
    problems = []
    if not manifest.version.strip():
        problems.append("the manifest has no version")
    if not manifest.archive_hash.startswith(HASH_PREFIX):
        problems.append("the archive hash is not a sha256")
    if not manifest.files:
        problems.append("the manifest lists no files")
    seen: set[str] = set()
    for entry in manifest.files:
        if not entry.name or not entry.path:
            problems.append("a file has no name or path")
        if entry.path in seen:
            problems.append(f"{entry.path} is listed twice")
        seen.add(entry.path)
        if not entry.hash.startswith(HASH_PREFIX):
            problems.append(f"{entry.path}: the hash is not a sha256")
        if entry.rows < 0:
            problems.append(f"{entry.path}: negative row count")
        if not entry.columns:
            problems.append(f"{entry.path}: no header columns")
    return problems
