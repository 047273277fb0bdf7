"""Where batches live: their description, their items and one state letter per item.

One host keeps each batch in a file of the data dir (``FileBatchStore``), so a restart
resumes it; cluster mode keeps it in Redis (``cluster.batch_store.RedisBatchStore``), so any
instance answers for it and feeding goes on when an instance dies. Both have the methods of
``BatchStore``; the states are a string of letters, one an item, so a batch of ten thousand
items is ten thousand bytes."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from dalleserver.storage import Key, StorageError, atomic_write

log = logging.getLogger("dalleserver.batches")

# one letter an item, the same in every store
STATE_LETTERS = {"pending": "p", "queued": "q", "running": "r", "completed": "c",
                 "failed": "f", "cancelled": "x", "skipped": "s"}
LETTER_STATES = {letter: state for state, letter in STATE_LETTERS.items()}


class BatchStore(Protocol):
    def create(self, meta: dict[str, Any], keys: list[Key]) -> None:
        """Keep a new batch: ``meta`` (with its ``id``) and its items, all pending."""
        ...

    def meta(self, batch_id: str) -> dict[str, Any] | None: ...

    def update_meta(self, batch_id: str, changes: dict[str, Any]) -> None: ...

    def keys(self, batch_id: str) -> list[Key]: ...

    def states(self, batch_id: str) -> str:
        """One letter an item (``STATE_LETTERS``), in the items' order."""
        ...

    def set_states(self, batch_id: str, changes: dict[int, str]) -> None:
        """Set the letters of the items at these indexes."""
        ...

    def open_ids(self) -> list[str]:
        """The batches not ended yet, oldest first."""
        ...

    def close(self, batch_id: str) -> None:
        """The batch ended: feeders stop looking at it."""
        ...

    def lease(self, batch_id: str, owner: str, seconds: float) -> bool:
        """Whether ``owner`` may feed the batch for the next ``seconds`` (one feeder a
        batch: in a cluster, another instance takes over when the lease runs out)."""
        ...


class FileBatchStore:
    """Batches of one host: in memory, each written to ``folder/<id>.json`` on change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._batches: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else ():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                doc["keys"] = [tuple(k) for k in doc["keys"]]
                self._batches[doc["meta"]["id"]] = doc
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipped batch file %s: %s", path.name, exc)

    def _save(self, batch_id: str) -> None:
        doc = self._batches[batch_id]
        try:
            atomic_write(self.folder / f"{batch_id}.json", json.dumps(doc))
        except StorageError as exc:  # the batch goes on in memory; the log says why
            log.error("cannot save batch %s: %s", batch_id, exc)

    def create(self, meta: dict[str, Any], keys: list[Key]) -> None:
        with self._lock:
            self._batches[meta["id"]] = {"meta": dict(meta), "keys": list(keys),
                                         "states": STATE_LETTERS["pending"] * len(keys),
                                         "open": True}
            self._save(meta["id"])

    def meta(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self._batches.get(batch_id)
            return dict(doc["meta"]) if doc else None

    def update_meta(self, batch_id: str, changes: dict[str, Any]) -> None:
        with self._lock:
            self._batches[batch_id]["meta"].update(changes)
            self._save(batch_id)

    def keys(self, batch_id: str) -> list[Key]:
        with self._lock:
            return list(self._batches[batch_id]["keys"])

    def states(self, batch_id: str) -> str:
        with self._lock:
            return self._batches[batch_id]["states"]

    def set_states(self, batch_id: str, changes: dict[int, str]) -> None:
        if not changes:
            return
        with self._lock:
            doc = self._batches[batch_id]
            letters = list(doc["states"])
            for index, letter in changes.items():
                letters[index] = letter
            doc["states"] = "".join(letters)
            self._save(batch_id)

    def open_ids(self) -> list[str]:
        with self._lock:
            return [i for i, doc in self._batches.items() if doc["open"]]

    def close(self, batch_id: str) -> None:
        with self._lock:
            self._batches[batch_id]["open"] = False
            self._save(batch_id)

    def lease(self, batch_id: str, owner: str, seconds: float) -> bool:
        return True  # one process: its feeder is the only one
