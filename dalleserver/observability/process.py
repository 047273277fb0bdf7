"""Process statistics for the standard ``process_*`` metrics: /proc first, portable fallback.

A value that cannot be read (no /proc in a sandbox or chroot) is None, and its metric has no
sample: a 0 would be read as a real value (no memory, no open files) and break dashboards.
"""

from __future__ import annotations

import os
import resource
import time

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_FALLBACK_START = time.time()


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


_BOOT = _boot_time()


def _proc_stat() -> list[str] | None:
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            text = handle.read()
    except OSError:
        return None
    # the command name may contain spaces: split after its closing parenthesis
    return text[text.rfind(")") + 2 :].split()


def resident_memory_bytes() -> float | None:
    """Resident set size now; None without /proc (getrusage only knows the peak)."""
    fields = _proc_stat()
    if fields is not None:
        return float(int(fields[21]) * _PAGE)
    return None


def cpu_seconds() -> float:
    """User plus system CPU time (getrusage when /proc is missing: the same numbers)."""
    fields = _proc_stat()
    if fields is not None:
        return (int(fields[11]) + int(fields[12])) / _TICKS
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_time_seconds() -> float:
    """Start time since the epoch; without /proc, when this module was imported."""
    fields = _proc_stat()
    if fields is not None and _BOOT is not None:
        return _BOOT + int(fields[19]) / _TICKS
    return _FALLBACK_START


def open_fds() -> float | None:
    """Open file descriptors, or None when no fd folder can be listed."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return float(len(os.listdir(folder)))
        except OSError:
            continue
    return None


def virtual_memory_bytes() -> float | None:
    """Virtual memory size, or None without /proc."""
    fields = _proc_stat()
    return float(int(fields[20])) if fields is not None else None


def max_fds() -> float:
    """The soft limit on open file descriptors."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return float(soft)
