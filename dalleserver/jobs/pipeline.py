"""One generation: DalleDress -> prompt files -> picture -> annotated PNG (CONTRACT §5)."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dalleserver.address import normalize_address
from dalleserver.dress import Catalog
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.annotate import annotate_image
from dalleserver.imaging.backends import ImageBackend, encode_png
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.provider.http import ProviderError
from dalleserver.resilience.breaker import CircuitOpenError
from dalleserver.resilience.retry import RetryAfterTooLong
from dalleserver.storage import DataDir, Key, StorageError, atomic_write

log = logging.getLogger("dalleserver.pipeline")

IMAGE_PHASES = ("image_prep", "image_wait", "image_download", "annotate")
# expected provider outcomes: reported as they are, without a traceback in the log
PROVIDER_FAILURES = (ProviderError, CircuitOpenError, RetryAfterTooLong)
CANCELLED = "cancelled: the server is shutting down"


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``success``, ``cache_hit`` (another process made the picture while
    this one waited for the lock), ``failure`` or ``cancelled``; ``error`` says why."""

    kind: str
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.kind in ("failure", "cancelled")


class Enhancer(Protocol):
    def applies(self, dress: DalleDress) -> bool: ...

    def enhance(self, dress: DalleDress) -> tuple[str, str]:
        """(prompt to use, note); a non-empty note says why the base prompt was used."""
        ...


class GenerationCancelled(Exception):
    pass


class Pipeline:
    """Runs generations; everything a caller needs to build a run is here."""

    def __init__(
        self,
        catalog: Catalog,
        data_dir: DataDir,
        backend: ImageBackend | None,
        board: ProgressBoard,
        locks: LockTable,
        enhancer: Enhancer | None = None,
        lock_poll: float = 0.25,
    ) -> None:
        self.catalog = catalog
        self.data_dir = data_dir
        self.backend = backend
        self.board = board
        self.locks = locks
        self.enhancer = enhancer
        self.lock_poll = lock_poll

    # -- preparing ----------------------------------------------------------------------
    def key(self, series: str, address: str) -> Key:
        """Validate and normalise; raises SeriesError or AddressError."""
        normalized = normalize_address(address)
        return (self.catalog.series.get(series).suffix, normalized)

    def dress(self, key: Key) -> DalleDress:
        return self.catalog.view(key[0]).dress(key[1])

    def image_exists(self, key: Key) -> bool:
        return self.data_dir.annotated(*key).is_file()

    def relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir.root).as_posix()

    # -- running ------------------------------------------------------------------------
    def run(self, key: Key, force: bool = False,
            cancel: threading.Event | None = None) -> Outcome:
        """Run one generation to the end and say how it ended. Phases are reported on the
        progress board as they pass; ending the run there is the caller's (the job
        manager's), so that "is this key running" has one owner."""
        cancel = cancel or threading.Event()
        self.board.begin(key)
        lease = None
        try:
            lease = self._acquire(key, cancel)
            if not force and self.backend is not None and self.image_exists(key):
                return Outcome("cache_hit")  # another process made it while we waited
            self._generate(key, cancel)
            return Outcome("success")
        except GenerationCancelled:
            return Outcome("cancelled", CANCELLED)
        except StorageError as exc:
            return Outcome("failure", f"could not save the result: {exc}")
        except PROVIDER_FAILURES as exc:
            log.warning("generation %s/%s failed: %s", *key, exc)
            return Outcome("failure", str(exc))
        except Exception as exc:  # the run fails; the worker and the server carry on
            log.exception("generation %s/%s failed", *key)
            return Outcome("failure", f"generation failed: {exc}")
        finally:
            if lease is not None:
                lease.release()

    def _acquire(self, key: Key, cancel: threading.Event):
        noted = False
        while True:
            if cancel.is_set():
                raise GenerationCancelled
            lease = self.locks.try_acquire(*key)
            if lease is not None:
                return lease
            if not noted:
                self.board.note(key, "waiting for another generation of this image to finish")
                noted = True
            cancel.wait(self.lock_poll)

    def _check(self, cancel: threading.Event) -> None:
        if cancel.is_set():
            raise GenerationCancelled

    def _generate(self, key: Key, cancel: threading.Event) -> None:
        series, address = key
        board = self.board
        run = board.get(key)
        dress = run.dress if run is not None and run.dress is not None else self.dress(key)
        files = self.data_dir

        board.transition(key, "base_prompts")
        for kind, text in (
            ("data", dress.data_prompt),
            ("title", dress.title_prompt),
            ("terse", dress.terse_prompt),
            ("prompt", dress.prompt),
        ):
            atomic_write(files.text(series, kind, address), text)
        self._check(cancel)

        enhanced = dress.prompt
        if self.enhancer is not None and self.enhancer.applies(dress):
            board.transition(key, "enhance_prompt")
            enhanced, note = self.enhancer.enhance(dress)
            if note:
                board.note(key, note)
        else:
            board.skip(key, "enhance_prompt")
        board.update_dress(key, lambda d: setattr(d, "enhanced_prompt", enhanced))
        atomic_write(files.text(series, "enhanced", address), enhanced)
        atomic_write(
            files.text(series, "technical", address), f"{dress.technical_prompt}\n\n{enhanced}"
        )
        self._check(cancel)

        if self.backend is None:
            board.skip(key, *IMAGE_PHASES)
            self._write_selector(key, dress)
            return

        board.transition(key, "image_prep")
        started = time.perf_counter()
        image = self.backend.render(dress, lambda phase: board.transition(key, phase))
        log.debug("rendered %s/%s in %.3fs", series, address, time.perf_counter() - started)
        run = board.get(key)
        if run is not None and not run.phases["image_download"].started_ns:
            board.skip(key, "image_download")
        mode, source = image.info.get("download_mode", ""), image.info.get("image_url", "")

        def provenance(d: DalleDress) -> None:
            d.download_mode, d.image_url = mode, source

        if mode:
            board.update_dress(key, provenance)
        generated = files.generated(series, address)
        atomic_write(generated, encode_png(image))
        self._check(cancel)

        board.transition(key, "annotate")
        annotated = files.annotated(series, address)
        atomic_write(annotated, encode_png(annotate_image(image, dress.terse_prompt)))

        def paths(d: DalleDress) -> None:
            d.generated_path = self.relative(generated)
            d.annotated_path = self.relative(annotated)

        board.update_dress(key, paths)
        self._write_selector(key, dress)

    def _write_selector(self, key: Key, dress: DalleDress) -> None:
        doc = dress.to_json_dict()
        doc["completed"] = True
        atomic_write(
            self.data_dir.selector(*key), json.dumps(doc, indent=2, ensure_ascii=False)
        )
