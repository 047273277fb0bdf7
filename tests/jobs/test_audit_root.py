"""Attacks that need root: a server restarted in a fresh pid namespace (pid 1 again, as in a
container) after its predecessor died holding a lock, and a data dir on a tmpfs that fills
up. Each server is a real process on 127.0.0.1 (namespaces for pids and mounts only)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, clean_env

pytestmark = [
    pytest.mark.audit,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                       reason="needs root and unshare (util-linux)"),
]

A = "0x" + "5e" * 20
NEW_PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc"]


class Server:
    """``dalleserver serve`` behind ``prefix`` (a namespace), its port read from its log."""

    def __init__(self, prefix: list[str], data_dir: Path, home: Path, *args: str) -> None:
        command = [*prefix, sys.executable, "-m", "dalleserver", "serve", "--port", "0",
                   "--data-dir", str(data_dir), "--image-backend", "local", *args]
        self.proc = subprocess.Popen(command, cwd=REPO, env=clean_env(HOME=str(home)),
                                     stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.lines: list[str] = []
        self.port = 0
        deadline = time.monotonic() + 60
        while not self.port and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            self.port = int(found.group(1)) if found else 0
        assert self.port, "".join(self.lines)
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()

    def get(self, path: str) -> tuple[int, str, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Content-Type", ""), err.read()

    def finished(self, key_path: str, seconds: float = 60) -> dict:
        """The final snapshot of a run, or the picture's content type when it is there."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status, kind, body = self.get(key_path)
            if kind == "image/png":
                return {"done": True, "error": ""}
            data = json.loads(body).get("data") or {}
            if data.get("done"):
                return data
            time.sleep(0.1)
        raise AssertionError(f"{key_path} did not finish within {seconds:.0f} s")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


def test_a_restart_as_pid_1_takes_over_the_dead_predecessors_lock(tmp_path):
    data = tmp_path / "data"
    holder = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from dalleserver.jobs.locks import LockTable
        lease = LockTable(Path({str(data / "locks")!r}), ttl=300).try_acquire("empty", {A!r})
        print(os.getpid(), "held" if lease else "busy", flush=True)
        time.sleep(600)
    """)
    first = subprocess.Popen([*NEW_PID_NAMESPACE, sys.executable, "-c", holder],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert first.stdout.readline().split() == ["1", "held"]  # pid 1 of its namespace
    os.killpg(first.pid, signal.SIGKILL)  # a crash: no release, the lock file stays
    first.wait(30)
    assert json.loads((data / "locks" / f"empty__{A}.lock").read_text())["pid"] == 1

    server = Server(NEW_PID_NAMESPACE, data, tmp_path, "--lock-ttl", "300s")
    try:
        server.get(f"/dalle/empty/{A}?generate=1")
        snap = server.finished(f"/dalle/empty/{A}")  # long before the 300 s TTL
    finally:
        server.stop()
    assert snap["done"] and not snap["error"]


def fill(folder: Path) -> Path:
    """Write into ``folder`` until the filesystem is full."""
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_fails_the_run_cleanly_and_the_server_carries_on(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    # a mount namespace of its own: the 2 MiB tmpfs is seen by the server alone (and by
    # this test through the server's /proc/<pid>/root)
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
              f'mount -t tmpfs -o size=2m tmpfs "{mount}" && exec "$@"', "in-namespace"]
    server = Server(prefix, mount / "data", tmp_path)
    try:
        seen = Path(f"/proc/{server.proc.pid}/root") / str(mount).lstrip("/")
        filler = fill(seen / "data")
        server.get(f"/dalle/empty/{A}?generate=1")
        snap = server.finished(f"/dalle/empty/{A}")
        print("the run's error:", snap["error"])
        assert "no space left on device" in snap["error"]
        assert str(tmp_path) not in snap["error"]  # no machine path for the client
        leftovers = [p.name for p in (seen / "data").rglob("*")
                     if p.name.endswith(".tmp") or p.suffix == ".lock"]
        assert leftovers == []  # no half-written file, no lock blocking the key
        assert server.get("/livez")[0] == 200
        assert server.get("/readyz")[0] == 503
        filler.unlink()  # room again: the next trigger makes the picture
        server.get(f"/dalle/empty/{A}?generate=1")
        assert not server.finished(f"/dalle/empty/{A}")["error"]
        for _ in range(100):  # readiness writes its probe every few seconds, not per ask
            if server.get("/readyz")[0] == 200:
                break
            time.sleep(0.1)
        assert server.get("/readyz")[0] == 200
    finally:
        server.stop()
