"""The deterministic core: databases, series, seed -> attributes -> prompts (a DalleDress)."""

from dalleserver.dress.builder import build_dress, expand_seed, select_attributes
from dalleserver.dress.catalog import Catalog
from dalleserver.dress.databases import DatabaseError
from dalleserver.dress.model import Attribute, DalleDress
from dalleserver.dress.series import Series, SeriesError, normalize_series_name

__all__ = [
    "Attribute",
    "Catalog",
    "DalleDress",
    "DatabaseError",
    "Series",
    "SeriesError",
    "build_dress",
    "expand_seed",
    "normalize_series_name",
    "select_attributes",
]
