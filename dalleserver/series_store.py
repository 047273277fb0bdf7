"""Editing user series (the v1 API's PUT and hide): ``<data-dir>/series/<name>.json`` in
the original's format, written atomically; hiding marks the file ``deleted`` and renames
the series' output folder to ``<name>.deleted`` (and back). Built-in series are read-only;
the caller checks that against the registry."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dalleserver.dress.series import (
    FILTER_FIELDS,
    Series,
    SeriesError,
    is_valid_series_name,
    parse_series,
)
from dalleserver.storage import StorageError, atomic_write

HIDDEN_SUFFIX = ".deleted"
# what a client may send: the series' fields (modifiedAt and source are the server's and
# ignored; ``deleted`` is changed through hiding only)
FIELDS = ("last", "suffix", "purpose", "deleted", *FILTER_FIELDS, "colorLimit",
          "modifiedAt", "version", "source")


def safe_series_name(name: str) -> str:
    """The original's safePathPart: trimmed, lower case, spaces and path separators as
    ``-``, ``..`` as ``-``, empty as ``unknown`` (``"Test Series"`` -> ``test-series``)."""
    text = name.strip().lower().replace(" ", "-").replace("/", "-").replace("\\", "-")
    return text.replace("..", "-") or "unknown"


def checked_name(name: str) -> str:
    """``safe_series_name`` that is also a usable file name; SeriesError otherwise."""
    safe = safe_series_name(name)
    if not is_valid_series_name(safe):
        raise SeriesError(f"{name[:100]!r} is not a usable series name: letters, digits, "
                          "'.', '_' and '-', starting with a letter or digit")
    return safe


def _document(series: Series) -> dict[str, Any]:
    doc = series.to_json_dict()
    doc.pop("modifiedAt", None)
    doc.pop("source", None)
    return doc


def save_series(series_dir: Path, name: str, body: dict[str, Any], hidden: bool) -> Series:
    """Validate ``body`` (SeriesError) and write it as user series ``name``, keeping its
    hidden state (StorageError)."""
    fields = {k: v for k, v in body.items() if k not in ("modifiedAt", "source")}
    fields["deleted"] = hidden
    series = parse_series(fields, name, "user")
    _write(series_dir / f"{name}.json", _document(series))
    return series


class FolderClash(Exception):
    """Both output folders of a series exist, so hiding or showing it would merge two
    collections (the message names the folders relative to the output dir)."""


def set_hidden(series_dir: Path, output_dir: Path, name: str, hidden: bool) -> None:
    """Mark user series ``name`` hidden (or not) and rename its output folder to match.
    FileNotFoundError when there is no such user file; FolderClash when the folder it
    would rename to is there already (nothing is changed then); SeriesError,
    StorageError."""
    path = series_dir / f"{name}.json"
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SeriesError(f"the file of series {name!r} is not JSON") from None
    series = parse_series({**doc, "deleted": hidden}, name, "user")
    shown, hidden_dir = output_dir / name, output_dir / f"{name}{HIDDEN_SUFFIX}"
    source, target = (shown, hidden_dir) if hidden else (hidden_dir, shown)
    if source.is_dir() and target.exists():
        raise FolderClash(f"both output/{source.name} and output/{target.name} exist; "
                          "move or remove one of them first")
    _write(path, _document(series))
    if source.is_dir():
        try:
            os.replace(source, target)
        except OSError as exc:
            raise StorageError(f"cannot rename the output folder of {name}: "
                               f"{exc.strerror or exc}") from None


def _write(path: Path, doc: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
