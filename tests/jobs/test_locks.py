"""Generation locks across threads and processes: single holder, stale takeover, renewal."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time

from dalleserver.jobs.locks import HOST, LockTable
from dalleserver.jobs.owner import BOOT_ID, Owner, start_time
from tests.conftest import REPO

A = "0x" + "cd" * 20
B = "0x" + "de" * 20


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


def own_lock(path, **fields):
    """A lock file as this version writes it, owned by whoever ``fields`` say."""
    doc = {**Owner.me().to_json(), "token": "old", "ttl": 300, "flock": True, **fields}
    path.write_text(json.dumps(doc))


def test_a_predecessor_with_our_pid_is_dead(tmp_path):
    """A server restarted in a container is pid 1 again: a lock of the pid 1 before it
    (another instance) is taken over at once, not after the TTL."""
    table = LockTable(tmp_path, ttl=300)
    own_lock(table.path_for("empty", A), instance="a-predecessor", flock=False)
    lease = table.try_acquire("empty", A)
    assert lease is not None
    lease.release()


def test_a_reused_pid_is_another_process(tmp_path):
    table = LockTable(tmp_path, ttl=300)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        own_lock(table.path_for("empty", A), pid=other.pid, instance="x", flock=False,
                 started="1")  # that pid, but a process started at another time
        assert table.try_acquire("empty", A) is not None
        own_lock(table.path_for("empty", B), pid=other.pid, instance="x", flock=False,
                 started=start_time(other.pid))
        assert table.try_acquire("empty", B) is None  # the very process: alive
    finally:
        other.kill()
        other.wait()


def test_an_unlocked_lock_of_this_machine_is_free_whatever_its_pid_says(tmp_path):
    """The holder's flock is what proves it alive: a lock file nobody holds a flock on
    (its owner died in another pid namespace, where its pid means nothing here) goes."""
    table = LockTable(tmp_path, ttl=300)
    own_lock(table.path_for("empty", A), pid=1, pidns="pid:[1]", instance="x")
    assert table.try_acquire("empty", A) is not None


def test_a_held_flock_keeps_the_lock_whatever_the_file_says(tmp_path):
    table = LockTable(tmp_path, ttl=300)
    lease = table.try_acquire("empty", A)
    assert lease is not None
    doc = json.loads(lease.path.read_text())
    assert doc["flock"] and doc["boot"] == BOOT_ID and doc["instance"]
    assert table.try_acquire("empty", A) is None
    lease.release()


def test_a_failed_lock_write_leaves_no_lock(tmp_path):
    """A write that fails (a file size limit here, a full disk in the audit tests) raises
    StorageError and leaves nothing behind to block the key."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from dalleserver.jobs.locks import LockTable
        from dalleserver.storage import StorageError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
        try:
            LockTable(Path({str(tmp_path)!r})).try_acquire("empty", {A!r})
        except StorageError as exc:
            print(exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert "cannot take the lock of empty/" in result.stdout, result.stderr
    assert list(tmp_path.iterdir()) == []
    lease = LockTable(tmp_path).try_acquire("empty", A)
    assert lease is not None
    lease.release()
