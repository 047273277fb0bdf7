"""Provenance inside the picture: PNG text chunks with the input, series, title, prompt,
imageId, database hash and server version, equal to the record's; the local renderer's
bytes stay the same run to run; variants carry the chunks where the format allows."""

import io
import json
import shutil
import subprocess

import pytest
from PIL import Image

from dalleserver import __version__
from dalleserver.imaging.backends import encode_png
from dalleserver.imaging.png_text import latin1_text
from tests.conftest import run_cli
from tests.support.server import running_server, wait_done

A = "0x" + "5c" * 20


def test_chunks_round_trip_through_pillow_in_their_order():
    text = {"Title": "a wren", "Description": "ünïcode ✓", "dalle:imageId": "sha256:ab"}
    data = encode_png(Image.new("RGB", (4, 4)), text)
    with Image.open(io.BytesIO(data)) as image:
        assert image.text == text and list(image.text) == list(text)
    assert data.count(b"iTXt") == 3
    assert encode_png(Image.new("RGB", (4, 4)), text) == data


def test_a_cli_picture_carries_its_record_and_is_the_same_in_every_run(tmp_path):
    pictures = []
    for run in ("one", "two"):
        data = tmp_path / run
        result = run_cli("generate", "empty", A, "--data-dir", str(data))
        assert result.returncode == 0, result.stderr
        pictures.append((data / "output/empty/annotated" / f"{A}.png").read_bytes())
        record = json.loads((data / "output/empty/metadata" / f"{A}.json").read_text())
    assert pictures[0] == pictures[1]
    with Image.open(io.BytesIO(pictures[0])) as image:
        text = image.text
    assert text["dalle:imageId"] == record["imageId"]
    assert text["dalle:address"] == A == record["input"] == record["seed"]
    assert text["dalle:series"] == "empty"
    assert text["dalle:databaseHash"] == record["database"]["archiveHash"]
    assert text["Title"] == record["prompts"]["titlePrompt"]
    assert text["Description"] == record["prompts"]["enhancedPrompt"]
    assert text["Software"] == f"dalleserver {__version__}" == "dalleserver " + \
        text["dalle:serverVersion"]
    assert record["generation"]["backend"] == "local"
    assert record["generation"]["rendererVersion"].startswith("dalleserver-local")


def test_variants_keep_the_provenance(tmp_path):
    with running_server(tmp_path) as (client, app):
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        for extension in ("webp", "jpg"):
            response, body = client.get(f"/dalle/empty/{A}.{extension}?size=320")
            assert response.status == 200, extension
            with Image.open(io.BytesIO(body)) as image:
                xmp = image.info.get("xmp") or b""
            xmp = xmp.encode() if isinstance(xmp, str) else xmp
            assert b"dalle:imageId" in xmp and b"sha256:" in xmp, extension


def test_text_that_latin_1_lacks_is_exact_for_pillow_and_escaped_for_text_readers():
    text = {"dalle:input": "naïve ✓ 文字 🦉 back\\u6771slash nul\x00 tab\t\nline"}
    data = encode_png(Image.new("RGB", (4, 4)), text)
    with Image.open(io.BytesIO(data)) as image:
        assert image.text == text  # the iTXt copy, read last
    copy = (b"tEXtdalle:input\x00na\xefve \\u2713 \\u6587\\u5b57 \\U0001f989 "
            b"back\\\\u6771slash nul\\u0000 tab\\u0009\nline")
    assert copy in data
    assert latin1_text("\\u6771") != latin1_text("\u6771")  # one reading only


@pytest.mark.audit
def test_identify_shows_the_provenance_of_a_picture_and_its_png_variant(tmp_path):
    """ImageMagick, an independent reader: it skips iTXt by design, so the tEXt copies
    are what it shows."""
    assert shutil.which("identify"), "ImageMagick's identify is needed (.ci/run installs it)"
    with running_server(tmp_path) as (client, app):
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        record = json.loads((app.data_dir.output / "empty" / "metadata" / f"{A}.json")
                            .read_text())
        variant = tmp_path / "variant.png"
        response, body = client.get(f"/dalle/empty/{A}.png?size=320")
        assert response.status == 200
        variant.write_bytes(body)
        for picture in (app.data_dir.annotated("empty", A), variant):
            shown = subprocess.run(["identify", "-verbose", str(picture)], capture_output=True,
                                   text=True, timeout=60, check=True).stdout
            for line in (f"dalle:imageId: {record['imageId']}", f"dalle:address: {A}",
                         f"Title: {record['prompts']['titlePrompt']}",
                         f"Software: dalleserver {__version__}", "dalle:databaseHash: sha256:"):
                assert line in shown, (picture.name, line)
