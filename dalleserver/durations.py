"""Parse durations written in Go syntax (``1h30m``, ``500ms``) or as bare seconds (``90``)."""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_BARE = re.compile(rf"^{_NUMBER}$")

ACCEPTED_FORM = "a duration such as 500ms, 30s, 5m, 1h30m or bare seconds like 90"


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise ValueError when the text is not a duration.

    Negative durations are rejected: every duration in this program is a timeout or a TTL.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty duration")
    if value.startswith("+"):
        value = value[1:]
    if value.startswith("-"):
        raise ValueError(f"negative duration {text!r}")
    if _BARE.match(value):
        return float(value)
    if value == "0":
        return 0.0
    total = 0.0
    pos = 0
    while pos < len(value):
        match = _PART.match(value, pos)
        if not match:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total


def format_duration(seconds: float) -> str:
    """Render seconds compactly in Go-like syntax (``5m0s`` style is avoided: ``5m``)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or frac:
        parts.append(f"{secs + frac:g}s")
    return "".join(parts)
