"""A generation's phases in the words people use, for the gallery and its progress page
(the page's script gets the same words from the page, so there is one list)."""

from __future__ import annotations

PHASE_WORDS = {
    "queued": "Waiting in the queue",
    "setup": "Getting ready",
    "base_prompts": "Writing the prompt",
    "enhance_prompt": "Polishing the prompt",
    "image_prep": "Preparing to paint",
    "image_wait": "Painting",
    "image_download": "Fetching the picture",
    "annotate": "Adding the caption",
    "completed": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def phase_words(phase: str) -> str:
    """What a phase is called on the page; an unknown phase keeps its own name."""
    return PHASE_WORDS.get(phase, phase.replace("_", " ").capitalize())


def time_words(snapshot: dict) -> str:
    """The time part of a progress line: the percent and time left when the phases have
    estimates, else the time so far and "estimating…"."""
    if snapshot.get("done"):
        return ""
    if snapshot.get("queuePosition"):
        return f"number {snapshot['queuePosition']} in the queue"
    elapsed = float(snapshot.get("elapsedSeconds") or 0.0)
    if not is_estimated(snapshot):
        return f"{elapsed:.0f} s so far · estimating…"
    eta = float(snapshot.get("etaSeconds") or 0.0)
    left = f"about {eta:.0f} s left" if eta >= 1 else "almost done"
    return f"{float(snapshot.get('percent') or 0):.0f} % · {left}"


def is_estimated(snapshot: dict) -> bool:
    """Whether the run has phase timings to estimate from (a run with none, or one that
    outlasted its estimate, shows an indeterminate bar)."""
    if "estimated" in snapshot:
        estimated = bool(snapshot["estimated"])
    else:
        estimated = any(snapshot.get("phaseAverages") or {})
    return estimated and float(snapshot.get("etaSeconds") or 0.0) > 0
