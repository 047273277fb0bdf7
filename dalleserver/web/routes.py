"""The route table: every path the server answers, its handler, what it takes and what it
can answer. The router, the ``/`` listing and the OpenAPI document are all built from it."""

from __future__ import annotations

from dalleserver.imaging.variants import FORMATS, WIDTHS
from dalleserver.picture_search import SORTS
from dalleserver.web import v1_schemas as v1
from dalleserver.web.gallery_query import MAX_PAGE_SIZE
from dalleserver.web.route_spec import (
    ANY,
    FLAG,
    HTML,
    JPEG,
    JSON,
    PNG,
    SSE,
    TEXT,
    Param,
    RouteSpec,
)
from dalleserver.web.views import (
    dalle,
    files,
    gallery,
    generate_page,
    live,
    ops,
    speech,
    v1_batches,
    v1_databases,
    v1_generate,
    v1_images,
    v1_jobs,
    v1_series,
)

# /dalle/<series>/<address>.<ext>: the picture's variants (web/views/variants.py)
VARIANT_TYPES = tuple(f.media_type for f in FORMATS.values() if f.media_type != PNG)
VARIANT_PARAMS = (
    Param("size", "with an image extension: the width in pixels",
          {"type": "integer", "enum": list(WIDTHS)}),
    Param("raw", "with an image extension: 1 for the picture before annotation", FLAG),
    Param("v", "with an image extension: the picture's ETag (unquoted); cached for a year "
          "when it is the current one"),
)

AUDIO = "audio/mpeg"
V1_WRITE_ANSWERS = {200: (JSON,), 400: (JSON,), 401: (JSON,), 404: (JSON,), 409: (JSON,),
                    413: (JSON,), 415: (JSON,), 500: (JSON,)}
V1_MAKE = {**V1_WRITE_ANSWERS, 202: (JSON,), 429: (JSON,), 502: (JSON,), 503: (JSON,)}
V1_LIST_PARAMS = (
    Param("limit", "records per page (default 100)",
          {"type": "integer", "minimum": 1, "maximum": 500}),
    Param("cursor", "the Next-Cursor of the previous page",
          {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
    Param("sort", "input (default: input, series, seed), -input, newest or oldest",
          {"type": "string", "enum": ["input", "-input", "newest", "oldest"]}),
    Param("series", "only this series"),
    Param("archived", "0 (default) leaves archived records out, 1 adds them, only",
          {"type": "string", "enum": ["0", "1", "exclude", "include", "only"]}),
    Param("inputPrefix", "only records whose input starts with this text"),
)

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("/", ops.index, "this list of routes", {200: (TEXT,)}),
    RouteSpec(
        "/dalle/{series}/{address}", dalle.dalle,
        "the annotated PNG, or progress JSON; ?generate=1 starts a generation, ?remove=1 "
        "deletes the PNG (admin); <address> may be an ENS name when a node is configured; "
        "<address>.png|.webp|.jpg|.avif is the picture in that format (?size=, ?raw=1, ?v=)",
        {200: (PNG, JSON, *VARIANT_TYPES), 202: (JSON,), 206: (PNG, *VARIANT_TYPES), 304: (),
         400: (JSON,), 401: (JSON,), 404: (JSON,), 416: (), 429: (JSON,), 503: (JSON,)},
        query=(Param("generate", "1 starts (or joins) a generation", FLAG),
               Param("remove", "1 deletes the annotated PNG (admin)", FLAG),
               Param("wait", "with generate: answer when the picture is done or after this "
                     "many seconds (at most 60 are waited), whichever comes first (also "
                     "Prefer: wait=N)", {"type": "integer", "minimum": 0, "maximum": 999999}),
               Param("fallback", "placeholder: a stand-in picture while there is none",
                     {"type": "string", "enum": ["placeholder"]}),
               *VARIANT_PARAMS,
               Param("callback", "with generate: a URL on an allowed host "
                     "(TB_DALLE_WEBHOOK_HOSTS) that gets the final snapshot, signed, when the "
                     "run ends", {"type": "string", "format": "uri"})),
        admin=True),
    RouteSpec("/dalle/{series}/{address}/job", dalle.cancel_job,
              "cancel the picture's generation (admin): a queued one ends at once (200), a "
              "running one at its next phase boundary (202)",
              {200: (JSON,), 202: (JSON,), 400: (JSON,), 401: (JSON,), 404: (JSON,)},
              methods=("DELETE",), admin=True),
    RouteSpec("/dalle/{series}/{address}/events", dalle.dalle_events,
              "live progress as Server-Sent Events",
              {200: (SSE,), 400: (JSON,), 404: (JSON,), 503: (JSON,)}),
    RouteSpec("/dalle/{series}", dalle.dalle_missing, "incomplete: answers MISSING_PARAMETER",
              {400: (JSON,)}),
    RouteSpec("/dalle", dalle.dalle_missing, "incomplete: answers MISSING_PARAMETER",
              {400: (JSON,)}),
    RouteSpec("/series", ops.series, "the names of the series, built-in and user, sorted; "
              "?details=1 gives each series' definition instead",
              {200: (JSON,), 400: (JSON,)},
              query=(Param("details", "1 lists each series' definition (its filters)",
                           FLAG),)),
    RouteSpec("/files/{path:.*}", files.files, "read-only files under the output folder",
              {200: (ANY,), 206: (ANY,), 304: (), 404: (JSON,), 416: ()}),
    RouteSpec("/preview", gallery.preview,
              "HTML gallery of annotated images with live progress; search, series, order "
              "and paging work across the whole collection (a bad or out-of-range value "
              "answers a readable HTML page)",
              {200: (HTML,), 400: (HTML,), 404: (HTML,)},
              query=(Param("q", "search: the start of an address (any case, with or "
                           "without 0x) and words of the title; every word must match (the "
                           "first 200 characters count)", {"type": "string"}),
                     Param("series", "only this series", {"type": "string"}),
                     Param("sort", "the order", {"type": "string", "enum": list(SORTS)}),
                     Param("page", "page number, from 1", {"type": "integer", "minimum": 1}),
                     Param("size", "pictures per page",
                           {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
                     Param("view", "the picture open in the viewer: <series>/<address>",
                           {"type": "string", "pattern": "^[^/]+/0[xX][0-9a-fA-F]{40}$"}))),
    RouteSpec("/preview/generate", generate_page.generate_page,
              "the gallery's form without its script: starts (or joins) a generation and "
              "answers a progress page that reloads itself, then the picture in the viewer",
              {200: (HTML,), 303: (), 400: (HTML,), 404: (HTML,), 429: (HTML,), 503: (HTML,)},
              query=(Param("series", "the series", {"type": "string"}, required=True),
                     Param("address", "the address (or ENS name); spaces around it are "
                           "ignored", {"type": "string"}, required=True),
                     Param("refresh", "0 stops the page reloading itself",
                           {"type": "string", "enum": ["0", "1"]}))),
    RouteSpec("/preview/viewer/{series}/{address}", gallery.viewer,
              "the gallery viewer's content for one picture (HTML fragment): the picture, "
              "downloads, prompts and files",
              {200: (HTML,), 400: (JSON,), 404: (JSON,), 503: (JSON,)}),
    RouteSpec("/favicon.svg", gallery.favicon, "the site's icon", {200: ("image/svg+xml",),
                                                                   304: ()}),
    RouteSpec("/favicon.ico", gallery.favicon, "the site's icon for browsers that ask for "
              "this name", {200: ("image/x-icon",), 304: ()}),
    RouteSpec("/preview/events", live.preview_events,
              "every generation's progress as one Server-Sent Events stream (the gallery's "
              "live rows)", {200: (SSE,)}),
    RouteSpec("/preview/assets/{name}", gallery.assets, "the gallery's stylesheet and script",
              {200: ("text/css", "text/javascript"), 304: (), 404: (JSON,)}),
    RouteSpec("/preview/card/{series}/{address}", gallery.card,
              "one gallery card (HTML fragment)",
              {200: (HTML,), 400: (JSON,), 404: (JSON,), 503: (JSON,)}),
    RouteSpec("/thumbs/{series}/{address}", gallery.thumbnail,
              "a downscaled JPEG of an annotated image, cached",
              {200: (JPEG,), 206: (JPEG,), 304: (), 400: (JSON,), 404: (JSON,), 416: (),
               503: (JSON,)},
              query=(Param("v", "the picture's version (the gallery's URLs carry one, so a "
                                "new picture gets a new URL)"),)),
    RouteSpec("/health", ops.health, "health report; ?check=liveness|readiness",
              {200: (JSON,), 400: (JSON,), 503: (JSON,)},
              query=(Param("check", "liveness or readiness",
                           {"type": "string", "enum": ["liveness", "readiness"]}),)),
    RouteSpec("/livez", ops.livez, "liveness: 200 while the process runs", {200: (JSON,)}),
    RouteSpec("/readyz", ops.readyz,
              "readiness: 200 when the data dir is usable and the server is not shutting down",
              {200: (JSON,), 503: (JSON,)}),
    RouteSpec("/metrics", ops.metrics, "Prometheus text format; ?format=json for JSON",
              {200: (TEXT, JSON), 400: (JSON,)},
              query=(Param("format", "prometheus (default) or json",
                           {"type": "string", "enum": ["prometheus", "text", "json"]}),)),
    RouteSpec("/errors", ops.errors, "error report (text, or ?format=json)",
              {200: (TEXT, JSON), 400: (JSON,)},
              query=(Param("format", "text (default) or json",
                           {"type": "string", "enum": ["text", "json"]}),)),
    RouteSpec("/errors", ops.clear_errors, "?clear=1 resets the error report (admin)",
              {200: (JSON,), 400: (JSON,), 401: (JSON,)}, methods=("POST",),
              query=(Param("clear", "1 resets the report",
                           {"type": "string", "enum": ["1", "true", "yes", "on"]},
                           required=True),),
              admin=True),
    RouteSpec("/openapi.json", ops.openapi, "this API as OpenAPI 3.1", {200: (JSON,)}),
    RouteSpec("/dalle/{series}/{address}/speech", speech.dalle_speech,
              "the prompt read aloud (MP3, made once through OpenAI's speech endpoint); 503 "
              "without an API key",
              {200: (AUDIO,), 206: (AUDIO,), 304: (), 400: (JSON,), 404: (JSON,), 416: (),
               429: (JSON,), 500: (JSON,), 503: (JSON,)}),
    # -- the v1 JSON API (docs/api.md; the original's codes: invalid_input, ...) ----------
    RouteSpec("/v1/images", v1_images.list_images,
              "image records, a page at a time (next page: Link rel=next, Next-Cursor)",
              {200: (JSON,), 400: (JSON,)}, query=V1_LIST_PARAMS,
              data={200: v1.IMAGE_LIST}),
    RouteSpec("/v1/images/generate", v1_generate.generate,
              "make prompts (200) or a picture (202 with the job and Location; Prefer: "
              "wait=N answers the result when done first) for any text input or seed "
              "(admin)", V1_MAKE, methods=("POST",), body=v1.GENERATE_BODY,
              data={200: v1.GENERATE_RESULT, 202: v1.JOB}, admin=True),
    RouteSpec("/v1/images/preview", v1_generate.preview,
              "the prompts and record of an input or seed, never a picture (admin)",
              {**V1_WRITE_ANSWERS, 503: (JSON,)}, methods=("POST",), body=v1.GENERATE_BODY,
              data={200: v1.GENERATE_RESULT}, admin=True),
    RouteSpec("/v1/images/{id}", v1_images.get_image,
              "one record by imageId or seed; a deleted (archived) one is 404 until restored",
              {200: (JSON,), 400: (JSON,), 404: (JSON,)}, data={200: v1.IMAGE_ITEM}),
    RouteSpec("/v1/images/{id}", v1_images.delete_image,
              "archive a picture: PNGs and record move to archives/ (admin; undo: restore)",
              V1_WRITE_ANSWERS, methods=("DELETE",), body=v1.NO_BODY, body_required=False,
              data={200: v1.DELETED}, admin=True),
    RouteSpec("/v1/images/{id}/restore", v1_images.restore_image,
              "bring an archived picture back (admin)",
              V1_WRITE_ANSWERS, methods=("POST",), body=v1.NO_BODY, body_required=False,
              data={200: v1.RESTORED}, admin=True),
    RouteSpec("/v1/images/{id}/regenerate", v1_generate.regenerate,
              "make a recorded picture again as it was made; 409 when the databases or the "
              "series changed since, unless force (admin)", V1_MAKE, methods=("POST",),
              body=v1.REGENERATE_BODY, body_required=False,
              data={200: v1.GENERATE_RESULT, 202: v1.JOB}, admin=True),
    RouteSpec("/v1/images/{id}/export", v1_images.export_image,
              "write a picture's texts into a folder of the data dir (admin)",
              V1_WRITE_ANSWERS, methods=("POST",), body=v1.EXPORT_BODY,
              body_required=False, data={200: v1.EXPORTED}, admin=True),
    RouteSpec("/v1/images/{id}/speech", speech.image_speech,
              "a recorded picture's prompt read aloud (MP3); 503 without an API key",
              {200: (AUDIO,), 206: (AUDIO,), 304: (), 400: (JSON,), 404: (JSON,), 416: (),
               429: (JSON,), 500: (JSON,), 502: (JSON,), 503: (JSON,)}),
    RouteSpec("/v1/jobs/{series}/{seed}", v1_jobs.job,
              "a generation job: state, progress and, once completed, the result",
              {200: (JSON,), 400: (JSON,), 404: (JSON,)}, data={200: v1.JOB}),
    RouteSpec("/v1/jobs/{series}/{seed}/events", v1_jobs.job_events,
              "a job's progress as Server-Sent Events", {200: (SSE,), 400: (JSON,),
                                                        404: (JSON,)}),
    RouteSpec("/v1/batches", v1_batches.create_batch,
              "ask for the pictures of many addresses of one series (admin): 202 with the "
              "batch and its Location; fed in behind interactive requests, no rate limit, at "
              "most TB_DALLE_BATCH_MAX addresses; pictures already made are skipped unless "
              "force", {**V1_WRITE_ANSWERS, 202: (JSON,), 503: (JSON,)}, methods=("POST",),
              body=v1.BATCH_BODY, data={202: v1.BATCH}, admin=True),
    RouteSpec("/v1/batches/{id}", v1_batches.get_batch,
              "a batch: its state, counts by item state and a page of items (next page: "
              "Next-Cursor, or nextCursor)", {200: (JSON,), 400: (JSON,), 404: (JSON,),
                                             503: (JSON,)},
              query=(Param("limit", "items per page (default 100)",
                           {"type": "integer", "minimum": 1, "maximum": 500}),
                     Param("cursor", "the Next-Cursor of the previous page",
                           {"type": "string", "pattern": "^0*([0-9]{1,9}|1000000000)$"})),
              data={200: v1.BATCH}),
    RouteSpec("/v1/batches/{id}", v1_batches.cancel_batch,
              "cancel a batch (admin): items not started are cancelled, running ones finish",
              {200: (JSON,), 401: (JSON,), 404: (JSON,), 503: (JSON,)}, methods=("DELETE",),
              data={200: v1.BATCH}, admin=True),
    RouteSpec("/v1/series", v1_series.list_series,
              "series, built-in and user, sorted by name",
              {200: (JSON,), 400: (JSON,)},
              query=(Param("includeHidden", "1 lists hidden series too", FLAG),
                     Param("onlyHidden", "1 lists hidden series only", FLAG)),
              data={200: v1.SERIES_LIST}),
    RouteSpec("/v1/series/{name}", v1_series.get_series, "one series (hidden ones too)",
              {200: (JSON,), 404: (JSON,)}, data={200: v1.SERIES}),
    RouteSpec("/v1/series/{name}", v1_series.put_series,
              "create or replace a user series; built-in ones are read-only (admin)",
              V1_WRITE_ANSWERS, methods=("PUT",), body=v1.SERIES_BODY,
              data={200: v1.SERIES}, admin=True),
    RouteSpec("/v1/series/{name}/hidden", v1_series.hide_series,
              "hide a user series or show it again (admin)",
              V1_WRITE_ANSWERS, methods=("POST",), body=v1.HIDDEN_BODY,
              data={200: v1.SERIES}, admin=True),
    RouteSpec("/v1/databases", v1_databases.list_databases,
              "the database manifest (one element)", {200: (JSON,)},
              data={200: v1.MANIFEST_LIST}),
    RouteSpec("/v1/databases/{version}", v1_databases.get_database,
              "the manifest of this version", {200: (JSON,), 404: (JSON,)},
              data={200: v1.MANIFEST}),
    RouteSpec("/v1/databases/{version}/records/{name}", v1_databases.database_records,
              "the rows of one database (the version segment is not checked)",
              {200: (JSON,), 400: (JSON,), 404: (JSON,)},
              query=(Param("limit", "rows (default 200; out of 1-10000 is the default)",
                           {"type": "integer"}),),
              data={200: v1.DATABASE_RECORDS}),
    RouteSpec("/v1/validate", v1_databases.validate,
              "check the database manifest and that the files are the ones loaded (admin)",
              {200: (JSON,), 400: (JSON,), 401: (JSON,), 413: (JSON,), 415: (JSON,),
               500: (JSON,)}, methods=("POST",), body=v1.NO_BODY, body_required=False,
              data={200: v1.VALID}, admin=True),
)
