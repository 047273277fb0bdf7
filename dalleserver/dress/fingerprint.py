"""A series' fingerprint: the sha256 of its definition as Go's encoder writes it compactly
(reference upstream-library §5.4), so the same definition hashes alike here and in the
original, and a changed definition is noticed when a picture is regenerated."""

from __future__ import annotations

import hashlib
from typing import Any

from dalleserver.dress.series import Series

# What Go's encoder escapes beyond JSON's minimum: HTML-sensitive characters and the two
# JavaScript line separators; control characters other than \n \r \t are \u00XX.
_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_string(text: str) -> str:
    out = []
    for char in text:
        escaped = _GO_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def go_compact_json(value: Any) -> str:
    """``value`` (dicts in their order, lists, strings, ints, bools, None) as Go's
    ``json.Marshal`` writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(k)}:{go_compact_json(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_compact_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def series_hash(series: Series) -> str:
    """``sha256:<hex>`` of the definition with its source (``builtin`` or ``user``); the
    file's modification time is not part of it, so touching a file changes nothing."""
    doc = series.to_json_dict()
    doc.pop("modifiedAt", None)
    digest = hashlib.sha256(go_compact_json(doc).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"
