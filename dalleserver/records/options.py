"""What one generation is asked for beyond its key (series, seed): the input it came from,
the recipe, a background treatment and which stages to run. ``/dalle`` and the CLI ask for
everything; a v1 request says what it wants."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RECIPE = "default"
RECIPE_VERSION = "1.0.0"


@dataclass(frozen=True)
class GenerationOptions:
    input: str
    recipe: str = DEFAULT_RECIPE
    backstyle: str = ""  # "" keeps the databases' default background treatment
    enhance: bool = True
    image: bool = True
    annotate: bool = True

    @classmethod
    def for_address(cls, address: str) -> GenerationOptions:
        """A ``/dalle`` picture: the address is its input and its seed, every stage runs."""
        return cls(input=address)
