"""Generation locks keyed by (series, address), across threads and processes.

A lock is a file ``locks/<series>__<address>.lock`` created with O_EXCL and holding the owner's
pid, host, token and TTL. The file's mtime is the heartbeat: the holder touches it every
TTL/3, so ``mtime + ttl`` is the expiry and renewal is a single atomic ``utime``. A lock whose
owner process is gone (same host) or whose heartbeat is older than its TTL is stale; it is
taken over by renaming it away (only one contender's rename can succeed) and creating a new
one. Threads of one process also meet at the file, so one mechanism covers both cases.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dalleserver.storage import DIR_MODE

HOST = socket.gethostname()


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    token: str
    ttl: float
    heartbeat: float  # mtime of the lock file

    @property
    def expires(self) -> float:
        return self.heartbeat + self.ttl


def _pid_alive(pid: int) -> bool:
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


class Lease:
    """A held lock; renews itself in the background until released."""

    def __init__(self, table: LockTable, path: Path, token: str) -> None:
        self._table = table
        self.path = path
        self.token = token
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lock-renew {path.name}", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = max(self._table.ttl / 3.0, 0.05)
        while not self._stop.wait(interval):
            if not self.renew():
                self.lost = True
                return

    def renew(self) -> bool:
        """Touch the heartbeat; False if the lock file is no longer ours."""
        info = self._table.read(self.path)
        if info is None or info.token != self.token:
            return False
        try:
            os.utime(self.path)
        except OSError:
            return False
        return True

    def release(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        info = self._table.read(self.path)
        if info is not None and info.token == self.token:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LockTable:
    """Try-acquire locks for (series, address) keys with a TTL."""

    def __init__(self, folder: Path, ttl: float = 300.0) -> None:
        self.folder = folder
        self.ttl = ttl

    def path_for(self, series: str, address: str) -> Path:
        return self.folder / f"{series}__{address}.lock"

    def read(self, path: Path) -> LockInfo | None:
        """The lock's content, or None when it does not exist (or is being written)."""
        try:
            with open(path, encoding="utf-8") as handle:
                stat = os.fstat(handle.fileno())
                doc = json.loads(handle.read())
            return LockInfo(
                int(doc["pid"]), str(doc["host"]), str(doc["token"]), float(doc["ttl"]),
                stat.st_mtime,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # Half-written by a contender that crashed between create and write: use the
            # file's age alone.
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                return None
            return LockInfo(0, "", "", self.ttl, mtime)

    def is_stale(self, info: LockInfo, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if now > info.expires:
            return True
        if info.pid and info.host == HOST and not _pid_alive(info.pid):
            return True
        return False

    def holder(self, series: str, address: str) -> LockInfo | None:
        """The live holder of a key, or None when it is free (or only stale)."""
        info = self.read(self.path_for(series, address))
        if info is None or self.is_stale(info):
            return None
        return info

    def try_acquire(self, series: str, address: str) -> Lease | None:
        """Take the lock if it is free or stale; None when someone alive holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        except OSError:
            pass
        path = self.path_for(series, address)
        for _attempt in range(3):
            token = secrets.token_hex(8)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = self.read(path)
                if info is None:
                    continue  # released meanwhile: try again
                if not self.is_stale(info):
                    return None
                if not self._break(path, info):
                    return None
                continue
            try:
                doc = {"pid": os.getpid(), "host": HOST, "token": token, "ttl": self.ttl}
                os.write(fd, json.dumps(doc).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            return Lease(self, path, token)
        return None

    def sweep(self) -> int:
        """Remove every stale lock (a crashed run's), not only those of keys asked for
        again; returns how many went. Run periodically by the server."""
        removed = 0
        try:
            paths = [p for p in self.folder.glob("*.lock")]
        except OSError:
            return 0
        for path in paths:
            info = self.read(path)
            if info is not None and self.is_stale(info) and self._break(path, info):
                removed += 1
        return removed

    def _break(self, path: Path, seen: LockInfo) -> bool:
        """Remove a stale lock; True if it is gone (by us or anyone else)."""
        aside = path.with_name(f"{path.name}.stale.{secrets.token_hex(4)}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        moved = self.read(aside)
        if moved is not None and moved.token != seen.token and not self.is_stale(moved):
            # A fresh lock replaced the stale one between our read and rename: put it back.
            try:
                os.link(aside, path)
            except OSError:
                pass
            os.unlink(aside)
            return False
        os.unlink(aside)
        return True
