"""The databases through the v1 API: ``GET /v1/databases`` (the manifest, one element),
``GET /v1/databases/{version}``, ``GET /v1/databases/{version}/records/{name}`` (the rows
the catalog selects from; the version segment is not checked, as in the original) and
``POST /v1/validate`` (admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dalleserver.dress.databases import DatabaseError
from dalleserver.dress.manifest import manifest_problems
from dalleserver.httpd import Request, Response
from dalleserver.series_store import safe_series_name
from dalleserver.storage import without_paths
from dalleserver.web.errors import ApiError, ErrorCode
from dalleserver.web.guards import require_admin
from dalleserver.web.json_body import read_json_body
from dalleserver.web.responses import envelope
from dalleserver.web.v1_schemas import NO_BODY

if TYPE_CHECKING:
    from dalleserver.web.app import App

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000
NOUN_COLUMNS = ["commonName", "family", "order", "class", "phylum"]


def list_databases(app: App, request: Request) -> Response:
    return envelope([app.catalog.manifest.to_json_dict()], request.request_id)


def get_database(app: App, request: Request) -> Response:
    """The manifest when ``version`` is its version; else 404."""
    version = request.params.get("version", "").strip()
    manifest = app.catalog.manifest
    if version not in ("", manifest.version):
        raise ApiError(ErrorCode.DATABASE_VERSION_UNAVAILABLE,
                       f"database version {version[:40]!r} is not available (this server has "
                       f"{manifest.version})")
    return envelope(manifest.to_json_dict(), request.request_id)


def database_records(app: App, request: Request) -> Response:
    """The first ``limit`` rows (default 200; out of range is the default, as in the
    original) of one database; nouns with their taxonomy's common names."""
    name = safe_series_name(request.params.get("name", "")).removesuffix(".csv")
    database = app.catalog.databases.get(name)
    if database is None:
        raise ApiError(ErrorCode.DATABASE_VERSION_UNAVAILABLE,
                       f"there is no database named {name[:60]!r}")
    text = request.arg("limit")
    try:
        limit = int(text) if text is not None else DEFAULT_LIMIT
    except ValueError:
        raise ApiError(ErrorCode.INVALID_INPUT, "invalid limit") from None
    if not 0 < limit <= MAX_LIMIT:
        limit = DEFAULT_LIMIT
    if name == "nouns":
        rows = [row.split(",") for row in app.catalog.base_rows["nouns"][:limit]]
        columns = NOUN_COLUMNS
    else:
        rows = [list(values) for values in database.records[:limit]]
        columns = [c for c in database.header if c != "version"]
    records: list[dict[str, Any]] = [{"key": values[0].strip(), "values": values}
                                     for values in rows]
    return envelope({"name": name, "version": database.version, "columns": columns,
                     "records": records}, request.request_id)


def validate(app: App, request: Request) -> Response:
    """Whether the manifest is valid and the files on disk are still the ones loaded."""
    require_admin(request, app.config.admin_token)
    read_json_body(request, NO_BODY, required=False)
    manifest = app.catalog.manifest
    problems = manifest_problems(manifest)
    try:
        on_disk = app.catalog.manifest_on_disk()
    except DatabaseError as exc:
        problems.append(f"a database file cannot be read: {without_paths(str(exc))}")
    else:
        if on_disk.archive_hash != manifest.archive_hash:
            loaded = {f.name: (f.hash, f.source) for f in manifest.files}
            changed = [f.name for f in on_disk.files
                       if loaded.get(f.name) != (f.hash, f.source)]
            problems.append("database files changed on disk since the start (restart to use "
                            f"them): {', '.join(changed)}")
    if problems:
        raise ApiError(ErrorCode.DATABASE_MANIFEST_INVALID, "; ".join(problems),
                       details={"problems": problems})
    return envelope({"valid": True}, request.request_id)
