"""The records of one data dir: the identity of a generation before it runs, its record
written when it ends (by the pipeline, for ``/dalle``, v1 and the CLI alike), and the
records read back and listed through the index."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dalleserver import __version__
from dalleserver.dress import Catalog
from dalleserver.dress.fingerprint import series_hash
from dalleserver.dress.model import DalleDress
from dalleserver.dress.series import Series
from dalleserver.records.index import RecordIndex
from dalleserver.records.options import RECIPE_VERSION, GenerationOptions
from dalleserver.records.record import Identity, build_record
from dalleserver.records.store import (
    RecordError,
    read_record,
    record_path,
    write_record,
)
from dalleserver.storage import Key, real_folder

PhaseTimes = Mapping[str, tuple[int, int, bool]]  # phase -> (started ns, ended ns, skipped)


class RecordBook:
    def __init__(self, root: Path, catalog: Catalog, image_model: str = "",
                 enhancement_model: str = "", index: RecordIndex | None = None) -> None:
        self.root = root
        self.catalog = catalog
        self.image_model = image_model
        self.enhancement_model = enhancement_model
        self.index = index or RecordIndex(root)
        self._inside = real_folder(root)  # a record file must really be in here

    def identity(self, key: Key, options: GenerationOptions, series: Series | None = None
                 ) -> Identity:
        """Who the picture of ``key`` made with ``options`` is; ``series`` is the definition
        its dress was drawn from (else the current one; SeriesError when it is unknown)."""
        series = series if series is not None else self.catalog.series.get(key[0])
        manifest = self.catalog.manifest
        return Identity(input=options.input or key[1], seed=key[1], series=series.suffix,
                        series_hash=series_hash(series), series_source=series.source,
                        recipe=options.recipe, recipe_version=RECIPE_VERSION,
                        database_version=manifest.version, archive_hash=manifest.archive_hash)

    def path(self, folder: str, seed: str, archived: bool = False) -> Path:
        return record_path(self.root, folder, seed, archived)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def read(self, folder: str, seed: str, archived: bool = False) -> dict[str, Any] | None:
        """The record, None when there is none (RecordError when the file is not one: a
        symbolic link, or a file of a linked folder out of the data dir, never is)."""
        path = self.path(folder, seed, archived)
        if not path.is_file():
            return None
        return read_record(path, self.relative(path), self._inside)

    def write(self, record: dict[str, Any]) -> str:
        """Write a record where its series and seed say (StorageError) and index it; its
        data-dir-relative path."""
        folder, seed = record["series"]["name"], record["seed"]
        path = self.path(folder, seed)
        write_record(path, record)
        self.index.add(folder, seed)
        return self.relative(path)

    def drop_artifact(self, folder: str, seed: str, kind: str) -> None:
        """Take a removed file (``annotated``, ``generated``) out of its record, so the
        record never points at nothing (StorageError); a missing or unreadable record is
        left as it is."""
        try:
            record = self.read(folder, seed)
        except RecordError:
            return
        if record is not None and (record.get("artifacts") or {}).pop(kind, None):
            self.write(record)

    def finish(self, identity: Identity, dress: DalleDress, *, enhanced: str,
               artifacts: dict[str, str], stages: dict[str, dict[str, Any]],
               backend: Any, phases: PhaseTimes, completed: bool = True) -> dict[str, Any]:
        """The record of a generation that ended (``completed`` False: its picture
        failed), written and indexed."""
        record = build_record(identity, dress, enhanced=enhanced, artifacts=artifacts,
                              stages=stages, completed=completed,
                              generation=self.generation(backend, enhanced != dress.prompt,
                                                         phases))
        self.write(record)
        return record

    def generation(self, backend: Any, enhanced_by_chat: bool, phases: PhaseTimes
                   ) -> dict[str, Any]:
        """What made the picture: backend, models, renderer and server versions, and how
        long each phase took (seconds; phases skipped or not ended are left out)."""
        name = getattr(backend, "name", "none") if backend is not None else "none"
        model = self.image_model if name == "openai" else ""
        return {
            "backend": name,
            "model": model,
            "enhancementModel": self.enhancement_model if enhanced_by_chat else "",
            "rendererVersion": getattr(backend, "version", "") or model,
            "serverVersion": __version__,
            "phaseSeconds": {phase: round((ended - started) / 1e9, 6)
                             for phase, (started, ended, skipped) in phases.items()
                             if started and ended and not skipped},
        }
