"""File responses (stat once: ETag, Last-Modified, conditional and range requests) and safe
resolution of URL paths to files inside a folder."""

from __future__ import annotations

import mimetypes
import os
import re
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote

from dalleserver.httpd.messages import Request, Response, http_date

CONTENT_TYPES = {
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
}
# one byte range: ASCII digits only, whitespace around it allowed (RFC 9110 §14.1.1)
_RANGE = re.compile(r"[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*")
MAX_DIGITS = 18  # a longer position is past the end of any file served here
_FORBIDDEN_ESCAPES = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


class NotFound(LookupError):
    """No regular file to serve there (missing, outside the root, a folder, a trick)."""


def content_type_for(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )


def etag_for(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or etag in tags or f"W/{etag}" in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            return int(mtime) <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False


def opened_path(fd: int, path: Path) -> str:
    """The real path of the file open at ``fd`` (what was opened, symlinks resolved: no
    race with a rename), else of ``path``."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(path)


def file_response(request: Request, path: Path, cache_control: str = "public, max-age=300",
                  content_type: str | None = None, inside: str = "") -> Response:
    """200, 206, 304 or 416 for a regular file; raises NotFound when it is gone.

    Range requests: one byte range is answered with 206, or 416 when it lies past the end;
    a range in another unit, several ranges, a malformed one, or a Range on HEAD is
    ignored and the whole file is the answer (RFC 9110 §14.2 allows both). The file is
    opened once and described with fstat, so the bytes sent always match the
    ETag even when the file is replaced meanwhile (replacement is a rename). With ``inside``
    (a real folder path ending in a separator), a file that is not really inside it (a
    symlink out) is NotFound.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise NotFound(path.name) from None
    if inside and not opened_path(fd, path).startswith(inside):
        os.close(fd)
        raise NotFound(path.name)
    try:
        stat = os.fstat(fd)
        response = _file_answer(request, path, stat, cache_control, content_type)
    except BaseException:
        os.close(fd)
        raise
    if response.file_length and response.status in (200, 206) and request.method != "HEAD":
        response.file_fd = fd
    else:
        os.close(fd)
    return response


def _file_answer(request: Request, path: Path, stat: os.stat_result, cache_control: str,
                 content_type: str | None) -> Response:
    etag = etag_for(stat)
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(stat.st_mtime),
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
    }
    ctype = content_type or content_type_for(path)
    if _not_modified(request, etag, stat.st_mtime):
        return Response(304, b"", ctype, headers)
    size = stat.st_size
    offset, length, status = 0, size, 200
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if (range_header and request.method == "GET"
            and (if_range is None or if_range.strip() in (etag, headers["Last-Modified"]))):
        parsed = _parse_range(range_header, size)
        if parsed is UNSATISFIABLE:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(416, b"", "", headers)
        if parsed is not None and parsed != (0, size):
            offset, length = parsed
            status = 206
            headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{size}"
    return Response(status, b"", ctype, headers, file_offset=offset, file_length=length)


UNSATISFIABLE = (-1, -1)


def _position(digits: str) -> int:
    # int() of thousands of digits is slow and, past 4300, an error
    return int(digits) if len(digits) <= MAX_DIGITS else 10 ** MAX_DIGITS


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single byte range -> (offset, length); UNSATISFIABLE when it lies past the end;
    None when the header is to be ignored (another unit, several ranges, malformed)."""
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _RANGE.fullmatch(spec)
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = _position(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        start = max(size - suffix, 0)
        return start, size - start
    start = _position(first)
    if last and _position(last) < start:
        return None  # invalid, so ignored (RFC 9110 §14.1.1)
    if start >= size:
        return UNSATISFIABLE
    end = min(_position(last), size - 1) if last else size - 1
    return start, end - start + 1


def resolve_inside(root: Path, raw_relative: str) -> Path:
    """Map a raw (still percent-encoded) relative URL path to a regular file inside ``root``.

    Refused with NotFound: encoded slashes, backslashes or NULs; empty, ``.`` or ``..``
    segments; absolute paths; anything whose real path leaves ``root`` (symlinks included);
    folders (no listings).
    """
    not_found = NotFound(raw_relative[-64:])
    if _FORBIDDEN_ESCAPES.search(raw_relative):
        raise not_found
    try:
        relative = unquote(raw_relative, errors="strict")
    except UnicodeDecodeError:
        raise not_found from None
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        raise not_found
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise not_found
    try:
        real_root = os.path.realpath(root)
        candidate = os.path.realpath(os.path.join(real_root, *parts))
    except (OSError, ValueError):
        raise not_found from None
    if os.path.commonpath([real_root, candidate]) != real_root or candidate == real_root:
        raise not_found
    if not os.path.isfile(candidate):
        raise not_found
    return Path(candidate)
