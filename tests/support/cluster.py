"""Several dalleserver processes on one data dir and one Redis, behind nginx configured with
the shipped ``deploy/nginx/dalleserver-cluster.conf``: for the cluster tests and
``bench/cluster.py``. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.nginx import NginxProcess
from tests.support.process import read_port

REPO = Path(__file__).resolve().parents[2]
NGINX_SITE = REPO / "deploy" / "nginx" / "dalleserver-cluster.conf"


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    """``condition()``'s first true value, polled until ``timeout`` (then the test fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_get(url: str, timeout: float = 30.0,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; error statuses are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Instance:
    """``dalleserver serve`` in a process of its own, found by its port line."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("TB_DALLE_", "OPENAI_", "XDG_DATA_HOME"))}
        environment.update(env)
        environment.setdefault("HOME", str(data_dir.parent))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dalleserver", "serve", "--port", "0", "--data-dir",
             str(data_dir), "--instance", name],
            cwd=REPO, env=environment, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port = self._read_port()
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_port(self) -> int:
        port = read_port(self.proc, self.lines)
        if port is None:
            raise RuntimeError(f"instance {self.name} did not start:\n" + "".join(self.lines))
        return port

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 30.0):
        return http_get(self.url(path), timeout)

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of /metrics (0 when absent), e.g. ``metric("x_total", 'outcome="a"')``."""
        _, _, body = self.get("/metrics")
        pattern = re.compile(rf"^{re.escape(name)}\{{[^}}]*{re.escape(labels)}[^}}]*\}} (\S+)$",
                             re.M)
        match = pattern.search(body.decode())
        return float(match.group(1)) if match else 0.0

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get("/readyz", timeout=5)[0] == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"instance {self.name} never became ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no hand-over; its jobs wait for the reclaim time."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def site_config(ports: list[int], listen: int) -> str:
    """The shipped site file with these instances and a loopback listen port."""
    text = NGINX_SITE.read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=2 fail_timeout=10s;\n"
                      for port in ports)
    text = re.sub(r"(?m)^    server 127\.0\.0\.1:808\d .*\n", "", text)
    text = text.replace("    keepalive 32;", servers + "    keepalive 32;", 1)
    return text.replace("listen 80;", f"listen 127.0.0.1:{listen};")


class Nginx(NginxProcess):
    """nginx in front of ``ports``, on a free loopback port."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__("nginx-cluster-")
        os.chmod(self.root / "tmp", 0o1777)  # workers may run as another user
        self.start(site_config(ports, self.port))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if http_get(self.url("/livez"), timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.error_log())

    def get(self, path: str, timeout: float = 30.0,
            headers: dict[str, str] | None = None):
        return http_get(self.url(path), timeout, headers)

    def get_json(self, path: str) -> tuple[int, dict]:
        status, _, body = self.get(path)
        return status, json.loads(body)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.root, ignore_errors=True)
