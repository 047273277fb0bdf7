"""Image metadata records (reference upstream-v1.md): one JSON record per picture, written
by every generation, indexed for ``/v1/images``, archived and restored, exported."""

from dalleserver.records.book import RecordBook
from dalleserver.records.index import RecordEntry, RecordIndex, RecordQuery
from dalleserver.records.options import GenerationOptions
from dalleserver.records.record import Identity
from dalleserver.records.store import RecordError

__all__ = ["GenerationOptions", "Identity", "RecordBook", "RecordEntry", "RecordError",
           "RecordIndex", "RecordQuery"]
