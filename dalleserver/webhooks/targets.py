"""Callback URLs and the allow-list of hosts they may point at (``TB_DALLE_WEBHOOK_HOSTS``):
a webhook never goes anywhere else."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


class CallbackRefused(ValueError):
    """A callback URL that may not be used; the message is safe to show to the client."""


@dataclass(frozen=True)
class CallbackTarget:
    """Where one webhook goes: the URL's parts, and the allow-list entry it matched (the
    name of its breaker)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    entry: str


class AllowList:
    """Host names or IP addresses, each with an optional port: ``hooks.example.com`` takes
    any port of that host, ``127.0.0.1:9000`` that port only."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.entries = entries
        self._rules: list[tuple[str, int | None, str]] = []
        for entry in entries:
            parts = urllib.parse.urlsplit(f"//{entry}")
            self._rules.append(((parts.hostname or "").lower(), parts.port, entry))

    def __bool__(self) -> bool:
        return bool(self._rules)

    def check(self, url: str) -> CallbackTarget:
        """The target of ``url``; CallbackRefused when it is malformed or its host is not
        on the list."""
        if len(url) > MAX_URL_LENGTH:
            raise CallbackRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
            raise CallbackRefused("the URL has spaces, control or non-ASCII characters")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise CallbackRefused("an http:// or https:// URL with a host is needed")
        if parts.username is not None or parts.password is not None:
            raise CallbackRefused("the URL may not hold a user name or password")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise CallbackRefused("the URL's port is not a number from 1 to 65535") from None
        host = parts.hostname.lower()
        for rule_host, rule_port, entry in self._rules:
            if host == rule_host and rule_port in (None, port):
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                return CallbackTarget(urllib.parse.urlunsplit(parts._replace(fragment="")),
                                      parts.scheme, host, port, path, entry)
        raise CallbackRefused(f"{parts.netloc} is not among the hosts this server sends "
                              "webhooks to")
