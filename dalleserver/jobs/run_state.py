"""A run's state while it goes, and its progress JSON (CONTRACT §4.2, reference upstream §7).

Differences from the original, on purpose: percent is 100 when a run completes; percent
never goes backwards (each run keeps the averages it started with); queued runs report their
``queuePosition``; skipped phases leave the estimate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dalleserver.dress.model import DalleDress
from dalleserver.jobs.phase_stats import PHASES

ACTIONABLE = PHASES[:7]


def now_ns() -> int:
    return time.time_ns()


@dataclass
class PhaseState:
    started_ns: int = 0
    ended_ns: int = 0
    skipped: bool = False
    error: str = ""


@dataclass
class Run:
    """One generation from the moment it is queued until it is done."""

    series: str
    address: str
    dress: DalleDress | None
    averages: dict[str, int]
    started_ns: int = field(default_factory=now_ns)
    current: str = "setup"
    phases: dict[str, PhaseState] = field(default_factory=lambda: {p: PhaseState() for p in PHASES})
    done: bool = False
    error: str = ""
    cache_hit: bool = False
    queue_ticket: int = 0  # its place in the queue's order; 0 once a worker has it
    last_percent: float = 0.0
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False


def run_state(run: Run) -> str:
    """queued, running, completed, failed or cancelled."""
    if run.done:
        return "cancelled" if run.cancelled else "failed" if run.error else "completed"
    return "queued" if run.queue_ticket else "running"


def render_run(run: Run, queue_position: int) -> dict[str, Any]:
    """The progress JSON of a live or just-finished run (CONTRACT §4.2)."""
    stamp = now_ns()
    averages = run.averages
    total = sum(
        averages.get(p, 0) for p in ACTIONABLE if not run.phases[p].skipped
    )
    done_ns = 0
    if run.current not in ("completed", "failed"):
        for phase in ACTIONABLE:
            state = run.phases[phase]
            if state.skipped:
                continue
            avg = averages.get(phase, 0)
            if phase == run.current:
                elapsed = stamp - state.started_ns if state.started_ns else 0
                done_ns += min(elapsed, avg) if avg else 0
                break
            if state.ended_ns:
                done_ns += avg
    if run.done and not run.error:
        percent, eta = 100.0, 0.0
    elif run.done:
        percent, eta = run.last_percent, 0.0
    elif total:
        percent = min(done_ns / total * 100.0, 99.0)
        eta = max(total - done_ns, 0) / 1e9
    else:
        percent, eta = 0.0, 0.0
    percent = max(percent, run.last_percent)
    run.last_percent = percent
    phase_percent = phase_eta = 0.0
    current = run.phases[run.current]
    avg = averages.get(run.current, 0)
    if run.current not in ("completed", "failed") and avg and current.started_ns:
        elapsed = stamp - current.started_ns
        phase_percent = min(elapsed / avg * 100.0, 100.0)
        phase_eta = max(avg - elapsed, 0) / 1e9
    index = ACTIONABLE.index(run.current) + 1 if run.current in ACTIONABLE else 0
    return {
        "series": run.series,
        "address": run.address,
        "currentPhase": run.current,
        "startedNs": run.started_ns,
        "percent": round(percent, 2),
        "etaSeconds": round(eta, 3),
        "phasePercent": round(phase_percent, 2),
        "phaseETASeconds": round(phase_eta, 3),
        "phaseIndex": index,
        "phaseCount": len(ACTIONABLE),
        "done": run.done,
        "error": run.error,
        "cacheHit": run.cache_hit,
        "phases": [
            {
                "name": p,
                "startedNs": s.started_ns,
                "endedNs": s.ended_ns,
                "skipped": s.skipped,
                "error": s.error,
            }
            for p, s in run.phases.items()
        ],
        "dalleDress": run.dress.to_json_dict() if run.dress is not None else {},
        "phaseAverages": dict(averages),
        "queuePosition": queue_position,
        "notes": list(run.notes),
        "state": run_state(run),
    }
