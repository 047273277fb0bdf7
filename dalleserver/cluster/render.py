"""Progress JSON of runs that live on no board of this process: a run queued in the cluster
(any instance may take it), or one cancelled before it started. A scratch progress board
renders them, so they read exactly like the runs a board holds."""

from __future__ import annotations

import json
from typing import Any

from dalleserver.dress.model import DalleDress
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.storage import Key


class SnapshotRenderer:
    def __init__(self, stats: PhaseStats) -> None:
        self.stats = stats

    def _board(self) -> ProgressBoard:
        board = ProgressBoard(self.stats, retention=60.0, memory_budget=1 << 16)
        board.stats = _ReadOnlyStats(self.stats)  # a scratch run must not move the averages
        return board

    def queued(self, key: Key, dress: DalleDress | None) -> bytes:
        """A run waiting in the shared queue (its position is filled in when read)."""
        board = self._board()
        board.start(key, dress, queue_ticket=1)
        return board.snapshot_json(key) or b"{}"

    def running(self, key: Key, dress: DalleDress | None) -> bytes:
        """A run a worker just took, before its first phase."""
        board = self._board()
        board.start(key, dress)
        board.begin(key)
        return board.snapshot_json(key) or b"{}"

    def failed(self, key: Key, dress: DalleDress | None, message: str,
               cancelled: bool = False) -> bytes:
        """A run that ended before a worker ran it: cancelled while queued, or one that
        could not start."""
        board = self._board()
        board.start(key, dress, queue_ticket=1)
        board.fail(key, message, cancelled=cancelled)
        return board.snapshot_json(key) or b"{}"


def with_position(body: bytes, position: int) -> bytes:
    """A queued run's JSON with its current place in the shared queue."""
    doc: dict[str, Any] = json.loads(body)
    doc["queuePosition"] = position
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _ReadOnlyStats:
    """The phase averages as a scratch board reads them; recording does nothing."""

    def __init__(self, stats: PhaseStats) -> None:
        self._stats = stats

    def snapshot(self) -> dict[str, int]:
        return self._stats.snapshot()

    def record(self, phase: str, nanoseconds: int) -> None:
        """Scratch runs take no time worth averaging."""

    def count_run(self, cache_hit: bool) -> None:
        """Scratch runs are not runs."""

    def save(self) -> None:
        """Nothing changed."""
