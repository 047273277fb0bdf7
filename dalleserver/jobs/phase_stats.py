"""Phase-duration statistics: an EMA per phase, persisted as the original's
``metrics/progress_phase_stats.json`` and merged when several processes share a data dir."""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dalleserver.storage import StorageError, atomic_write

PHASES = (
    "setup",
    "base_prompts",
    "enhance_prompt",
    "image_prep",
    "image_wait",
    "image_download",
    "annotate",
    "failed",
    "completed",
)
EMA_ALPHA = 0.2
# What a phase takes before this data dir has timed it, by image backend (seconds): a first
# run shows a rough estimate instead of none. The local renderer's are its timings on one
# worker (bench/generate.py), OpenAI's typical DALL-E 3 and gpt-image answers.
SEED_SECONDS = {
    "local": {"setup": 0.01, "base_prompts": 0.04, "image_prep": 0.005, "image_wait": 0.15,
              "annotate": 0.1},
    "openai": {"setup": 0.02, "base_prompts": 0.02, "enhance_prompt": 4.0, "image_prep": 0.05,
               "image_wait": 25.0, "image_download": 2.0, "annotate": 0.1},
    "none": {"setup": 0.01, "base_prompts": 0.02},
}
log = logging.getLogger("dalleserver.stats")
STATS_VERSION = "v1"


@dataclass
class PhaseAverage:
    count: int = 0
    avg_ns: int = 0

    def add(self, duration_ns: int) -> None:
        if self.count == 0:
            self.avg_ns = duration_ns
        else:
            self.avg_ns = int(duration_ns * EMA_ALPHA + self.avg_ns * (1 - EMA_ALPHA))
        self.count += 1


class PhaseStats:
    """EMA of each phase's duration, persisted to ``metrics/progress_phase_stats.json``.

    Several processes may share a data dir, so ``save`` merges instead of overwriting: under
    an exclusive lock on a sibling lock file it re-reads the file, applies the samples and
    counts this process gathered since its last save, and writes the result atomically.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.averages: dict[str, PhaseAverage] = {p: PhaseAverage() for p in PHASES}
        self.generation_runs = 0
        self.cache_hits = 0
        self._pending: list[tuple[str, int]] = []
        self._pending_runs = 0
        self._pending_hits = 0
        self._lock = threading.Lock()
        self.seeds: dict[str, int] = {}  # ns per phase until one is timed (seed_for)
        self._replace_from_disk()

    def _read_disk(self) -> tuple[dict[str, PhaseAverage], int, int] | None:
        if self.path is None:
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("version") != STATS_VERSION:
            return None
        averages = {p: PhaseAverage() for p in PHASES}
        for phase, entry in (doc.get("phaseAverages") or {}).items():
            if phase in averages and isinstance(entry, dict):
                try:
                    averages[phase] = PhaseAverage(int(entry["count"]), int(entry["avgNs"]))
                except (KeyError, TypeError, ValueError):
                    continue
        try:
            runs, hits = int(doc.get("generationRuns") or 0), int(doc.get("cacheHits") or 0)
        except (TypeError, ValueError):
            runs = hits = 0
        return averages, runs, hits

    def _replace_from_disk(self) -> None:
        loaded = self._read_disk()
        if loaded is not None:
            self.averages, self.generation_runs, self.cache_hits = loaded

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "version": STATS_VERSION,
            "phaseAverages": {
                p: {"count": a.count, "avgNs": a.avg_ns}
                for p, a in self.averages.items()
                if a.count
            },
            "generationRuns": self.generation_runs,
            "cacheHits": self.cache_hits,
        }

    def save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a+b") as guard:
                fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
                with self._lock:
                    loaded = self._read_disk()
                    if loaded is not None:
                        averages, runs, hits = loaded
                        for phase, duration in self._pending:
                            averages[phase].add(duration)
                        self.averages = averages
                        self.generation_runs = runs + self._pending_runs
                        self.cache_hits = hits + self._pending_hits
                    self._pending.clear()
                    self._pending_runs = self._pending_hits = 0
                    payload = json.dumps(self.to_json_dict(), indent=2)
                atomic_write(self.path, payload)
        except (OSError, StorageError) as exc:
            # statistics are a nicety: a full disk must not fail a generation, but say so
            log.warning("could not save phase statistics to %s: %s", self.path, exc)

    def save_if_pending(self) -> None:
        """Save only when something was counted since the last save (cache hits are
        counted without a write each and flushed here, periodically and at stop)."""
        with self._lock:
            pending = bool(self._pending or self._pending_runs or self._pending_hits)
        if pending:
            self.save()

    def record(self, phase: str, duration_ns: int) -> None:
        with self._lock:
            duration = max(duration_ns, 0)
            self.averages[phase].add(duration)
            self._pending.append((phase, duration))

    def count_run(self, cache_hit: bool) -> None:
        with self._lock:
            if cache_hit:
                self.cache_hits += 1
                self._pending_hits += 1
            else:
                self.generation_runs += 1
                self._pending_runs += 1

    def snapshot(self) -> dict[str, int]:
        """The average of each timed phase, the seed of each phase not timed yet."""
        with self._lock:
            return {**self.seeds, **{p: a.avg_ns for p, a in self.averages.items() if a.count}}

    def seed_for(self, backend: str) -> None:
        """Estimate the phases not timed yet from ``SEED_SECONDS`` of this backend (none
        for a backend not listed)."""
        self.seeds = {p: int(s * 1e9) for p, s in SEED_SECONDS.get(backend, {}).items()}
