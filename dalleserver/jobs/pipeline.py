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
from dalleserver.costs.spending import Spending
from dalleserver.dress import Catalog
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.annotate import annotate_image
from dalleserver.imaging.backends import ImageBackend, encode_png
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.picture_index import PictureIndex
from dalleserver.provider.http import ProviderError
from dalleserver.resilience.breaker import CircuitOpenError
from dalleserver.resilience.retry import RetryAfterTooLong
from dalleserver.storage import DataDir, Key, StorageError, atomic_write

log = logging.getLogger("dalleserver.pipeline")

IMAGE_PHASES = ("image_prep", "image_wait", "image_download", "annotate")
# expected provider outcomes: reported as they are, without a traceback in the log
PROVIDER_FAILURES = (ProviderError, CircuitOpenError, RetryAfterTooLong)
CANCELLED = "cancelled: the server is shutting down"
WAITING_FOR_LOCK = "waiting for another generation of this image to finish"


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``success``, ``cache_hit`` (another process made the picture while
    this one waited for the lock), ``failure`` or ``cancelled`` (``error`` says why), or
    ``locked``: another process is generating this key, try again later."""

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
        pictures: PictureIndex | None = None,
        spending: Spending | None = None,
    ) -> None:
        self.catalog = catalog
        self.data_dir = data_dir
        self.backend = backend
        self.board = board
        self.locks = locks
        self.enhancer = enhancer
        self.pictures = pictures
        self.spending = spending  # cost control: budget fallback, paid calls, settlement

    # -- preparing ----------------------------------------------------------------------
    def key(self, series: str, address: str) -> Key:
        """Validate and normalise; raises SeriesError or AddressError."""
        normalized = normalize_address(address)
        return (self.catalog.series.get(series).suffix, normalized)

    def dress(self, key: Key, original_name: str = "") -> DalleDress:
        """The dress of ``key``; ``original_name`` is the ENS name it was asked by, if any."""
        dress = self.catalog.view(key[0]).dress(key[1])
        dress.original_name = original_name
        return dress

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
            self._check(cancel)
            lease = self.locks.try_acquire(*key)
            if lease is None:
                self._note_waiting(key)
                return Outcome("locked")
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
                if self.spending is not None:
                    self.spending.settle(key)  # the budget learns what the run spent

    def _note_waiting(self, key: Key) -> None:
        run = self.board.get(key)
        if run is not None and WAITING_FOR_LOCK not in run.notes:
            self.board.note(key, WAITING_FOR_LOCK)

    def _check(self, cancel: threading.Event) -> None:
        if cancel.is_set():
            raise GenerationCancelled

    def _generate(self, key: Key, cancel: threading.Event) -> None:
        series, address = key
        board = self.board
        run = board.get(key)
        dress = run.dress if run is not None and run.dress is not None else self.dress(key)
        files = self.data_dir
        enhancer, backend = self.enhancer, self.backend
        fallback = self.spending.fallback(key) if self.spending is not None else None
        if fallback is not None:  # over the spending budget: draw locally, pay for nothing
            enhancer, backend = None, fallback.backend if backend is not None else None
            board.note(key, fallback.note)

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
        if enhancer is not None and enhancer.applies(dress):
            board.transition(key, "enhance_prompt")
            enhanced, note = enhancer.enhance(dress)
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

        if backend is None:
            board.skip(key, *IMAGE_PHASES)
            self._write_selector(key, dress)
            return

        board.transition(key, "image_prep")
        started = time.perf_counter()
        image = backend.render(dress, lambda phase: board.transition(key, phase))
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
        if self.pictures is not None:
            self.pictures.add(key)

        def paths(d: DalleDress) -> None:
            d.generated_path = self.relative(generated)
            d.annotated_path = self.relative(annotated)

        board.update_dress(key, paths)
        self._write_selector(key, dress)

    def _write_selector(self, key: Key, dress: DalleDress) -> None:
        doc = dress.to_json_dict()
        doc["completed"] = True
        if self.spending is not None:
            doc["generation"] = self.spending.record(key)  # model, quality, size, usage, cost
        atomic_write(
            self.data_dir.selector(*key), json.dumps(doc, indent=2, ensure_ascii=False)
        )
