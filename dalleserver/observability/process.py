"""Process statistics for the standard ``process_*`` metrics: /proc first, portable fallback."""

from __future__ import annotations

import os
import resource
import sys
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


def resident_memory_bytes() -> float:
    fields = _proc_stat()
    if fields is not None:
        return float(int(fields[21]) * _PAGE)
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(usage if sys.platform == "darwin" else usage * 1024)


def cpu_seconds() -> float:
    fields = _proc_stat()
    if fields is not None:
        return (int(fields[11]) + int(fields[12])) / _TICKS
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_time_seconds() -> float:
    fields = _proc_stat()
    if fields is not None and _BOOT is not None:
        return _BOOT + int(fields[19]) / _TICKS
    return _FALLBACK_START


def open_fds() -> float:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return float(len(os.listdir(folder)))
        except OSError:
            continue
    return 0.0


def virtual_memory_bytes() -> float:
    fields = _proc_stat()
    return float(int(fields[20])) if fields is not None else 0.0


def max_fds() -> float:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return float(soft)
