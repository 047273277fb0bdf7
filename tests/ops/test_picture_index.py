"""The picture index: up to date with this process's changes at once, with other writers'
changes after a folder check; pages newest first, hidden series left out."""

import os

from dalleserver.picture_index import PictureIndex
from tests.support.clock import ManualClock

A = ["0x" + f"{i:040x}" for i in range(1, 40)]




def _png(output, series, address, mtime):
    path = output / series / "annotated" / f"{address}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"png")
    os.utime(path, (mtime, mtime))
    return path


def test_scan_then_pages_newest_first(tmp_path):
    for i in range(10):
        _png(tmp_path, "empty" if i % 2 else "nocturne", A[i], 1000 + i)
    index = PictureIndex(tmp_path)
    visible = {"empty", "nocturne"}
    assert index.count(visible) == 10
    assert [p.address for p in index.page(visible, 0, 3)] == [A[9], A[8], A[7]]
    assert [p.address for p in index.page(visible, 9, 3)] == [A[0]]
    assert index.page(visible, 10, 3) == []
    assert index.page(visible, 0, 1)[0].checksum.startswith("0x")  # computed once, kept


def test_hidden_series_are_left_out_of_counts_and_pages(tmp_path):
    for i in range(6):
        _png(tmp_path, "hidden" if i < 3 else "empty", A[i], 1000 + i)
    index = PictureIndex(tmp_path)
    assert index.count({"empty"}) == 3
    assert [p.address for p in index.page({"empty"}, 1, 5)] == [A[4], A[3]]


def test_own_changes_show_at_once_others_after_a_check(tmp_path):
    clock = ManualClock(0.0)
    index = PictureIndex(tmp_path, check_interval=5.0, clock=clock)
    visible = {"empty"}
    assert index.count(visible) == 0
    _png(tmp_path, "empty", A[0], 1000)
    index.add(("empty", A[0]))  # this process made it: no waiting
    assert index.count(visible) == 1
    other = _png(tmp_path, "empty", A[1], 1001)  # another process on the same data dir
    assert index.count(visible) == 1  # not looked at yet
    clock.now += 6
    assert index.count(visible) == 2 and index.page(visible, 0, 1)[0].address == A[1]
    index.remove(("empty", A[0]))
    (tmp_path / "empty" / "annotated" / f"{A[0]}.png").unlink()
    assert index.count(visible) == 1
    other.unlink()  # deleted by hand
    clock.now += 6
    assert index.count(visible) == 0


def test_a_rewritten_picture_moves_to_the_front(tmp_path):
    index = PictureIndex(tmp_path)
    _png(tmp_path, "empty", A[0], 1000)
    _png(tmp_path, "empty", A[1], 1001)
    assert index.page({"empty"}, 0, 1)[0].address == A[1]
    _png(tmp_path, "empty", A[0], 1002)
    index.add(("empty", A[0]))
    assert [p.address for p in index.page({"empty"}, 0, 5)] == [A[0], A[1]]
