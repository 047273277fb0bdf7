"""Thumbnails: a downscaled JPEG of an annotated picture, written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from dalleserver.storage import atomic_write

THUMB_WIDTH = 320


def is_fresh(thumb: Path, source: Path) -> bool:
    """True when ``thumb`` exists and is not older than ``source`` (raises OSError when the
    source is missing)."""
    source_mtime = source.stat().st_mtime
    try:
        return thumb.stat().st_mtime >= source_mtime
    except OSError:
        return False


def make_thumbnail(source: Path, thumb: Path, width: int = THUMB_WIDTH) -> None:
    """Write a ``width`` px wide JPEG of ``source`` to ``thumb`` (OSError, StorageError)."""
    with Image.open(source) as image:
        image = image.convert("RGB")
        height = round(image.height * width / image.width)
        small = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85, optimize=True)
    atomic_write(thumb, buffer.getvalue())
