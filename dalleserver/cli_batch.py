"""``dalleserver batch FILE --series S``: the pictures of every address of a file, made in
this process (the runtime and its batch feeder, as a server runs them) or by a server
(``--server URL``, through ``POST /v1/batches``). Bad lines are reported with their numbers
and skipped; pictures already made are skipped, so a second run picks up where the first
stopped; a progress line shows done, failed, remaining, the rate and the time left."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dalleserver.config import Config
from dalleserver.costs.estimate import read_addresses

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
POLL = 0.25  # seconds between looks at the batch
PLAIN_EVERY = 2.0  # seconds between progress lines when stderr is not a terminal
HTTP_TIMEOUT = 30.0
BAR = 30


class BatchUsageError(Exception):
    """Bad input: one line, exit 2."""


def add_batch_command(sub: Any, add_common: Callable[[Any], None]) -> None:
    """The ``batch`` command's arguments."""
    batch = sub.add_parser("batch", help="make the pictures of every address of a file, here "
                           "or on a server; a second run skips what is done")
    add_common(batch)
    batch.add_argument("file", help="one address a line; # comments, blank lines allowed")
    batch.add_argument("--series", required=True, help="the series of the pictures")
    batch.add_argument("--server", metavar="URL",
                       help="a server to do it (http://HOST:PORT) instead of this process")
    batch.add_argument("--token", default="", help="the server's admin token (with --server)")
    batch.add_argument("--force", action="store_true", help="make pictures already made again")


def cmd_batch(args: argparse.Namespace, config: Config) -> int:
    """Exit 0 when every item succeeded (made or already there), 1 otherwise, 2 for bad
    input (an unknown series, an unreadable file, no address in it)."""
    addresses = _read_file(args.file)
    if args.server:
        return _run_remote(args, addresses)
    return _run_here(args, config, addresses)


def _read_file(name: str) -> list[str]:
    try:
        lines = Path(name).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchUsageError(f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}"
                              ) from None
    found = read_addresses(lines)
    for number, reason in found.bad_lines:
        print(f"{name}:{number}: {reason} (skipped)", file=sys.stderr)
    if not found.addresses:
        raise BatchUsageError(f"{name} has no address")
    return found.addresses


# -- in this process ---------------------------------------------------------------------
def _run_here(args: argparse.Namespace, config: Config, addresses: list[str]) -> int:
    from dalleserver.dress import SeriesError
    from dalleserver.runtime import build_runtime
    from dalleserver.storage import StorageError

    try:
        runtime = build_runtime(config)
    except StorageError as exc:
        raise BatchUsageError(f"data dir {config.data_dir} is not usable: {exc}") from None
    try:
        series = runtime.catalog.series.usable(args.series).suffix
    except SeriesError as exc:
        raise BatchUsageError(str(exc)) from None
    batches = runtime.batches
    assert batches is not None
    runtime.jobs.start()
    batches.start()
    batch = batches.create(series, [(series, a) for a in addresses], args.force)
    try:
        final = _follow(lambda: batches.summary(batch["id"]) or batch)
    except KeyboardInterrupt:
        batches.cancel(batch["id"])
        raise
    finally:
        batches.stop()
        runtime.jobs.stop(grace=5)
    return _verdict(final)


# -- on a server -------------------------------------------------------------------------
def _run_remote(args: argparse.Namespace, addresses: list[str]) -> int:
    base = _server_url(args.server)
    body = json.dumps({"series": args.series, "addresses": addresses,
                       "force": bool(args.force)}).encode()
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    status, doc = _call("POST", base + "/v1/batches", body, headers)
    if status != 202:
        message = (doc.get("error") or {}).get("message") or f"HTTP {status}"
        raise BatchUsageError(f"the server refused the batch: {message}")
    location = base + doc["data"]["location"]

    def read() -> dict[str, Any]:
        code, answer = _call("GET", location + "?limit=1", None, {})
        if code != 200:
            raise BatchUsageError(f"the server lost the batch (HTTP {code})")
        return answer["data"]

    return _verdict(_follow(read))


def _server_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BatchUsageError(f"--server must be an http:// or https:// URL, not {text!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _call(method: str, url: str, body: bytes | None,
          headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise BatchUsageError(f"cannot reach {urlsplit(url).netloc}: {reason}") from None


# -- progress ----------------------------------------------------------------------------
def _follow(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Show the batch's progress until it ends; its last reading."""
    tty = sys.stderr.isatty()
    started, shown_at = time.monotonic(), 0.0
    while True:
        batch = read()
        ended = batch["state"] in ("completed", "cancelled")
        now = time.monotonic()
        if tty:
            print("\r" + progress_line(batch, now - started, bar=True), end="",
                  file=sys.stderr, flush=True)
        elif ended or now - shown_at >= PLAIN_EVERY:
            print(progress_line(batch, now - started), file=sys.stderr, flush=True)
            shown_at = now
        if ended:
            if tty:
                print(file=sys.stderr)
            return batch
        time.sleep(POLL)


def progress_line(batch: dict[str, Any], elapsed: float, bar: bool = False) -> str:
    """``done 120 failed 0 remaining 880  12.0/s  ETA 73s``, with a bar on a terminal."""
    counts = batch["counts"]
    done = counts["completed"] + counts["skipped"]
    failed = counts["failed"] + counts["cancelled"]
    remaining = max(0, batch["total"] - done - failed)
    made = counts["completed"] + counts["failed"]
    rate = made / elapsed if elapsed > 0 else 0.0
    eta = f"{remaining / rate:.0f}s" if rate > 0 else "?"
    line = f"done {done} failed {failed} remaining {remaining}  {rate:.1f}/s  ETA {eta}"
    if not bar:
        return line
    filled = int(BAR * (done + failed) / max(1, batch["total"]))
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {line}"


def _verdict(batch: dict[str, Any]) -> int:
    counts = batch["counts"]
    bad = counts["failed"] + counts["cancelled"]
    if bad:
        print(f"batch {batch['id']}: {bad} of {batch['total']} not made", file=sys.stderr)
    return EXIT_FAILED if bad else EXIT_OK
