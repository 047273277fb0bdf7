"""Record files the server trusts: never a symbolic link, never a file reached through a
linked folder out of the data dir (reported like a corrupt record, without its path), and
written for their owner only (0600, as the original), other files of the data dir as before."""

import json
import os
import stat
import threading

import pytest

from dalleserver.dress import Catalog
from dalleserver.dress.builder import seed_from_input
from dalleserver.records import GenerationOptions, RecordBook, RecordError
from dalleserver.records.index import RecordIndex
from dalleserver.records.record import prompt_record
from dalleserver.storage import FILE_MODE, atomic_write

OUTSIDE_SEED = "7" * 64


@pytest.fixture(scope="module")
def catalog():
    return Catalog()


def _record(book, series, text):
    seed = seed_from_input(text)
    identity = book.identity((series, seed), GenerationOptions(input=text))
    return prompt_record(identity, book.catalog.view(series).dress(seed))


def _outside_record(book, folder, directory):
    """A valid record of seed 777…7 in ``directory`` (outside the data dir)."""
    record = _record(book, "empty", "from outside")
    record.update(seed=OUTSIDE_SEED, input=OUTSIDE_SEED, imageId="sha256:" + "e" * 64)
    record["series"]["name"] = folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{OUTSIDE_SEED}.json"
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def dirs(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "outside"
    root.mkdir()
    return root, outside


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_symlinked_record_file_out_of_the_data_dir_is_not_a_record(dirs, catalog):
    root, outside = dirs
    book = RecordBook(root, catalog)
    book.write(_record(book, "empty", "a real one"))
    target = _outside_record(book, "empty", outside)
    link = root / "output" / "empty" / "metadata" / f"{OUTSIDE_SEED}.json"
    link.symlink_to(target)
    with pytest.raises(RecordError) as caught:
        book.read("empty", OUTSIDE_SEED)
    message = str(caught.value)
    assert "symbolic link" in message and str(root) not in message
    assert str(outside) not in message
    assert message.startswith(f"output/empty/metadata/{OUTSIDE_SEED}.json")
    index = RecordIndex(root)
    assert index.count() == 1 and index.find(OUTSIDE_SEED) == []
    [(shown, reason)] = index.corrupt()
    assert shown == f"output/empty/metadata/{OUTSIDE_SEED}.json" and "symbolic link" in reason
    assert str(outside) not in reason


def test_a_symlinked_record_file_inside_the_data_dir_is_not_one_either(dirs, catalog):
    root, _ = dirs
    book = RecordBook(root, catalog)
    record = _record(book, "empty", "linked to")
    real = root / book.write(record)
    alias = real.with_name(f"{OUTSIDE_SEED}.json")
    alias.symlink_to(real.name)  # relative, to its sibling
    with pytest.raises(RecordError):
        book.read("empty", OUTSIDE_SEED)
    assert book.read("empty", record["seed"]) == record
    assert RecordIndex(root).count() == 1


@pytest.mark.parametrize("linked", ["series folder", "metadata folder"])
def test_a_record_in_a_folder_linked_out_of_the_data_dir_is_not_read(dirs, catalog, linked):
    root, outside = dirs
    book = RecordBook(root, catalog)
    book.write(_record(book, "empty", "a real one"))
    if linked == "series folder":  # output/linked -> <outside>/series
        _outside_record(book, "linked", outside / "series" / "metadata")
        (root / "output" / "linked").symlink_to(outside / "series")
    else:  # output/linked/metadata -> <outside>/meta
        _outside_record(book, "linked", outside / "meta")
        (root / "output" / "linked").mkdir()
        (root / "output" / "linked" / "metadata").symlink_to(outside / "meta")
    with pytest.raises(RecordError) as caught:
        book.read("linked", OUTSIDE_SEED)
    assert "outside the data directory" in str(caught.value)
    assert str(outside) not in str(caught.value) and str(root) not in str(caught.value)
    index = RecordIndex(root)
    assert index.count() == 1 and index.find(OUTSIDE_SEED) == []
    [(shown, reason)] = index.corrupt()
    assert shown == f"output/linked/metadata/{OUTSIDE_SEED}.json"
    assert "outside the data directory" in reason and str(outside) not in reason


def test_a_linked_folder_that_stays_inside_the_data_dir_is_read(dirs, catalog):
    root, _ = dirs
    book = RecordBook(root, catalog)
    record = _record(book, "empty", "kept elsewhere in the data dir")
    (root / "elsewhere").mkdir()
    (root / "output" / "empty").mkdir(parents=True)
    (root / "output" / "empty" / "metadata").symlink_to(root / "elsewhere")
    book.write(record)
    assert book.read("empty", record["seed"]) == record


def test_a_data_dir_reached_through_a_link_still_holds_its_records(tmp_path, catalog):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    book = RecordBook(tmp_path / "alias", catalog)
    record = _record(book, "empty", "through an alias")
    book.write(record)
    assert book.read("empty", record["seed"]) == record
    assert RecordIndex(tmp_path / "alias").count() == 1


def test_a_fifo_in_place_of_a_record_is_reported_without_blocking(dirs, catalog):
    root, _ = dirs
    folder = root / "output" / "empty" / "metadata"
    folder.mkdir(parents=True)
    fifo = folder / f"{OUTSIDE_SEED}.json"
    os.mkfifo(fifo)
    found = []

    def load():
        index = RecordIndex(root)
        found.append((index.count(), index.corrupt()))

    loading = threading.Thread(target=load, daemon=True)
    loading.start()
    loading.join(5)
    if loading.is_alive():  # blocked opening the FIFO: a writer's end lets it go
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        loading.join(5)
        pytest.fail("reading the records blocked on a FIFO")
    [(count, corrupt)] = found
    assert count == 0
    [(_, reason)] = corrupt
    assert "not a regular file" in reason


def test_records_are_written_for_their_owner_only(dirs, catalog):
    root, _ = dirs
    book = RecordBook(root, catalog)
    record = _record(book, "empty", "private")
    path = root / book.write(record)
    assert _mode(path) == 0o600
    # rewriting an older world-readable record makes it private too
    os.chmod(path, 0o644)
    book.write(record)
    assert _mode(path) == 0o600
    # the data dir's other files keep the shared mode (less the umask)
    other = root / "output" / "empty" / "title" / "x.txt"
    atomic_write(other, "a title")
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(other) == FILE_MODE & ~umask
