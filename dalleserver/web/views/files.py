"""``/files/``: read-only files under the output folder (contained, no listings), and the
one way views send a file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dalleserver.httpd import Request, Response
from dalleserver.httpd.files import NotFound, file_response, resolve_inside
from dalleserver.storage import is_hidden
from dalleserver.web.errors import ApiError, ErrorCode

if TYPE_CHECKING:
    from dalleserver.web.app import App


def send_file(request: Request, path: Path, cache_control: str = "public, max-age=300",
              content_type: str | None = None, inside: str = "") -> Response:
    """The file's answer (200, 206, 304, 416); NOT_FOUND when it is not there, or (with
    ``inside``, a real folder path) when it is not really inside that folder."""
    try:
        return file_response(request, path, cache_control, content_type, inside)
    except NotFound:
        raise ApiError(ErrorCode.NOT_FOUND, "file not found") from None


def files(app: App, request: Request) -> Response:
    """A file under ``output/``, by its raw (still percent-encoded) relative path."""
    raw = request.raw_path[len("/files/"):] if request.raw_path.startswith("/files/") else ""
    try:
        path = resolve_inside(app.data_dir.output, raw)
    except NotFound:
        raise ApiError(ErrorCode.NOT_FOUND, "file not found") from None
    if is_hidden(path):  # a writer's temp file (a crash's leftover) is never content
        raise ApiError(ErrorCode.NOT_FOUND, "file not found")
    return send_file(request, path)
