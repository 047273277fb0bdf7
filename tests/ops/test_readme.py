"""Every command in README.md runs: here, in test_binary (./dist/...), or in .ci/run."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import REPO, clean_env
from tests.support.readme import RUN_BY_CI, readme_commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server never became ready")


def test_every_command_is_accounted_for():
    ci = (REPO / ".ci/run").read_text()
    makefile = (REPO / "Makefile").read_text()
    for command in readme_commands():
        if command.startswith("make "):
            target = command.split()[1]
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), command
        if command in RUN_BY_CI:
            assert command in ci or command == "make binary" and "make test-binary" in ci


def test_readme_commands_run(tmp_path):
    port = _free_port()
    env = clean_env(HOME=str(tmp_path), TB_DALLE_DATA_DIR=str(tmp_path / "data"))
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{os.path.dirname(sys.executable)}:{env['PATH']}"
    server = subprocess.Popen([sys.executable, "-m", "dalleserver", "serve", "--port", str(port)],
                              cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, server)
        ran = 0
        for command in readme_commands():
            if command.startswith(("make ", "./dist/")):
                continue  # make run: below; the rest: .ci/run and test_binary
            line = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            # as a user runs it: no pipefail (curl | head ends curl with a broken pipe)
            result = subprocess.run(["bash", "-c", line], cwd=tmp_path,
                                    env=env, capture_output=True, timeout=120)
            output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
            assert result.returncode == 0, f"{command}\n{output}"
            ran += 1
        assert ran >= 10
        assert (tmp_path / "owl.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def test_make_run_starts_the_server(tmp_path):
    assert "make run" in readme_commands()
    port = _free_port()
    env = clean_env(HOME=str(tmp_path), TB_DALLE_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_ready(port, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
