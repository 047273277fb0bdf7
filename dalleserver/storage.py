"""The data directory layout (CONTRACT §5) and atomic file writes."""

from __future__ import annotations

import errno
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

TEXT_KINDS = ("data", "title", "terse", "prompt", "enhanced", "technical")

# A picture's identity everywhere: (series name, lower-case 0x address), both validated.
Key = tuple[str, str]
TEMP_SUFFIX = ".tmp"
DIR_MODE = 0o755
FILE_MODE = 0o644


class StorageError(Exception):
    """A file could not be written; the message names the file and the OS reason."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno == errno.EFBIG:
        return "file too large for this system's limits"
    return exc.strerror or str(exc)


def temp_name_for(path: Path) -> Path:
    """A hidden, unique sibling name: concurrent writers never share a temp file."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one.

    The bytes go to a temp file in the same folder, are fsynced, then renamed into place.
    On any error the temp file is removed and StorageError says which file and why.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        raise StorageError(f"cannot create folder {path.parent}: {_reason(exc)}") from None
    temp = temp_name_for(path)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {_reason(exc)}") from None
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
        _remove_quietly(temp)
        raise StorageError(f"cannot write {path}: {_reason(exc)}") from None
    except BaseException:
        _remove_quietly(temp)
        raise


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def sweep_temp_files(root: Path, older_than: float = 3600.0) -> int:
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


@dataclass(frozen=True)
class DataDir:
    """Paths inside the data directory. Series and address are already validated names."""

    root: Path
    _annotated: dict[tuple[str, str], Path] = field(default_factory=dict, init=False,
                                                    repr=False, compare=False)

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
                raise StorageError(f"cannot create {folder}: {_reason(exc)}") from None

    def check_writable(self) -> str | None:
        """Prove a file can be written in the data dir; None when fine, else the reason."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            atomic_write(self.root / ".write_test", b"ok")
            (self.root / ".write_test").unlink()
        except (OSError, StorageError) as exc:
            return str(exc)
        return None
