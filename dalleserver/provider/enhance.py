"""Prompt enhancement through a chat model (reference upstream-library §6.1)."""

from __future__ import annotations

import logging
from typing import Any

from dalleserver.config import Config
from dalleserver.dress.model import DalleDress
from dalleserver.provider.billed import BilledCaller
from dalleserver.provider.http import ProviderError
from dalleserver.resilience.breaker import CircuitOpenError
from dalleserver.resilience.retry import RetryAfterTooLong

log = logging.getLogger("dalleserver.enhance")

INSTRUCTION = (
    "Rewrite the art prompt you are given into a richer, more vivid prompt for an image "
    "model. Write from your literary perspective, keep every concrete attribute of the "
    "original (subject, emotion, occupation, action, styles, colours, viewpoint, "
    "composition, gaze, background), add sensory and atmospheric detail, and answer with "
    "the new prompt only."
)


def chat_payload(config: Config, base_prompt: str, author: str) -> dict[str, Any]:
    """The original's request shape: model, seed, temperature (not for gpt-5 models, not
    when 0), a system message (persona + instruction) and the base prompt."""
    payload: dict[str, Any] = {"model": config.enhancement_model,
                               "seed": config.enhancement_seed}
    if not config.enhancement_model.startswith("gpt-5") and config.enhancement_temperature:
        payload["temperature"] = config.enhancement_temperature
    payload["messages"] = [
        {"role": "system", "content": f"{author}\n\n{INSTRUCTION}"},
        {"role": "user", "content": base_prompt},
    ]
    return payload


class Enhancer(BilledCaller):
    """Callable by the pipeline; never fails a generation: on any provider failure the base
    prompt is used and the reason is returned for the progress snapshot."""

    def applies(self, dress: DalleDress) -> bool:
        return self.config.enhance_enabled and bool(dress.author_prompt)

    def enhance(self, dress: DalleDress) -> tuple[str, str]:
        """(prompt to use, note): the note is "" on success, else why the base was used."""
        payload = chat_payload(self.config, dress.prompt, dress.author_prompt)
        url = self.config.chat_completions_url
        try:
            doc = self.endpoint.call(
                lambda: self.client.post_json(url, payload, self.config.enhancement_timeout))
        except (ProviderError, CircuitOpenError, RetryAfterTooLong) as exc:
            # the picture still comes, from the plainer prompt: worth a warning, not an error
            log.warning("prompt enhancement unavailable for %s %s (%s); using the base prompt",
                        dress.series, dress.original, exc,
                        extra={"series": dress.series, "address": dress.original,
                               "error": str(exc), "error_type": type(exc).__name__})
            return dress.prompt, f"enhancement unavailable ({exc}); the base prompt was used"
        # answered, so billed, whatever the answer says
        self._bill(dress, doc, lambda spending, usage: spending.chat_call(
            self.config.enhancement_model, usage))
        try:
            content = doc["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            content = ""
        if not isinstance(content, str) or not content.strip():
            log.warning("the chat model answered nothing for %s %s; using the base prompt",
                        dress.series, dress.original,
                        extra={"series": dress.series, "address": dress.original})
            return dress.prompt, "the chat model answered nothing; the base prompt was used"
        return content.strip(), ""
