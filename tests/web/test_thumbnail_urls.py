"""Gallery thumbnails: their URLs carry the picture's version, so a regenerated picture
never shows a stale thumbnail from a cache."""

from __future__ import annotations

import os
import re

from tests.support.backends import GatedBackend
from tests.support.server import running_server
from tests.web.test_dalle import A, wait_done


def test_thumbnail_urls_are_versioned(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)

        def thumb_src() -> str:
            page = client.get("/preview")[1].decode()
            return re.search(rf'src="(/thumbs/empty/{A}\?v=[^"]+)"', page).group(1)

        first = thumb_src()
        assert client.get(first)[0].status == 200
        assert client.json("GET", path + "?remove=1")[0].status == 200
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        png = app.data_dir.annotated("empty", A)
        later = png.stat().st_mtime + 5  # a regeneration within the same millisecond
        os.utime(png, (later, later))
        app.pictures.add(("empty", A), later)
        assert thumb_src() != first  # a new URL: no cache can show the old thumbnail
