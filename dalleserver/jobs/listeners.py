"""Who wants to hear that a key's run changed: SSE streams, waiters, mirrors, webhooks."""

from __future__ import annotations

from collections.abc import Callable

from dalleserver.storage import Key


class Listeners:
    """Callbacks called with a key on every change; a broken one never breaks the caller
    (a generation)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Key], None]] = []

    def add(self, listener: Callable[[Key], None]) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Callable[[Key], None]) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass

    def notify(self, key: Key) -> None:
        for listener in list(self._listeners):
            try:
                listener(key)
            except Exception:  # a broken listener must not break a generation
                continue
