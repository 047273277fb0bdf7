"""The DalleDress: selected attributes and the prompts built from them (reference §2.5, §9.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Attribute:
    """One selected database row. ``bytes`` is the 6-hex-character window of the seed.

    Treated as immutable; not frozen only because frozen dataclasses are slow to build.
    """

    database: str
    name: str
    bytes: str
    number: int
    factor: float
    count: int
    selector: int
    value: str

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "name": self.name,
            "bytes": self.bytes,
            "number": self.number,
            "factor": self.factor,
            "count": self.count,
            "selector": self.selector,
            "value": self.value,
        }


@dataclass
class DalleDress:
    """Everything known about one (series, address): attributes, prompts and file paths.

    Built by ``build_dress``; the pipeline later fills the enhanced prompt, paths and flags.
    """

    original: str
    file_name: str
    seed: str
    series: str
    color_limit: str
    attributes: list[Attribute]
    prompt: str = ""
    data_prompt: str = ""
    title_prompt: str = ""
    terse_prompt: str = ""
    enhanced_prompt: str = ""
    author_prompt: str = ""
    technical_prompt: str = ""
    image_url: str = ""
    generated_path: str = ""
    annotated_path: str = ""
    download_mode: str = ""
    cache_hit: bool = False
    completed: bool = False
    original_name: str = ""  # the ENS name the picture was asked by, if any
    by_name: dict[str, Attribute] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.by_name:
            self.by_name = {a.name: a for a in self.attributes}

    def value(self, name: str) -> str:
        """The selected row string of an attribute, or "" when it was not selected."""
        attribute = self.by_name.get(name)
        return attribute.value if attribute else ""

    def number(self, name: str) -> int:
        attribute = self.by_name.get(name)
        return attribute.number if attribute else 0

    @property
    def seed_chunks(self) -> list[str]:
        return [a.value for a in self.attributes if a.name != "backStyle"]

    @property
    def selected_tokens(self) -> list[str]:
        return [a.name for a in self.attributes]

    @property
    def selected_records(self) -> list[str]:
        return [a.value for a in self.attributes]

    def to_json_dict(self) -> dict[str, Any]:
        """The original's DalleDress JSON, keys in its order (reference §9.4)."""
        return {
            "original": self.original,
            "originalName": self.original_name,
            "fileName": self.file_name,
            "fileSize": 0,
            "modifiedAt": 0,
            "seed": self.seed,
            "prompt": self.prompt,
            "dataPrompt": self.data_prompt,
            "titlePrompt": self.title_prompt,
            "tersePrompt": self.terse_prompt,
            "enhancedPrompt": self.enhanced_prompt,
            "attributes": [a.to_json_dict() for a in self.attributes],
            "seedChunks": self.seed_chunks,
            "selectedTokens": self.selected_tokens,
            "selectedRecords": self.selected_records,
            "imageUrl": self.image_url,
            "generatedPath": self.generated_path,
            "annotatedPath": self.annotated_path,
            "downloadMode": self.download_mode,
            "ipfsHash": "",
            "cacheHit": self.cache_hit,
            "completed": self.completed,
            "series": self.series,
            "colorLimit": self.color_limit,
        }
