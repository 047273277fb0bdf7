"""The folder index behind the picture and record listings: several orders, lookups,
pages after a cursor, and rescans that load again only the files that changed."""

import os

from dalleserver.folder_index import FolderIndex
from tests.support.clock import ManualClock


class Entry:
    def __init__(self, series, name, text, mtime):
        self.series, self.name, self.text, self.mtime = series, name, text, mtime


def _load(series, name, path, stat):
    text = path.read_text()
    return None if text == "broken" else Entry(series, name, text, stat.st_mtime)


def _write(root, series, name, text, mtime):
    path = root / series / "notes" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def _index(root, clock=None):
    return FolderIndex(root, "notes", ".txt", _load,
                       orders={"text": lambda e: (e.text, e.series, e.name),
                               "time": lambda e: (e.mtime, e.series, e.name)},
                       lookups={"text": lambda e: e.text},
                       **({"clock": clock} if clock else {}))


def test_orders_cursors_filters_and_lookups(tmp_path):
    for i, (series, text) in enumerate([("a", "pear"), ("b", "apple"), ("a", "fig"),
                                        ("b", "plum"), ("a", "apple")]):
        _write(tmp_path, series, f"n{i}", text, 1000 + i)
    index = _index(tmp_path)
    assert index.count() == 5 and index.count({"a"}) == 3
    by_text = [e.text for e in index.collect("text", 10)]
    assert by_text == ["apple", "apple", "fig", "pear", "plum"]
    first = index.collect("text", 2)
    after = ("apple", first[-1].series, first[-1].name)
    assert [e.text for e in index.collect("text", 2, after=after)] == ["fig", "pear"]
    assert [e.name for e in index.collect("time", 2, descending=True)] == ["n4", "n3"]
    assert [e.name for e in index.collect("time", 9, series={"b"})] == ["n1", "n3"]
    assert [e.name for e in index.collect("text", 9, where=lambda e: e.text.startswith("p"))] \
        == ["n0", "n3"]
    assert sorted(e.name for e in index.find("text", "apple")) == ["n1", "n4"]
    assert [e.name for e in index.slice("time", 1, 2, descending=True)] == ["n3", "n2"]


def test_a_rescan_keeps_unchanged_entries_and_reloads_changed_ones(tmp_path):
    clock = ManualClock(0.0)
    _write(tmp_path, "a", "kept", "one", 1000)
    changed = _write(tmp_path, "a", "changed", "two", 1001)
    index = _index(tmp_path, clock)
    kept = index.get("a", "kept")
    changed.write_text("three!")
    os.utime(changed, (1002, 1002))
    _write(tmp_path, "a", "bad", "broken", 1003)  # not loadable: left out
    os.utime(tmp_path / "a" / "notes", (2000, 2000))
    clock.now += 10
    assert index.get("a", "kept") is kept
    assert index.get("a", "changed").text == "three!"
    assert index.get("a", "bad") is None and index.count() == 2
    assert index.find("text", "two") == []


def test_own_changes_show_at_once(tmp_path):
    clock = ManualClock(0.0)
    index = _index(tmp_path, clock)
    assert index.count() == 0
    _write(tmp_path, "a", "n", "hello", 1000)
    assert index.add("a", "n").text == "hello"
    assert index.count() == 1
    (tmp_path / "a" / "notes" / "n.txt").unlink()
    index.remove("a", "n")
    assert index.count() == 0 and index.find("text", "hello") == []
