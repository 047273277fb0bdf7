"""The ``openai`` image backend (reference upstream-library §6.2, without its orientation bug)."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from dalleserver.config import Config
from dalleserver.costs.spending import PaidCall, Spending
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.backends import ProgressCallback
from dalleserver.provider.billed import BilledCaller
from dalleserver.provider.http import BAD_RESPONSE, ProviderError

MAX_DOWNLOAD_BYTES = 32 * 1024 * 1024
# Decoded size is what costs memory: a 17 KB PNG may claim 12000 x 12000 pixels (1.7 GB as
# RGB). The models answer 1-4 megapixels; this leaves room and refuses bombs before decoding.
MAX_PIXELS = 40_000_000

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
    options = config.image_options  # checked against the model at startup (costs.catalog)
    if options.model == "gpt-image-1":
        prompt = f"{prompt}\n\n{VISUAL_DIRECTIVE}"
    size = options.size_for(orientation(enhanced))
    payload: dict[str, Any] = {"prompt": prompt, "n": 1}
    # the original's key order; empty values are left out
    for key, value in (("quality", options.quality), ("model", options.model),
                       ("style", options.style), ("size", size),
                       ("output_format", options.output_format)):
        if value:
            payload[key] = value
    return payload


class OpenAIImageBackend(BilledCaller):
    name = "openai"

    def _record_paid(self, dress: DalleDress, payload: dict[str, Any],
                     doc: dict[str, Any]) -> None:
        """The call succeeded, so it is billed: at the quality and size the answer reports
        (what "auto" became), else those that were asked for."""
        def price(spending: Spending, usage: dict[str, Any]) -> PaidCall:
            reported = {name: str(doc.get(name) or payload.get(name) or "")
                        for name in ("quality", "size", "output_format")}
            return spending.image_call(reported["quality"], reported["size"],
                                       reported["output_format"], usage)

        self._bill(dress, doc, price)

    def render(self, dress: DalleDress, progress: ProgressCallback) -> Image.Image:
        payload = image_payload(self.config, dress)
        url = self.config.image_generations_url
        progress("image_wait")
        doc = self.endpoint.call(
            lambda: self.client.post_json(url, payload, self.config.image_timeout))
        self._record_paid(dress, payload, doc)
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
            # https only, and http when the API itself is spoken over http (a local server)
            schemes = ("http", "https") if url.startswith("http://") else ("https",)
            data = self.client.download(source, self.config.image_timeout, MAX_DOWNLOAD_BYTES,
                                        schemes)
            mode = "url"
        else:
            raise ProviderError(BAD_RESPONSE, "the image answer has neither url nor b64_json")
        try:
            image = Image.open(io.BytesIO(data))  # reads the header only
            if image.width * image.height > MAX_PIXELS:
                raise ProviderError(BAD_RESPONSE, f"the image model sent a picture of "
                                                  f"{image.width}x{image.height} pixels, over "
                                                  f"the {MAX_PIXELS // 1_000_000} megapixels "
                                                  "accepted")
            image.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise ProviderError(BAD_RESPONSE, "the image model sent data that is not an "
                                              "image") from None
        image = image.convert("RGB")
        image.info["download_mode"] = mode
        image.info["image_url"] = source
        return image
