"""systemd's notify protocol with the stdlib: READY=1, STOPPING=1, STATUS= and watchdog pings.

Without ``$NOTIFY_SOCKET`` (not started by systemd with ``Type=notify``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger("dalleserver.systemd")


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address
        self.watchdog_interval = 0.0
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1e6 / 2  # ping at half the timeout
        self._stop = threading.Event()

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> bool:
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
        self.send("READY=1", f"MAINPID={os.getpid()}", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> None:
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
