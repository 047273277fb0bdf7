"""Shared pieces of the HTTP benchmarks: start dalleserver / nginx / a bare stdlib server on
loopback, run wrk (or a Python load generator when wrk is missing), read RSS.

Everything binds 127.0.0.1 only, and every run is bounded in time and count.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.nginx import NginxProcess
from tests.support.process import stop_process

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 60.0) -> float:
    """Seconds until ``url`` answered 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} never answered 200")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    """A dalleserver process on a free loopback port with its own data dir, in its default
    configuration (the access log on, written to a file as journald would take it) unless
    ``args`` say otherwise (``("--log-level", "warning")`` for the logs-off baseline)."""

    def __init__(self, data_dir: Path | None = None, command: list[str] | None = None,
                 args: tuple[str, ...] = (), **env: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="dalle-bench-"))
        base = command or [PYTHON, "-m", "dalleserver"]
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("TB_DALLE_", "OPENAI_"))}
        # every client here is one address (127.0.0.1): no per-client limits
        environment.update({"TB_DALLE_RATE_LIMIT": "0", "TB_DALLE_MAX_CONNECTIONS": "4096",
                            "TB_DALLE_MAX_CONNECTIONS_PER_CLIENT": "0"})
        environment.update(env)
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*base, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *args],
            cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=self.log)
        self.ready_seconds = wait_ready(self.url("/readyz"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url(path), timeout=30) as response:
            return json.loads(response.read())

    def generate(self, series: str, address: str, timeout: float = 60) -> None:
        self.get_json(f"/dalle/{series}/{address}?generate=1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(self.url(f"/dalle/{series}/{address}"),
                                        timeout=30) as response:
                if response.headers.get("Content-Type") == "image/png":
                    return
            time.sleep(0.05)
        raise RuntimeError("generation did not finish")

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 30)
        self.log.close()


BARE_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = open(sys.argv[2], "rb").read()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    daemon_threads = True
    def handle_error(self, request, client_address):
        return  # silent on purpose: wrk hangs up its connections at the end of every run
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


class BareServer:
    """The baseline: a stdlib ThreadingHTTPServer answering fixed bytes to every GET."""

    def __init__(self, body: bytes) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bare-"))
        (self.folder / "body").write_bytes(body)
        self.proc = subprocess.Popen([PYTHON, "-c", BARE_SERVER, str(self.port),
                                      str(self.folder / "body")])
        wait_ready(self.url("/"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


NGINX_HTTP = """
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location = {path} {{ default_type {content_type}; alias {file}; etag on; }}
    }}
"""


class Nginx(NginxProcess):
    """nginx (one worker, like our one process) serving one file at ``path``."""

    def __init__(self, path: str, file: Path, content_type: str = "image/png") -> None:
        super().__init__("nginx-bench-")
        # nginx workers may run as another user: serve a readable copy of the same bytes
        self.root.chmod(0o755)
        served = self.root / "served.png"
        shutil.copyfile(file, served)
        served.chmod(0o644)
        self.start(NGINX_HTTP.format(port=self.port, path=path, file=served,
                                     content_type=content_type), connections=4096)
        wait_ready(self.url(path))


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    def line(self) -> str:
        return (f"{self.rps:10,.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:7.2f} ms"
                f"  ({self.requests:,} requests, {self.errors} errors, {self.tool})")


_WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def _to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load(url: str, connections: int, seconds: float = 5.0) -> Load:
    """Keep-alive load with wrk when installed, else with the Python generator."""
    wrk = shutil.which("wrk")
    if wrk:
        threads = max(1, min(2, connections))
        whole = max(1, round(seconds))  # wrk takes whole seconds only
        out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{whole}s",
                              "--latency", "--timeout", "10s", url],
                             capture_output=True, text=True, timeout=seconds + 60).stdout
        latencies = {p: _to_ms(v, u) for p, v, u in _WRK_LATENCY.findall(out)}
        total = int(re.search(r"(\d+) requests in", out).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                                  r"timeout (\d+)", out)
        count = int(errors.group(1)) if errors else 0
        if socket_errors:
            count += sum(int(x) for x in socket_errors.groups())
        return Load(total, seconds, rps, latencies.get("50", 0), latencies.get("99", 0), count,
                    "wrk")
    return python_load(url, connections, seconds)


def python_load(url: str, connections: int, seconds: float) -> Load:
    """A bounded keep-alive load generator for machines without wrk."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + seconds
    samples: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", target)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            samples[i].append((time.perf_counter() - started) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = sorted(x for s in samples for x in s)
    if not flat:
        return Load(0, seconds, 0, 0, 0, sum(errors), "python")
    p99 = flat[min(len(flat) - 1, int(len(flat) * 0.99))]
    return Load(len(flat), seconds, len(flat) / seconds, statistics.median(flat), p99,
                sum(errors), "python")
