"""The route table: every path the server answers, its handler, what it takes and what it
can answer. The router, the ``/`` listing and the OpenAPI document are all built from it."""

from __future__ import annotations

from dalleserver.imaging.variants import FORMATS, WIDTHS
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
from dalleserver.web.views import dalle, files, gallery, live, ops

# /dalle/<series>/<address>.<ext>: the picture's variants (web/views/variants.py)
VARIANT_TYPES = tuple(f.media_type for f in FORMATS.values() if f.media_type != PNG)
VARIANT_PARAMS = (
    Param("size", "with an image extension: the width in pixels",
          {"type": "integer", "enum": list(WIDTHS)}),
    Param("raw", "with an image extension: 1 for the picture before annotation", FLAG),
    Param("v", "with an image extension: the picture's ETag (unquoted); cached for a year "
          "when it is the current one"),
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
                     "many seconds, whichever comes first (also Prefer: wait=N)",
                     {"type": "integer", "minimum": 0, "maximum": 60}),
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
    RouteSpec("/series", ops.series, "the series, built-in and user, sorted", {200: (JSON,)}),
    RouteSpec("/files/{path:.*}", files.files, "read-only files under the output folder",
              {200: (ANY,), 206: (ANY,), 304: (), 404: (JSON,), 416: ()}),
    RouteSpec("/preview", gallery.preview,
              "HTML gallery of annotated images with live progress",
              {200: (HTML,), 400: (JSON,), 404: (JSON,)},
              query=(Param("page", "page number, from 1", {"type": "integer", "minimum": 1}),
                     Param("size", "pictures per page",
                           {"type": "integer", "minimum": 1, "maximum": 200}))),
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
               503: (JSON,)}),
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
    RouteSpec("/errors", ops.errors,
              "error report (text, ?format=json); POST ?clear=1 resets it (admin)",
              {200: (TEXT, JSON), 400: (JSON,), 401: (JSON,)}, methods=("GET", "POST"),
              query=(Param("format", "text (default) or json",
                           {"type": "string", "enum": ["text", "json"]}),
                     Param("clear", "with POST: 1 resets the report", FLAG)),
              admin=True),
    RouteSpec("/openapi.json", ops.openapi, "this API as OpenAPI 3.1", {200: (JSON,)}),
)
