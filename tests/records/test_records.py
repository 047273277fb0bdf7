"""Records on disk: identity, atomic writes, corrupt files, the index's pages, filters and
sorts, archiving and restoring, exports that stay inside the data dir."""

import json
import os
import random

import pytest

from dalleserver.dress import Catalog
from dalleserver.dress.builder import seed_from_input
from dalleserver.records import GenerationOptions, RecordBook, RecordError, RecordQuery
from dalleserver.records import index as index_module
from dalleserver.records.archive import move_picture
from dalleserver.records.export import ExportError, export_folder, write_export
from dalleserver.records.index import BadCursor, RecordIndex, decode_cursor
from dalleserver.records.record import prompt_record

ADDRESS = "0xf503017d7baf7fbc0fff7492b751025c6a78179b"


@pytest.fixture(scope="module")
def catalog():
    return Catalog()


def _record(book, series, text, **options):
    seed = seed_from_input(text)
    identity = book.identity((series, seed), GenerationOptions(input=text, **options))
    dress = book.catalog.view(series).dress(seed)
    return prompt_record(identity, dress)


def test_the_image_id_changes_with_every_part_of_the_identity(tmp_path, catalog):
    book = RecordBook(tmp_path, catalog)
    base = book.identity(("empty", ADDRESS), GenerationOptions(input=ADDRESS))
    assert base.image_id.startswith("sha256:") and len(base.image_id) == 71
    others = [book.identity(("empty", ADDRESS), GenerationOptions(input="other")),
              book.identity(("nocturne", ADDRESS), GenerationOptions(input=ADDRESS)),
              book.identity(("empty", ADDRESS), GenerationOptions(input=ADDRESS, recipe="r"))]
    assert len({base.image_id, *(o.image_id for o in others)}) == 4
    # /dalle's identity: the address is input and seed
    assert book.identity(("empty", ADDRESS), GenerationOptions.for_address(ADDRESS)) == base


def test_records_round_trip_and_a_corrupt_one_is_named_without_its_path(tmp_path, catalog):
    book = RecordBook(tmp_path, catalog)
    record = _record(book, "empty", "Person Tour Coordinates")
    shown = book.write(record)
    seed = seed_from_input("Person Tour Coordinates")
    assert shown == f"output/empty/metadata/{seed}.json"
    assert book.read("empty", seed) == record
    assert (tmp_path / shown).read_text().endswith("}\n")
    assert [p.name for p in (tmp_path / shown).parent.iterdir()] == [f"{seed}.json"]
    (tmp_path / shown).write_text('{"metadataVersion": "1.0.0"')
    with pytest.raises(RecordError) as caught:
        book.read("empty", seed)
    assert str(tmp_path) not in str(caught.value) and shown in str(caught.value)


def _filled_index(tmp_path, catalog, count=60):
    book = RecordBook(tmp_path, catalog)
    rng = random.Random(7)
    texts = [f"{rng.choice(['apple', 'apricot', 'banana', 'cherry'])} {i}" for i in range(count)]
    for i, text in enumerate(texts):
        record = _record(book, "empty" if i % 3 else "nocturne", text)
        path = tmp_path / book.write(record)
        os.utime(path, (1000 + i, 1000 + i))
    return texts


@pytest.mark.parametrize("sort", ["input", "-input", "newest", "oldest"])
@pytest.mark.parametrize("prefix", ["", "ap", "apricot 1", "zzz"])
@pytest.mark.parametrize("range_limit", [2000, 3])  # a prefix's range sorted, or a walk
def test_pages_cover_the_filtered_listing_exactly_once(tmp_path, catalog, sort, prefix,
                                                       range_limit, monkeypatch):
    monkeypatch.setattr(index_module, "PREFIX_RANGE_LIMIT", range_limit)
    texts = _filled_index(tmp_path, catalog)
    index = RecordIndex(tmp_path)
    seen, cursor = [], None
    for _ in range(100):
        page, following = index.page(RecordQuery(sort=sort, prefix=prefix, limit=7,
                                                 cursor=cursor))
        seen += page
        if not following:
            break
        cursor = decode_cursor(following, "input" if sort.endswith("input") else "time")
    expected = [t for t in texts if t.startswith(prefix)]
    assert sorted(e.input for e in seen) == sorted(expected)
    keys = [e.input for e in seen] if sort.endswith("input") else [e.mtime for e in seen]
    assert keys == sorted(keys, reverse=sort in ("-input", "newest"))


def test_series_filter_corrupt_files_and_bad_cursors(tmp_path, catalog):
    _filled_index(tmp_path, catalog, 12)
    broken = tmp_path / "output" / "empty" / "metadata" / "junk.json"
    broken.write_text("not json")
    index = RecordIndex(tmp_path)
    page, _ = index.page(RecordQuery(series="nocturne", limit=50))
    assert len(page) == 4 and all(e.folder == "nocturne" for e in page)
    assert index.count() == 12
    [(path, reason)] = index.corrupt()
    assert path == "output/empty/metadata/junk.json" and "not JSON" in reason
    with pytest.raises(BadCursor):
        decode_cursor("!!!", "input")
    with pytest.raises(BadCursor):
        decode_cursor("WzEsMiwzLDRd", "input")  # [1,2,3,4]


def test_archive_and_restore_move_the_files_and_swap_a_newer_picture(tmp_path, catalog):
    book = RecordBook(tmp_path, catalog)
    record = _record(book, "empty", "hello")
    book.write(record)
    seed = record["seed"]
    png = tmp_path / "output" / "empty" / "annotated" / f"{seed}.png"
    png.parent.mkdir(parents=True)
    png.write_bytes(b"old")
    assert move_picture(tmp_path, "empty", seed, to_archive=True) == ["annotated", "metadata"]
    assert not png.exists()
    assert (tmp_path / "archives" / "empty" / "annotated" / f"{seed}.png").read_bytes() == b"old"
    book.write(record)
    png.write_bytes(b"new")
    move_picture(tmp_path, "empty", seed, to_archive=False)
    assert png.read_bytes() == b"old"
    assert (tmp_path / "archives" / "empty" / "annotated" / f"{seed}.png").read_bytes() == b"new"


@pytest.mark.parametrize("folder", ["/tmp/out", "~/out", "../out", "a/../../out", "a\\b",
                                    "escape/inner"])
def test_export_folders_outside_the_data_dir_are_refused(tmp_path, folder):
    root = tmp_path / "data"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(ExportError) as caught:
        export_folder(root, folder, "output/empty/exports/x")
    assert str(tmp_path) not in str(caught.value)


def test_export_writes_the_texts_inside_the_data_dir(tmp_path, catalog):
    book = RecordBook(tmp_path, catalog)
    record = _record(book, "empty", "hello")
    folder = export_folder(tmp_path, "", "output/empty/exports/x")
    files = write_export(tmp_path, folder, record, ("prompt", "title", "technical", "data"))
    assert sorted(files) == ["data", "prompt", "technical", "title"]
    assert files["title"] == "output/empty/exports/x/title.txt"
    technical = (tmp_path / files["technical"]).read_text()
    assert technical == record["prompts"]["titlePrompt"] + "\n\n" + record["prompts"]["tersePrompt"]


def test_manifest_follows_a_user_override(tmp_path):
    bundled = Catalog().manifest
    (tmp_path / "databases").mkdir()
    gazes = (tmp_path / "databases" / "gazes.csv")
    gazes.write_text("version,gaze\nv0.1.0,sideways\nv0.1.0,upwards\n")
    manifest = Catalog(tmp_path).manifest
    files = {f.name: f for f in manifest.files}
    assert files["gazes"].source == "user" and files["gazes"].rows == 2
    assert files["gazes"].hash != {f.name: f for f in bundled.files}["gazes"].hash
    assert manifest.archive_hash != bundled.archive_hash
    assert json.dumps(manifest.to_json_dict()).count(str(tmp_path)) == 0
