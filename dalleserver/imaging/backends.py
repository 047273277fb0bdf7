"""Image backends: one small interface, ``render(dress, progress) -> PIL image``.

``progress(phase)`` lets a backend report the phases it goes through (``image_wait`` while the
picture is being made, ``image_download`` while bytes arrive). The offline backends are
chosen here (``backend_for``); the OpenAI one needs a client and breakers, so
``runtime.build_provider`` makes it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Protocol

from PIL import Image

from dalleserver.dress.model import DalleDress

ProgressCallback = Callable[[str], None]
PNG_COMPRESS_LEVEL = 1  # deterministic; higher levels cost 20-250 % more time for 1-5 % size


class ImageBackend(Protocol):
    name: str

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image: ...


class LocalBackend:
    """The embedded default: a deterministic procedural picture, no key, no network."""

    name = "local"

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image:
        from dalleserver.imaging.local import render_local

        progress("image_wait")
        return render_local(dress)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes; identical input pixels give identical bytes for one Pillow version."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def backend_for(name: str) -> ImageBackend | None:
    """The backend object for a resolved backend name; None for ``none`` (prompts only)."""
    if name == "local":
        return LocalBackend()
    if name == "none":
        return None
    raise ValueError(f"image backend {name!r} is not available in this build")
