"""The server as a process: startup report, serving, SIGTERM/SIGINT during a generation."""

import json
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest
from PIL import Image

from dalleserver.jobs.progress import PhaseStats, ProgressBoard
from dalleserver.service import status_lines
from tests.conftest import REPO, clean_env
from tests.support.process import read_port

A = "0x" + "9e" * 20


class ServerProcess:
    def __init__(self, tmp_path, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dalleserver", "serve", "--port", "0", "--data-dir",
             str(tmp_path / "data"), *args],
            cwd=REPO, env=clean_env(HOME=str(tmp_path)), stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port = read_port(self.proc, self.lines)
        assert self.port, "".join(self.lines)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.reader.join(5)
        return code


def test_startup_report_and_clean_stop(tmp_path):
    server = ServerProcess(tmp_path)
    report = "".join(server.lines)
    for needle in ("dalleserver 0.1.0", "data dir:", "image backend: local", "databases:",
                   "adverbs", "series:"):
        assert needle in report
    status, body = server.get("/readyz")
    assert status == 200 and json.loads(body)["data"]["status"] == "ready"
    assert server.stop(signal.SIGINT) == 0
    assert "stopped" in "".join(server.lines)


def test_the_port_line_shows_at_any_log_level(tmp_path):
    for level in ("warning", "error"):
        server = ServerProcess(tmp_path / level, "--log-level", level)  # finds the port line
        assert not any("data dir:" in line for line in server.lines)  # the rest stays quiet
        assert server.get("/readyz")[0] == 200
        assert server.stop() == 0


def test_sigterm_during_a_generation_finishes_it(tmp_path):
    server = ServerProcess(tmp_path)
    status, _ = server.get(f"/dalle/empty/{A}?generate=1")
    assert status == 202
    assert server.stop(signal.SIGTERM) == 0
    png = tmp_path / "data/output/empty/annotated" / f"{A}.png"
    assert png.is_file()
    with Image.open(png) as image:
        image.verify()
    access = [line for line in server.lines if "GET /dalle/empty" in line]
    assert access and " 202 " in access[0] and "id=" in access[0]


@pytest.mark.parametrize("fmt", ["json"])
def test_json_logs(tmp_path, fmt):
    server = ServerProcess(tmp_path, "--log-format", fmt)
    server.get("/livez")
    assert server.stop() == 0
    records = [json.loads(line) for line in server.lines if line.startswith("{")]
    assert any(r["msg"].startswith("listening on") for r in records)
    access = [r for r in records if r["logger"] == "dalleserver.access"]
    assert access and access[0]["status"] == 200 and access[0]["path"] == "/livez"
    assert all("\x1b[" not in line for line in server.lines)


def test_status_lines_describe_running_generations():
    board = ProgressBoard(PhaseStats(None))
    board.start(("nocturne", A), None)
    board.begin(("nocturne", A))
    board.transition(("nocturne", A), "image_wait")
    board.start(("empty", A), None, queue_ticket=2)
    lines = status_lines(board, queue_depth=1)
    assert len(lines) == 2
    assert any("0x9e9e…9e9e" in x and "image_wait" in x and "series nocturne" in x
               for x in lines)
    # the queue is one line with its count, not a line per waiting job (issue 19)
    assert lines[-1] == "queued: 1 generation(s) waiting"


def test_systemd_notify_ready_watchdog_stopping(tmp_path):
    import socket as socketlib

    address = str(tmp_path / "notify.sock")
    listener = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(20)
    env = clean_env(HOME=str(tmp_path), NOTIFY_SOCKET=address, WATCHDOG_USEC="400000")
    proc = subprocess.Popen([sys.executable, "-m", "dalleserver", "serve", "--port", "0",
                             "--data-dir", str(tmp_path / "data")], cwd=REPO, env=env,
                            stderr=subprocess.DEVNULL)
    try:
        ready = listener.recv(4096).decode()
        assert "READY=1" in ready and f"MAINPID={proc.pid}" in ready
        assert "STATUS=listening on 127.0.0.1:" in ready
        pings = [listener.recv(4096).decode() for _ in range(2)]
        assert pings == ["WATCHDOG=1", "WATCHDOG=1"]
        proc.send_signal(signal.SIGTERM)
        messages = []
        while not any("STOPPING=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        assert proc.wait(20) == 0
    finally:
        proc.kill()
        listener.close()


def test_a_burst_of_signals_still_stops_the_server(tmp_path):
    server = ServerProcess(tmp_path)
    for _ in range(20):
        server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(20) == 0
