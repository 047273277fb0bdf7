"""Record files: where a record lives, writing one atomically (mode 0600, as the original)
and reading one back. A file that is not a record says so with a RecordError naming it
relative to the data dir, never with its absolute path. A symbolic link, or a file whose
real path leaves the data dir (through a linked folder), is not a record: it is never
read."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from dalleserver.storage import atomic_write, opened_real_path

MAX_RECORD_BYTES = 4 << 20
ACTIVE, ARCHIVES = "output", "archives"
METADATA = "metadata"
RECORD_MODE = 0o600  # the original's: a record holds the prompts, for its owner only
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class RecordError(Exception):
    """A record file that cannot be read or is not a record."""


def record_path(root: Path, folder: str, seed: str, archived: bool = False) -> Path:
    """``<root>/output/<folder>/metadata/<seed>.json`` (``archives/`` when archived)."""
    return root / (ARCHIVES if archived else ACTIVE) / folder / METADATA / f"{seed}.json"


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Indented JSON and a newline, written to a temp file (mode 0600) and renamed
    (StorageError)."""
    atomic_write(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n",
                 mode=RECORD_MODE)


def record_problem(doc: Any) -> str:
    """Why ``doc`` is not a record ("" when it is one): the original's required fields."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    for field in ("metadataVersion", "imageId", "input", "seed"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            return f"{field} is missing"
    series, recipe = doc.get("series"), doc.get("recipe")
    if not isinstance(series, dict) or not isinstance(series.get("name"), str):
        return "series name is missing"
    if not isinstance(recipe, dict) or not recipe.get("name") or not recipe.get("version"):
        return "recipe name and version are missing"
    return ""


def read_record(path: Path, shown: str, inside: str) -> dict[str, Any]:
    """The record at ``path``; RecordError naming ``shown`` when it is missing, a symbolic
    link, not really inside the folder ``inside`` (``real_folder``: a linked folder on the
    way leads out), not a regular file, too large, not JSON or not a record."""
    if not _NOFOLLOW and os.path.islink(path):
        raise RecordError(f"{shown}: a symbolic link, not a record file")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise RecordError(f"{shown}: no such record") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RecordError(f"{shown}: a symbolic link, not a record file") from None
        raise RecordError(f"{shown}: {exc.strerror or 'unreadable'}") from None
    with open(fd, "rb") as handle:  # closes fd
        if not opened_real_path(fd, path).startswith(inside):
            raise RecordError(f"{shown}: leads outside the data directory, not a record file")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RecordError(f"{shown}: not a regular file")
            raw = handle.read(MAX_RECORD_BYTES + 1)
        except OSError as exc:
            raise RecordError(f"{shown}: {exc.strerror or 'unreadable'}") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordError(f"{shown}: larger than {MAX_RECORD_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{shown}: not JSON ({exc})") from None
    problem = record_problem(doc)
    if problem:
        raise RecordError(f"{shown}: not a record ({problem})")
    return doc
