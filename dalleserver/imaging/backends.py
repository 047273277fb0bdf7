"""Image backends: one small interface, ``render(dress, progress) -> PIL image``.

``progress(phase)`` lets a backend report the phases it goes through (``image_wait`` while the
picture is being made, ``image_download`` while bytes arrive). The offline backends are
chosen here (``backend_for``); the OpenAI one needs a client and breakers, so
``runtime.build_provider`` makes it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Protocol

import PIL
from PIL import Image

from dalleserver import __version__
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.png_text import png_text_chunks

ProgressCallback = Callable[[str], None]
PNG_COMPRESS_LEVEL = 1  # deterministic; higher levels cost 20-250 % more time for 1-5 % size


class ImageBackend(Protocol):
    name: str

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image: ...


class LocalBackend:
    """The embedded default: a deterministic procedural picture, no key, no network."""

    name = "local"
    # its pictures depend on this code and on Pillow's drawing: both are in the version
    version = f"dalleserver-local {__version__} (Pillow {PIL.__version__})"

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image:
        from dalleserver.imaging.local import render_local

        progress("image_wait")
        return render_local(dress)


def encode_png(image: Image.Image, text: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes, with ``text`` as text chunks (the provenance, in the given order: see
    ``png_text``); identical pixels and text give identical bytes for one Pillow version."""
    info = png_text_chunks(text) if text else None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, pnginfo=info)
    return buffer.getvalue()


def backend_for(name: str) -> ImageBackend | None:
    """The backend object for a resolved backend name; None for ``none`` (prompts only)."""
    if name == "local":
        return LocalBackend()
    if name == "none":
        return None
    raise ValueError(f"image backend {name!r} is not available in this build")
