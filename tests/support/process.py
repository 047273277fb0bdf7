"""Server processes started by tests and benchmarks: where they listen, how they stop."""

from __future__ import annotations

import re
import subprocess
import time

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def read_port(proc: subprocess.Popen, lines: list[str], timeout: float = 30.0) -> int | None:
    """The port from the server's ``listening on`` line (its stderr lines so far are kept in
    ``lines``); None when it ended or did not say within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            return None
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            return int(match.group(1))
    return None


def stop_process(proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Ask ``proc`` to stop with ``sig``; killed (and reaped) after ``grace`` seconds."""
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
