"""The gallery's thumbnail: a variant like any other (see variants.py), made when its
picture is made and kept in the same cache."""

from __future__ import annotations

from dalleserver.imaging.variants import VariantSpec

THUMB_WIDTH = 320
THUMBNAIL = VariantSpec("jpg", THUMB_WIDTH)
