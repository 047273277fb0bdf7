"""'dalleserver generate' as a user runs it: files, JSON, exit codes, two processes, disk full."""

import json
import subprocess
import sys
import textwrap

from PIL import Image

from tests.conftest import REPO, clean_env, run_cli

A = "0x" + "5c" * 20


def test_generate_prints_the_png_path(tmp_path):
    data = tmp_path / "data"
    result = run_cli("generate", "reef-and-tide", A, "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    png = data / "output/reef-and-tide/annotated" / f"{A}.png"
    assert result.stdout.strip() == str(png)
    with Image.open(png) as image:
        assert image.width == 1024 and image.height > 1024
    assert "completed" in result.stderr  # plain phase lines when stderr is not a TTY
    again = run_cli("generate", "reef-and-tide", A, "--json", "--data-dir", str(data))
    snapshot = json.loads(again.stdout)
    assert again.returncode == 0 and snapshot["cacheHit"] and snapshot["percent"] == 100


def test_force_regenerates_identical_bytes(tmp_path):
    data = tmp_path / "data"
    assert run_cli("generate", "empty", A, "--data-dir", str(data)).returncode == 0
    png = data / "output/empty/annotated" / f"{A}.png"
    first = png.read_bytes()
    result = run_cli("generate", "empty", A, "--force", "--json", "--data-dir", str(data))
    assert result.returncode == 0 and not json.loads(result.stdout)["cacheHit"]
    assert png.read_bytes() == first


def test_bad_input_exits_2(tmp_path):
    for args, needle in ((("nope", A), "unknown series"), (("empty", "0x12"), "invalid address")):
        result = run_cli("generate", *args, "--data-dir", str(tmp_path))
        assert result.returncode == 2 and needle in result.stderr
        assert result.stderr.count("\n") == 1


def test_none_backend_writes_prompts_only(tmp_path):
    data = tmp_path / "data"
    result = run_cli("generate", "empty", A, "--image-backend", "none", "--data-dir", str(data))
    assert result.returncode == 0
    assert result.stdout.strip().endswith(f"selector/{A}.json")
    assert not (data / "output/empty/annotated").exists()


def test_two_processes_one_render(tmp_path):
    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "dalleserver", "generate", "nocturne", A, "--json",
           "--data-dir", str(data)]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=clean_env(HOME=str(tmp_path)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    hits = sorted(json.loads(out)["cacheHit"] for out, _ in outputs)
    assert hits == [False, True]  # exactly one of them rendered
    stats = json.loads((data / "metrics/progress_phase_stats.json").read_text())
    assert stats["generationRuns"] == 1 and stats["cacheHits"] == 1


def test_disk_full_fails_cleanly(tmp_path):
    """The PNG write hits an OS size limit (as on a full disk): exit 1, a clear message,
    and no partial image left behind."""
    data = tmp_path / "data"
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        sys.argv = ["dalleserver", "generate", "empty", {A!r}, "--data-dir", {str(data)!r}]
        from dalleserver.cli import main
        sys.exit(main())
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, env=clean_env(HOME=str(tmp_path)), timeout=120)
    assert result.returncode == 1, result.stderr
    assert "could not save the result" in result.stderr and "too large" in result.stderr
    assert "Traceback" not in result.stderr
    out = data / "output/empty"
    assert not (out / "annotated" / f"{A}.png").exists()
    leftovers = [p for p in out.rglob("*") if p.is_file() and p.suffix == ".png"]
    assert leftovers == []
    assert not [p for p in out.rglob(".*.tmp")]


def test_progress_bar_on_a_terminal(tmp_path):
    """With stderr on a TTY, generate draws a live bar (phase, percent, ETA) in place."""
    import os
    import pty

    main, side = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dalleserver", "generate", "cold-fury", A,
                             "--data-dir", str(tmp_path / "data")], cwd=REPO,
                            env=clean_env(HOME=str(tmp_path)), stdout=subprocess.PIPE,
                            stderr=side)
    os.close(side)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    out, _ = proc.communicate(timeout=120)
    os.close(main)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0 and out.strip().endswith(b".png")
    assert "\r[" in screen and "100.0%" in screen and "ETA" in screen
    assert "completed" in screen
