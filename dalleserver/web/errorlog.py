"""Error counts and the most recent errors for ``/errors``; clearable without touching the
Prometheus counters (which must only ever go up)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

from dalleserver.web.responses import rfc3339_now

RECENT = 50


class ErrorLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.total = 0
            self.by_code: Counter[str] = Counter()
            self.by_endpoint: Counter[str] = Counter()
            self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
            self.since = rfc3339_now()

    def record(self, code: str, endpoint: str, status: int, target: str, rid: str) -> None:
        with self._lock:
            self.total += 1
            self.by_code[code] += 1
            self.by_endpoint[endpoint] += 1
            self.recent.append({"timestamp": rfc3339_now(), "code": code, "status": status,
                                "endpoint": endpoint, "path": target[:512],
                                "request_id": rid})

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "since": self.since,
                "total": self.total,
                "by_code": dict(sorted(self.by_code.items())),
                "by_endpoint": dict(sorted(self.by_endpoint.items())),
                "recent": list(self.recent)[::-1],
            }

    def to_text(self) -> str:
        doc = self.to_json()
        lines = [f"errors since {doc['since']}: {doc['total']}", "", "by code:"]
        lines += [f"  {k:<32} {v}" for k, v in doc["by_code"].items()] or ["  (none)"]
        lines += ["", "by endpoint:"]
        lines += [f"  {k:<32} {v}" for k, v in doc["by_endpoint"].items()] or ["  (none)"]
        lines += ["", f"most recent (up to {RECENT}):"]
        lines += [f"  {e['timestamp']} {e['status']} {e['code']:<24} {e['path']} "
                  f"id={e['request_id']}" for e in doc["recent"]] or ["  (none)"]
        return "\n".join(lines) + "\n"
