"""Exporting a picture's texts (the original's ExportImage) into a folder of the data dir,
never outside it: an absolute folder, a ``~``, a ``..`` or a symbolic link that leads out
is refused with ExportError, whose message names no server path."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from dalleserver.storage import DIR_MODE, atomic_write

ITEMS = ("prompt", "data", "title", "terse", "enhanced", "technical")
DEFAULT_ITEMS = ("prompt", "data", "title", "terse", "enhanced")
MAX_DIR_LENGTH = 512


class ExportError(ValueError):
    """An export folder that is not allowed; the message says why."""


def export_texts(record: dict[str, Any]) -> dict[str, str]:
    """Each exportable text of a record (technical: title, blank line, terse)."""
    prompts = record.get("prompts") or {}
    title, terse = prompts.get("titlePrompt", ""), prompts.get("tersePrompt", "")
    return {"prompt": prompts.get("prompt", ""), "data": prompts.get("dataPrompt", ""),
            "title": title, "terse": terse, "enhanced": prompts.get("enhancedPrompt", ""),
            "technical": f"{title}\n\n{terse}".strip()}


def export_folder(root: Path, requested: str, default: str) -> Path:
    """The folder an export writes to: ``requested`` (relative to the data dir) or
    ``default``; ExportError unless it stays inside the data dir."""
    text = requested.strip() or default
    if len(text) > MAX_DIR_LENGTH:
        raise ExportError(f"the export folder is longer than {MAX_DIR_LENGTH} characters")
    if text.startswith("~"):
        raise ExportError("the export folder must not start with '~'")
    if "\0" in text or "\\" in text:
        raise ExportError("the export folder must not contain NUL or backslashes")
    relative = PurePosixPath(text)
    if relative.is_absolute():
        raise ExportError("the export folder must be relative to the data directory")
    if ".." in relative.parts:
        raise ExportError("the export folder must not contain '..'")
    real_root = os.path.realpath(root)
    target = Path(os.path.realpath(root / relative))
    if not _inside(target, real_root):
        raise ExportError("the export folder leads outside the data directory")
    return target


def _inside(path: Path, root: str) -> bool:
    return path == Path(root) or Path(root) in path.parents


def write_export(root: Path, folder: Path, record: dict[str, Any],
                 wanted: tuple[str, ...]) -> dict[str, str]:
    """Write ``<folder>/<name>.txt`` for each wanted text that is not blank; name ->
    data-dir-relative path (OSError, StorageError, ExportError when a link appeared)."""
    folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    real_root = os.path.realpath(root)
    if not _inside(Path(os.path.realpath(folder)), real_root):
        raise ExportError("the export folder leads outside the data directory")
    texts = export_texts(record)
    files = {}
    for name in wanted:
        if texts[name].strip():
            path = folder / f"{name}.txt"
            atomic_write(path, texts[name])
            files[name] = path.relative_to(real_root).as_posix()
    return files
