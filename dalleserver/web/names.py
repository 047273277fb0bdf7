"""ENS names on the site: the address segment of a path resolved to an address (or a clear
error), and the names a progress snapshot shows.

A name is resolved on the HTTP thread that asks, so the resolver bounds how many names may
wait on the node at once (more get a quick 503); cached names cost no call. A snapshot shows
the name the request used (``dalleDress.originalName``) and the address's primary name
(``ensName``), the latter only from the cache: a page never waits for a reverse lookup.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalleserver.ens import NameNotFound, NodeError, ResolverBusy, address_or_name
from dalleserver.web.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from dalleserver.web.app import App

# Retry-After for a node failure whose end nobody knows (the breaker knows when it is open).
NODE_RETRY_AFTER = 5
# In compact snapshot JSON the key appears once, in dalleDress; inside a string its quotes
# would be escaped, so this cannot match text in a note or an error.
_ORIGINAL_NAME = re.compile(rb'"originalName":"(?:[^"\\]|\\.)*"')


def address_of(app: App, segment: str) -> tuple[str, str]:
    """(lower-case address, normalised ENS name or "") for the address segment of a path.

    Raises ApiError: INVALID_ADDRESS for a bad address or name (or any name while no node
    is configured), NAME_NOT_FOUND, or SERVICE_UNAVAILABLE with Retry-After when the node
    cannot answer now.
    """
    try:
        return address_or_name(segment, app.runtime.resolver)
    except ValueError as exc:  # a bad address or name, or a name without a node
        raise ApiError(ErrorCode.INVALID_ADDRESS, str(exc)) from None
    except NameNotFound as exc:
        raise ApiError(ErrorCode.NAME_NOT_FOUND, str(exc), details={"name": exc.name}) from None
    except (ResolverBusy, NodeError) as exc:
        wait = math.ceil(exc.retry_after or NODE_RETRY_AFTER)
        raise ApiError(ErrorCode.SERVICE_UNAVAILABLE, f"cannot resolve the ENS name now: {exc}",
                       details={"retry_after_seconds": wait},
                       headers={"Retry-After": str(wait)}) from None


@dataclass(frozen=True, slots=True)
class SnapshotNames:
    """The names one answer shows: the ENS name its request used ("" for an address) and
    the address's verified primary name ("" when it has none or it is not known yet)."""

    requested: str
    primary: str

    def label_json(self, snapshot: bytes) -> bytes:
        """Compact snapshot JSON with the names set; an empty snapshot (``{}``) stays so."""
        if not snapshot.startswith(b'{"') or not snapshot.endswith(b"}"):
            return snapshot
        if self.requested:
            shown = b'"originalName":' + json.dumps(self.requested).encode()
            snapshot = _ORIGINAL_NAME.sub(lambda _: shown, snapshot, count=1)
        return snapshot[:-1] + b',"ensName":' + json.dumps(self.primary).encode() + b"}"

    def label(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """A snapshot dict with the names set; an empty snapshot stays empty."""
        if not snapshot:
            return snapshot
        labelled = {**snapshot, "ensName": self.primary}
        dress = snapshot.get("dalleDress")
        if self.requested and dress:
            labelled["dalleDress"] = {**dress, "originalName": self.requested}
        return labelled


def snapshot_names(app: App, address: str, requested: str) -> SnapshotNames | None:
    """The names for a snapshot of ``address``, or None when no node is configured (then
    snapshots are left exactly as they were)."""
    display = app.runtime.display_names
    if display is None:
        return None
    return SnapshotNames(requested, display.name_of(address) or "")


def named_snapshot(app: App, address: str, requested: str, snapshot: bytes) -> bytes:
    """Snapshot JSON of ``address`` with its names (unchanged when no node is configured,
    and for an empty snapshot: no run, nothing to name)."""
    if snapshot == b"{}":
        return snapshot
    names = snapshot_names(app, address, requested)
    return snapshot if names is None else names.label_json(snapshot)


def display_name(app: App, address: str) -> str:
    """The primary name to show next to ``address``: from the cache only, "" if unknown."""
    display = app.runtime.display_names
    return (display.name_of(address) or "") if display is not None else ""
