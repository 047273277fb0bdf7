"""The data directory layout (CONTRACT §5) and atomic file writes."""

from __future__ import annotations

import errno
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TEXT_KINDS = ("data", "title", "terse", "prompt", "enhanced", "technical")
# the folders a generation writes in a series folder
SERIES_FOLDERS = ("annotated", "generated", "selector", *TEXT_KINDS)

# A picture's identity everywhere: (series name, seed), both validated; the seed is a
# lower-case 0x address (/dalle) or 64 lower-case hex digits (a v1 text input's sha256).
Key = tuple[str, str]
TEMP_SUFFIX = ".tmp"
DIR_MODE = 0o755
FILE_MODE = 0o644


class StorageError(Exception):
    """A file could not be written; the message names the file and the OS reason.

    ``public`` is the same without the data dir's location, for messages a client reads
    (progress errors, error answers); the log keeps the whole message."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


# an absolute path with at least one folder, as OSError and friends quote it
_ABSOLUTE_PATH = re.compile(r"""(?<![\w.:/~-])/(?:[^\s'"/:,;()]+/)+([^\s'"/:,;()]*)""")


def without_paths(text: str) -> str:
    """``text`` with each absolute file path cut to its last part, for messages a client
    reads: where the data dir lives is nobody's business but the operator's."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "…", text)


def storage_reason(exc: OSError) -> str:
    """The OS reason of a failed write, in words."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno == errno.EFBIG:
        return "file too large for this system's limits"
    return exc.strerror or str(exc)


def temp_name_for(path: Path) -> Path:
    """A hidden, unique sibling name: concurrent writers never share a temp file."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def atomic_write(path: Path, data: bytes | str, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one.

    The bytes go to a temp file in the same folder (created with ``mode``, less the umask),
    are fsynced, then renamed into place.
    On any error the temp file is removed and StorageError says which file and why.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        reason = storage_reason(exc)
        raise StorageError(f"cannot create folder {path.parent}: {reason}",
                           f"cannot create folder {path.parent.name}: {reason}") from None
    temp = temp_name_for(path)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        remove_quietly(temp)
        raise _write_error(path, exc) from None
    except BaseException:
        remove_quietly(temp)
        raise


def _write_error(path: Path, exc: OSError) -> StorageError:
    reason = storage_reason(exc)
    return StorageError(f"cannot write {path}: {reason}", f"cannot write {path.name}: {reason}")


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def is_hidden(path: Path) -> bool:
    """A dot file: a writer's temp file, a probe, never content to serve."""
    return path.name.startswith(".")


TEMP_MAX_AGE = 600.0  # a write takes well under a second: a temp file this old is a crash's
SWEEP_INTERVAL = 600.0


def sweep_temp_files(root: Path, older_than: float = TEMP_MAX_AGE) -> int:
    """Delete temp files a crashed writer left behind; returns how many were removed."""
    removed = 0
    cutoff = time.time() - older_than
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                path = Path(folder) / name
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
    return removed


class TempSweeper:
    """Sweeps ``root`` of stale temp files at start and every ``interval`` seconds after,
    in a thread of its own, until stopped: a crash at any time leaves none for long."""

    def __init__(self, root: Path, interval: float = SWEEP_INTERVAL,
                 older_than: float = TEMP_MAX_AGE) -> None:
        self.root = root
        self.interval = interval
        self.older_than = older_than
        self.removed = 0
        self.sweeps = 0  # sweeps done
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep-temp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            self.removed += sweep_temp_files(self.root, self.older_than)
            self.sweeps += 1
            if self._stop.wait(self.interval):
                return


def real_folder(folder: Path | str) -> str:
    """``folder``'s real path with a trailing separator: what a file really inside it
    starts with."""
    return os.path.join(os.path.realpath(folder), "")


def opened_real_path(fd: int, path: Path) -> str:
    """The real path of the file open at ``fd`` (what was opened: no race with a rename),
    else of ``path``."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


@dataclass(frozen=True)
class DataDir:
    """Paths inside the data directory. Series and address are already validated names."""

    root: Path
    _annotated: dict[tuple[str, str], Path] = field(default_factory=dict, init=False,
                                                    repr=False, compare=False)
    _real: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _folders: dict[str, tuple[tuple[int, int], bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def real(self, folder: Path) -> str:
        """``folder``'s real path with a trailing separator, for containment checks of
        files served from it (computed once: realpath costs some 17 µs)."""
        key = str(folder)
        real = self._real.get(key)
        if real is None:
            real = self._real[key] = real_folder(folder)
        return real

    def holds(self, path: Path) -> bool:
        """Is ``path`` really inside the data dir? A symlink pointing out of it is not, nor
        a file of a folder linked out of it."""
        inside = self.real(self.root)
        if os.path.islink(path):
            return os.path.realpath(path).startswith(inside)
        return self._folder_inside(os.path.dirname(path), inside)

    def _folder_inside(self, folder: str, inside: str) -> bool:
        """Whether ``folder`` really is inside; its real path is worked out again only when
        the directory it names changes (one stat: realpath costs some 17 µs)."""
        try:
            status = os.stat(folder)
        except OSError:
            return True  # no folder, no file: the caller finds it missing
        identity = (status.st_dev, status.st_ino)
        known = self._folders.get(folder)
        if known is None or known[0] != identity:
            real = real_folder(folder)
            known = self._folders[folder] = (identity, real.startswith(inside))
        return known[1]

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def series_dir(self) -> Path:
        return self.root / "series"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def phase_stats(self) -> Path:
        return self.metrics / "progress_phase_stats.json"

    def annotated(self, series: str, address: str) -> Path:
        # every poll asks for this path; building it with pathlib cost ~5 µs each time
        key = (series, address)
        path = self._annotated.get(key)
        if path is None:
            if len(self._annotated) >= 4096:
                self._annotated.clear()
            path = self._annotated[key] = self.output / series / "annotated" / f"{address}.png"
        return path

    def generated(self, series: str, address: str) -> Path:
        return self.output / series / "generated" / f"{address}.png"

    def text(self, series: str, kind: str, address: str) -> Path:
        if kind not in TEXT_KINDS:
            raise ValueError(f"unknown text kind {kind!r}")
        return self.output / series / kind / f"{address}.txt"

    def selector(self, series: str, address: str) -> Path:
        return self.output / series / "selector" / f"{address}.json"

    @property
    def variants(self) -> Path:
        """The cache of image variants and thumbnails (imaging/variant_cache.py)."""
        return self.root / "cache" / "variants"

    def ensure(self) -> None:
        """Create the folders the server writes to; StorageError when that fails."""
        for folder in (self.root, self.output, self.metrics, self.locks):
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            except OSError as exc:
                raise StorageError(f"cannot create {folder}: {storage_reason(exc)}") from None

    def check_writable(self) -> str | None:
        """Prove a generation can write: a real write in ``output/`` and ``locks/``
        (created when missing), and write access to each series folder under ``output/``
        and its subfolders. None when fine, else the reason, without the data dir's
        location (readiness answers carry it to clients)."""
        for folder in (self.output, self.locks):
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
                probe = folder / ".write_test"
                atomic_write(probe, b"ok")
                probe.unlink()
            except StorageError as exc:
                return exc.public
            except OSError as exc:
                return f"{folder.name}: {storage_reason(exc)}"
        return self._series_folder_problem()

    def _series_folder_problem(self) -> str | None:
        """The first series folder (or folder in one) generation could not write to."""
        try:
            series = [entry for entry in os.scandir(self.output) if entry.is_dir()]
        except OSError as exc:
            return f"output: {storage_reason(exc)}"
        writable = os.W_OK | os.X_OK
        for entry in series:
            if not os.access(entry.path, writable):
                return f"output/{entry.name} is not writable"
            for kind in SERIES_FOLDERS:
                path = os.path.join(entry.path, kind)
                if os.path.lexists(path) and not (os.path.isdir(path)
                                                  and os.access(path, writable)):
                    return f"output/{entry.name}/{kind} is not a writable folder"
        return None
