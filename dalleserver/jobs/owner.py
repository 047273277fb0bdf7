"""Who owns a lock: this process's identity, and whether a recorded owner still lives.

A pid alone says little: a server restarted in a fresh container or pid namespace is pid 1
again, and a pid is reused once its process is gone. So an owner is recorded as its host,
the kernel's boot id, its pid namespace, its pid, the pid's start time and a random token
of the process instance; ``alive`` judges a record by all of them that it can see.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import asdict, dataclass
from typing import Any

HOST = socket.gethostname()
INSTANCE = secrets.token_hex(8)  # this process instance (the server never forks)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


BOOT_ID = _read("/proc/sys/kernel/random/boot_id")  # "" where there is no /proc
PID_NAMESPACE = _link("/proc/self/ns/pid")


def start_time(pid: int) -> str:
    """The pid's start time in clock ticks since boot (/proc/<pid>/stat field 22); "" when
    unknown or gone."""
    stat = _read(f"/proc/{pid}/stat")
    # the command name (field 2) may hold spaces and parentheses: count after the last ")"
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    boot: str = ""
    pidns: str = ""
    started: str = ""
    instance: str = ""

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, HOST, BOOT_ID, PID_NAMESPACE, start_time(pid), INSTANCE)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Owner:
        """An owner from a lock file's fields; older files have only pid and host."""
        return cls(int(doc["pid"]), str(doc["host"]), str(doc.get("boot", "")),
                   str(doc.get("pidns", "")), str(doc.get("started", "")),
                   str(doc.get("instance", "")))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def on_this_machine(self) -> bool:
        """Same host name and, when both are known, the same boot of the same kernel."""
        return self.host == HOST and (not self.boot or not BOOT_ID or self.boot == BOOT_ID)

    def alive(self) -> bool | None:
        """True when the owner runs, False when it is certainly gone, None when this
        process cannot see it (another host, another pid namespace)."""
        if self.host != HOST:
            return None
        if self.boot and BOOT_ID and self.boot != BOOT_ID:
            return False  # the machine rebooted since: every process of then is gone
        if self.pidns and PID_NAMESPACE and self.pidns != PID_NAMESPACE:
            return None  # its pid means another process here
        if self.pid == os.getpid() and self.instance:
            return self.instance == INSTANCE  # else a predecessor that had our pid
        if not pid_alive(self.pid):
            return False
        now = start_time(self.pid) if self.started else ""
        return not (now and now != self.started)  # a reused pid is another process
