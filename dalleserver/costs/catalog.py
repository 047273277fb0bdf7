"""What each OpenAI image model accepts: qualities, sizes, output formats and styles, and
what the original sends when nothing is configured (reference upstream-library §6.2).

Values follow OpenAI's image API reference (``POST /v1/images/generations``): the GPT image
models take ``quality`` low/medium/high/auto, ``size`` 1024x1024/1536x1024/1024x1536/auto
and ``output_format`` png/jpeg/webp; dall-e-3 takes ``quality`` standard/hd, three sizes
and ``style`` vivid/natural; dall-e-2 takes ``quality`` standard and three square sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

ORIENTATIONS = ("landscape", "portrait", "square")
GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
GPT_IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_IMAGE_FORMATS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class ImageModel:
    """One model's accepted values. ``by_orientation`` is the size the original picks for a
    landscape, portrait and square prompt; ``default_quality`` what it sends ("" = none)."""

    name: str
    qualities: tuple[str, ...]
    default_quality: str
    sizes: tuple[str, ...]
    by_orientation: tuple[str, str, str]
    formats: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()

    def size_for(self, orientation: str) -> str:
        return self.by_orientation[ORIENTATIONS.index(orientation)]


_WIDE = ("1536x1024", "1024x1536", "1024x1024")
_SQUARE = ("1024x1024", "1024x1024", "1024x1024")

IMAGE_MODELS: dict[str, ImageModel] = {m.name: m for m in (
    ImageModel("gpt-image-2", GPT_IMAGE_QUALITIES, "high", GPT_IMAGE_SIZES, _WIDE,
               GPT_IMAGE_FORMATS),
    ImageModel("gpt-image-1.5", GPT_IMAGE_QUALITIES, "high", GPT_IMAGE_SIZES, _WIDE,
               GPT_IMAGE_FORMATS),
    ImageModel("gpt-image-1", GPT_IMAGE_QUALITIES, "high", GPT_IMAGE_SIZES, _WIDE,
               GPT_IMAGE_FORMATS),
    ImageModel("gpt-image-1-mini", GPT_IMAGE_QUALITIES, "low", GPT_IMAGE_SIZES, _SQUARE,
               GPT_IMAGE_FORMATS),
    ImageModel("dall-e-3", ("standard", "hd"), "hd", ("1024x1024", "1792x1024", "1024x1792"),
               ("1792x1024", "1024x1792", "1024x1024"), styles=("vivid", "natural")),
    ImageModel("dall-e-2", ("standard",), "", ("256x256", "512x512", "1024x1024"), _SQUARE),
)}


class OptionError(ValueError):
    """An image setting the model does not take; ``setting`` is the Config attribute."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class ImageOptions:
    """The image request's settings once checked: "" means "leave the field out", and
    ``size`` "" on a known model means "by the prompt's orientation"."""

    model: str
    quality: str
    size: str
    output_format: str
    style: str

    @property
    def known(self) -> ImageModel | None:
        return IMAGE_MODELS.get(self.model)

    def size_for(self, orientation: str) -> str:
        """The size a prompt of this orientation is sent with ("" = none)."""
        if self.size or self.known is None:
            return self.size
        return self.known.size_for(orientation)


def _accepted(setting: str, value: str, kind: str, model: str,
              choices: tuple[str, ...]) -> str:
    """``value`` when the model takes it (an empty value is always fine)."""
    if not value or value in choices:
        return value
    if not choices:
        raise OptionError(setting, f"{model} takes no {kind}; leave it empty")
    article = "an" if kind[0] in "aeiou" else "a"
    raise OptionError(setting, f"{value!r} is not {article} {kind} of {model}; accepted: "
                               + ", ".join(choices))


def resolve_image_options(model: str, quality: str = "", size: str = "",
                          output_format: str = "", style: str = "") -> ImageOptions:
    """Check the settings against the model and fill the original's default quality.
    A model not in the catalogue (a compatible server's own) gets them as they are."""
    known = IMAGE_MODELS.get(model)
    if known is None:
        return ImageOptions(model, quality, size, output_format, style)
    quality = _accepted("image_quality", quality.lower(), "quality", model, known.qualities)
    size = _accepted("image_size", size.lower(), "size", model, known.sizes)
    output_format = _accepted("image_format", output_format.lower(), "output format", model,
                              known.formats)
    style = _accepted("image_style", style.lower(), "style", model, known.styles)
    return ImageOptions(model, quality or known.default_quality, size, output_format, style)
