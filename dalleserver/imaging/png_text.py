"""The provenance text of a PNG as chunks every reader finds: each keyword twice, first as
tEXt (Latin-1; what ImageMagick's ``identify -verbose`` and GraphicsMagick show, as they
skip iTXt by design), then as iTXt (UTF-8, exact; what Pillow and exiftool read last and
keep). A character Latin-1 lacks is written ``\\uXXXX`` in the tEXt copy only."""

from __future__ import annotations

from collections.abc import Mapping

from PIL.PngImagePlugin import PngInfo


def png_text_chunks(text: Mapping[str, str]) -> PngInfo:
    """The chunks of ``text``, in its order; the same text gives the same bytes."""
    info = PngInfo()
    for keyword, value in text.items():
        value = str(value)
        # bytes, so that Pillow writes tEXt as asked (a str it cannot encode becomes iTXt)
        info.add_text(keyword, value.encode("latin-1", "backslashreplace"))
        info.add_itxt(keyword, value)
    return info
