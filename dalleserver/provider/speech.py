"""Text to speech through OpenAI's speech endpoint (reference upstream-library §9.5): a
text read aloud by ``tts-1`` with the voice ``alloy``, as MP3, behind a breaker of its own
and the same retry with backoff as the other calls (not the original's endless loop)."""

from __future__ import annotations

from dalleserver.config import Config
from dalleserver.provider.guard import GuardedEndpoint
from dalleserver.provider.http import BAD_RESPONSE, OpenAIClient, ProviderError

SPEECH_MODEL = "tts-1"
VOICE = "alloy"
MAX_SPEECH_INPUT = 4096  # characters the endpoint takes


class Speaker:
    def __init__(self, config: Config, client: OpenAIClient, endpoint: GuardedEndpoint) -> None:
        self.config = config
        self.client = client
        self.endpoint = endpoint

    @property
    def url(self) -> str:
        return f"{self.config.openai_base_url}/audio/speech"

    def speak(self, text: str) -> bytes:
        """MP3 bytes of ``text`` read aloud (ProviderError, CircuitOpenError,
        RetryAfterTooLong)."""
        payload = {"model": SPEECH_MODEL, "input": text[:MAX_SPEECH_INPUT], "voice": VOICE,
                   "response_format": "mp3"}
        timeout = self.config.enhancement_timeout
        audio = self.endpoint.call(lambda: self.client.post(self.url, payload, timeout))
        if not audio:
            raise ProviderError(BAD_RESPONSE, "OpenAI answered the speech request with no audio")
        return audio
