"""The provenance text of a PNG as chunks every reader finds: each keyword twice, first as
tEXt (Latin-1; what ImageMagick's ``identify -verbose`` and GraphicsMagick show, as they
skip iTXt by design), then as iTXt (UTF-8, exact; what Pillow and exiftool read last and
keep). The tEXt copy holds what Latin-1 text may: other characters are escaped
(``latin1_text``)."""

from __future__ import annotations

from collections.abc import Mapping

from PIL.PngImagePlugin import PngInfo


def latin1_text(value: str) -> bytes:
    """``value`` as tEXt may hold it: printable Latin-1 and line feeds as they are, a
    backslash doubled, any other character as ``\\u`` and four hex digits (``\\U`` and
    eight beyond the BMP), so the copy reads back one way and holds no NUL or control
    byte."""
    out = []
    for char in value:
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == "\n" or 0x20 <= code < 0x7F or 0xA0 <= code <= 0xFF:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out).encode("latin-1")


def png_text_chunks(text: Mapping[str, str]) -> PngInfo:
    """The chunks of ``text``, in its order; the same text gives the same bytes."""
    info = PngInfo()
    for keyword, value in text.items():
        value = str(value)
        # bytes, so that Pillow writes tEXt as asked (a str it cannot encode becomes iTXt)
        info.add_text(keyword, latin1_text(value))
        info.add_itxt(keyword, value)
    return info
