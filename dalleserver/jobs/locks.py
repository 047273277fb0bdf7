"""Generation locks keyed by (series, address), across threads and processes.

A lock is a file ``locks/<series>__<address>.lock`` created with O_EXCL and holding its
owner (see ``owner.py``: host, boot, pid namespace, pid, start time, instance), a token and
the TTL. The holder keeps an exclusive ``flock`` on the file for as long as it holds the
lock: the kernel drops it the moment the process dies, in whatever container or pid
namespace, so a contender on the same machine sees a dead owner at once and takes the lock
over. The file's mtime is the heartbeat: the holder touches it every TTL/3, so
``mtime + ttl`` is the expiry that frees locks of owners this machine cannot see (another
host on a shared folder). Takeover renames the stale file away (only one contender's rename
can succeed) and creates a new one. Threads of one process also meet at the file.

The flock is taken before the owner is written, and a failed write removes the file: a full
disk leaves no empty lock behind to block the key.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dalleserver.jobs.owner import HOST, Owner
from dalleserver.storage import DIR_MODE, StorageError, remove_quietly, storage_reason

__all__ = ["HOST", "Lease", "LockInfo", "LockTable"]

# A new lock file is empty for the moment between its creation and its owner's flock; one
# still unreadable, unlocked and older than this was abandoned (a crash in that moment).
WRITE_GRACE = 2.0


@dataclass(frozen=True)
class LockInfo:
    owner: Owner | None  # None: unreadable (being written, or left half-written)
    token: str
    ttl: float
    heartbeat: float  # mtime of the lock file
    held: bool | None  # a process on this machine holds its flock; None: cannot tell
    flocked: bool = False  # its owner holds a flock (written by this version)

    @property
    def expires(self) -> float:
        return self.heartbeat + self.ttl

    @property
    def pid(self) -> int:
        return self.owner.pid if self.owner else 0

    @property
    def host(self) -> str:
        return self.owner.host if self.owner else ""


def _probe(fd: int) -> bool | None:
    """Does another open file hold a flock on this file? None where flock is unsupported."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    return False  # closing the probe's descriptor drops its shared lock


class Lease:
    """A held lock; renews itself in the background until released."""

    def __init__(self, table: LockTable, path: Path, token: str, fd: int) -> None:
        self._table = table
        self.path = path
        self.token = token
        self._fd = fd  # open for as long as the lock is held: it carries the flock
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
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

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
        """The lock's content and whether its flock is held, or None when it does not
        exist."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            stat = os.fstat(fd)
            raw = os.read(fd, 4096)
            held = _probe(fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            doc = json.loads(raw)
            return LockInfo(Owner.from_json(doc), str(doc["token"]), float(doc["ttl"]),
                            stat.st_mtime, held, bool(doc.get("flock")))
        except (ValueError, KeyError, TypeError, AttributeError):
            # being written (its flock is held), or left half-written by an old version
            return LockInfo(None, "", self.ttl, stat.st_mtime, held)

    def is_stale(self, info: LockInfo, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if now > info.expires:
            return True
        if info.held:
            return False  # a live process on this machine holds it
        owner = info.owner
        if owner is None:  # nobody is writing it any more: abandoned
            return info.held is False and now - info.heartbeat > WRITE_GRACE
        if info.held is False and info.flocked and owner.on_this_machine():
            return True  # its owner died: the kernel dropped the flock
        return owner.alive() is False

    def holder(self, series: str, address: str) -> LockInfo | None:
        """The live holder of a key, or None when it is free (or only stale)."""
        info = self.read(self.path_for(series, address))
        if info is None or self.is_stale(info):
            return None
        return info

    def try_acquire(self, series: str, address: str) -> Lease | None:
        """Take the lock if it is free or stale; None when someone alive holds it.
        StorageError when the lock cannot be written (nothing is left behind)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        except OSError:
            pass
        path = self.path_for(series, address)
        for _attempt in range(3):
            token = secrets.token_hex(8)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            except FileExistsError:
                info = self.read(path)
                if info is None:
                    continue  # released meanwhile: try again
                if not self.is_stale(info):
                    return None
                if not self._break(path, info):
                    return None
                continue
            except OSError as exc:
                raise StorageError(f"cannot take the lock of {series}/{address}: "
                                   f"{storage_reason(exc)}") from None
            self._write_owner(fd, path, token, f"{series}/{address}")
            return Lease(self, path, token, fd)
        return None

    def _write_owner(self, fd: int, path: Path, token: str, name: str) -> None:
        """Hold the flock, then write the owner; on failure the file goes."""
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # waits out a reader's brief probe
                flocked = True
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                flocked = False  # a filesystem without flock: pid and TTL decide
            doc = {**Owner.me().to_json(), "token": token, "ttl": self.ttl,
                   "flock": flocked}
            data = json.dumps(doc).encode("utf-8")
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(fd)
        except OSError as exc:
            remove_quietly(path)
            os.close(fd)
            raise StorageError(f"cannot take the lock of {name}: "
                               f"{storage_reason(exc)}") from None

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

