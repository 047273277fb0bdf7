"""Webhooks: when a run ends, its final snapshot is POSTed to the callback URLs its triggers
named, signed per the Standard Webhooks convention, retried with backoff until a deadline,
through a breaker per receiving host, from workers of their own (never a generation's)."""

from dalleserver.webhooks.dispatcher import Dispatcher
from dalleserver.webhooks.subscriptions import RunCallbacks, TooManyCallbacks
from dalleserver.webhooks.targets import AllowList, CallbackRefused, CallbackTarget
from dalleserver.webhooks.webhooks import Webhooks, build_webhooks

__all__ = ["AllowList", "CallbackRefused", "CallbackTarget", "Dispatcher", "RunCallbacks",
           "TooManyCallbacks", "Webhooks", "build_webhooks"]
