"""Image variants: a picture in another format and width, with its PNG text chunks (the
provenance) carried over where the format can hold them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image, features

from dalleserver.imaging.png_text import png_text_chunks


@dataclass(frozen=True)
class ImageFormat:
    """An output format: its file extension, Pillow's name, media type and save options."""

    extension: str
    pillow_name: str
    media_type: str
    options: tuple[tuple[str, Any], ...] = ()
    keeps_alpha: bool = True


_FORMATS = (
    ImageFormat("png", "PNG", "image/png", (("compress_level", 6),)),
    ImageFormat("webp", "WEBP", "image/webp", (("quality", 82), ("method", 4))),
    ImageFormat("jpg", "JPEG", "image/jpeg",
                (("quality", 85), ("optimize", True), ("progressive", True)), keeps_alpha=False),
    ImageFormat("avif", "AVIF", "image/avif", (("quality", 60), ("speed", 8))),
)


def _supported(fmt: ImageFormat) -> bool:
    # AVIF needs a Pillow built with libavif (the bundled wheels have it since Pillow 11.2)
    return fmt.extension != "avif" or bool(features.check("avif"))


# What ``/dalle/<series>/<address>.<ext>`` takes, by extension (``jpeg`` is ``jpg``).
FORMATS: dict[str, ImageFormat] = {f.extension: f for f in _FORMATS if _supported(f)}
EXTENSION_ALIASES = {"jpeg": "jpg"}
# Widths a variant may be asked for: a short list keeps the cache small and its hits high.
WIDTHS = (32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024)
# Where PNG text chunks go in XMP (WebP, JPEG, AVIF): keyword/value pairs in a bag.
XMP_NAMESPACE = "urn:dalleserver:png-text:1#"


@dataclass(frozen=True)
class VariantSpec:
    """One variant of a picture: its format, its width (None: the picture's own) and
    whether it is made from the raw generated picture instead of the annotated one."""

    extension: str
    width: int | None = None
    raw: bool = False

    @property
    def format(self) -> ImageFormat:
        return FORMATS[self.extension]

    @property
    def file_name(self) -> str:
        """The variant's file name in the cache, unique per format, width and source."""
        source = "raw" if self.raw else "annotated"
        return f"{source}-{self.width or 'full'}.{self.extension}"

    @property
    def is_original(self) -> bool:
        """True when the variant is the source PNG itself, served without re-encoding."""
        return self.extension == "png" and self.width is None


def encode_variant(source: Path, spec: VariantSpec) -> bytes:
    """The bytes of ``spec`` made from the PNG at ``source`` (never wider than the source).
    Raises OSError (FileNotFoundError when the source is gone) or ValueError."""
    fmt = spec.format
    with Image.open(source) as opened:
        opened.load()
        text = dict(getattr(opened, "text", {}) or {})
        icc = opened.info.get("icc_profile")
        image = _prepared(opened, fmt)
    if spec.width is not None and spec.width < image.width:
        height = max(1, round(image.height * spec.width / image.width))
        image = image.resize((spec.width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    options: dict[str, Any] = dict(fmt.options)
    if icc:
        options["icc_profile"] = icc
    options.update(_provenance(fmt, text))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.pillow_name, **options)
    return buffer.getvalue()


def _prepared(image: Image.Image, fmt: ImageFormat) -> Image.Image:
    """An RGB or RGBA copy; formats without alpha get the picture over white."""
    has_alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
    rgba = image.convert("RGBA") if has_alpha else image.convert("RGB")
    if not has_alpha or fmt.keeps_alpha:
        return rgba
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _provenance(fmt: ImageFormat, text: dict[str, str]) -> dict[str, Any]:
    """Save options that carry the PNG text chunks: as text chunks in a PNG (tEXt and
    iTXt, as the picture has them), as XMP elsewhere."""
    if not text:
        return {}
    if fmt.pillow_name == "PNG":
        return {"pnginfo": png_text_chunks(text)}
    return {"xmp": text_as_xmp(text)}


def text_as_xmp(text: dict[str, str]) -> bytes:
    """An XMP packet holding each keyword/value pair (the form is in docs/api.md)."""
    items = "".join(
        f"<rdf:li rdf:parseType=\"Resource\"><png:keyword>{escape(str(k))}</png:keyword>"
        f"<png:value>{escape(str(v))}</png:value></rdf:li>" for k, v in text.items())
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:png="{XMP_NAMESPACE}">'
        f"<png:text><rdf:Bag>{items}</rdf:Bag></png:text>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>')
    return packet.encode("utf-8")
