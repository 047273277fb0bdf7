"""The v1 API's JSON shapes (reference upstream-v1.md) as JSON Schema: request bodies, which
``json_body`` checks requests against, and the ``data`` of answers. The route table hands
both to the OpenAPI document, so what is documented is what is enforced."""

from __future__ import annotations

from typing import Any

from dalleserver.dress.series import FILTER_FIELDS

TEXT = {"type": "string"}
FLAG = {"type": "boolean"}
MAX_INPUT = 4096


def _body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _shape(properties: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


# -- request bodies --------------------------------------------------------------------
SEED_PATTERN = r"^\s*(0[xX][0-9a-fA-F]{40}|[0-9a-fA-F]{64})\s*$"
GENERATE_BODY = {**_body({
    "input": {"type": "string", "maxLength": MAX_INPUT, "pattern": r"\S",
              "description": "any text; its sha256 is the seed unless seed is given"},
    "seed": {"type": "string", "maxLength": 64 + 2, "pattern": SEED_PATTERN,
             "description": "an Ethereum address (the /dalle picture of it) or 64 hex"},
    "series": {"type": "string", "maxLength": 100, "description": "default empty"},
    "recipe": {"type": "string", "maxLength": 100, "description": "a recorded name"},
    "backstyle": {"type": "string", "maxLength": 2000,
                  "description": "the background treatment instead of the default"},
    "enhance": {**FLAG, "description": "enhance the prompt with the chat model"},
    "image": {**FLAG, "description": "make the picture"},
    "annotate": {**FLAG, "description": "add the caption band (needs image)"},
    "force": {**FLAG, "description": "make it again, even when made with other databases"},
}), "anyOf": [{"required": ["input"]}, {"required": ["seed"]}],
    # the caption band is drawn on the picture: annotate needs image (the handler checks)
    "if": {"properties": {"annotate": {"const": True}}, "required": ["annotate"]},
    "then": {"properties": {"image": {"const": True}}, "required": ["image"]}}
NO_BODY = {**_body({}), "description": "nothing, or an empty JSON object"}
REGENERATE_BODY = _body({"force": {**FLAG, "description": "even when the databases or the "
                                   "series changed since the picture was made"}})
# what export_folder takes: relative, no '~' first, no '..' segment, no NUL or backslash
# (blanks around it are stripped, as str.strip does)
_W = r"[\s\x1c-\x1f\x85]"
EXPORT_DIR = (rf"^(?!{_W}*[~/])(?!{_W}*\.\.(/|{_W}*$))(?![\s\S]*/\.\.(/|{_W}*$))"
              r"[^\\\x00]*$")
EXPORT_ITEMS = ("Prompt", "Data", "Title", "Terse", "Enhanced", "Technical")
EXPORT_BODY = _body({
    "dir": {"type": "string", "maxLength": 512, "pattern": EXPORT_DIR,
            "description": "a folder relative to the data dir (default "
                           "output/<series>/exports/<seed>)"},
    **{f"include{item}": FLAG for item in EXPORT_ITEMS},
})
_FILTER = {"type": ["array", "null"], "maxItems": 2000,
           "items": {"type": "string", "maxLength": 500}}
SERIES_BODY = _body({
    "last": {"type": "integer", "minimum": -(2 ** 31), "maximum": 2 ** 31 - 1},
    "suffix": {"type": "string", "maxLength": 100},
    "purpose": {"type": "string", "maxLength": 2000},
    "deleted": {**FLAG, "description": "ignored: hide a series with POST .../hidden"},
    **{name: _FILTER for name in FILTER_FIELDS},
    "colorLimit": {"type": "string", "maxLength": 200},
    "modifiedAt": {"type": "string", "maxLength": 64, "description": "ignored"},
    "version": {"type": "string", "maxLength": 64},
    "source": {"type": "string", "maxLength": 64, "description": "ignored"},
})
HIDDEN_BODY = _body({"hidden": {**FLAG, "description": "true hides, false shows (default)"}})

# -- answers ---------------------------------------------------------------------------
_STAGE = _shape({"status": TEXT, "error": TEXT}, ("status",))
RECORD = _shape({
    "metadataVersion": TEXT, "imageId": TEXT, "input": TEXT, "seed": TEXT,
    "series": _shape({"name": TEXT, "hash": TEXT, "source": TEXT}, ("name",)),
    "recipe": _shape({"name": TEXT, "version": TEXT}, ("name", "version")),
    "database": _shape({"version": TEXT, "archiveHash": TEXT}, ("version", "archiveHash")),
    "selectedRecords": {"type": "array", "items": _shape(
        {"attribute": TEXT, "database": TEXT, "rowIndex": {"type": "integer"},
         "record": TEXT}, ("attribute", "database", "rowIndex", "record"))},
    "prompts": {"type": "object", "additionalProperties": TEXT},
    "artifacts": {"type": "object", "additionalProperties": TEXT},
    "stages": {"type": "object", "additionalProperties": _STAGE},
    "status": _shape({"completed": FLAG, "cacheHit": FLAG}, ("completed", "cacheHit")),
    "generation": {"type": "object"},
}, ("metadataVersion", "imageId", "input", "seed", "series", "recipe"))
IMAGE_ITEM = _shape({"path": TEXT, "metadata": RECORD, "archived": FLAG},
                    ("path", "metadata", "archived"))
IMAGE_LIST = {"type": "array", "items": IMAGE_ITEM}
GENERATE_RESULT = _shape({
    "input": TEXT, "seed": TEXT, "series": TEXT, "recipe": TEXT, "metadataPath": TEXT,
    "generatedPath": TEXT, "annotatedPath": TEXT, "metadata": RECORD,
}, ("input", "seed", "series", "recipe", "metadata"))
JOB = _shape({
    "series": TEXT, "seed": TEXT,
    "state": {"type": "string",
              "enum": ["queued", "running", "completed", "failed", "cancelled"]},
    "progress": {"type": "object", "description": "the progress JSON of /dalle"},
    "location": TEXT, "events": TEXT,
    "result": {"anyOf": [GENERATE_RESULT, {"type": "null"}]},
}, ("series", "seed", "state", "progress", "location", "events", "result"))
DELETED = _shape({"deleted": FLAG, "archived": {"type": "array", "items": TEXT}},
                 ("deleted",))
RESTORED = _shape({"restored": FLAG, "moved": {"type": "array", "items": TEXT}},
                  ("restored",))
EXPORTED = _shape({"dir": TEXT, "files": {"type": "object", "additionalProperties": TEXT}},
                  ("dir", "files"))
_LIST = {"type": ["array", "null"], "items": TEXT}
SERIES = _shape({
    "last": {"type": "integer"}, "suffix": TEXT, "purpose": TEXT, "deleted": FLAG,
    **{name: _LIST for name in FILTER_FIELDS},
    "colorLimit": TEXT, "modifiedAt": TEXT, "version": TEXT, "source": TEXT,
}, ("suffix",))
SERIES_LIST = {"type": "array", "items": SERIES}
MANIFEST = _shape({
    "version": TEXT, "archiveHash": TEXT,
    "files": {"type": "array", "items": _shape(
        {"name": TEXT, "path": TEXT, "hash": TEXT, "rows": {"type": "integer"},
         "columns": {"type": "array", "items": TEXT}, "source": TEXT},
        ("name", "path", "hash", "rows", "columns"))},
}, ("version", "archiveHash", "files"))
MANIFEST_LIST = {"type": "array", "items": MANIFEST}
DATABASE_RECORDS = _shape({
    "name": TEXT, "version": TEXT, "columns": {"type": "array", "items": TEXT},
    "records": {"type": "array", "items": _shape(
        {"key": TEXT, "values": {"type": "array", "items": TEXT}}, ("key", "values"))},
}, ("name", "version", "records"))
VALID = _shape({"valid": FLAG}, ("valid",))

# -- batches (POST /v1/batches) ---------------------------------------------------------
ADDRESS_ITEM = r"^[\t\n\v\f\r ]*0[xX][0-9a-fA-F]{40}[\t\n\v\f\r ]*$"
BATCH_BODY = _body({
    "series": {"type": "string", "maxLength": 100, "minLength": 1},
    "addresses": {"type": "array", "minItems": 1,
                  "items": {"type": "string", "maxLength": 100, "pattern": ADDRESS_ITEM},
                  "description": "Ethereum addresses; at most TB_DALLE_BATCH_MAX (default "
                                 "10000), duplicates counted once"},
    "force": {**FLAG, "description": "make again the pictures already made"},
    "callback": {"type": "string", "format": "uri", "maxLength": 2000,
                 "description": "a URL on an allowed host (TB_DALLE_WEBHOOK_HOSTS) that gets "
                                "the batch, signed, when it ends"},
}, ("series", "addresses"))
_COUNT = {"type": "integer"}
BATCH_STATES = ("pending", "queued", "running", "completed", "failed", "cancelled", "skipped")
BATCH_ITEM = _shape({"index": _COUNT, "address": TEXT,
                     "state": {"type": "string", "enum": list(BATCH_STATES)}},
                    ("index", "address", "state"))
BATCH = _shape({
    "id": TEXT, "series": TEXT, "force": FLAG, "total": _COUNT,
    "state": {"type": "string", "enum": ["running", "cancelling", "completed", "cancelled"]},
    "counts": _shape({name: _COUNT for name in BATCH_STATES}, BATCH_STATES),
    "createdAt": TEXT, "endedAt": {"type": ["string", "null"]}, "location": TEXT,
    "items": {"type": "array", "items": BATCH_ITEM},
    "nextCursor": {"type": ["string", "null"]},
}, ("id", "series", "state", "total", "counts", "location"))
