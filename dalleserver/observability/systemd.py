"""systemd's notify protocol with the stdlib: READY=1, STOPPING=1, STATUS= and watchdog pings.

Without ``$NOTIFY_SOCKET`` (not started by systemd with ``Type=notify``) every call is a no-op.

The single binary is not one process: staticx's loader starts PyInstaller's launcher, which
unpacks the app and starts the Python server as its child. systemd started the loader, so the
loader is the service's main PID and ``$WATCHDOG_PID`` names it. The server's notifications
come from a process below the main one, which systemd accepts only with ``NotifyAccess=all``
(as the shipped unit sets), and it pings the watchdog when ``$WATCHDOG_PID`` is its own pid or,
when frozen, one of the launchers above it.

The main PID is deliberately not handed over (``MAINPID=``): systemd before 253 cannot watch a
main process that is not its child ("Supervising process ... which is not our child"), so a
crashed server would be taken for a clean exit and not restarted. The launchers pass the
server's exit on instead (its status, or the signal that killed it).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading

log = logging.getLogger("dalleserver.systemd")

# the processes a frozen server may have above it that systemd started: the onefile launcher
# and, in the static build, staticx's loader
LAUNCHER_DEPTH = 2


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` from /proc, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: the fields follow the last ")"
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def launcher_pids(frozen: bool | None = None) -> list[int]:
    """Pids of the single binary's launchers above this process (nearest first); none when
    running from Python sources, where nothing stands between systemd and the server."""
    if not (getattr(sys, "frozen", False) if frozen is None else frozen):
        return []
    pids: list[int] = []
    pid: int | None = os.getppid()
    while pid is not None and pid > 1 and len(pids) < LAUNCHER_DEPTH:
        pids.append(pid)
        pid = parent_pid(pid)
    return pids


class Notifier:
    """Talks to systemd over ``$NOTIFY_SOCKET``; every method is a no-op without it."""

    def __init__(self, environ: dict[str, str] | None = None,
                 launchers: list[int] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address
        # read once: the launchers do not change, and /proc may be hidden later
        self.launchers = launcher_pids() if launchers is None else list(launchers)
        self.watchdog_interval = 0.0
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and self._watchdog_is_ours(pid):
            self.watchdog_interval = int(usec) / 1e6 / 2  # ping at half the timeout
        self._stop = threading.Event()

    def _watchdog_is_ours(self, pid: str) -> bool:
        # WATCHDOG_PID is set so that children which inherit the environment do not ping
        # for their parent; a frozen server's launchers are the one exception
        if not pid or pid == str(os.getpid()):
            return True
        return pid.isdigit() and int(pid) in self.launchers

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening (``$NOTIFY_SOCKET`` is set)."""
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        """Send one notification datagram; False (and a warning) when it cannot be sent."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(fields).encode("utf-8"))
            return True
        except OSError as exc:
            log.warning("cannot notify systemd at %s: %s", self.address.lstrip("\0"), exc)
            return False

    def ready(self, status: str = "") -> None:
        """READY=1 (and a STATUS= line when given). From Python sources the server is the
        process systemd started, and says so with MAINPID=; frozen, it leaves the main PID
        with the launcher (see the module docstring)."""
        mainpid = [] if self.launchers else [f"MAINPID={os.getpid()}"]
        self.send("READY=1", *mainpid, *([f"STATUS={status}"] if status else []))

    def stopping(self) -> None:
        """STOPPING=1; the watchdog pings end."""
        self._stop.set()
        self.send("STOPPING=1", "STATUS=shutting down")

    def start_watchdog(self, healthy=lambda: True) -> None:
        """Ping ``WATCHDOG=1`` at half the configured interval while ``healthy()`` is true;
        a hung process stops pinging and systemd restarts it."""
        if not self.enabled or not self.watchdog_interval:
            return

        def loop() -> None:
            while not self._stop.wait(self.watchdog_interval):
                if healthy():
                    self.send("WATCHDOG=1")

        threading.Thread(target=loop, name="systemd-watchdog", daemon=True).start()
