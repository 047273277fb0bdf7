"""The webhooks of one process, built from the configuration: the allow-list, the
dispatcher with a breaker per allowed host, and the callbacks waiting for runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalleserver.observability.instruments import Instruments
from dalleserver.resilience.breaker import CircuitBreaker
from dalleserver.webhooks.dispatcher import Dispatcher, Timing
from dalleserver.webhooks.sender import is_breaker_failure
from dalleserver.webhooks.subscriptions import RunCallbacks
from dalleserver.webhooks.targets import AllowList

if TYPE_CHECKING:
    from dalleserver.config import Config
    from dalleserver.jobs.progress import ProgressBoard


@dataclass
class Webhooks:
    allow_list: AllowList
    dispatcher: Dispatcher
    callbacks: RunCallbacks

    def start(self) -> None:
        self.dispatcher.start()

    def stop(self, grace: float = 2.0) -> None:
        self.dispatcher.stop(grace)


def build_webhooks(config: Config, board: ProgressBoard, instruments: Instruments,
                   **dispatcher_options: Any) -> Webhooks | None:
    """Webhooks when ``TB_DALLE_WEBHOOK_HOSTS`` names hosts (the configuration has then
    checked that a secret is set), else None. The callbacks listen to ``board``."""
    if not config.webhook_hosts:
        return None
    allow_list = AllowList(config.webhook_hosts)
    breakers = {entry: CircuitBreaker(f"webhook {entry}",
                                      failure_threshold=config.breaker_failures,
                                      reset_timeout=config.breaker_reset,
                                      success_threshold=config.breaker_successes,
                                      is_failure=is_breaker_failure)
                for entry in allow_list.entries}
    dispatcher_options.setdefault("timing", Timing(deadline=config.webhook_deadline))
    dispatcher = Dispatcher(config.webhook_secret, breakers, instruments,
                            **dispatcher_options)
    callbacks = RunCallbacks(board, dispatcher)
    board.add_listener(callbacks.on_change)
    return Webhooks(allow_list, dispatcher, callbacks)
