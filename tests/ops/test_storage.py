"""Atomic writes: readers never see a partial file, errors are clear, temp files are unique."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from dalleserver.storage import DataDir, StorageError, atomic_write, sweep_temp_files
from tests.conftest import REPO


def test_write_and_replace(tmp_path):
    target = tmp_path / "a" / "b" / "file.txt"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_concurrent_writers_never_collide(tmp_path):
    target = tmp_path / "shared.bin"
    payloads = [bytes([i]) * 200_000 for i in range(20)]
    errors = []

    def write(data):
        try:
            atomic_write(target, data)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]


def test_error_names_the_file_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="not-a-dir"):
        atomic_write(blocker / "child.txt", "data")


def test_file_size_limit_fails_cleanly(tmp_path):
    """A write that hits an OS limit (here RLIMIT_FSIZE, like a full disk) fails with a clear
    message and leaves neither the target nor a temp file."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from dalleserver.storage import atomic_write, StorageError
        try:
            atomic_write(__import__("pathlib").Path({str(tmp_path / "big.bin")!r}), b"x" * 100000)
        except StorageError as exc:
            print(exc)
            sys.exit(3)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert "big.bin" in result.stdout and "too large" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_no_partial_file(tmp_path):
    target = tmp_path / "victim.bin"
    atomic_write(target, b"old" * 1000)
    script = textwrap.dedent(f"""
        import sys, os
        sys.path.insert(0, {str(REPO)!r})
        import dalleserver.storage as storage
        real_write = os.write
        def slow_write(fd, data):
            os.sync()
            print("writing", flush=True)
            import time; time.sleep(0.05)
            return real_write(fd, bytes(data[:65536]))
        storage.os.write = slow_write
        storage.atomic_write(__import__("pathlib").Path({str(target)!r}), b"new" * 2_000_000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"old" * 1000  # the old content, whole
    leftovers = [p for p in tmp_path.iterdir() if p.name != "victim.bin"]
    assert leftovers and all(p.name.startswith(".victim.bin.") for p in leftovers)
    old = time.time() - 7200
    for p in leftovers:
        os.utime(p, (old, old))
    assert sweep_temp_files(tmp_path) == len(leftovers)
    assert [p.name for p in tmp_path.iterdir()] == ["victim.bin"]


def test_data_dir_layout(tmp_path):
    d = DataDir(tmp_path)
    a = "0x" + "ab" * 20
    assert d.annotated("empty", a) == tmp_path / "output/empty/annotated" / f"{a}.png"
    assert d.text("empty", "terse", a) == tmp_path / "output/empty/terse" / f"{a}.txt"
    assert d.selector("empty", a).parent.name == "selector"
    assert d.phase_stats == tmp_path / "metrics/progress_phase_stats.json"
    with pytest.raises(ValueError):
        d.text("empty", "secrets", a)
    d.ensure()
    assert d.check_writable() is None
    assert (tmp_path / "locks").is_dir()


def test_the_sweeper_keeps_sweeping_after_start(tmp_path):
    from dalleserver.storage import TempSweeper

    sweeper = TempSweeper(tmp_path, interval=0.05, older_than=60)
    sweeper.start()
    try:
        for _ in range(500):  # the sweep at start is done: what comes later is a crash's
            if sweeper.sweeps:
                break
            time.sleep(0.01)
        stale = tmp_path / "a" / ".x.png.1.beef.tmp"
        stale.parent.mkdir()
        stale.write_bytes(b"left by a crash")
        fresh = tmp_path / "a" / ".y.png.1.beef.tmp"
        fresh.write_bytes(b"being written")
        old = time.time() - 3600
        os.utime(stale, (old, old))
        for _ in range(500):
            if not stale.exists():
                break
            time.sleep(0.01)
        assert sweeper.sweeps and not stale.exists() and fresh.exists()
    finally:
        sweeper.stop()
