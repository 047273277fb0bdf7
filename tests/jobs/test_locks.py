"""Generation locks across threads and processes: single holder, stale takeover, renewal."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

from dalleserver.jobs.locks import HOST, LockTable
from tests.conftest import REPO

A = "0x" + "cd" * 20


def test_one_holder_at_a_time_across_threads(tmp_path):
    table = LockTable(tmp_path, ttl=30)
    winners = []
    barrier = threading.Barrier(50)

    def contend():
        barrier.wait()
        lease = table.try_acquire("empty", A)
        if lease is not None:
            winners.append(lease)

    threads = [threading.Thread(target=contend) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    info = table.holder("empty", A)
    assert info.pid == os.getpid() and info.host == HOST
    winners[0].release()
    assert table.holder("empty", A) is None
    assert table.try_acquire("empty", A) is not None


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    table = LockTable(tmp_path, ttl=300)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = table.path_for("empty", A)
    path.write_text(json.dumps({"pid": dead.pid, "host": HOST, "token": "old", "ttl": 300}))
    lease = table.try_acquire("empty", A)
    assert lease is not None
    assert table.read(path).token == lease.token
    lease.release()


def test_expired_lock_is_taken_over_and_live_one_is_not(tmp_path):
    table = LockTable(tmp_path, ttl=300)
    path = table.path_for("empty", A)
    # a live process (this one) on another host: only the TTL can free it
    path.write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere", "token": "t", "ttl": 5}))
    assert table.try_acquire("empty", A) is None
    old = time.time() - 10
    os.utime(path, (old, old))
    lease = table.try_acquire("empty", A)
    assert lease is not None
    lease.release()


def test_half_written_lock_counts_by_age(tmp_path):
    table = LockTable(tmp_path, ttl=2)
    path = table.path_for("empty", A)
    path.write_text("{")
    assert table.try_acquire("empty", A) is None
    old = time.time() - 10
    os.utime(path, (old, old))
    assert table.try_acquire("empty", A) is not None


def test_renewal_keeps_a_long_holder_alive(tmp_path):
    table = LockTable(tmp_path, ttl=0.6)
    lease = table.try_acquire("empty", A)
    time.sleep(1.5)  # well past the TTL: only renewal keeps it
    assert table.try_acquire("empty", A) is None
    assert not lease.lost
    lease.release()


def test_lock_is_exclusive_between_processes(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from dalleserver.jobs.locks import LockTable
        lease = LockTable(Path({str(tmp_path)!r}), ttl=0.5).try_acquire("empty", {A!r})
        print("held" if lease else "busy", flush=True)
        time.sleep(float(sys.argv[1]))
    """)
    holder = subprocess.Popen([sys.executable, "-c", script, "2"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    other = subprocess.run([sys.executable, "-c", script, "0"], capture_output=True, text=True)
    assert other.stdout.strip() == "busy"  # renewed past its 0.5 s TTL, still held
    holder.kill()  # dies without releasing
    holder.wait()
    table = LockTable(tmp_path, ttl=0.5)
    assert table.try_acquire("empty", A) is not None  # dead owner: taken over at once
