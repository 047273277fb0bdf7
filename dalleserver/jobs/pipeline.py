"""One generation: DalleDress -> prompt files -> picture -> annotated PNG (CONTRACT §5)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dalleserver import __version__
from dalleserver.address import normalize_address
from dalleserver.costs.spending import Spending
from dalleserver.dress import Catalog, SeriesError
from dalleserver.dress.model import DalleDress
from dalleserver.imaging.annotate import annotate_image
from dalleserver.imaging.backends import ImageBackend, encode_png
from dalleserver.imaging.thumbnails import THUMBNAIL
from dalleserver.imaging.variant_cache import VariantCache, VariantError
from dalleserver.jobs.locks import LockTable
from dalleserver.jobs.progress import ProgressBoard
from dalleserver.picture_index import PictureIndex
from dalleserver.provider.http import ProviderError
from dalleserver.records import GenerationOptions, Identity, RecordBook, RecordError
from dalleserver.records.record import (
    COMPLETE,
    FAILED,
    generation_stages,
    png_text,
    stage,
)
from dalleserver.resilience.breaker import CircuitOpenError
from dalleserver.resilience.retry import RetryAfterTooLong
from dalleserver.storage import DataDir, Key, StorageError, atomic_write, without_paths

log = logging.getLogger("dalleserver.pipeline")

IMAGE_PHASES = ("image_prep", "image_wait", "image_download", "annotate")
# expected provider outcomes: reported as they are, without a traceback in the log
PROVIDER_FAILURES = (ProviderError, CircuitOpenError, RetryAfterTooLong)
CANCELLED = "cancelled: the server is shutting down"
T = TypeVar("T")
WAITING_FOR_LOCK = "waiting for another generation of this image to finish"
REUSED_ENHANCEMENT = "the enhanced prompt of this picture's failed run was used again"


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``success``, ``cache_hit`` (another process made the picture while
    this one waited for the lock), ``failure`` or ``cancelled`` (``error`` says why), or
    ``locked``: another process is generating this key, try again later."""

    kind: str
    error: str = ""
    error_kind: str = ""  # a failure's kind: the provider's (timeout, rate_limited...) or else
    attempts: int = 0  # provider calls made for the failing step, retries included

    @property
    def failed(self) -> bool:
        return self.kind in ("failure", "cancelled")


def _take_fields(source: DalleDress, target: DalleDress) -> None:
    for item in fields(source):
        setattr(target, item.name, getattr(source, item.name))


def failure_message(exc: Exception) -> str:
    """What a client reads of a failed run: never a path of this machine (the log has
    them)."""
    if isinstance(exc, StorageError):
        return f"could not save the result: {exc.public}"
    if isinstance(exc, PROVIDER_FAILURES):
        return str(exc)
    return f"generation failed: {without_paths(str(exc))}"


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
        variants: VariantCache | None = None,
        records: RecordBook | None = None,
    ) -> None:
        self.catalog = catalog
        self.data_dir = data_dir
        self.backend = backend
        self.board = board
        self.locks = locks
        self.enhancer = enhancer
        self.pictures = pictures
        self.spending = spending  # cost control: budget fallback, paid calls, settlement
        self.records = records  # every generation's metadata record (records/)
        self.variants = variants  # the gallery's thumbnail is made with the picture

    # -- preparing ----------------------------------------------------------------------
    def key(self, series: str, address: str) -> Key:
        """Validate and normalise; raises SeriesError or AddressError."""
        normalized = normalize_address(address)
        return (self.catalog.series.usable(series).suffix, normalized)

    def dress(self, key: Key, original_name: str = "",
              options: GenerationOptions | None = None) -> DalleDress:
        """The dress of ``key``; ``original_name`` is the ENS name it was asked by, if any;
        ``options`` may name another background treatment (a v1 request's backstyle)."""
        backstyle = options.backstyle if options is not None else ""
        dress = self.catalog.view(key[0]).dress(key[1], backstyle)
        dress.original_name = original_name
        return dress

    def image_exists(self, key: Key) -> bool:
        return self.data_dir.annotated(*key).is_file()

    def relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir.root).as_posix()

    # -- running ------------------------------------------------------------------------
    def run(self, key: Key, force: bool = False, cancel: threading.Event | None = None,
            options: GenerationOptions | None = None) -> Outcome:
        """Run one generation to the end and say how it ended. Phases are reported on the
        progress board as they pass; ending the run there is the caller's (the job
        manager's), so that "is this key running" has one owner. ``options`` (a v1
        request's) default to everything, the address as input (``/dalle``, the CLI)."""
        cancel = cancel or threading.Event()
        self.board.begin(key)
        lease = None
        try:
            self._check(cancel)
            self.catalog.series.usable(key[0])  # hidden (or gone) since it was queued
            lease = self.locks.try_acquire(*key)
            if lease is None:
                self._note_waiting(key)
                return Outcome("locked")
            if not force and self.backend is not None and self.image_exists(key):
                return Outcome("cache_hit")  # another process made it while we waited
            self._generate(key, cancel, options)
            return Outcome("success")
        except GenerationCancelled:
            return Outcome("cancelled", CANCELLED)
        except SeriesError as exc:  # nothing was written
            return Outcome("failure", str(exc), "series")
        except StorageError as exc:  # the client reads the message; the log gets the path
            log.warning("generation %s/%s could not save: %s", *key, exc)
            return Outcome("failure", failure_message(exc), "storage")
        except PROVIDER_FAILURES as exc:  # the manager logs the failure with its fields
            return Outcome("failure", failure_message(exc), getattr(exc, "kind", "") or
                           type(exc).__name__, getattr(exc, "attempts", 1))
        except Exception as exc:  # the run fails; the worker and the server carry on
            log.exception("generation %s/%s failed", *key)
            return Outcome("failure", failure_message(exc), "internal")
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

    @staticmethod
    def _abandonable(cancel: threading.Event, call: Callable[[], T]) -> T:
        """Run a provider call so that a cancel abandons it: the worker stops waiting at
        once and the call's answer, when it comes, is dropped."""
        if cancel.is_set():
            raise GenerationCancelled
        outcome: list = []
        finished = threading.Event()

        def work() -> None:
            try:
                outcome.append((True, call()))
            except BaseException as exc:  # handed to the worker below
                outcome.append((False, exc))
            finally:
                finished.set()

        threading.Thread(target=work, name="provider-call", daemon=True).start()
        while not finished.wait(0.05):
            if cancel.is_set():
                raise GenerationCancelled
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def _generate(self, key: Key, cancel: threading.Event,
                  options: GenerationOptions | None = None) -> None:
        board = self.board
        options = options or GenerationOptions.for_address(key[1])
        dress, identity = self._prepare(key, options)
        enhancer = self.enhancer if options.enhance else None
        backend = self.backend if options.image else None
        fallback = self.spending.fallback(key) if self.spending is not None else None
        if fallback is not None:  # over the spending budget: draw locally, pay for nothing
            enhancer, backend = None, fallback.backend if backend is not None else None
            board.note(key, fallback.note)

        enhanced = self._prompts(key, dress, enhancer, identity, cancel)
        if backend is None:
            board.skip(key, *IMAGE_PHASES)
            self._write_selector(key, dress)
            self._write_record(key, identity, dress, enhanced, {}, None, options)
            return
        made: dict[str, str] = {}
        try:
            self._draw(key, dress, enhanced, backend, identity, options, cancel, made)
        except GenerationCancelled:
            raise
        except Exception as exc:  # the record says what failed; the caller reports it
            self._write_failed_record(key, identity, dress, enhanced, made, backend,
                                      options, exc)
            raise

    def _prepare(self, key: Key, options: GenerationOptions
                 ) -> tuple[DalleDress, Identity | None]:
        """The run's dress and identity from one reading of its series definition, as it
        is when the run starts: a series edited while the job waited is drawn and recorded
        as edited, and the record's series hash is the one the attributes came from. The
        dress is the board's (what clients see), brought up to date."""
        view = self.catalog.view(key[0])
        fresh = view.dress(key[1], options.backstyle)
        identity = (self.records.identity(key, options, view.series)
                    if self.records is not None else None)
        run = self.board.get(key)
        if run is None or run.dress is None:
            return fresh, identity
        fresh.original_name = run.dress.original_name
        if fresh != run.dress:
            self.board.update_dress(key, partial(_take_fields, fresh))
        return run.dress, identity

    def _prompts(self, key: Key, dress: DalleDress, enhancer: Enhancer | None,
                 identity: Identity | None, cancel: threading.Event) -> str:
        """Write the prompt files and enhance the prompt (the chat model, once: the
        enhancement of an earlier run of this very picture that failed is used again, as
        in the original); the prompt the picture is drawn from."""
        series, address = key
        board, files = self.board, self.data_dir
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
        earlier = self._failed_enhancement(identity) if enhancer is not None else ""
        if earlier:
            board.skip(key, "enhance_prompt")
            board.note(key, REUSED_ENHANCEMENT)
            enhanced = earlier
        elif enhancer is not None and enhancer.applies(dress):
            board.transition(key, "enhance_prompt")
            enhanced, note = self._abandonable(cancel, lambda: enhancer.enhance(dress))
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
        return enhanced

    def _draw(self, key: Key, dress: DalleDress, enhanced: str, backend: ImageBackend,
              identity: Identity | None, options: GenerationOptions,
              cancel: threading.Event, made: dict[str, str]) -> None:
        """Draw the picture, write it and (unless a v1 request says not) its annotated
        copy, then the selector and record; ``made`` learns each file as it is written."""
        series, address = key
        board, files = self.board, self.data_dir
        board.transition(key, "image_prep")
        started = time.perf_counter()

        def progress(phase: str) -> None:
            if not cancel.is_set():  # an abandoned call must not move a later run
                board.transition(key, phase)

        image = self._abandonable(cancel, lambda: backend.render(dress, progress))
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
        text = png_text(identity, dress, enhanced, __version__) if identity else None
        atomic_write(generated, encode_png(image, text))
        made["generated"] = self.relative(generated)
        self._check(cancel)
        if not options.annotate:  # a v1 request for the picture alone
            board.skip(key, "annotate")
            board.update_dress(key, lambda d: setattr(d, "generated_path", made["generated"]))
            self._write_selector(key, dress)
            self._write_record(key, identity, dress, enhanced, made, backend, options)
            return

        board.transition(key, "annotate")
        annotated = files.annotated(series, address)
        atomic_write(annotated, encode_png(annotate_image(image, dress.terse_prompt), text))
        made["annotated"] = self.relative(annotated)
        self._make_thumbnail(key)
        if self.pictures is not None:
            self.pictures.add(key)

        def paths(d: DalleDress) -> None:
            d.generated_path, d.annotated_path = made["generated"], made["annotated"]

        board.update_dress(key, paths)
        self._write_selector(key, dress)
        self._write_record(key, identity, dress, enhanced, made, backend, options)

    def _make_thumbnail(self, key: Key) -> None:
        """The gallery's thumbnail now, so a first gallery view finds it made; a failure
        here fails nothing (the gallery makes it when asked)."""
        if self.variants is None:
            return
        try:
            self.variants.get(key, self.data_dir.annotated(*key), THUMBNAIL)
        except (OSError, VariantError) as exc:
            log.warning("no thumbnail for %s/%s yet: %s", *key, exc)

    def _write_selector(self, key: Key, dress: DalleDress) -> None:
        doc = dress.to_json_dict()
        doc["completed"] = True
        if self.spending is not None:
            doc["generation"] = self.spending.record(key)  # model, quality, size, usage, cost
        atomic_write(
            self.data_dir.selector(*key), json.dumps(doc, indent=2, ensure_ascii=False)
        )

    def _write_record(self, key: Key, identity: Identity | None, dress: DalleDress,
                      enhanced: str, artifacts: dict[str, str], backend: ImageBackend | None,
                      options: GenerationOptions,
                      stages: dict[str, dict[str, Any]] | None = None) -> None:
        """The picture's metadata record (records/): what was asked and made, by which
        backend and model, and how long each phase took (the one still open until now).
        ``stages`` are a failed run's (the record is then ``completed: false``)."""
        if self.records is None or identity is None:
            return
        run = self.board.get(key)
        now = time.time_ns()
        phases = {name: (p.started_ns, p.ended_ns or now, p.skipped)
                  for name, p in run.phases.items()} if run is not None else {}
        self.records.finish(identity, dress, enhanced=enhanced, artifacts=artifacts,
                            stages=stages or generation_stages(options.enhance, artifacts),
                            backend=backend, phases=phases, completed=stages is None)

    def _failed_enhancement(self, identity: Identity | None) -> str:
        """The enhanced prompt an earlier, failed run of this very picture (same imageId)
        made, else ""."""
        if self.records is None or identity is None:
            return ""
        try:
            record = self.records.read(identity.series, identity.seed)
        except RecordError:
            return ""
        if (record is None or record.get("imageId") != identity.image_id
                or (record.get("status") or {}).get("completed") is not False
                or (record.get("stages") or {}).get("enhanced", {}).get("status") != COMPLETE):
            return ""
        return (record.get("prompts") or {}).get("enhancedPrompt", "")

    def _write_failed_record(self, key: Key, identity: Identity | None, dress: DalleDress,
                             enhanced: str, made: dict[str, str], backend: ImageBackend,
                             options: GenerationOptions, exc: Exception) -> None:
        """The record of a run whose picture failed (``completed: false``, the failing
        stage with its error, what was made before it), as the original writes it. A
        complete record of the same picture is kept: its files are still there."""
        if self.records is None or identity is None:
            return
        try:
            current = self.records.read(*key)
        except RecordError:
            current = None
        if current is not None and (current.get("status") or {}).get("completed"):
            return
        stages = generation_stages(options.enhance, made)
        stages["annotated" if made.get("generated") else "generated"] = \
            stage(FAILED, failure_message(exc))
        try:
            self._write_record(key, identity, dress, enhanced, made, backend, options,
                               stages=stages)
        except StorageError as error:  # the run's own failure is what the client hears
            log.warning("cannot write the failed record of %s/%s: %s", *key, error)
