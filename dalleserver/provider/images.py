"""The ``openai`` image backend (reference upstream-library §6.2, without its orientation bug)."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from dalleserver.config import Config
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.backends import ProgressCallback
from dalleserver.provider.guard import GuardedEndpoint
from dalleserver.provider.http import BAD_RESPONSE, OpenAIClient, ProviderError

MAX_DOWNLOAD_BYTES = 32 * 1024 * 1024

# model -> (landscape, portrait, square, quality); None: leave the field out
SIZES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "gpt-image-2": ("1536x1024", "1024x1536", "1024x1024", "high"),
    "gpt-image-1": ("1536x1024", "1024x1536", "1024x1024", "high"),
    "gpt-image-1.5": ("1536x1024", "1024x1536", "1024x1024", "high"),
    "gpt-image-1-mini": ("1024x1024", "1024x1024", "1024x1024", "low"),
    "dall-e-2": ("1024x1024", "1024x1024", "1024x1024", None),
}
VISUAL_DIRECTIVE = (
    "Visual directive: one finished illustration, a single clear subject, coherent light "
    "and perspective, the palette and styles named above, and no text, letters or "
    "watermarks anywhere."
)


def orientation(prompt: str) -> str:
    """landscape, portrait or square from words in the prompt, case-insensitively; a prompt
    that asks for both (or neither) stays square."""
    text = prompt.lower()
    wide = "landscape" in text or "horizontal" in text
    tall = "portrait" in text or "vertical" in text
    if wide and not tall:
        return "landscape"
    if tall and not wide:
        return "portrait"
    return "square"


def image_payload(config: Config, dress: DalleDress) -> dict[str, Any]:
    enhanced = dress.enhanced_prompt or dress.prompt
    prompt = f"{dress.technical_prompt}\n\n{enhanced}".strip()
    model = config.image_model
    if model == "gpt-image-1":
        prompt = f"{prompt}\n\n{VISUAL_DIRECTIVE}"
    shape = orientation(enhanced)
    size: str | None
    quality: str | None
    style: str | None = None
    if model == "dall-e-3":
        size = {"landscape": "1792x1024", "portrait": "1024x1792",
                "square": "1024x1024"}[shape]
        quality, style = config.image_quality or None, config.image_style or None
    elif model in SIZES:
        landscape, portrait, square, quality = SIZES[model]
        size = {"landscape": landscape, "portrait": portrait, "square": square}[shape]
    else:
        size = quality = None
    payload: dict[str, Any] = {"prompt": prompt, "n": 1}
    for key, value in (("quality", quality), ("model", model), ("style", style),
                       ("size", size)):
        if value:
            payload[key] = value
    return payload


class OpenAIImageBackend:
    name = "openai"

    def __init__(self, config: Config, client: OpenAIClient, endpoint: GuardedEndpoint) -> None:
        self.config = config
        self.client = client
        self.endpoint = endpoint

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image:
        payload = image_payload(self.config, dress)
        url = self.config.image_generations_url
        progress("image_wait")
        doc = self.endpoint.call(
            lambda: self.client.post_json(url, payload, self.config.image_timeout))
        items = doc.get("data")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise ProviderError(BAD_RESPONSE, "the image model returned no image")
        first = items[0]
        progress("image_download")
        if first.get("b64_json"):
            try:
                data = base64.b64decode(first["b64_json"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise ProviderError(BAD_RESPONSE, "the image answer's base64 is invalid") from None
            mode, source = "b64", ""
        elif first.get("url"):
            source = str(first["url"])
            data = self.client.download(source, self.config.image_timeout, MAX_DOWNLOAD_BYTES)
            mode = "url"
        else:
            raise ProviderError(BAD_RESPONSE, "the image answer has neither url nor b64_json")
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise ProviderError(BAD_RESPONSE, "the image model sent data that is not an "
                                              "image") from None
        image = image.convert("RGB")
        image.info["download_mode"] = mode
        image.info["image_url"] = source
        return image
