"""What a paid call costs, in US dollars: OpenAI's published prices, dated, and a JSON file
(``TB_DALLE_PRICE_TABLE``) that overrides any of them, because prices change.

Images are priced per picture by model, quality and size: the "cost per image" OpenAI
publishes for its image models (output tokens at the model's image-output rate). Prompt
text sent with an image (a few hundred tokens) is not counted. Chat calls are priced by
the ``usage`` the API returns, at the model's rates per million input and output tokens.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dalleserver.costs.catalog import ORIENTATIONS, ImageOptions

# When the built-in prices below were taken from OpenAI's pricing and image generation
# pages; ``dalleserver estimate`` and the selector JSON name it next to every estimate.
PRICES_AS_OF = "2026-05-06"

# "auto" quality and size are billed as what the API picks: estimated at the dearest.
AUTO = "auto"

_GPT_IMAGE_2 = {"low": (0.006, 0.005), "medium": (0.053, 0.041), "high": (0.211, 0.165)}
_GPT_IMAGE_15 = {"low": (0.009, 0.013), "medium": (0.034, 0.05), "high": (0.133, 0.2)}
_GPT_IMAGE_1 = {"low": (0.011, 0.016), "medium": (0.042, 0.063), "high": (0.167, 0.25)}
_GPT_IMAGE_MINI = {"low": (0.005, 0.006), "medium": (0.011, 0.015), "high": (0.036, 0.052)}


def _gpt_image(rows: dict[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    """(square, portrait-or-landscape) per quality -> the per-size table."""
    return {quality: {"1024x1024": square, "1024x1536": wide, "1536x1024": wide}
            for quality, (square, wide) in rows.items()}


BUILTIN_IMAGES: dict[str, dict[str, dict[str, float]]] = {
    "gpt-image-2": _gpt_image(_GPT_IMAGE_2),
    "gpt-image-1.5": _gpt_image(_GPT_IMAGE_15),
    "gpt-image-1": _gpt_image(_GPT_IMAGE_1),
    "gpt-image-1-mini": _gpt_image(_GPT_IMAGE_MINI),
    "dall-e-3": {
        "standard": {"1024x1024": 0.04, "1792x1024": 0.08, "1024x1792": 0.08},
        "hd": {"1024x1024": 0.08, "1792x1024": 0.12, "1024x1792": 0.12},
    },
    # dall-e-2 takes no quality: its prices are under "" (and "standard", its only one)
    "dall-e-2": {q: {"256x256": 0.016, "512x512": 0.018, "1024x1024": 0.02}
                 for q in ("", "standard")},
}
# dollars per million tokens: input, output (reasoning tokens are billed as output)
BUILTIN_CHAT: dict[str, dict[str, float]] = {
    "gpt-5.5": {"input": 5.0, "output": 30.0},
    "gpt-5": {"input": 1.25, "output": 10.0},
    "gpt-5-mini": {"input": 0.25, "output": 2.0},
    "gpt-4o": {"input": 2.5, "output": 10.0},
    "gpt-4o-mini": {"input": 0.15, "output": 0.6},
}
# what one prompt enhancement is assumed to use before it has run (estimates, reservations)
BUILTIN_CHAT_TOKENS = {"input": 1000, "output": 2000}


class PriceError(ValueError):
    """A price table file that cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class PriceTable:
    """Per-picture image prices, per-token chat prices and the date they were taken."""

    images: Mapping[str, Mapping[str, Mapping[str, float]]] = field(
        default_factory=lambda: BUILTIN_IMAGES)
    chat: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: BUILTIN_CHAT)
    chat_tokens: Mapping[str, float] = field(default_factory=lambda: BUILTIN_CHAT_TOKENS)
    as_of: str = PRICES_AS_OF
    source: str = "built in"

    def image(self, model: str, quality: str, size: str) -> float | None:
        """One picture's price; None when the table does not know it. "auto" quality or
        size is priced at the dearest the model has."""
        qualities = self.images.get(model)
        if not qualities:
            return None
        rows = list(qualities.values()) if quality == AUTO else [qualities.get(quality)]
        prices = [row.get(size) if size != AUTO else max(row.values(), default=None)
                  for row in rows if row]
        known = [p for p in prices if p is not None]
        return max(known) if known else None

    def chat_call(self, model: str, input_tokens: float, output_tokens: float) -> float | None:
        """A chat call's price from its token counts; None for a model not in the table."""
        rates = self.chat.get(model)
        if rates is None:
            return None
        return (input_tokens * rates.get("input", 0.0)
                + output_tokens * rates.get("output", 0.0)) / 1e6

    def chat_estimate(self, model: str) -> float | None:
        """What one enhancement is expected to cost before it runs."""
        return self.chat_call(model, self.chat_tokens.get("input", 0.0),
                              self.chat_tokens.get("output", 0.0))


def _price(value: Any, where: str, what: str = "dollars") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0):
        raise PriceError(f"{where} must be a number of {what} (0 or more)")
    return float(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PriceError(f"{where} must be an object")
    return value


def _merge_images(doc: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    merged = {m: {q: dict(sizes) for q, sizes in qs.items()} for m, qs in BUILTIN_IMAGES.items()}
    for model, qualities in _table(doc.get("images", {}), "images").items():
        for quality, sizes in _table(qualities, f"images.{model}").items():
            row = merged.setdefault(model, {}).setdefault(quality, {})
            for size, price in _table(sizes, f"images.{model}.{quality}").items():
                row[size] = _price(price, f"images.{model}.{quality}.{size}")
    return merged


def _merge_chat(doc: dict[str, Any]) -> dict[str, dict[str, float]]:
    merged = {model: dict(rates) for model, rates in BUILTIN_CHAT.items()}
    for model, rates in _table(doc.get("chat", {}), "chat").items():
        row = merged.setdefault(model, {"input": 0.0, "output": 0.0})
        for kind, price in _table(rates, f"chat.{model}").items():
            if kind not in ("input", "output"):
                raise PriceError(f"chat.{model}.{kind}: only input and output are priced")
            row[kind] = _price(price, f"chat.{model}.{kind}")
    return merged


def load_price_table(path: Path) -> PriceTable:
    """The built-in table with the entries of a JSON file laid over it::

        {"asOf": "2026-12-01",
         "images": {"gpt-image-2": {"high": {"1024x1024": 0.25}}},
         "chat": {"gpt-5.5": {"input": 5.0, "output": 30.0}},
         "chatTokensPerCall": {"input": 800, "output": 1500}}

    Raises PriceError (unreadable file, bad JSON, a negative or non-numeric price)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PriceError(f"{path} is not JSON: {exc}") from None
    doc = _table(doc, "the price table")
    tokens = dict(BUILTIN_CHAT_TOKENS)
    for kind, count in _table(doc.get("chatTokensPerCall", {}), "chatTokensPerCall").items():
        tokens[kind] = _price(count, f"chatTokensPerCall.{kind}", "tokens")
    as_of = doc.get("asOf", PRICES_AS_OF)
    if not isinstance(as_of, str) or not as_of.strip():
        raise PriceError("asOf must be a date such as 2026-12-01")
    return PriceTable(_merge_images(doc), _merge_chat(doc), tokens, as_of.strip(), str(path))


def missing_price(prices: PriceTable, image: ImageOptions | None, chat_model: str | None) -> str:
    """What a paid generation with these settings would buy that ``prices`` cannot price
    ("" when it can price all of it)."""
    if image is not None:
        for shape in ORIENTATIONS:
            size = image.size_for(shape)
            if prices.image(image.model, image.quality, size) is None:
                return (f"{image.model} pictures at quality {image.quality or '(none)'} and "
                        f"size {size or '(none)'}")
    if chat_model and prices.chat_estimate(chat_model) is None:
        return f"the chat model {chat_model}"
    return ""
