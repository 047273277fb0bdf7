"""Render a contact sheet of the ``local`` image backend: 4 series x 4 fixed addresses.

Run from the repository root::

    .venv/bin/python docs/contact_sheet.py

It prints the technique chosen for every render and writes ``docs/contact-sheet.png``:
the annotated images (picture and caption band) as 256 px wide thumbnails, each labelled
"series / technique".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dalleserver.dress import Catalog  # noqa: E402  (needs the path set up above)
from dalleserver.imaging.annotate import annotate_image  # noqa: E402
from dalleserver.imaging.local import render_local, technique_for  # noqa: E402

SERIES = ("empty", "nocturne", "bauhaus-geometry", "reef-and-tide")
ADDRESSES = (
    "0xd8da6bf26964af9d7eed9e03e53415d37aa96045",
    "0xab5801a7d398351b8be11c439e05c5b3259aec9b",
    "0x1f9840a85d5af5bf1d1762f925bdaddc4201f984",
    "0x00000000219ab540356cbb839cbe05303d7705fa",
)
THUMB = 256
LABEL = 22
OUTPUT = ROOT / "docs" / "contact-sheet.png"
TILE_HEIGHT = 300  # 256 px of picture plus the scaled caption band


def main() -> None:
    catalog = Catalog(None)
    font = ImageFont.load_default(size=13)
    sheet = Image.new("RGB", (THUMB * len(ADDRESSES), (TILE_HEIGHT + LABEL) * len(SERIES)),
                      "white")
    draw = ImageDraw.Draw(sheet)
    for row, series in enumerate(SERIES):
        for col, address in enumerate(ADDRESSES):
            dress = catalog.dress(series, address)
            started = time.perf_counter()
            image = render_local(dress)
            elapsed = (time.perf_counter() - started) * 1000
            technique = technique_for(dress)
            print(f"{series:17s} {address}  {technique:10s} {elapsed:6.1f} ms")
            annotated = annotate_image(image, dress.terse_prompt)
            height = round(annotated.height * THUMB / annotated.width)
            tile = annotated.resize((THUMB, height), Image.Resampling.LANCZOS)
            x, y = col * THUMB, row * (TILE_HEIGHT + LABEL)
            sheet.paste(tile.crop((0, 0, THUMB, min(height, TILE_HEIGHT))), (x, y))
            draw.text((x + 6, y + TILE_HEIGHT + 4), f"{series} / {technique}", fill="black",
                      font=font)
    sheet.save(OUTPUT)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
