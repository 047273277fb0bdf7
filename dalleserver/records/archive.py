"""Archiving a picture (the original's DELETE) and undoing it: its generated and annotated
PNGs and its record move between ``output/<series>/`` and ``archives/<series>/``, the
record last, so a crash half-way leaves the record where its files mostly are. Restoring
over a newer picture of the same series and seed swaps the two: nothing is ever lost."""

from __future__ import annotations

import os
from pathlib import Path

from dalleserver.records.store import ACTIVE, ARCHIVES, METADATA
from dalleserver.storage import DIR_MODE, StorageError, temp_name_for

# (folder, extension), the record last
ARTIFACTS = (("generated", ".png"), ("annotated", ".png"), (METADATA, ".json"))


def artifact_paths(root: Path, folder: str, seed: str, archived: bool) -> list[Path]:
    base = root / (ARCHIVES if archived else ACTIVE) / folder
    return [base / kind / f"{seed}{ext}" for kind, ext in ARTIFACTS]


def move_picture(root: Path, folder: str, seed: str, to_archive: bool) -> list[str]:
    """Move a picture's files into (or out of) the archive; the kinds that moved. Coming
    out, files of the destination in the way are swapped to the source; going in, they are
    an older deleted copy and are replaced, so a deleted picture stays gone (StorageError)."""
    sources = artifact_paths(root, folder, seed, archived=not to_archive)
    targets = artifact_paths(root, folder, seed, archived=to_archive)
    moved = []
    for (kind, _), source, target in zip(ARTIFACTS, sources, targets, strict=True):
        if not source.exists():
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            if to_archive:
                os.replace(source, target)
            else:
                _swap_or_move(source, target)
        except OSError as exc:
            raise StorageError(f"cannot move the {kind} file of {folder}/{seed}: "
                               f"{exc.strerror or exc}") from None
        moved.append(kind)
    return moved


def _swap_or_move(source: Path, target: Path) -> None:
    if not target.exists():
        os.replace(source, target)
        return
    parked = temp_name_for(target)
    os.replace(target, parked)
    os.replace(source, target)
    os.replace(parked, source)
