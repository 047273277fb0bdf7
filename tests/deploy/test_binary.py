"""The single-file executable, built with `make binary` and driven as a user would.

Marker ``binary`` (slow: builds with PyInstaller); .ci/run runs it after the main suite.
"""

import json
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO

pytestmark = pytest.mark.binary
REPORT = REPO / "dist" / "binary-report.json"
A = "0x" + "4d" * 20


def _env(tmp_path: Path) -> dict[str, str]:
    unpack = tmp_path / "unpack"
    unpack.mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(unpack)}


def _get(port: int, path: str):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def test_the_binary_as_a_user_runs_it(binary, tmp_path):
    env = _env(tmp_path)
    data = tmp_path / "data"
    started = time.monotonic()
    proc = subprocess.Popen([str(binary), "serve", "--port", "0", "--data-dir", str(data)],
                            env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    port = None
    for line in proc.stderr:
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
            break
    assert port, "no listening line"
    while True:
        try:
            status, _, _ = _get(port, "/readyz")
            if status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() - started < 30
        time.sleep(0.01)
    ready_seconds = time.monotonic() - started
    try:
        status, _, body = _get(port, "/series")
        assert status == 200
        assert "nocturne" in json.loads(body)["data"]["series"]
        status, _, body = _get(port, f"/dalle/nocturne/{A}?generate=1")
        assert status == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, headers, body = _get(port, f"/dalle/nocturne/{A}")
            if headers.get("Content-Type") == "image/png":
                break
            time.sleep(0.1)
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
        status, _, body = _get(port, "/preview")
        assert status == 200 and b"/preview/assets/preview.js" in body
        status, headers, body = _get(port, "/preview/assets/preview.js")
        assert status == 200 and b"EventSource" in body
        status, headers, _ = _get(port, f"/thumbs/nocturne/{A}")
        assert status == 200 and headers.get("Content-Type") == "image/jpeg"
        status, _, body = _get(port, "/metrics")
        families = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {"dalleserver_up", "dalleserver_generations", "process_open_fds"} <= families
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        proc.stderr.close()
    assert code == 0
    assert not list((tmp_path / "unpack").iterdir()), "unpack folder left behind"

    result = subprocess.run([str(binary), "generate", "empty", A, "--data-dir", str(data)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "unpack").iterdir())

    REPORT.write_text(json.dumps({
        "size_bytes": binary.stat().st_size,
        "start_to_ready_seconds": round(ready_seconds, 3),
    }, indent=2) + "\n")
    print(f"\nbinary: {binary.stat().st_size / 1e6:.1f} MB, start to /readyz 200: "
          f"{ready_seconds:.2f} s (target 2 s)")


def test_port_in_use_exits_2(binary, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([str(binary), "serve", "--port", str(port), "--data-dir",
                                 str(tmp_path / "d")], env=_env(tmp_path),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "already in use" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_nothing_is_read_from_the_build_tree(binary, tmp_path):
    """Run from an empty folder with the repo hidden: the binary carries everything."""
    result = subprocess.run([str(binary), "check", "--data-dir", str(tmp_path / "d")],
                            env=_env(tmp_path), capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(bundled)" in result.stdout and str(REPO) not in result.stdout


def test_readme_binary_commands(binary, tmp_path):
    from tests.support.readme import readme_commands

    commands = [c for c in readme_commands() if c.startswith("./dist/")]
    assert commands
    for command in commands:
        result = subprocess.run(["bash", "-c", command], cwd=REPO, env=_env(tmp_path),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
