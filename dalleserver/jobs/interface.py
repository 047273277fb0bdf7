"""What the web layer and the service need of "the jobs" and "the board", whichever runs
them: one process (``JobManager`` and ``ProgressBoard``) or a cluster coordinated through
Redis (``dalleserver.cluster``). Both sides satisfy these protocols; the views are written
against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dalleserver.jobs.finished_runs import Finished
from dalleserver.jobs.manager import Submission
from dalleserver.jobs.phase_stats import PhaseStats
from dalleserver.jobs.pipeline import Pipeline
from dalleserver.jobs.run_state import Run
from dalleserver.records import GenerationOptions
from dalleserver.storage import Key


class CoordinationUnavailable(Exception):
    """The shared queue cannot be reached (cluster mode with Redis down): a run cannot be
    queued or cancelled now. The application answers it, from any view, 503 with
    ``Retry-After``; finished pictures are still served meanwhile."""

    retry_after = 5


class BoardView(Protocol):
    """The reading side of the progress board, as the views, the waiters, the webhooks and
    the status printer use it."""

    stats: PhaseStats

    def get(self, key: Key) -> Run | Any | None:
        """The live run of ``key`` (something with ``queue_ticket``), or None."""
        ...

    def finished(self, key: Key) -> Finished | None: ...

    def snapshot(self, key: Key) -> dict[str, Any] | None: ...

    def snapshot_json(self, key: Key) -> bytes | None: ...

    def running_keys(self) -> list[Key]: ...

    def active_keys(self) -> list[Key]: ...

    def forget(self, key: Key) -> None: ...

    def memory(self) -> dict[str, int]: ...

    def add_listener(self, listener: Callable[[Key], None]) -> None: ...

    def remove_listener(self, listener: Callable[[Key], None]) -> None: ...


class JobQueue(Protocol):
    """The one owner of "is this key running": queue, workers, single flight."""

    pipeline: Pipeline
    workers: int
    queue_size: int
    observer: Callable[[str, float], None] | None

    def start(self) -> None: ...

    def stop(self, grace: float = 10.0) -> None: ...

    @property
    def queue_depth(self) -> int: ...

    @property
    def in_flight(self) -> int: ...

    def queue_position(self, ticket: int) -> int: ...

    def submit(self, series: str, address: str, force: bool = False) -> Submission: ...

    def submit_key(self, key: Key, force: bool = False,
                   admit: Callable[[], None] | None = None, name: str = "",
                   options: GenerationOptions | None = None,
                   request_id: str = "") -> Submission: ...

    def cancel(self, key: Key) -> str: ...

    def wait_idle(self, timeout: float) -> bool: ...
