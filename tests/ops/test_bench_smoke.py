"""The benchmark scripts still run (tiny sizes; the real runs are `make bench`)."""

import subprocess
import sys

from bench.common import python_load
from tests.conftest import REPO
from tests.support.server import running_server


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_dress_and_generate_benchmarks_run():
    out = _run("bench/dress.py", "--seconds", "0.1", "--count", "50")
    assert "dresses/s" in out and "ratio" in out
    out = _run("bench/generate.py", "--count", "2")
    assert "render+annotate" in out and "ratio" in out


def test_scale_benchmark_runs():
    out = _run("bench/scale.py", "--divide", "100")
    for needle in ("kept runs", "queued jobs", "pictures", "image records", "user series",
                   "/metrics"):
        assert needle in out
    assert "Traceback" not in out


def test_python_load_generator(tmp_path):
    with running_server(tmp_path) as (client, _):
        result = python_load(f"http://127.0.0.1:{client.port}/readyz", 4, 0.5)
    assert result.requests > 10 and result.errors == 0 and result.p99_ms >= result.p50_ms


def test_worker_sweep_runs():
    out = _run("bench/workers.py", "--threads", "1", "2", "--seconds", "0.3")
    lines = [line for line in out.splitlines() if line.startswith("threads")]
    assert len(lines) == 6 and all(" 0 errors" in line for line in lines)
