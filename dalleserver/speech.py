"""The spoken prompt of a picture (the original library's text to speech, which its server
never exposed): ``output/<series>/audio/<seed>.mp3``, made once under a lock of its own
(across threads and processes, apart from the picture's), then served as a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dalleserver.jobs.locks import LockTable
from dalleserver.storage import DataDir, Key, atomic_write

if TYPE_CHECKING:  # the provider is imported only when a key is configured
    from dalleserver.provider.speech import Speaker


class SpeechUnavailable(Exception):
    """No speech can be made here (no API key)."""


class SpeechBusy(Exception):
    """Another request is making this speech now; ask again shortly."""


class SpeechMaker:
    def __init__(self, data_dir: DataDir, locks: LockTable, speaker: Speaker | None) -> None:
        self.data_dir = data_dir
        self.locks = locks
        self.speaker = speaker

    def path(self, key: Key) -> Path:
        return self.data_dir.output / key[0] / "audio" / f"{key[1]}.mp3"

    def get(self, key: Key, text: Callable[[], str], admit: Callable[[], None]) -> Path:
        """The speech file of ``key``, made from ``text()`` when it does not exist yet;
        ``admit()`` is called (and may raise) only when it is to be made. Raises
        SpeechUnavailable, SpeechBusy, ValueError (nothing to speak), the provider's
        errors and StorageError."""
        path = self.path(key)
        if path.is_file():
            return path
        if self.speaker is None:
            raise SpeechUnavailable("text to speech needs OPENAI_API_KEY")
        lease = self.locks.try_acquire(key[0], f"speech-{key[1]}")
        if lease is None:
            raise SpeechBusy("this speech is being made; ask again shortly")
        try:
            if path.is_file():  # made by whoever held the lock before us
                return path
            words = text().strip()
            if not words:
                raise ValueError("there is no prompt to speak")
            admit()
            atomic_write(path, self.speaker.speak(words))
            return path
        finally:
            lease.release()
