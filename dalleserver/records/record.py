"""The metadata record of one picture (reference upstream-v1.md): who it is (the imageId
over its input, seed, series, recipe and databases), what was selected, the prompts, the
files, the stages, and what the original lacks: the backend, model, renderer version and
phase timings. Pure: building a record reads and writes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dalleserver.dress.model import DalleDress

METADATA_VERSION = "1.0.0"
COMPLETE, SKIPPED, FAILED = "complete", "skipped", "failed"
STAGES = ("selected", "prompted", "enhanced", "generated", "annotated")


@dataclass(frozen=True)
class Identity:
    """Everything the imageId is computed from."""

    input: str
    seed: str
    series: str
    series_hash: str
    series_source: str  # "builtin" or "user" (the original gives a path or "embedded")
    recipe: str
    recipe_version: str
    database_version: str
    archive_hash: str

    @property
    def image_id(self) -> str:
        """``sha256:`` + hex sha256 of the eight parts joined by NUL (the original's)."""
        parts = (self.input, self.seed, self.series, self.series_hash, self.recipe,
                 self.recipe_version, self.database_version, self.archive_hash)
        return "sha256:" + hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()

    def head(self) -> dict[str, Any]:
        """The record's first fields, in the original's order."""
        return {
            "metadataVersion": METADATA_VERSION,
            "imageId": self.image_id,
            "input": self.input,
            "seed": self.seed,
            "series": {"name": self.series, "hash": self.series_hash,
                       "source": self.series_source},
            "recipe": {"name": self.recipe, "version": self.recipe_version},
            "database": {"version": self.database_version, "archiveHash": self.archive_hash},
        }


def selected_records(dress: DalleDress) -> list[dict[str, Any]]:
    """One entry per selected attribute (and the background), with its row index."""
    return [{"attribute": a.name, "database": a.database, "rowIndex": a.selector,
             "record": a.value} for a in dress.attributes]


def prompts(dress: DalleDress, enhanced: str) -> dict[str, str]:
    """The prompts, each left out when empty (as the original's omitempty)."""
    found = {"prompt": dress.prompt, "dataPrompt": dress.data_prompt,
             "titlePrompt": dress.title_prompt, "tersePrompt": dress.terse_prompt,
             "enhancedPrompt": enhanced}
    return {name: text for name, text in found.items() if text}


def stage(status: str, error: str = "") -> dict[str, Any]:
    return {"status": status, "error": error} if error else {"status": status}


def build_record(identity: Identity, dress: DalleDress, *, enhanced: str,
                 artifacts: dict[str, str], stages: dict[str, dict[str, Any]],
                 completed: bool, generation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole record; ``artifacts`` are data-dir-relative paths."""
    record = identity.head()
    record.update({
        "selectedRecords": selected_records(dress),
        "prompts": prompts(dress, enhanced),
        "artifacts": {k: v for k, v in artifacts.items() if v},
        "stages": {name: stages.get(name, stage(SKIPPED)) for name in STAGES},
        "status": {"completed": completed, "cacheHit": False},
    })
    if generation is not None:
        record["generation"] = generation
    return record


def prompt_record(identity: Identity, dress: DalleDress, enhanced: str = "") -> dict[str, Any]:
    """A prompts-only record: selected and prompted, the rest skipped (``enhanced`` given
    counts as a completed enhancement: the base prompt when no chat model is used)."""
    stages = {"selected": stage(COMPLETE), "prompted": stage(COMPLETE)}
    if enhanced:
        stages["enhanced"] = stage(COMPLETE)
    return build_record(identity, dress, enhanced=enhanced, artifacts={}, stages=stages,
                        completed=True)


def png_text(identity: Identity, dress: DalleDress, prompt: str, version: str
             ) -> dict[str, str]:
    """The provenance a picture carries as PNG text chunks: standard keywords (Title,
    Description, Software, Source) that image tools show, and the identity under
    ``dalle:`` keywords. Nothing in it depends on the clock, so equal inputs give equal
    bytes."""
    origin = "address" if identity.seed.startswith("0x") else "input"
    return {
        "Title": dress.title_prompt,
        "Description": prompt,
        "Software": f"dalleserver {version}",
        "Source": f"{identity.series}/{identity.seed}",
        f"dalle:{origin}": identity.input,
        "dalle:series": identity.series,
        "dalle:seriesHash": identity.series_hash,
        "dalle:seed": identity.seed,
        "dalle:imageId": identity.image_id,
        "dalle:databaseHash": identity.archive_hash,
        "dalle:serverVersion": version,
    }


def generation_stages(enhance: bool, artifacts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The stages of a generation that ended: prompts always, the enhancement when asked
    for (the base prompt counts, as in the original, when no chat model is used), each
    picture that was written."""
    stages = {"selected": stage(COMPLETE), "prompted": stage(COMPLETE),
              "enhanced": stage(COMPLETE if enhance else SKIPPED)}
    for name in ("generated", "annotated"):
        stages[name] = stage(COMPLETE if artifacts.get(name) else SKIPPED)
    return stages
